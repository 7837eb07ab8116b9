import Testing
@testable import PodNet

@Suite("Label selectors")
struct LabelSelectorTests {
    @Test("parses kubectl's syntax; prints requirements sorted by key", arguments: [
        ("", ""),
        ("app=web", "app=web"),
        ("app==web", "app==web"),
        ("tier != db", "tier!=db"),
        ("env in (test, dev)", "env in (dev,test)"),
        ("env notin (prod)", "env notin (prod)"),
        ("app", "app"),
        ("!canary", "!canary"),
        ("! canary", "!canary"),
        ("replicas>2,replicas<5", "replicas>2,replicas<5"),
        ("tier=,app", "app,tier="),
        ("b=1,a=2", "a=2,b=1"),
        ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"),
        ("  app = web ,  tier  ", "app=web,tier"),
        ("env in (a,b,c),run=nginx-ser", "env in (a,b,c),run=nginx-ser"),
    ])
    func parses(text: String, normalised: String) throws {
        let selector = try LabelSelector(parsing: text)
        #expect(selector.description == normalised)
        #expect(try LabelSelector(parsing: selector.description) == selector)
    }

    static let labels = ["app": "web", "tier": "front", "replicas": "3", "empty": ""]

    @Test("matches labels like Kubernetes", arguments: [
        ("", true),
        ("app=web", true), ("app==web", true), ("app=db", false), ("missing=x", false),
        ("app!=db", true), ("app!=web", false), ("missing!=x", true),
        ("tier in (front,back)", true), ("tier in (back)", false), ("missing in (x)", false),
        ("tier notin (back)", true), ("tier notin (front)", false), ("missing notin (x)", true),
        ("app", true), ("missing", false), ("!missing", true), ("!app", false),
        ("empty=", true), ("empty", true), ("empty!=", false),
        ("replicas>2", true), ("replicas>3", false), ("replicas<4", true), ("app>1", false), ("missing<9", false),
        ("app=web,tier=front", true), ("app=web,tier=back", false),
    ])
    func matches(text: String, expected: Bool) throws {
        #expect(try LabelSelector(parsing: text).matches(Self.labels) == expected)
    }

    @Test("matchLabels selector")
    func matchLabels() {
        let selector = LabelSelector(matchLabels: ["run": "nginx-ser", "app": "web"])
        #expect(selector.description == "app=web,run=nginx-ser")
        #expect(selector.matches(["run": "nginx-ser", "app": "web", "x": "y"]))
        #expect(!selector.matches(["run": "nginx-ser"]))
        #expect(LabelSelector.everything.matches([:]))
    }

    @Test("syntax and value errors say what and where", arguments: [
        ("app in web", 8, "found 'web', expected: '(' after 'in'"),
        ("app in (", 9, "found '', expected: a value or ')'"),
        ("app in ()", 5, "for 'in' the set of values can't be empty"),
        ("app in (a b)", 11, "found 'b', expected: ',' or ')'"),
        ("app=web,", 9, "found '', expected: identifier after ','"),
        ("app web", 5, "found 'web', expected: one of in, notin, =, ==, !=, >, <"),
        ("=web", 1, "found '=', expected: identifier"),
        ("app=(x)", 5, "found '(', expected: a value"),
        ("a=b=c", 4, "found '=', expected: ',' or end of selector"),
        ("replicas>x", 10, "for '>' the value must be an integer, found 'x'"),
        ("Bad_Key-=x", 1, #"invalid label key "Bad_Key-": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#),
        ("app=-web", 5, #"invalid label value "-web": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#),
    ])
    func errors(text: String, position: Int, message: String) {
        #expect(throws: LabelSelectorError(selector: text, position: position, message: message)) { try LabelSelector(parsing: text) }
    }

    @Test("error description")
    func errorDescription() {
        let error = LabelSelectorError(selector: "app in web", position: 8, message: "found 'web', expected: '(' after 'in'")
        #expect(error.description == #"unable to parse label selector "app in web": found 'web', expected: '(' after 'in' (at position 8)"#)
    }
}

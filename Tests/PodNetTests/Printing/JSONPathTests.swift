import PodNet
import Testing

/// Expected outputs are what kubectl 1.32 printed for the same object and template
/// (`kubectl label --local -f pod.json dummy- -o jsonpath=TEMPLATE`).
@Suite("kubectl's JSONPath, custom columns and sort-by")
struct JSONPathTests {
    static let pod: JSONValue = try! JSONReader.value(from: """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","labels":{"run":"web","tier":"fe"}},\
        "spec":{"containers":[{"name":"a","image":"nginx","ports":[{"containerPort":80},{"containerPort":443}]},{"name":"b","image":"busybox"}]},\
        "status":{"phase":"Running","podIP":"10.0.0.5","conditions":[{"type":"Ready","status":"True"},{"type":"Initialized","status":"True"}],\
        "containerStatuses":[{"name":"a","restartCount":2},{"name":"b","restartCount":0}]}}
        """)

    @Test(arguments: [
        ("{.metadata.name}", "web"),
        ("{.metadata.labels}", #"{"run":"web","tier":"fe"}"#),
        ("{.spec.containers[*].name}", "a b"),
        (#"{range .spec.containers[*]}{.name}{"\t"}{.image}{"\n"}{end}"#, "a\tnginx\nb\tbusybox\n"),
        (#"{.status.conditions[?(@.type=="Ready")].status}"#, "True"),
        ("{.spec.containers[0].ports[*].containerPort}", "80 443"),
        ("{..image}", "nginx busybox"),
        ("{.spec.containers[-1:].name}", "b"),
        ("{.nope}", ""),
        ("x{.metadata.name}y", "xweby"),
        ("{.spec.containers[0].ports}", #"[{"containerPort":80},{"containerPort":443}]"#),
        ("{.status.containerStatuses[?(@.restartCount>1)].name}", "a"),
        ("{$.metadata.name}", "web"),
        ("{.metadata.labels['run']}", "web"),
        ("{.spec.containers[1:].name}", "b"),
        ("{range .spec.containers[*]}{.name}", "ab"),
    ])
    func rendersAsKubectl(template: String, expected: String) throws {
        #expect(try JSONPathTemplate(template).render(Self.pod) == expected)
    }

    @Test func refusesAnUnclosedAction() {
        #expect(throws: JSONPathError("unclosed action")) { try JSONPathTemplate("{.metadata.name") }
    }

    @Test func listsItemsOfAList() throws {
        let list: JSONValue = ["kind": "List", "items": [Self.pod, ["metadata": ["name": "api"]]]]
        #expect(try JSONPathTemplate("{.items[*].metadata.name}").render(list) == "web api")
        #expect(try JSONPathTemplate(#"{range .items[*]}{.metadata.name}{"\n"}{end}"#).render(list) == "web\napi\n")
        // A bare path, as --sort-by and custom-columns write it.
        #expect(try JSONPathTemplate(".items[0].metadata.name").render(list) == "web")
    }

    @Test func customColumns() throws {
        let other: JSONValue = ["metadata": ["name": "api-server"], "spec": ["containers": [["image": "httpd"]]]]
        let columns = try CustomColumns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,ip:{.status.podIP}")
        #expect(columns.render([Self.pod, other]) == """
            NAME         IMAGES          ip
            web          nginx,busybox   10.0.0.5
            api-server   httpd           <none>

            """)
        #expect(columns.render([other], showHeaders: false) == "api-server   httpd   <none>\n")
        #expect(throws: JSONPathError("unexpected custom-columns spec: BAD, expected <header>:<json-path-expr>")) { try CustomColumns("BAD") }
    }

    @Test func sortBy() throws {
        let items: [JSONValue] = [
            ["metadata": ["name": "b"], "n": 10],
            ["metadata": ["name": "a"], "n": 9],
            ["metadata": ["name": "c"]],
        ]
        func names(_ sorted: [JSONValue]) -> [String] { sorted.compactMap { $0["metadata"]?["name"]?.stringValue } }
        #expect(names(try JSONPathSort.sorted(items, by: ".metadata.name")) == ["a", "b", "c"])
        // Numbers by value (10 after 9), items without the field first.
        #expect(names(try JSONPathSort.sorted(items, by: "{.n}")) == ["c", "a", "b"])
    }
}

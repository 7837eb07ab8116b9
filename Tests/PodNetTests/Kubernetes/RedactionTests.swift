import PodNet
import Testing

@Suite("Secrets are hidden from logs and messages")
struct RedactionTests {
    @Test("the credential of a header value", arguments: [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer   tok123456 ", "tok123456"),
        ("Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("rawtokenvalue", "rawtokenvalue"),
        ("Custom scheme value", "Custom scheme value"),
    ])
    func credential(header: String, expected: String) {
        #expect(Redaction.credential(inHeaderValue: header) == expected)
    }

    @Test("sensitive fields", arguments: [
        ("data", "Secret", true), ("data.tls.key", "Secret", true), ("stringData.password", "Secret", true),
        ("data[ca.crt]", "Secret", true), ("metadata.name", "Secret", false),
        ("data.config", "ConfigMap", false), ("spec.containers[0].env[1].value", "Pod", false),
        ("users[0].user.token", "Config", true), ("users[0].user.client-key-data", "Config", true),
        ("spec.password", "Anything", true), ("spec.image", "Pod", false),
    ])
    func sensitive(field: String, kind: String, expected: Bool) {
        #expect(Redaction.isSensitive(field: field, kind: kind) == expected)
    }

    @Test func hidesEveryKnownValueLongestFirst() {
        let values = SensitiveValues()
        values.add("secret-token")
        values.add("secret-token-longer")
        let text = "a secret-token-longer and a secret-token, twice: secret-token"
        #expect(values.redact(text) == "a [redacted] and a [redacted], twice: [redacted]")
        #expect(values.redact("nothing here") == "nothing here")
    }

    @Test func ignoresShortValuesAndKeepsTheMostRecent() {
        let values = SensitiveValues(capacity: 2, minimumLength: 6)
        values.add("short")
        #expect(values.isEmpty)
        values.add("first-value")
        values.add("second-value")
        values.add("third-value")
        #expect(values.redact("first-value second-value third-value") == "first-value [redacted] [redacted]")
    }

    @Test func oversizedBodyStatusIsKubeAPIServers() {
        let status = APIStatus.requestEntityTooLarge(limit: 3 << 20)
        #expect(status.code == 413)
        #expect(status.reason == .requestEntityTooLarge)
        #expect(status.message == "Request entity too large: limit is 3145728")
    }
}

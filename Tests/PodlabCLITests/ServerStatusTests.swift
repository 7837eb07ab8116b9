import Foundation
import PodlabCLI
import Testing

@Suite("Server errors printed like kubectl")
struct ServerStatusTests {
    @Test func notFound() {
        let status = ServerStatus(message: "pods \"x\" not found", reason: "NotFound", code: 404,
                                  details: .init(name: "x", kind: "pods"))
        #expect(status.kubectlMessage == "Error from server (NotFound): pods \"x\" not found")
    }

    @Test func alreadyExists() {
        let status = ServerStatus(message: "pods \"nginx\" already exists", reason: "AlreadyExists", code: 409)
        #expect(status.kubectlMessage == "Error from server (AlreadyExists): pods \"nginx\" already exists")
    }

    @Test func noReason() {
        let status = ServerStatus(message: "boom", reason: nil, code: 500)
        #expect(status.kubectlMessage == "Error from server: boom")
    }

    @Test func invalidOneCause() {
        let status = ServerStatus(
            message: "Pod \"x\" is invalid: spec.containers[0].image: Required value", reason: "Invalid", code: 422,
            details: .init(name: "x", kind: "Pod", causes: [.init(reason: "FieldValueRequired", message: "Required value", field: "spec.containers[0].image")]))
        #expect(status.kubectlMessage == "The Pod \"x\" is invalid: spec.containers[0].image: Required value")
    }

    @Test func invalidSeveralCauses() {
        let status = ServerStatus(
            message: "…", reason: "Invalid", code: 422,
            details: .init(name: "x", kind: "Pod", causes: [
                .init(message: "Required value", field: "spec.containers[0].name"),
                .init(message: "Required value", field: "spec.containers[0].image"),
            ]))
        #expect(status.kubectlMessage == """
            The Pod "x" is invalid: 
            * spec.containers[0].name: Required value
            * spec.containers[0].image: Required value
            """)
    }

    @Test("answers without a Status body", arguments: [
        (404, "Error from server (NotFound): the server could not find the requested resource"),
        (405, "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource"),
    ])
    func synthesized(code: Int, expected: String) {
        #expect(ServerStatus.synthesized(code: code, body: "404 page not found").kubectlMessage == expected)
    }
}

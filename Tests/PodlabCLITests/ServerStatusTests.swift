import Foundation
import PodNet
import PodlabCLI
import Testing

@Suite("Server errors printed like kubectl")
struct ServerStatusTests {
    @Test func notFound() {
        let status = APIStatus.notFound(resource: "pods", name: "x")
        #expect(status.kubectlErrorLine == "Error from server (NotFound): pods \"x\" not found")
    }

    @Test func alreadyExists() {
        let status = APIStatus.alreadyExists(resource: "pods", name: "nginx").fromSource("creating", "pod.yaml")
        #expect(status.kubectlErrorLine == "Error from server (AlreadyExists): error when creating \"pod.yaml\": pods \"nginx\" already exists")
    }

    @Test func readsTheAgentsStatusBody() {
        let body = APIStatus.conflict(resource: "pods", name: "web").jsonText
        let error = APIError.from(code: 409, body: Data(body.utf8))
        #expect(error.description == "Error from server (Conflict): Operation cannot be fulfilled on pods \"web\": the object has been modified; please apply your changes to the latest version and try again")
    }

    @Test func noReason() {
        let status = APIStatus(message: "boom", reason: nil, code: 500)
        #expect(status.kubectlErrorLine == "Error from server: boom")
    }

    @Test func invalidOneCause() {
        let status = APIStatus.invalid(kind: "Pod", name: "x", errors: [.required("spec.containers[0].image")])
            .fromSource("creating", "pod.yaml")
        #expect(status.kubectlErrorLine == "The Pod \"x\" is invalid: spec.containers[0].image: Required value")
    }

    @Test func invalidSeveralCauses() {
        let status = APIStatus.invalid(kind: "Pod", name: "x", errors: [
            .required("spec.containers[0].name"), .required("spec.containers[0].image"),
        ])
        #expect(status.kubectlErrorLine == """
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
        #expect(APIStatus.synthesized(code: code, body: "404 page not found").kubectlErrorLine == expected)
    }
}

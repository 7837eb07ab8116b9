import Testing
@testable import PodNet

@Suite("The services scenario: its objects and the client's log")
struct ServicesScenarioTests {
    @Test("requests are counted from the client's log: exit status 0 and an echo answer naming a pod succeed")
    func tally() {
        let log = """
            0 {"hostname":"web-6f7d-abcde","podIP":"10.244.1.5"}
            0 {"hostname":"web-6f7d-fghij","podIP":"10.244.2.5"}
            7 
            28 {"hostname":"web-6f7d-abcde"
            0 <html>Welcome to nginx!</html>
            0 {"hostname":"web-6f7d-abcde","podIP":"10.244.1.5"}
            finished

            """
        let tally = ServicesScenario.Tally(log: log)
        #expect(tally.total == 6)
        #expect(tally.failed == ["7 ", "28 {\"hostname\":\"web-6f7d-abcde\"", "0 <html>Welcome to nginx!</html>"])
        #expect(tally.answers == ["web-6f7d-abcde": 2, "web-6f7d-fghij": 1])
        #expect(tally.finished)
        #expect(!ServicesScenario.Tally(log: "0 {\"hostname\":\"a\"}\n").finished)
    }

    @Test("the client asks by ClusterIP and by the Service's name in its namespace, until the stop file exists")
    func clientScript() {
        let script = ServicesScenario.clientScript(clusterIP: "10.96.0.20", namespace: "podlab-services-x2k4q", stopFile: "/tmp/stop")
        #expect(script.hasPrefix("for url in http://10.96.0.20/ http://web.podlab-services-x2k4q/; do until curl -s -m 1 -o /dev/null \"$url\"; do sleep 0.2; done; done; "))
        #expect(script.contains("while [ ! -e /tmp/stop ]; do for url in http://10.96.0.20/ http://web.podlab-services-x2k4q/; do "))
        #expect(script.hasSuffix("echo finished"))
    }

    @Test("the Deployment decodes and validates, and a new version changes only its template's variable")
    func deployment() throws {
        let one = try Deployment(json: ServicesScenario.deployment(namespace: "ns", version: 1))
        let two = try Deployment(json: ServicesScenario.deployment(namespace: "ns", version: 2))
        try one.applyingDefaults().validated()
        #expect(one.spec.replicas == 3 && one.spec.minReadySeconds == 2)
        #expect(one.spec.template.spec.containers.first?.readinessProbe != nil)
        #expect(one.spec.template.spec.containers.first?.env == [EnvVar(name: ServicesScenario.versionVariable, value: "1")])
        var changed = one
        changed.spec.template.spec.containers[0].env = [EnvVar(name: ServicesScenario.versionVariable, value: "2")]
        #expect(changed == two)
        let service = try Service(json: ServicesScenario.service(namespace: "ns")).applyingDefaults()
        try service.validated()
        #expect(service.spec.selector == one.spec.template.metadata.labels)
    }
}

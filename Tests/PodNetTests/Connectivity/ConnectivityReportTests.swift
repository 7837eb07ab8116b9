import Foundation
import Testing
@testable import PodNet

@Suite("Comparing results and printing reports")
struct ConnectivityReportTests {
    static let tcp = ConnectivityCheck(
        claim: .crossNode, from: "a", to: "b 10.244.2.2:80 (web)",
        probe: ProbeRequest(fromPod: "default/a", to: "10.244.2.2", port: 80, kind: .tcp), expected: .connected,
        expectedSource: IPv4Address(10, 244, 1, 2), reason: "web listens on 80/TCP")
    static let gateway = ConnectivityCheck(
        claim: .gateway, from: "a", to: "gateway 10.244.1.1 (node n1)",
        probe: ProbeRequest(fromPod: "default/a", to: "10.244.1.1", kind: .icmp), expected: .connected, reason: "the default route")
    static let host = ConnectivityCheck(
        claim: .hostIsolation, from: "host", to: "a 10.244.1.2", probe: ProbeRequest(to: "10.244.1.2", kind: .route),
        expected: .unreachable, reason: "not connected")

    static let results = [
        CheckResult(check: tcp, actual: ProbeResult(outcome: .connected, latencyMillis: 0.123, source: "10.244.1.2:40000",
                                                    destination: "10.244.2.2:80")),
        CheckResult(check: gateway, actual: ProbeResult(outcome: .unreachable, latencyMillis: 0.01,
                                                        detail: "connect: Network is unreachable (ENETUNREACH)")),
        CheckResult(check: host, actual: ProbeResult(outcome: .unreachable, latencyMillis: 0.02, detail: "no route")),
    ]

    @Test("a result matches when its outcome proves the claim and the answer came from the expected address")
    func comparison() {
        #expect(Self.results.map(\.matched) == [true, false, true])
        #expect(Self.results[1].problem == "expected connected, got unreachable")
        let natted = CheckResult(check: Self.tcp, actual: ProbeResult(outcome: .connected, source: "10.244.1.1:40000"))
        #expect(natted.problem == "the answer went to 10.244.1.1, not the pod's own address 10.244.1.2 (address translation between pods)")
        var tolerant = Self.tcp
        tolerant.expected = .unreachable
        tolerant.tolerated = [.timeout]
        #expect(CheckResult(check: tolerant, actual: ProbeResult(outcome: .timeout)).matched)
        #expect(!CheckResult(check: tolerant, actual: ProbeResult(outcome: .refused)).matched)
    }

    /// The cross-node check with the source observed inside the destination pod.
    static var observed: ConnectivityCheck {
        var check = tcp
        check.probe?.observeSource = true
        return check
    }

    @Test("the source the destination saw must be the pod's own: a masquerading node is a mismatch")
    func observedSource() {
        let clean = CheckResult(check: Self.observed, actual: ProbeResult(outcome: .connected, source: "10.244.1.2:40000", destination: "10.244.2.2:80",
                                                                           observedSource: "10.244.1.2:40000"))
        #expect(clean.matched)
        let natted = CheckResult(check: Self.observed, actual: ProbeResult(outcome: .connected, source: "10.244.1.2:40000", destination: "10.244.2.2:80",
                                                                            observedSource: "192.168.200.11:40000"))
        #expect(natted.problem == "10.244.1.2 → 10.244.2.2: server saw 192.168.200.11 (NAT)")
        let unknown = CheckResult(check: Self.observed, actual: ProbeResult(outcome: .connected, source: "10.244.1.2:40000",
                                                                             observationError: "no connection from the source pod arrived at 10.244.2.2 within 1000 ms"))
        #expect(unknown.problem == "10.244.1.2 → 10.244.2.2: the source the server saw is unknown (no connection from the source pod arrived at 10.244.2.2 within 1000 ms)")
        // Without observeSource the observation is not required; an outcome that does not prove the claim says so first.
        #expect(CheckResult(check: Self.tcp, actual: ProbeResult(outcome: .connected, source: "10.244.1.2:40000")).matched)
        #expect(CheckResult(check: Self.observed, actual: ProbeResult(outcome: .refused)).problem == "expected connected, got refused")

        let report = ConnectivityReport(lab: "lab", scenario: "matrix", results: [natted, Self.results[2]], elapsedSeconds: 0.5)
        #expect(!report.passed)
        #expect(report.table(onlyMismatches: true).contains(
            "MISMATCH   cross-node   a      b 10.244.2.2:80 (web)   tcp connect   connected   connected   0.00ms    10.244.1.2 → 10.244.2.2: server saw 192.168.200.11 (NAT); 10.244.1.2:40000 → 10.244.2.2:80; expected because web listens on 80/TCP"))
        let json = report.json["results"]?.arrayValue?.first
        #expect(json?["problem"] == .string("10.244.1.2 → 10.244.2.2: server saw 192.168.200.11 (NAT)"))
        #expect(json?["actual"]?["observedSource"] == .string("192.168.200.11:40000"))
        #expect(json?["probe"]?["observeSource"] == .bool(true))
        #expect(report.junit().contains("<failure message=\"10.244.1.2 → 10.244.2.2: server saw 192.168.200.11 (NAT)\" type=\"mismatch\">"))
    }

    static let report = ConnectivityReport(lab: "lab", scenario: "matrix", results: results, elapsedSeconds: 0.5)

    @Test("the table: mismatches first, expected against actual, source and destination in the detail")
    func table() {
        #expect(Self.report.table() == """
            RESULT     CLAIM            FROM   TO                             PROBE                           EXPECTED      ACTUAL        LATENCY   DETAIL
            MISMATCH   gateway          a      gateway 10.244.1.1 (node n1)   icmp echo                       connected     unreachable   0.01ms    connect: Network is unreachable (ENETUNREACH); expected because the default route
            ok         cross-node       a      b 10.244.2.2:80 (web)          tcp connect                     connected     connected     0.12ms    10.244.1.2:40000 → 10.244.2.2:80
            ok         host-isolation   host   a 10.244.1.2                   route lookup (no packet sent)   unreachable   unreachable   -         no route

            """)
        #expect(Self.report.table(onlyMismatches: true).split(separator: "\n").count == 2)
    }

    @Test("on a terminal the RESULT cell is coloured; the columns stay aligned")
    func colour() {
        let lines = Self.report.table(colour: true).split(separator: "\n").map(String.init)
        #expect(lines[1].hasPrefix("\u{1B}[31;1mMISMATCH\u{1B}[0m   gateway"))
        #expect(lines[2].hasPrefix("\u{1B}[32mok\u{1B}[0m         cross-node"))
        let plain = Self.report.table().split(separator: "\n").map(String.init)
        #expect(lines[2].replacingEscapes == plain[2])
    }

    @Test("the summary counts claims and probes")
    func summary() {
        #expect(Self.report.summary() == """
            ✓ cross-node       pods on different nodes reach each other by pod IP: 1 check
            ✓ host-isolation   the host has no way into the lab (only the cluster reaches pods): 1 check
            ✗ gateway          every pod reaches its node's gateway: 1 of 1 mismatched
            FAIL: 3 checks, 2 matched, 1 mismatched; 3 probes in 0.50 s (6 probes/s)

            """)
        var shown = Self.report
        shown.results = [Self.results[0]]
        shown.notShown = [.sharedIP: "no pod has two containers"]
        #expect(shown.summary().contains("- shared-ip    the containers of a pod share its IP: not shown (no pod has two containers)"))
        #expect(shown.summary().hasSuffix("PASS: 1 check, 1 matched, 0 mismatched; 1 probe in 0.50 s (2 probes/s)\n"))
    }

    @Test("JSON: summary, claims, and each result with its probe")
    func json() throws {
        let json = Self.report.json
        #expect(json["passed"] == .bool(false))
        #expect(json["summary"]?["mismatched"] == .integer(1))
        #expect(json["summary"]?["probes"] == .integer(3))
        let results = try #require(json["results"]?.arrayValue)
        #expect(results.count == 3)
        #expect(results[0]["claim"] == .string("gateway") && results[0]["matched"] == .bool(false))
        #expect(results[0]["problem"] == .string("expected connected, got unreachable"))
        #expect(results[1]["probe"]?["port"] == .integer(80) && results[1]["expectedSource"] == .string("10.244.1.2"))
        #expect(results[1]["actual"]?["source"] == .string("10.244.1.2:40000"))
        let text = json.jsonText()
        #expect(try JSONReader.value(from: text).jsonText() == text, "the JSON reads back")
    }

    @Test("the report's JSON text is the JSON value's, byte for byte, with every field a result can have", arguments: [4, 0])
    func jsonTextMatchesValue(indent: Int) {
        var spread = Self.tcp
        spread.claim = .serviceSpread
        spread.probe = ProbeRequest(fromPod: "default/a", to: "10.96.0.5", port: 80, kind: .http, timeoutMillis: 500, expectBody: "<h1>\"it\" & works</h1>",
                                    expectStatus: 200, path: "/", observeSource: true, tries: 37)
        spread.answerers = .every(["web-1", "web-2"])
        spread.tolerated = [.timeout, .refused]
        var dns = Self.gateway
        dns.claim = .serviceDNS
        dns.probe = ProbeRequest(fromPod: "team/b", to: "10.96.0.10", kind: .dns, name: "web", search: ["team.svc.cluster.local", "svc.cluster.local"],
                                 expectAddresses: ["10.96.0.5"])
        dns.expectedSource = nil
        var model = Self.host
        model.probe = nil
        model.reason = "tab\tnew\nline \u{2028} \u{1}"
        let results = Self.results + [
            CheckResult(check: spread, actual: ProbeResult(outcome: .connected, latencyMillis: 12.5, source: "10.244.1.2:40001", destination: "10.96.0.5:80",
                                                           detail: "37 × HTTP 200", observedSource: "10.244.1.2:40001",
                                                           answeredBy: ["web-2": 20, "web-1": 17, "?": 0])),
            CheckResult(check: dns, actual: ProbeResult(outcome: .wrongAnswer, latencyMillis: 1, detail: "web: 10.96.0.6", answers: ["10.96.0.6"])),
            CheckResult(check: dns, actual: ProbeResult(outcome: .connected, answers: [], answeredBy: [:])),
            CheckResult(check: Self.observed, actual: ProbeResult(outcome: .connected, latencyMillis: 100, source: "10.244.1.2:40000",
                                                                  observationError: "unknown")),
            CheckResult(check: model, actual: ProbeResult(outcome: .error, latencyMillis: 1e-9, detail: "held by a, b")),
        ]
        var report = ConnectivityReport(lab: "lab", scenario: "matrix", results: results, elapsedSeconds: 0.25,
                                        notShown: [.sharedIP: "no pod has two containers"])
        #expect(report.jsonText(indent: indent) == report.json.jsonText(indent: indent))
        report.results = []
        #expect(report.jsonText(indent: indent) == report.json.jsonText(indent: indent))
    }

    @Test("JUnit: a suite per claim, a case per check, mismatches as failures, escaped")
    func junit() {
        var results = Self.results
        results[1].actual.detail = "<&\"'>\u{1}"
        let xml = ConnectivityReport(lab: "lab", scenario: "seed", results: results, elapsedSeconds: 0.5,
                                     notShown: [.sharedIP: "no pod has two containers"]).junit()
        #expect(xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"podlab test lab (seed)\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"0.500\">"))
        #expect(xml.contains("<testsuite name=\"gateway\" tests=\"1\" failures=\"1\""))
        #expect(xml.contains("<failure message=\"expected connected, got unreachable\" type=\"mismatch\">"))
        #expect(xml.contains("(&lt;&amp;&quot;&apos;&gt;)</failure>"))
        #expect(xml.contains("<testcase classname=\"podlab.cross-node\" name=\"a → b 10.244.2.2:80 (web): tcp connect\" time=\"0.000123\"/>"))
        #expect(xml.contains("<skipped message=\"no pod has two containers\"/>"))
        #expect(xml.components(separatedBy: "<testcase ").count - 1 == 4)
        #expect(xml.components(separatedBy: "<testsuite ").count == xml.components(separatedBy: "</testsuite>").count)
        #expect(xml.hasSuffix("</testsuites>\n"))
    }

    @Test("milliseconds and fixed decimals", arguments: [(0.1234, "0.12ms"), (12.34, "12.3ms"), (1204.4, "1204ms"), (0, "0.00ms")])
    func milliseconds(value: Double, text: String) {
        #expect(ConnectivityReport.milliseconds(value) == text)
    }
}

extension String {
    /// Without ANSI colour escapes.
    var replacingEscapes: String {
        var out = ""
        var inEscape = false
        for scalar in unicodeScalars {
            if scalar == "\u{1B}" { inEscape = true; continue }
            if inEscape { if scalar == "m" { inEscape = false }; continue }
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}

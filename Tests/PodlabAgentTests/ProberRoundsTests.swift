#if canImport(Glibc)
import Glibc
#endif
import KernelTestSupport
import Netlink
import Netns
@testable import PodlabAgent
import PodNet
import Testing

/// The prober's rounds, where a batch needs more sockets than one round may hold: each round's
/// kept-open connections are read in their destination's connection table before any of them
/// closes, a round closes only as many of the earlier rounds' sockets as it opens, and every
/// probe gets its own result. On loopback inside a namespace of the test's own.
@Suite(.enabled(if: KernelTest.isRoot, KernelTest.rootRequired))
struct ProberRoundsTests {
    @Test("60 TCP probes in rounds of 16 sockets: every connect and refusal right, every connection's source observed")
    func rounds() async throws {
        try await KernelTest.withNamespaces(1, prefix: "plprb") { namespaces in
            let ns = namespaces[0]
            try RouteNetlink(namespace: ns).setUp(.name("lo"))
            // A listener that never accepts: the connections wait in its queue, open.
            let listener = try ns.perform { () -> Int32 in
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = Prober.socketAddress(IPv4Address(127, 0, 0, 1), port: 0)
                let bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                return bound == 0 && listen(fd, 512) == 0 ? fd : -1
            }
            try #require(listener >= 0)
            defer { close(listener) }
            let port = Int(try #require(Prober.localPort(of: listener)))

            var jobs: [ProbeJob] = []
            for index in 0..<60 {
                let open = index % 3 != 2
                var request = ProbeRequest(id: "\(index)", fromPod: "default/p", to: "127.0.0.1", port: open ? port : 9, kind: .tcp, timeoutMillis: 2000)
                request.observeSource = open ? true : nil
                var job = ProbeJob(request: request, netns: ns.name, destination: IPv4Address(127, 0, 0, 1))
                if open { job.observeIn = .success(ns.name) }
                jobs.append(job)
            }
            let batch = jobs
            let (results, timings) = await withCheckedContinuation { continuation in
                Prober.startThread {
                    Prober.runBlocking(batch, budget: 16) { continuation.resume(returning: ($0, $1)) }
                }
            }
            #expect(timings.rounds == 4)
            #expect(timings.observedByLookup == 40, "\(timings)")
            #expect(results.count == 60)
            for (index, result) in results.enumerated() {
                #expect(result.id == "\(index)")
                if index % 3 != 2 {
                    #expect(result.outcome == .connected, "\(index): \(result)")
                    // What the listener's side saw is the probe's own address and port.
                    #expect(result.observedSource != nil && result.observedSource == result.source, "\(index): \(result)")
                } else {
                    #expect(result.outcome == .refused, "\(index): \(result)")
                }
            }
        }
    }
}

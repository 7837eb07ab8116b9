#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KernelTestSupport
import Netns
import PodlabAgent
import PodNet
import Testing

/// UDP through a ClusterIP when an endpoint goes away: the client's conntrack entry, which pins
/// it to the endpoint its first datagram was sent to, is deleted with the endpoint, so its next
/// datagram reaches another endpoint at once instead of after the entry's timeout.
@Suite("Service conntrack: UDP clients leave a gone endpoint", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct ServiceConntrackTests {
    /// A UDP socket inside the pod's namespace, its timeouts set.
    final class UDPClient {
        let fd: Int32

        init(namespace: NetworkNamespace) throws {
            fd = try namespace.perform { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
            guard fd >= 0 else { throw KernelError(operation: "socket", object: "udp", errno: .current) }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            // Bound now, so its port (how the servers' logs name it) is known before it sends.
            var any = sockaddr_in()
            any.sin_family = sa_family_t(AF_INET)
            let bound = withUnsafePointer(to: &any) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0 else { throw KernelError(operation: "bind", object: "udp", errno: .current) }
        }

        deinit { close(fd) }

        /// The local port (the client's identity in the echo servers' logs).
        var port: UInt16 {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return UInt16(bigEndian: address.sin_port)
        }

        /// Sends `text` and waits for its echo.
        func exchange(_ text: String, with address: IPv4Address, port: UInt16) -> Bool {
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = port.bigEndian
            target.sin_addr.s_addr = address.value.bigEndian
            let bytes = Array(text.utf8)
            let sent = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard sent == bytes.count else { return false }
            // An answer to an earlier datagram that came after its wait ended is passed over.
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let received = recv(fd, &buffer, buffer.count, 0)
                guard received > 0 else { return false }
                if Array(buffer[0..<received]) == bytes { return true }
            }
        }
    }

    @Test("the pod a UDP client talks to through a ClusterIP is deleted: its next datagram reaches the other endpoint at once")
    func udpEndpointPodDeleted() async throws {
        try await TestLab.with { lab in
            try await lab.start([PinnedPod("client", on: "n1", [.init(name: "curl", image: "curl", command: ["sleep", "3600"])])])
            let manifest = lab.stateRoot + "/udp-echo.yaml"
            var text = ""
            for (pod, node) in [("udp-a", "n1"), ("udp-b", "n2")] {
                text += """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: \(pod)
                  labels:
                    app: udp
                spec:
                  nodeName: \(node)
                  containers:
                  - name: echo
                    image: podlab/echo
                ---

                """
            }
            text += """
            apiVersion: v1
            kind: Service
            metadata:
              name: udp-echo
            spec:
              selector:
                app: udp
              ports:
              - name: echo
                protocol: UDP
                port: 5353
                targetPort: 8080

            """
            try text.write(toFile: manifest, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", manifest])
            let service = try #require(try JSONSerialization.jsonObject(with: Data(try lab.run(["get", "svc", "udp-echo", "-o", "json"]).stdout.utf8)) as? [String: Any])
            let vip = try #require(IPv4Address((service["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""))
            let client = try #require(IPv4Address(try lab.podIP("client")))
            let socket = try UDPClient(namespace: try NetworkNamespace.open(lab.podNamespace("client")))
            let me = "\(client):\(socket.port)"
            func served(_ pod: String) -> Int {
                ((try? lab.run(["logs", pod]).stdout) ?? "").split(separator: "\n").filter { $0.contains("udp \(me) ") }.count
            }
            // Once both pods are endpoints, the client's datagrams stay on the one its first went to.
            try await lab.eventually("both pods are endpoints") {
                let endpoints = try JSONSerialization.jsonObject(with: Data(try lab.run(["get", "endpoints", "udp-echo", "-o", "json"]).stdout.utf8)) as? [String: Any]
                return ((endpoints?["subsets"] as? [[String: Any]]) ?? []).flatMap { $0["addresses"] as? [[String: Any]] ?? [] }.count == 2
            }
            try await lab.eventually("the ClusterIP answers") { socket.exchange("hello", with: vip, port: 5353) }
            #expect(socket.exchange("again", with: vip, port: 5353))
            // A server logs a datagram once it answered it: wait for both lines.
            try await lab.eventually("the two datagrams logged") { served("udp-a") + served("udp-b") >= 2 }
            let first = served("udp-a") > 0 ? "udp-a" : "udp-b", other = first == "udp-a" ? "udp-b" : "udp-a"
            #expect(served(first) >= 2 && served(other) == 0, "udp-a \(served("udp-a")), udp-b \(served("udp-b")) for \(me): \((try? lab.run(["logs", "udp-a"]).stdout) ?? "") \((try? lab.run(["logs", "udp-b"]).stdout) ?? "")")

            // Its pod goes. Without the conntrack entry deleted, the client would keep sending to
            // the gone address for as long as it keeps sending: each datagram renews the entry
            // (30 s, 120 s once answered), so the wait below would never end.
            let started = ContinuousClock.now
            try lab.run(["delete", "pod", first])
            try await lab.eventually("a datagram answered by \(other)", timeout: .seconds(60)) {
                _ = socket.exchange("after", with: vip, port: 5353)
                return served(other) > 0
            }
            print("the client's datagrams reached \(other) \(ContinuousClock.now - started) after the deletion of \(first)")
        }
    }
}

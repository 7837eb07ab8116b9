#if canImport(Glibc)
import Glibc
#endif

/// What keeping the cluster zone costs (`scripts/bench-services`): a zone of `services` Services
/// (each a ClusterIP with a named port: A, SRV and PTR names) and as many pods, built whole from
/// the state as every batch of watch events once did, against one event at a time through the
/// source the server runs (the changed Service's names laid out again, the zone published).
public struct ClusterDNSZoneCost: Sendable {
    /// Names in the zone.
    public var names: Int
    public var wholeBuildSeconds: Double
    /// One Service's address changed, per event.
    public var eventSeconds: [Double]

    public static func measure(services: Int, events: Int) -> ClusterDNSZoneCost {
        func service(_ index: Int, address: Int) -> MiniJSON {
            .object(["metadata": .object(["name": .string("svc-\(index)"), "namespace": .string("default")]),
                     "spec": .object(["clusterIP": .string("10.96.\(address / 250).\(address % 250 + 1)"),
                                      "ports": .array([.object(["name": .string("http"), "port": .number(80), "protocol": .string("TCP")])])])])
        }
        func pod(_ index: Int) -> MiniJSON {
            .object(["metadata": .object(["name": .string("pod-\(index)"), "namespace": .string("default")]),
                     "status": .object(["phase": .string("Running"), "podIP": .string("10.244.\(index / 250).\(index % 250 + 2)")])])
        }
        let source = ClusterDNSSource(domain: "cluster.local")
        source.update { state in
            state.replace(.services, items: (0..<services).map { service($0, address: $0) })
            state.replace(.pods, items: (0..<services).map(pod))
        }
        var state = ClusterDNSState()
        state.replace(.services, items: (0..<services).map { service($0, address: $0) })
        state.replace(.pods, items: (0..<services).map(pod))
        let start = now()
        let whole = DNSZone(state.data, serial: 2)
        let wholeBuild = now() - start
        var eventTimes: [Double] = []
        for event in 0..<events {
            let index = event % max(1, services)
            let moved = service(index, address: services + event)
            let before = now()
            source.update { $0.apply(.services, type: "MODIFIED", object: moved) }
            eventTimes.append(now() - before)
        }
        return ClusterDNSZoneCost(names: whole.names.count, wholeBuildSeconds: wholeBuild, eventSeconds: eventTimes)
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

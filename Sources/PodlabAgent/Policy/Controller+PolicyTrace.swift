import Foundation
import PodNet

extension Controller {
    /// What the policies do to a new connection from `pod` to each destination the Service rules
    /// send it to (the packet is judged after DNAT, by its real endpoint): the verdict with the
    /// policy and rule that decided it, and the hooks of the installed rules it passes.
    func policyTrace(from pod: Pod, to destinations: [(address: IPv4Address, port: UInt16)], protocol proto: ServiceProtocol) -> (text: String, json: JSONValue) {
        guard let plan, let source = IPv4Address(pod.status.podIP) else { return ("", .null) }
        let world = policyWorld(plan)
        let rulesets = policyRulesets
        let transport: PortProtocol = proto == .udp ? .udp : .tcp
        var lines: [String] = []
        var entries: [JSONValue] = []
        for destination in destinations {
            let verdict = PolicyModel.verdict(in: world, from: source, to: destination.address, proto: transport, port: destination.port)
            let packet = PolicyTrace.Packet(source: source, destination: destination.address, proto: proto == .udp ? 17 : 6, port: destination.port)
            var hops: [String] = []
            var rulesAgree = true
            do {
                let traced = try PolicyPath.trace(in: world, rulesets: rulesets, packet: packet)
                hops = traced.map(\.description)
                rulesAgree = traced.allSatisfy(\.result.accepted) == verdict.isAllowed
            } catch {
                hops = ["the rules could not be followed: \(error)"]
            }
            lines.append("NetworkPolicy, \(source) → \(destination.address):\(destination.port)/\(transport.rawValue): \(verdict)")
            lines += hops.map { "  " + $0 }
            if !rulesAgree { lines.append("  the rules last programmed disagree: a change is still being applied") }
            entries.append(.object([
                "destination": .string("\(destination.address):\(destination.port)"),
                "allowed": .bool(verdict.isAllowed),
                "egress": .string(verdict.egress.description),
                "ingress": .string(verdict.ingress.description),
                "hops": .array(hops.map(JSONValue.string)),
            ]))
        }
        return (lines.joined(separator: "\n"), .array(entries))
    }
}

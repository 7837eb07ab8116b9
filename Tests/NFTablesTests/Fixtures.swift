import NFTables
import Addressing

// Test address plan (all inside namespaces the tests create):
//   cluster (pod) CIDR 10.244.0.0/16, service CIDR 10.96.0.0/16
//   client 10.0.1.2/24 — router 10.0.1.1/24 | 10.0.2.1/24 — backend 10.0.2.2/24 and 10.0.2.3/24
//   VIP 10.96.0.10:80/tcp → verdict-map service (numgen vmap over ep-a, ep-b) → 10.0.2.2:8080, 10.0.2.3:8080
//   VIP 10.96.0.11:80/tcp → lb-tcp-2 → backends map → 10.0.2.2:8080, 10.0.2.3:8080

/// A kube-proxy-like layout in the shape design.md describes: one service-ips verdict map,
/// shared lb chains and one backends map, plus a verdict-map service with per-endpoint chains,
/// and the masquerade rule.
enum ServiceLayout {
    static let table = Table(.ip, "podlab")
    static let prerouting = Chain(table, "nat-prerouting", type: .nat, hook: .prerouting, priority: Priority.dstnat)
    static let postrouting = Chain(table, "nat-postrouting", type: .nat, hook: .postrouting, priority: Priority.srcnat)
    static let serviceWeb = Chain(table, "svc-web")
    static let endpointA = Chain(table, "ep-a")
    static let endpointB = Chain(table, "ep-b")
    static let lbTCP2 = Chain(table, "lb-tcp-2")
    /// Not hooked: the shape of sidecar capture rules (design.md, service mesh).
    static let meshOutbound = Chain(table, "mesh-outbound")

    static let serviceIPs = NFTSet(table, "service-ips", key: .type(.ipv4Address, .inetProtocol, .inetService), data: .verdict)
    static let backends = NFTSet(table, "backends", key: .typeof(.ipDaddr, .l4proto, .thDport, .numgenRandom(modulus: 2)), data: .typeof(.ipDaddr, .thDport))
    static let podCIDRs = NFTSet(table, "pod-cidrs", key: .type(.ipv4Address), flags: [.interval])
    static let marks = NFTSet(table, "marks", key: .type(.ipv4Address), data: .type(.mark))

    static let clusterCIDR = IPv4Prefix("10.244.0.0/16")!
    static let webVIP = IPv4Address("10.96.0.10")!
    static let lbVIP = IPv4Address("10.96.0.11")!
    static let backendA = IPv4Address("10.0.2.2")!
    static let backendB = IPv4Address("10.0.2.3")!

    static var chains: [Chain] { [prerouting, postrouting, serviceWeb, endpointA, endpointB, lbTCP2, meshOutbound] }
    static var sets: [NFTSet] { [serviceIPs, backends, podCIDRs, marks] }

    static var rules: [Rule] {
        [
            Rule(prerouting, [.match(.ipDaddr, .ipv4Prefix(IPv4Prefix("10.96.0.0/16")!)), .counter]),
            Rule(prerouting, [.verdictMap([.ipDaddr, .l4proto, .thDport], .named(serviceIPs.name))]),
            Rule(postrouting, [.match(.ipSaddr, .ipv4Prefix(clusterCIDR)), .match(.ipDaddr, .notEqual, .ipv4Prefix(clusterCIDR)), .masquerade]),
            Rule(postrouting, [.lookup(.ipSaddr, set: podCIDRs.name), .match(.oifname, .notEqual, .ifname("cni0")), .masquerade(fullyRandom: true)]),
            Rule(serviceWeb, [.verdictMap([.numgenRandom(modulus: 2)], .anonymous([SetElement(.integer(0), .jump(endpointA.name)), SetElement(.integer(1), .jump(endpointB.name))]))]),
            Rule(endpointA, [.match(.l4proto, .inetProtocol(.tcp)), .dnat(backendA, port: 8080)]),
            Rule(endpointB, [.match(.l4proto, .inetProtocol(.tcp)), .dnat(backendB, port: 8080)]),
            Rule(lbTCP2, [.dnatMap([.ipDaddr, .l4proto, .thDport, .numgenRandom(modulus: 2)], map: backends.name)], comment: "services with 2 endpoints"),
            Rule(meshOutbound, [.match(.skuid, .uid(4242)), .verdict(.return)]),
            Rule(meshOutbound, [.match(.ctState, .notEqual, .ctState(.new)), .verdict(.return)]),
            Rule(meshOutbound, [.match(.ipDaddr, .ipv4Prefix(IPv4Prefix("127.0.0.0/8")!)), .verdict(.return)]),
            Rule(meshOutbound, [.setMarkFromMap([.ipSaddr], map: marks.name)]),
            Rule(meshOutbound, [.match(.l4proto, .inetProtocol(.tcp)), .match(.thDport, .notEqual, .port(22)), .redirect(port: 15001)]),
        ]
    }

    static var serviceElements: [SetElement] {
        [SetElement(.concat([.ipv4(webVIP), .inetProtocol(.tcp), .port(80)]), .jump(serviceWeb.name)),
         SetElement(.concat([.ipv4(lbVIP), .inetProtocol(.tcp), .port(80)]), .jump(lbTCP2.name))]
    }

    static var backendElements: [SetElement] {
        [SetElement(.concat([.ipv4(lbVIP), .inetProtocol(.tcp), .port(80), .integer(0)]), .concat([.ipv4(backendA), .port(8080)])),
         SetElement(.concat([.ipv4(lbVIP), .inetProtocol(.tcp), .port(80), .integer(1)]), .concat([.ipv4(backendB), .port(8080)]))]
    }

    static var podCIDRElements: [SetElement] {
        [SetElement(.ipv4Prefix(IPv4Prefix("10.244.1.0/24")!)), SetElement(.ipv4Prefix(IPv4Prefix("10.244.2.0/24")!)), SetElement(.ipv4(IPv4Address("10.244.9.9")!))]
    }

    /// The whole layout as one transaction (idempotent: the table is recreated).
    static func transaction() -> Transaction {
        var tx = Transaction()
        tx.deleteIfExists(table)
        tx.add(table)
        for set in sets { tx.add(set) }
        for chain in chains { tx.add(chain) }
        tx.add(rules)
        tx.add(serviceElements, to: serviceIPs)
        tx.add(backendElements, to: backends)
        tx.add(podCIDRElements, to: podCIDRs)
        tx.add([SetElement(.ipv4(IPv4Address("10.244.1.5")!), .mark(0x2a))], to: marks)
        return tx
    }
}

import Foundation
import PodNet

/// `kubectl describe networkpolicy` text, in kubectl's layout (`describeNetworkPolicy`).
enum PolicyDescription {
    static func networkPolicy(_ policy: NetworkPolicy, timeZone: TimeZone) -> String {
        var w = ""
        w += "Name:\t\(policy.metadata.name)\n"
        w += "Namespace:\t\(policy.metadata.namespace)\n"
        w += "Created on:\t\(goTime(policy.metadata.creationTimestamp, timeZone: timeZone))\n"
        w += PodDescription.multiline("Labels", policy.metadata.labels)
        w += PodDescription.annotations(policy.metadata.annotations)
        w = TabWriter().format(w)
        return w + spec(policy.spec) + logging(policy)
    }

    /// podlab's own line after kubectl's: whether the policy's drops are logged (`PolicyLog`).
    static func logging(_ policy: NetworkPolicy) -> String {
        guard policy.logsDrops else { return "  Logging: off (annotate \(PolicyLog.annotation)=\"true\" to log its drops)\n" }
        return "  Logging: on (drops, at most \(PolicyLog.perSecond)/second after \(PolicyLog.burst): podlab logs --policy \(policy.metadata.name) -n \(policy.metadata.namespace))\n"
    }

    /// The `Spec:` block. kubectl writes it through the same tab writer, but none of its lines
    /// has a tab: it is plain indented text.
    static func spec(_ spec: NetworkPolicySpec) -> String {
        var w = "Spec:\n"
        if spec.podSelector.isEmpty {
            w += "  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)\n"
        } else {
            w += "  PodSelector:     \(PolicyTables.formatSelector(spec.podSelector))\n"
        }
        let indent = "    "
        if spec.isolatesIngress {
            w += "  Allowing ingress traffic:\n"
            if spec.ingress.isEmpty { w += indent + "<none> (Selected pods are isolated for ingress connectivity)\n" }
            for (index, rule) in spec.ingress.enumerated() {
                w += ports(rule.ports, indent: indent)
                w += peers(rule.from, label: "From", any: "<any> (traffic not restricted by source)", indent: indent)
                if index != spec.ingress.count - 1 { w += indent + "----------\n" }
            }
        } else {
            w += "  Not affecting ingress traffic\n"
        }
        if spec.isolatesEgress {
            w += "  Allowing egress traffic:\n"
            if spec.egress.isEmpty { w += indent + "<none> (Selected pods are isolated for egress connectivity)\n" }
            for (index, rule) in spec.egress.enumerated() {
                w += ports(rule.ports, indent: indent)
                w += peers(rule.to, label: "To", any: "<any> (traffic not restricted by destination)", indent: indent)
                if index != spec.egress.count - 1 { w += indent + "----------\n" }
            }
        } else {
            w += "  Not affecting egress traffic\n"
        }
        w += "  Policy Types: \(spec.policyTypes.map(\.rawValue).joined(separator: ", "))\n"
        return w
    }

    static func ports(_ ports: [NetworkPolicyPort], indent: String) -> String {
        if ports.isEmpty { return indent + "To Port: <any> (traffic allowed to all ports)\n" }
        return ports.map { indent + "To Port: \($0.description)\n" }.joined()
    }

    static func peers(_ peers: [NetworkPolicyPeer], label: String, any: String, indent: String) -> String {
        if peers.isEmpty { return indent + "\(label): \(any)\n" }
        var w = ""
        for peer in peers {
            w += indent + "\(label):\n"
            if let namespaces = peer.namespaceSelector {
                w += "  " + indent + "NamespaceSelector: \(PolicyTables.formatSelector(namespaces))\n"
            }
            if let pods = peer.podSelector {
                w += "  " + indent + "PodSelector: \(PolicyTables.formatSelector(pods))\n"
            }
            if peer.podSelector == nil, peer.namespaceSelector == nil, let block = peer.ipBlock {
                w += "  " + indent + "IPBlock:\n"
                w += "    " + indent + "CIDR: \(block.cidr)\n"
                w += "    " + indent + "Except: \(block.except.joined(separator: ", "))\n"
            }
        }
        return w
    }

    /// Go's `time.Time.String()` without monotonic reading, as kubectl prints `Created on`:
    /// `2024-05-01 10:00:00 +0000 UTC`.
    static func goTime(_ timestamp: Timestamp?, timeZone: TimeZone) -> String {
        guard let timestamp else { return "0001-01-01 00:00:00 +0000 UTC" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss Z"
        let abbreviation = timeZone.secondsFromGMT(for: timestamp.date) == 0 && timeZone.identifier.contains("UTC") || timeZone.identifier == "GMT"
            ? "UTC" : (timeZone.abbreviation(for: timestamp.date) ?? "")
        return formatter.string(from: timestamp.date) + " " + abbreviation
    }
}

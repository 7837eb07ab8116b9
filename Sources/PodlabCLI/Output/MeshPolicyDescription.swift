import Foundation
import PodNet

/// `podlab describe meshpolicy` text, laid out as `describe networkpolicy`'s.
enum MeshPolicyDescription {
    static func meshPolicy(_ policy: MeshPolicy, timeZone: TimeZone) -> String {
        var w = ""
        w += "Name:\t\(policy.metadata.name)\n"
        w += "Namespace:\t\(policy.metadata.namespace)\n"
        w += "Created on:\t\(PolicyDescription.goTime(policy.metadata.creationTimestamp, timeZone: timeZone))\n"
        w += PodDescription.multiline("Labels", policy.metadata.labels)
        w += PodDescription.annotations(policy.metadata.annotations)
        w = TabWriter().format(w)
        return w + spec(policy.spec)
    }

    static func spec(_ spec: MeshPolicySpec) -> String {
        var w = "Spec:\n"
        if spec.selector.isEmpty {
            w += "  Selector:     <none> (all meshed pods in this namespace)\n"
        } else {
            w += "  Selector:     \(PolicyTables.formatSelector(spec.selector))\n"
        }
        w += "  Allowing requests:\n"
        let indent = "    "
        if spec.rules.isEmpty { w += indent + "<none> (the selected pods' sidecars refuse every request: 403, or a reset for TCP)\n" }
        for (index, rule) in spec.rules.enumerated() {
            if rule.from.isEmpty { w += indent + "From: <any> (plain-text peers too)\n" }
            for source in rule.from {
                var parts: [String] = []
                if !source.namespaces.isEmpty { parts.append("Namespaces: " + source.namespaces.joined(separator: ", ")) }
                if !source.identities.isEmpty { parts.append("Identities: " + source.identities.joined(separator: ", ")) }
                w += indent + "From: " + parts.joined(separator: "; ") + "\n"
            }
            if rule.to.isEmpty { w += indent + "To: <any>\n" }
            for operation in rule.to {
                var parts: [String] = []
                if !operation.ports.isEmpty { parts.append("Ports: " + operation.ports.map(String.init).joined(separator: ", ")) }
                if !operation.methods.isEmpty { parts.append("Methods: " + operation.methods.joined(separator: ", ")) }
                if !operation.paths.isEmpty { parts.append("Paths: " + operation.paths.joined(separator: ", ")) }
                w += indent + "To: " + parts.joined(separator: "; ") + "\n"
            }
            if index != spec.rules.count - 1 { w += indent + "----------\n" }
        }
        return w
    }
}

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

extension MeshPolicyDescription {
    /// `podlab describe route`: the metadata, then each rule's match, backends, timeout,
    /// retries and faults.
    static func route(_ route: MeshRoute, timeZone: TimeZone) -> String {
        var w = ""
        w += "Name:\t\(route.metadata.name)\n"
        w += "Namespace:\t\(route.metadata.namespace)\n"
        w += "Created on:\t\(PolicyDescription.goTime(route.metadata.creationTimestamp, timeZone: timeZone))\n"
        w += PodDescription.multiline("Labels", route.metadata.labels)
        w += PodDescription.annotations(route.metadata.annotations)
        w = TabWriter().format(w)
        return w + routeSpec(route.spec)
    }

    static func routeSpec(_ spec: MeshRouteSpec) -> String {
        var w = "Spec:\n"
        w += "  Service:  \(spec.service) (HTTP/1.1 requests to it, shaped by each client's sidecar)\n"
        w += "  Rules (the first that matches applies; none: to \(spec.service)):\n"
        let indent = "    "
        for (index, rule) in spec.rules.enumerated() {
            var match: [String] = []
            if let pathPrefix = rule.match?.pathPrefix { match.append("Path prefix: \(pathPrefix)") }
            if let methods = rule.match?.methods, !methods.isEmpty { match.append("Methods: " + methods.joined(separator: ", ")) }
            if let headers = rule.match?.headers, !headers.isEmpty {
                match.append("Headers: " + headers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            w += indent + "Match:     " + (match.isEmpty ? "<any request>" : match.joined(separator: "; ")) + "\n"
            if let backends = rule.backends, !backends.isEmpty {
                w += indent + "Backends:  " + backends.map { "\($0.service) \($0.weight ?? 100)%" }.joined(separator: ", ") + "\n"
            } else {
                w += indent + "Backends:  \(spec.service) 100%\n"
            }
            w += indent + "Timeout:   " + (rule.timeout ?? "<none>") + "\n"
            if let retries = rule.retries {
                var text = "\(retries.attempts ?? 0) on " + (retries.retryOn.isEmpty ? "5xx" : retries.retryOn.joined(separator: ","))
                if let perTry = retries.perTryTimeout { text += ", \(perTry) per try" }
                w += indent + "Retries:   " + text + "\n"
            } else {
                w += indent + "Retries:   <none>\n"
            }
            var faults: [String] = []
            if let delay = rule.fault?.delay { faults.append("delay \(delay.fixed ?? "?") for \(delay.percent ?? 100)%") }
            if let abort = rule.fault?.abort { faults.append("abort \(abort.status.map(String.init) ?? "?") for \(abort.percent ?? 100)%") }
            w += indent + "Faults:    " + (faults.isEmpty ? "<none>" : faults.joined(separator: ", ")) + "\n"
            if index != spec.rules.count - 1 { w += indent + "----------\n" }
        }
        return w
    }
}

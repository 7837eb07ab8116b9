/// The tables of the mesh's objects.
public enum MeshTables {
    /// `NAME SELECTOR RULES AGE`, and with `-o wide` FROM and TO: each rule's peers and
    /// operations, rules separated by `;` (`<any>` where a rule leaves them open).
    public static func meshPolicies(_ policies: [MeshPolicy], wide: Bool, now: Timestamp) -> TextTable {
        var headers = ["NAME", "SELECTOR", "RULES", "AGE"]
        if wide { headers += ["FROM", "TO"] }
        return TextTable(headers: headers, rows: policies.map { policy in
            var row = [policy.metadata.name, PolicyTables.formatSelector(policy.spec.selector), String(policy.spec.rules.count),
                       HumanDuration.since(policy.metadata.creationTimestamp, now: now)]
            if wide {
                row.append(policy.spec.rules.isEmpty ? "<none>" : policy.spec.rules.map { from($0.from) }.joined(separator: ";"))
                row.append(policy.spec.rules.isEmpty ? "<none>" : policy.spec.rules.map { to($0.to) }.joined(separator: ";"))
            }
            return row
        })
    }

    /// `ns=a,spiffe://…/sa/b`: a rule's sources.
    static func from(_ sources: [MeshPolicySource]) -> String {
        guard !sources.isEmpty else { return "<any>" }
        return sources.map { source in
            (source.namespaces.map { "ns=\($0)" } + source.identities).joined(separator: "+")
        }.joined(separator: ",")
    }

    /// `8080:GET:/api/*`: a rule's operations.
    static func to(_ operations: [MeshPolicyOperation]) -> String {
        guard !operations.isEmpty else { return "<any>" }
        return operations.map { operation in
            [operation.ports.map(String.init), operation.methods, operation.paths]
                .map { $0.isEmpty ? "*" : $0.joined(separator: "|") }.joined(separator: ":")
        }.joined(separator: ",")
    }
}

extension MeshTables {
    /// `NAME SERVICE RULES AGE`, and with `-o wide` BACKENDS: each rule's backends with their
    /// weights (`web-v1=90,web-v2=10`, `<service>` for the route's Service), rules separated by `;`.
    public static func routes(_ routes: [MeshRoute], wide: Bool, now: Timestamp) -> TextTable {
        var headers = ["NAME", "SERVICE", "RULES", "AGE"]
        if wide { headers += ["BACKENDS"] }
        return TextTable(headers: headers, rows: routes.map { route in
            var row = [route.metadata.name, route.spec.service, String(route.spec.rules.count), HumanDuration.since(route.metadata.creationTimestamp, now: now)]
            if wide {
                row.append(route.spec.rules.isEmpty ? "<none>" : route.spec.rules.map { rule in
                    guard let backends = rule.backends, !backends.isEmpty else { return route.spec.service }
                    return backends.map { "\($0.service)=\($0.weight ?? 100)" }.joined(separator: ",")
                }.joined(separator: ";"))
            }
            return row
        })
    }
}

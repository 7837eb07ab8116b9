import Foundation
import KernelTestSupport
import PodNet
import Testing

/// The nftables table the agent programs in every node, read back from the kernel twice — with
/// podlab's own listing (`podlab ip -o json`, what `whois` explains paths from) and with
/// `nft -j` — and compared with what the agent means to program (`NodeFirewallRules`).
@Suite("Node firewall end to end", .enabled(if: KernelTest.isRoot && KernelTest.hasNft, "needs root and nft"), .rootNamespaceUnchanged)
struct FirewallTests {
    /// `table ip podlab` of `namespace` as `nft -j` lists it, in the model's terms.
    static func nftChains(_ namespace: String) throws -> [FirewallChainSnapshot] {
        let entries = try Command.nftJSON(namespace, ["list", "table", "ip", NodeFirewallRules.table])
        var chains = entries.compactMap { $0["chain"] as? [String: Any] }.map { chain in
            FirewallChainSnapshot(family: chain["family"] as? String ?? "?", table: chain["table"] as? String ?? "?", name: chain["name"] as? String ?? "?",
                                  type: chain["type"] as? String, hook: chain["hook"] as? String, priority: chain["prio"] as? Int)
        }
        for entry in entries {
            guard let rule = entry["rule"] as? [String: Any], let index = chains.firstIndex(where: { $0.name == rule["chain"] as? String }) else { continue }
            chains[index].rules.append(Self.rule(rule))
        }
        return chains
    }

    /// One rule of `nft -j`: the matches, counter and statement podlab programs; anything else
    /// kept as its JSON text, so it can never compare equal to a programmed rule.
    static func rule(_ json: [String: Any]) -> FirewallRule {
        var rule = FirewallRule([], comment: json["comment"] as? String)
        for expression in json["expr"] as? [[String: Any]] ?? [] {
            if let match = expression["match"] as? [String: Any], let condition = condition(match) {
                rule.conditions.append(condition)
            } else if let counter = expression["counter"] as? [String: Any] {
                rule.counts = true
                rule.packets = (counter["packets"] as? Int).map(UInt64.init)
                rule.bytes = (counter["bytes"] as? Int).map(UInt64.init)
            } else if expression.keys.count == 1, let key = expression.keys.first, let action = FirewallRule.Action(rawValue: key) {
                rule.action = action
            } else {
                let text = (try? JSONSerialization.data(withJSONObject: expression, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
                rule.other.append(text ?? "\(expression)")
            }
        }
        return rule
    }

    static func condition(_ match: [String: Any]) -> FirewallRule.Condition? {
        guard let op = match["op"] as? String, op == "==" || op == "!=", let left = match["left"] as? [String: Any] else { return nil }
        let field: FirewallRule.Condition.Field
        if let payload = left["payload"] as? [String: Any], payload["protocol"] as? String == "ip" {
            switch payload["field"] as? String {
            case "saddr": field = .ipSaddr
            case "daddr": field = .ipDaddr
            default: return nil
            }
        } else if let meta = left["meta"] as? [String: Any], let key = meta["key"] as? String, key == "iifname" || key == "oifname" {
            field = key == "iifname" ? .iifname : .oifname
        } else {
            return nil
        }
        let value: String
        if let prefix = (match["right"] as? [String: Any])?["prefix"] as? [String: Any], let address = prefix["addr"] as? String, let length = prefix["len"] as? Int {
            value = "\(address)/\(length)"
        } else if let plain = match["right"] as? String {
            value = plain
        } else {
            return nil
        }
        return FirewallRule.Condition(field, value, negated: op == "!=")
    }

    /// Every node's namespace and its table as podlab's own listing reads it.
    static func podlabChains(_ lab: TestLab) throws -> [(node: String, namespace: String, chains: [FirewallChainSnapshot])] {
        let inspection = try JSONDecoder().decode(NetworkInspection.self, from: Data(try lab.run(["ip", "nodes", "-o", "json"]).stdout.utf8))
        return inspection.namespaces.filter { $0.kind == .node }.map { ($0.node ?? "?", $0.namespace, $0.firewall) }
    }

    /// How an installed table differs from the desired one (counts aside); empty when it does not.
    static func differences(installed: [FirewallChainSnapshot], desired: [FirewallChainSnapshot]) -> [String] {
        let have = installed.map(\.programmed), want = desired.map(\.programmed)
        var differences: [String] = []
        for chain in want where !have.contains(chain) {
            let listed = have.first { $0.name == chain.name }
            differences.append("chain \(chain.name): wanted \(chain.text) \(chain.rules.map(\.description)), installed "
                + (listed.map { "\($0.text) \($0.rules.map(\.description))" } ?? "nothing"))
        }
        for chain in have where !want.contains(where: { $0.name == chain.name }) {
            differences.append("chain \(chain.name) is installed but not wanted")
        }
        return differences
    }

    @Test("every node holds exactly the desired table, read by podlab and by nft; a masquerade rule without its cluster condition is caught")
    func installedTableIsTheDesiredOne() async throws {
        try await TestLab.with { lab in
            let plan = try #require(try JSONSerialization.jsonObject(with: Data(lab.run(["ipam", "-o", "json"]).stdout.utf8)) as? [String: Any])
            let cluster = try #require((plan["clusterCIDR"] as? String).flatMap(IPv4Prefix.init), "cluster CIDR in \(plan)")
            let desired = NodeFirewallRules.chains(clusterCIDR: cluster)
            // What the agent means: masquerade only what leaves the cluster CIDR.
            let masquerade = try #require(desired.first { $0.name == NodeFirewallRules.masqueradeChain }?.rules.first)
            #expect(masquerade.description == "ip saddr \(cluster) ip daddr != \(cluster) counter masquerade comment \"pods leaving the cluster CIDR\"")

            let nodes = try Self.podlabChains(lab)
            #expect(nodes.map(\.node) == ["n1", "n2"])
            for (node, namespace, listed) in nodes {
                #expect(Self.differences(installed: listed, desired: desired) == [], "podlab's listing of node \(node)")
                #expect(Self.differences(installed: try Self.nftChains(namespace), desired: desired) == [], "nft -j of node \(node)")
            }

            // The comparison catches the broken rule: masquerade everything from the cluster CIDR.
            let (_, namespace, _) = nodes[0]
            _ = try Command.check("nft", ["flush", "chain", "ip", "podlab", NodeFirewallRules.masqueradeChain], netns: namespace)
            _ = try Command.check("nft", ["add", "rule", "ip", "podlab", NodeFirewallRules.masqueradeChain, "ip", "saddr", cluster.description,
                                          "counter", "masquerade", "comment", "\"pods leaving the cluster CIDR\""], netns: namespace)
            for installed in [try Self.podlabChains(lab)[0].chains, try Self.nftChains(namespace)] {
                let differences = Self.differences(installed: installed, desired: desired)
                #expect(differences.count == 1 && differences.first?.hasPrefix("chain nat-postrouting: wanted ") == true, "\(differences)")
                #expect(differences.first?.contains("installed table ip podlab chain nat-postrouting (type nat hook postrouting priority 100) "
                    + "[\"ip saddr \(cluster) counter masquerade comment \\\"pods leaving the cluster CIDR\\\"\"]") == true, "\(differences)")
            }
            // And the rule gone altogether.
            _ = try Command.check("nft", ["flush", "chain", "ip", "podlab", NodeFirewallRules.masqueradeChain], netns: namespace)
            for installed in [try Self.podlabChains(lab)[0].chains, try Self.nftChains(namespace)] {
                let differences = Self.differences(installed: installed, desired: desired)
                #expect(differences.count == 1 && differences.first?.hasSuffix("priority 100) []") == true, "\(differences)")
            }
            // The other node was left alone.
            #expect(Self.differences(installed: try Self.nftChains(nodes[1].namespace), desired: desired) == [])
        }
    }
}

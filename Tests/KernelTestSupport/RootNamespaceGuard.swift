import Foundation
import Netns

/// A snapshot of what the host's own (root) network namespace holds: links, addresses,
/// routes and the nftables ruleset. podlab must never change any of it.
public struct RootNamespaceSnapshot: Equatable, Sendable {
    public var links: [String]
    public var addresses: [String]
    public var routes: [String]
    public var ruleset: String

    /// Reads the root namespace with `ip -o` and `nft list ruleset` (independent tools).
    /// Counters and link statistics are left out: traffic may change them, configuration may not.
    public static func capture() throws -> RootNamespaceSnapshot {
        func lines(_ args: [String]) throws -> [String] {
            try Command.check("ip", args).split(separator: "\n").map { line in
                // Drop volatile fields (e.g. "valid_lft"/"preferred_lft" countdowns).
                String(line).replacing(#/\s(valid|preferred)_lft \S+/#, with: "")
            }.sorted()
        }
        let ruleset = KernelTest.hasNft ? try Command.check("nft", ["list", "ruleset"]) : ""
        return RootNamespaceSnapshot(links: try lines(["-o", "link", "show"]).map { $0.replacing(#/\sstate \S+/#, with: "") },
                                     addresses: try lines(["-o", "addr", "show"]),
                                     routes: try lines(["route", "show", "table", "all"]),
                                     ruleset: ruleset)
    }

    /// A readable list of what differs between two snapshots.
    public func differences(to other: RootNamespaceSnapshot) -> [String] {
        var result: [String] = []
        func compare(_ name: String, _ a: [String], _ b: [String]) {
            for line in Set(b).subtracting(a).sorted() { result.append("\(name) added: \(line)") }
            for line in Set(a).subtracting(b).sorted() { result.append("\(name) removed: \(line)") }
        }
        compare("link", links, other.links)
        compare("address", addresses, other.addresses)
        compare("route", routes, other.routes)
        if ruleset != other.ruleset { result.append("nftables ruleset changed:\n\(other.ruleset)") }
        return result
    }
}

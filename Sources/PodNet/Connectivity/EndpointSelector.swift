/// Which sources (`--from`) or targets (`--to`) of the matrix to check.
///
/// Text is either a label selector (`app=web`, `tier in (a,b)`: anything with `=`, `!` or a
/// parenthesis) or a comma-separated list of items: a pod name (in the given namespace, or in
/// any namespace when none is given), `namespace/name`, `host` (the host's root namespace),
/// `gateway` (each pod's node gateway), or an address with an optional port (`10.244.2.3`,
/// `10.244.2.3:80`). The empty selector selects everything.
public struct EndpointSelector: Hashable, Sendable, CustomStringConvertible {
    public enum Item: Hashable, Sendable {
        case pod(namespace: String?, name: String)
        case labels(LabelSelector)
        case host
        case gateway
        case address(IPv4Address, port: UInt16?)
    }

    public var items: [Item]

    public init(items: [Item] = []) { self.items = items }

    /// Everything.
    public static let all = EndpointSelector()

    public var isAll: Bool { items.isEmpty }

    /// Parses selector text; bare pod names are looked up in `namespace` (nil: any namespace).
    public init(parsing text: String, namespace: String? = nil) throws(SelectorError) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw SelectorError(text: text, reason: "is empty") }
        if trimmed.contains(where: { $0 == "=" || $0 == "!" || $0 == "(" }) {
            do { items = [.labels(try LabelSelector(parsing: trimmed))] } catch {
                throw SelectorError(text: text, reason: error.description)
            }
            return
        }
        var items: [Item] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(part).trimmingSpaces
            guard !item.isEmpty else { throw SelectorError(text: text, reason: "has an empty item") }
            if item == "host" {
                items.append(.host)
            } else if item == "gateway" || item == "gateways" {
                items.append(.gateway)
            } else if item.first?.isNumber == true {
                items.append(try Self.address(item, in: text))
            } else if let slash = item.firstIndex(of: "/") {
                let ns = String(item[..<slash]), name = String(item[item.index(after: slash)...])
                guard !ns.isEmpty, !name.isEmpty, !name.contains("/") else {
                    throw SelectorError(text: text, reason: "\"\(item)\" is not namespace/name")
                }
                items.append(.pod(namespace: ns, name: name))
            } else {
                items.append(.pod(namespace: namespace, name: item))
            }
        }
        self.items = items
    }

    private static func address(_ item: String, in text: String) throws(SelectorError) -> Item {
        let parts = item.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4Address(String(parts[0])) else {
            throw SelectorError(text: text, reason: "\"\(item)\" is not an IPv4 address or ADDRESS:PORT")
        }
        guard parts.count == 2 else { return .address(address, port: nil) }
        guard let port = UInt16(parts[1]), port > 0 else {
            throw SelectorError(text: text, reason: "\"\(parts[1])\" in \"\(item)\" is not a port (1-65535)")
        }
        return .address(address, port: port)
    }

    /// True when the selector picks `pod` (by name or labels; an address item picks the pod
    /// that holds the address).
    public func selects(_ pod: PodEndpoint) -> Bool {
        guard !isAll else { return true }
        return items.contains { item in
            switch item {
            case let .pod(namespace, name): name == pod.name && (namespace == nil || namespace == pod.namespace)
            case let .labels(selector): selector.matches(pod.pod.metadata.labels)
            case let .address(address, _): address == pod.address
            case .host, .gateway: false
            }
        }
    }

    /// True when the selector picks the host's root namespace (`host`, or everything).
    public var includesHost: Bool { isAll || items.contains(.host) }

    /// True when the selector picks the node gateways (`gateway`, or everything).
    public var includesGateway: Bool { isAll || items.contains(.gateway) }

    /// True when the selector names pods at all (by name, labels, or everything).
    public var selectsPods: Bool {
        isAll || items.contains { if case .host = $0 { false } else if case .gateway = $0 { false } else { true } }
    }

    /// The address items, in order.
    public var addresses: [(address: IPv4Address, port: UInt16?)] {
        items.compactMap { if case let .address(address, port) = $0 { (address, port) } else { nil } }
    }

    /// Pod names the selector lists that match no pod in `pods`: a typo should not pass silently.
    public func unknownPods(in pods: [PodEndpoint]) -> [String] {
        items.compactMap { item in
            guard case let .pod(namespace, name) = item else { return nil }
            let found = pods.contains { $0.name == name && (namespace == nil || $0.namespace == namespace) }
            return found ? nil : (namespace.map { "\($0)/\(name)" } ?? name)
        }
    }

    public var description: String {
        guard !isAll else { return "everything" }
        return items.map { item in
            switch item {
            case let .pod(namespace, name): namespace.map { "\($0)/\(name)" } ?? name
            case let .labels(selector): selector.description
            case .host: "host"
            case .gateway: "gateway"
            case let .address(address, port): port.map { "\(address):\($0)" } ?? address.description
            }
        }.joined(separator: ",")
    }
}

/// Selector text podlab cannot read.
public struct SelectorError: Error, Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String

    public var description: String { "invalid selector \"\(text)\": \(reason)" }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}

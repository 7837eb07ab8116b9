/// The path to a field inside an object, printed the way Kubernetes prints it in errors:
/// `spec.containers[0].ports[1].containerPort`, `metadata.labels[app]`.
public struct FieldPath: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// One step of a path.
    public enum Component: Hashable, Sendable {
        /// A named field of an object: `.spec`.
        case field(String)
        /// An element of a list: `[0]`.
        case index(Int)
        /// An entry of a map: `[app]`.
        case key(String)
    }

    public private(set) var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    /// A path of dot-separated field names: `"spec.containers"`.
    public init(stringLiteral value: String) {
        components = value.split(separator: ".").map { .field(String($0)) }
    }

    /// The empty path (the object itself).
    public static let root = FieldPath()

    public var isRoot: Bool { components.isEmpty }

    /// This path followed by the field `name`.
    public func child(_ name: String) -> FieldPath { FieldPath(components + [.field(name)]) }

    /// This path followed by list index `index`.
    public func index(_ index: Int) -> FieldPath { FieldPath(components + [.index(index)]) }

    /// This path followed by map key `key`.
    public func key(_ key: String) -> FieldPath { FieldPath(components + [.key(key)]) }

    /// This path followed by all of `other`.
    public func appending(_ other: FieldPath) -> FieldPath { FieldPath(components + other.components) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case let .field(name): text += text.isEmpty ? name : "." + name
            case let .index(index): text += "[\(index)]"
            case let .key(key): text += "[\(key)]"
            }
        }
        return text
    }
}

/// A container image reference as Kubernetes and Docker accept it —
/// `[registry/][namespace/]name[:tag][@sha256:hex]` — normalised the way the Docker
/// distribution library does it: no registry means `docker.io`, and a one-part name on
/// `docker.io` lives under `library/` (`nginx` is `docker.io/library/nginx`).
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The registry host (with port, if any): `docker.io`, `registry.local:5000`.
    public var registry: String
    /// The path inside the registry: `library/nginx`, `curlimages/curl`.
    public var repository: String
    /// The tag, when one was given (`1.25`); `latest` is implied otherwise.
    public var tag: String?
    /// The digest, when one was given (`sha256:…`).
    public var digest: String?

    /// The registry of references that name none.
    public static let defaultRegistry = "docker.io"
    /// The tag implied when a reference has neither tag nor digest.
    public static let defaultTag = "latest"

    /// Parses and normalises `text`; throws `ImageError.invalidReference` saying what is wrong.
    public init(parsing text: String) throws(ImageError) {
        func invalid(_ reason: String) -> ImageError { .invalidReference(text, reason: reason) }
        guard !text.isEmpty else { throw invalid("the image name is empty") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw invalid("it contains spaces, control characters or non-ASCII characters")
        }

        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let value = String(rest[rest.index(after: at)...])
            let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "sha256", parts[1].count == 64,
                  parts[1].utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw invalid("digest \"\(value)\" is not sha256: followed by 64 lowercase hex digits")
            }
            digest = value
            rest = rest[..<at]
        }

        var tag: String?
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let value = String(rest[rest.index(after: colon)...])
            guard ImageReference.isValidTag(value) else {
                throw invalid("tag \"\(value)\" must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
            }
            tag = value
            rest = rest[..<colon]
        }

        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var registry = ImageReference.defaultRegistry
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: { $0.isUppercase }) {
            guard ImageReference.isValidRegistry(first) else { throw invalid("registry \"\(first)\" is not a valid host[:port]") }
            registry = first == "index.docker.io" ? ImageReference.defaultRegistry : first
            components.removeFirst()
        }
        if registry == ImageReference.defaultRegistry && components.count == 1 {
            components.insert("library", at: 0)
        }
        let repository = components.joined(separator: "/")
        guard repository.utf8.count + registry.utf8.count < 256 else { throw invalid("the repository name is longer than 255 characters") }
        for component in components {
            guard !component.isEmpty else { throw invalid("a path component is empty") }
            if component.contains(where: { $0.isUppercase }) {
                throw invalid("repository name (\(repository)) must be lowercase")
            }
            guard ImageReference.isValidPathComponent(component) else {
                throw invalid("path component \"\(component)\" must be lowercase letters and digits, separated by '.', '_', '__' or '-'")
            }
        }
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// `registry/repository`: `docker.io/library/nginx`.
    public var name: String { "\(registry)/\(repository)" }

    /// The short name Docker shows: `nginx`, `curlimages/curl`, `registry.local:5000/app`.
    public var familiarName: String {
        guard registry == ImageReference.defaultRegistry else { return name }
        return repository.hasPrefix("library/") ? String(repository.dropFirst("library/".count)) : repository
    }

    /// The full normalised reference: `docker.io/library/nginx:latest`, `…@sha256:…`.
    public var description: String {
        var text = name
        if let tag { text += ":\(tag)" } else if digest == nil { text += ":\(ImageReference.defaultTag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.utf8.first, tag.utf8.count <= 128, first != UInt8(ascii: "."), first != UInt8(ascii: "-") else { return false }
        return tag.utf8.allSatisfy { isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, as in the distribution reference grammar.
    static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) { i += 1; continue }
            var j = i
            while j < bytes.count && !isLowerAlnum(bytes[j]) { j += 1 }
            let separator = bytes[i..<j]
            let ok = separator.elementsEqual([UInt8(ascii: ".")]) || separator.elementsEqual([UInt8(ascii: "_")])
                || separator.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")]) || separator.allSatisfy { $0 == UInt8(ascii: "-") }
            if !ok { return false }
            i = j
        }
        return true
    }

    static func isValidRegistry(_ host: String) -> Bool {
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let hostname = parts.first, !hostname.isEmpty else { return false }
        if parts.count == 2 {
            guard let port = Int(parts[1]), port > 0, port < 65536 else { return false }
        }
        return hostname.utf8.allSatisfy { isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }
}

@inline(__always)
private func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
@inline(__always)
private func isUpper(_ c: UInt8) -> Bool { c >= 0x41 && c <= 0x5A }

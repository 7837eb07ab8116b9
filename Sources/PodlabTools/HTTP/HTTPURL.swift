#if canImport(Glibc)
import Glibc
#endif

/// Why a URL was rejected; the cases follow curl's error classes.
enum URLParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// curl exit 3: `URL rejected: …`.
    case malformed(String)
    /// curl exit 1: `Protocol "https" not supported`.
    case unsupportedScheme(String)

    var description: String {
        switch self {
        case let .malformed(reason): "URL rejected: \(reason)"
        case let .unsupportedScheme(scheme): "Protocol \"\(scheme)\" not supported"
        }
    }
}

/// An `http://` URL as curl takes it: scheme optional (http is assumed), host an IP
/// literal or name, optional port, path and query; the fragment is dropped.
struct HTTPURL: Hashable, Sendable, CustomStringConvertible {
    var scheme: String
    /// `user:password` before the `@`, if given.
    var userinfo: String?
    /// The host without brackets: `10.244.1.2`, `localhost`, `::1`.
    var host: String
    var port: UInt16
    /// Whether the URL named the port (it then appears in the `Host` header).
    var hasExplicitPort: Bool
    /// Path and query: `/index.html?x=1`; at least `/`.
    var target: String

    /// Parses `text`. Only `http` is supported; a missing scheme means `http`.
    init(parsing text: String) throws(URLParseError) {
        guard !text.isEmpty else { throw .malformed("No host part in the URL") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw .malformed("Malformed input to a URL function")
        }
        var rest = Substring(text)
        if let separator = rest.firstRange(of: "://") {
            let scheme = rest[..<separator.lowerBound].lowercased()
            let schemeCharacters = scheme.allSatisfy { (c: Character) -> Bool in c.isLetter || c.isNumber || "+-.".contains(c) }
            guard !scheme.isEmpty, schemeCharacters else {
                throw .malformed("Malformed input to a URL function")
            }
            guard scheme == "http" else { throw .unsupportedScheme(scheme) }
            rest = rest[separator.upperBound...]
        }
        scheme = "http"
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let pathPart = rest[authorityEnd...]
        target = pathPart.isEmpty ? "/" : (pathPart.hasPrefix("?") ? "/" + pathPart : String(pathPart))

        if let at = authority.lastIndex(of: "@") {
            userinfo = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        } else {
            userinfo = nil
        }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .malformed("Bad IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .malformed("Malformed input to a URL function") }
                portText = after.dropFirst()
            }
            guard SocketAddress(ip: host, port: 0)?.family == AF_INET6 else { throw .malformed("Bad IPv6 address") }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = String(authority[..<colon])
                portText = authority[authority.index(after: colon)...]
            } else {
                host = String(authority)
            }
            guard !host.isEmpty else { throw .malformed("No host part in the URL") }
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }) else {
                throw .malformed("Malformed input to a URL function")
            }
        }
        if let portText, !portText.isEmpty {
            guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(portText), value <= 65535 else {
                throw .malformed("Port number was not a decimal number between 0 and 65535")
            }
            port = UInt16(value)
            hasExplicitPort = true
        } else {
            port = 80
            hasExplicitPort = false
        }
    }

    /// The `Host` header value: `10.244.1.2`, `10.244.1.2:8080`, `[::1]:8080`.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return hasExplicitPort && port != 80 ? "\(name):\(port)" : name
    }

    /// `http://host[:port]/target`.
    var description: String { "\(scheme)://\(hostHeader)\(target)" }

    /// The URL a `Location` header points to, relative to this one.
    func resolving(_ location: String) throws(URLParseError) -> HTTPURL {
        if location.contains("://") { return try HTTPURL(parsing: location) }
        if location.hasPrefix("//") { return try HTTPURL(parsing: "\(scheme):\(location)") }
        var copy = self
        if location.hasPrefix("/") {
            copy.target = location
        } else {
            let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/"
            let directory = path.hasSuffix("/") ? String(path) : String(path[...(path.lastIndex(of: "/") ?? path.startIndex)])
            copy.target = (directory.isEmpty ? "/" : directory) + location
        }
        return copy
    }
}

import Foundation
import PodlabImages

/// Where an image reference is pulled from over the OCI distribution API (the Docker registry
/// HTTP API v2): the base URL and the repository's paths.
public struct RegistryEndpoint: Hashable, Sendable {
    /// The registry as the reference names it (`docker.io`, `127.0.0.1:5000`).
    public var registry: String
    public var repository: String
    /// `https://registry-1.docker.io`, `http://127.0.0.1:5000`.
    public var baseURL: String

    public init(_ reference: ImageReference) {
        registry = reference.registry
        repository = reference.repository
        baseURL = Self.baseURL(registry: reference.registry)
    }

    /// docker.io is served by registry-1.docker.io. A registry on the loopback (`localhost`,
    /// `127.0.0.0/8`, `[::1]`) is spoken to in plain HTTP, as containerd and podman do for
    /// local registries; every other over HTTPS.
    public static func baseURL(registry: String) -> String {
        if registry == ImageReference.defaultRegistry { return "https://registry-1.docker.io" }
        return "\(isLoopback(registry) ? "http" : "https")://\(registry)"
    }

    public static func isLoopback(_ registry: String) -> Bool {
        let host: Substring
        if registry.hasPrefix("[") {
            host = registry.dropFirst().prefix { $0 != "]" }
        } else {
            host = registry.prefix { $0 != ":" }
        }
        return host == "localhost" || host == "::1" || (host.hasPrefix("127.") && host.split(separator: ".").count == 4)
    }

    /// `GET` a manifest or index by tag or digest.
    public func manifestURL(_ tagOrDigest: String) -> String { "\(baseURL)/v2/\(repository)/manifests/\(tagOrDigest)" }
    public func blobURL(_ digest: ImageDigest) -> String { "\(baseURL)/v2/\(repository)/blobs/\(digest)" }

    /// The documents a pull accepts for a manifest, in the order containerd asks for them.
    public static let manifestAccept = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest]
        .joined(separator: ", ")

    /// The scope a pull asks a token for.
    public var pullScope: String { "repository:\(repository):pull" }
}

/// A `WWW-Authenticate` challenge (RFC 7235): `Bearer realm="…",service="…",scope="…"` or
/// `Basic realm="…"`.
public struct AuthChallenge: Hashable, Sendable {
    public var scheme: String
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// The first challenge of the header, or nil when it has none podlab understands.
    public static func parse(_ header: String) -> AuthChallenge? {
        let trimmed = header.drop { $0 == " " }
        guard let space = trimmed.firstIndex(of: " ") else {
            return trimmed.isEmpty ? nil : AuthChallenge(scheme: String(trimmed), parameters: [:])
        }
        let scheme = String(trimmed[..<space])
        var parameters: [String: String] = [:]
        var rest = trimmed[trimmed.index(after: space)...]
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(character); escaped = false; continue }
                    if character == "\\" { escaped = true; continue }
                    if character == "\"" { break }
                    value.append(character)
                }
            } else {
                value = String(rest.prefix { $0 != "," })
                rest = rest.drop { $0 != "," }
            }
            parameters[key] = value
        }
        return AuthChallenge(scheme: scheme, parameters: parameters)
    }

    public var isBearer: Bool { scheme.lowercased() == "bearer" }
    public var isBasic: Bool { scheme.lowercased() == "basic" }

    /// The token request for a Bearer challenge: `realm?service=…&scope=…`; nil without a realm.
    public func tokenURL(scope: String) -> String? {
        guard isBearer, let realm = parameters["realm"], !realm.isEmpty else { return nil }
        var query: [String] = []
        if let service = parameters["service"] { query.append("service=\(Self.encode(service))") }
        query.append("scope=\(Self.encode(parameters["scope"] ?? scope))")
        return realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// A user name and password for a registry.
public struct RegistryCredentials: Hashable, Sendable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `Authorization: Basic …`.
    public var basicAuthorization: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }

    /// The credentials `~/.docker/config.json` (or a `--registry-config` of that shape) holds
    /// for `registry`: `auths.<registry>.auth` (base64 `user:password`) or its `username` and
    /// `password`. docker.io's key is Docker's `https://index.docker.io/v1/`; a key may carry a
    /// scheme or path (`https://registry.test/v2/`).
    public static func fromDockerConfig(_ text: String, registry: String) throws(OCIImageError) -> RegistryCredentials? {
        let json: JSONValue
        do { json = try JSONReader.value(from: text) } catch { throw OCIImageError("registry configuration: not JSON: \(error)") }
        guard case let .object(auths)? = json["auths"] else { return nil }
        let wanted = registry == ImageReference.defaultRegistry ? ["index.docker.io", "docker.io", "registry-1.docker.io"] : [registry]
        for (key, entry) in auths.sorted(by: { $0.key < $1.key }) where wanted.contains(Self.host(ofKey: key)) {
            if let auth = entry["auth"]?.stringValue, !auth.isEmpty {
                guard let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }), let colon = decoded.firstIndex(of: ":") else {
                    throw OCIImageError("registry configuration: auths.\(key).auth: not base64 of user:password")
                }
                return RegistryCredentials(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
            }
            if let username = entry["username"]?.stringValue, let password = entry["password"]?.stringValue {
                return RegistryCredentials(username: username, password: password)
            }
        }
        return nil
    }

    static func host(ofKey key: String) -> String {
        var host = Substring(key)
        if let scheme = host.range(of: "://") { host = host[scheme.upperBound...] }
        return String(host.prefix { $0 != "/" })
    }
}

/// What a registry says: a token response, or the error body of a refused request.
public enum RegistryResponse {
    /// The first byte of a `206` answer's `Content-Range` (`bytes 100-199/200`, or `/*` for an
    /// unknown length); nil for anything else.
    public static func contentRangeStart(_ header: String?) -> Int64? {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let range = header.dropFirst(6).prefix { $0 != "/" }
        let parts = range.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int64(parts[0]), let end = Int64(parts[1]), start >= 0, end >= start else { return nil }
        return start
    }

    /// The token of a token endpoint's answer (`token`, or OAuth2's `access_token`).
    public static func token(_ body: [UInt8]) throws(OCIImageError) -> String {
        let json = try? JSONReader.value(from: String(decoding: body, as: UTF8.self))
        guard let token = json?["token"]?.stringValue ?? json?["access_token"]?.stringValue, !token.isEmpty else {
            throw OCIImageError("the registry's token endpoint answered without a token")
        }
        return token
    }

    /// The distribution API's error body (`{"errors": [{"code", "message"}]}`) as one line:
    /// `manifest unknown: manifest unknown`; else the HTTP status.
    public static func errorMessage(status: Int, body: [UInt8]) -> String {
        let json = try? JSONReader.value(from: String(decoding: body, as: UTF8.self))
        if case let .array(errors)? = json?["errors"], !errors.isEmpty {
            return errors.map { error in
                let code = error["code"]?.stringValue.map { $0.lowercased().replacingOccurrences(of: "_", with: " ") }
                let message = error["message"]?.stringValue
                return [code, message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            }.joined(separator: "; ")
        }
        return "unexpected status \(status)"
    }
}

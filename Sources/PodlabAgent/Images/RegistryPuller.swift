import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Netns
import PodNet
import PodlabImages

/// The registries images may be pulled from: any, or only those on the loopback (a lab that
/// must not reach out: `PODLAB_REGISTRIES=loopback`).
public enum RegistryScope: String, Sendable {
    case all
    case loopback

    public init(environment value: String?) throws(OCIImageError) {
        guard let value, !value.isEmpty else { self = .all; return }
        guard let scope = RegistryScope(rawValue: value) else {
            throw OCIImageError("PODLAB_REGISTRIES=\(value): use \"all\" or \"loopback\"")
        }
        self = scope
    }

    /// Why `registry` is out of scope, or nil.
    public func refusal(_ registry: String) -> String? {
        guard self == .loopback, !RegistryEndpoint.isLoopback(registry) else { return nil }
        return "pulls from registries other than the loopback are off (PODLAB_REGISTRIES=loopback): \(registry)"
    }
}

/// Pulls images from a registry (the OCI distribution API, Docker registry HTTP API v2) into a
/// lab's `ImageStore`: the manifest (linux/amd64 of an index), then the config and every layer
/// the store does not hold, each streamed into its ingest (`ingest/<hex>/`) while it is hashed,
/// checked against its digest and size, and retried on failure; then, under the store's lock,
/// moved into `blobs/`, unpacked and named as a load does. A pull that fails names nothing and
/// leaves nothing in `blobs/`; what arrived of a blob stays in its ingest, and the next pull of
/// it (this process's or another's, after a kill) asks only for the rest.
///
/// Authentication as Docker's: a `401` with a `Bearer` challenge is answered by a token from
/// the challenge's realm (asked with the registry's credentials, if any), a `Basic` one by the
/// credentials themselves.
public struct RegistryPuller: Sendable {
    /// What a pull reports as it goes (`podlab image pull` prints it).
    public enum Progress: Sendable {
        case resolved(reference: String, manifest: ImageDigest)
        case blob(kind: String, digest: ImageDigest, size: Int64, present: Bool)
        /// An earlier transfer left `offset` bytes of the blob: the rest is asked for.
        case resuming(kind: String, digest: ImageDigest, offset: Int64, size: Int64)
        case unpacking
    }

    /// Credentials for a registry host, or nil.
    public var credentials: @Sendable (String) -> RegistryCredentials?
    public var scope: RegistryScope = .all
    /// Tries per blob before the pull fails (a transfer that breaks is tried again).
    public var attempts = 3
    /// How long a request may take to answer (connecting included).
    public var requestTimeout: TimeAmount = .seconds(10)

    public init(credentials: @escaping @Sendable (String) -> RegistryCredentials? = { _ in nil }) {
        self.credentials = credentials
    }

    /// Credentials from a Docker `config.json`: `path`, else `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`; none when there is no such file. A file that does not parse is
    /// an error when the pull needs it.
    public static func dockerConfigCredentials(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> @Sendable (String) -> RegistryCredentials? {
        let file = path
            ?? environment["DOCKER_CONFIG"].map { "\($0)/config.json" }
            ?? environment["HOME"].map { "\($0)/.docker/config.json" }
        let text = file.flatMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) }
        return { registry in text.flatMap { try? RegistryCredentials.fromDockerConfig($0, registry: registry) } }
    }

    /// Pulls `reference` into `store` and returns the stored image.
    public func pull(_ reference: String, into store: ImageStore, progress: @Sendable (Progress) -> Void = { _ in })
        async throws(OCIImageError) -> ImageStore.Image {
        let parsed: ImageReference
        do { parsed = try ImageReference(parsing: reference) } catch { throw OCIImageError("\(error)") }
        if let refusal = scope.refusal(parsed.registry) { throw OCIImageError(refusal) }
        let endpoint = RegistryEndpoint(parsed)
        var session = Session(endpoint: endpoint, credentials: credentials(parsed.registry), timeout: requestTimeout, attempts: attempts)

        let wanted = parsed.digest ?? parsed.tag ?? ImageReference.defaultTag
        var (bytes, mediaType) = try await session.document(endpoint.manifestURL(wanted), reference: reference)
        if let pinned = parsed.digest {
            let actual = ImageDigest.of(bytes)
            guard actual.description == pinned else {
                throw OCIImageError("failed to resolve reference \"\(reference)\": manifest digest mismatch: the registry sent \(actual)")
            }
        }
        var document = try ImageDocument.parse(bytes, mediaType: mediaType, what: "\(reference): manifest")
        if case let .index(index) = document {
            let entry = try index.manifest(for: .linuxAMD64)
            (bytes, mediaType) = try await session.document(endpoint.manifestURL(entry.digest.description), reference: reference)
            guard ImageDigest.of(bytes) == entry.digest else {
                throw OCIImageError("\(reference): manifest \(entry.digest): digest mismatch: the registry sent \(ImageDigest.of(bytes))")
            }
            document = try ImageDocument.parse(bytes, mediaType: entry.mediaType, what: "\(reference): manifest \(entry.digest)")
        }
        guard case let .manifest(manifest) = document else { throw OCIImageError("\(reference): an index where a manifest was expected") }
        let manifestDigest = ImageDigest.of(bytes)
        progress(.resolved(reference: reference, manifest: manifestDigest))

        store.removeIngests(all: false)
        var fetched: [ImageDigest] = []
        for (kind, descriptor) in [("config", manifest.config)] + manifest.layers.map({ ("blob", $0) }) {
            guard access(store.blobPath(descriptor.digest), F_OK) != 0, let ingest = try await store.openIngest(descriptor) else {
                progress(.blob(kind: kind, digest: descriptor.digest, size: descriptor.size, present: true))
                continue
            }
            // Released once complete (not at the end of the pull): two pulls that share layers
            // in different orders must not wait for each other.
            defer { ingest.close() }
            if ingest.size > 0 && !ingest.isComplete {
                progress(.resuming(kind: kind, digest: descriptor.digest, offset: ingest.size, size: descriptor.size))
            }
            do {
                try await session.blob(endpoint.blobURL(descriptor.digest), ingest: ingest, reference: reference)
            } catch {
                // Nothing arrived (a refusal, a registry that is down): no ingest to keep.
                if ingest.size == 0 { store.removeIngest(ingest) }
                throw error
            }
            ingest.close()
            fetched.append(descriptor.digest)
            progress(.blob(kind: kind, digest: descriptor.digest, size: descriptor.size, present: false))
        }
        progress(.unpacking)
        return try store.addPulled(manifest: bytes, blobs: fetched, name: try ImageStore.storedName(reference), source: reference)
    }

    /// One pull's requests: the authorization it earned is reused for the rest.
    struct Session {
        let endpoint: RegistryEndpoint
        let credentials: RegistryCredentials?
        let timeout: TimeAmount
        let attempts: Int
        var authorization: String?

        init(endpoint: RegistryEndpoint, credentials: RegistryCredentials?, timeout: TimeAmount, attempts: Int) {
            self.endpoint = endpoint
            self.credentials = credentials
            self.timeout = timeout
            self.attempts = attempts
        }

        /// A manifest or index: its bytes and the media type the registry says.
        mutating func document(_ url: String, reference: String) async throws(OCIImageError) -> ([UInt8], String?) {
            let response = try await send(url, accept: RegistryEndpoint.manifestAccept, reference: reference)
            let body = try await Self.collect(response, limit: 4 << 20, url: url, reference: reference)
            guard response.status == .ok else {
                throw OCIImageError("failed to resolve reference \"\(reference)\": \(url): \(RegistryResponse.errorMessage(status: Int(response.status.code), body: body))")
            }
            let type = response.headers.first(name: "Content-Type").map { String($0.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces) }
            return (body, type)
        }

        /// Streams a blob into `ingest`, checking its size and digest. A transfer that breaks is
        /// tried again from the byte it stopped at, when the registry serves ranges (`206`), else
        /// from the start; wrong bytes (too many, or a digest that does not match) start it again.
        /// A pull that fails keeps what arrived in the ingest, for the next.
        mutating func blob(_ url: String, ingest: BlobIngest, reference: String) async throws(OCIImageError) {
            if ingest.isComplete { return }  // checked when it was opened
            var lastError = OCIImageError("\(reference): blob \(ingest.descriptor.digest): not fetched")
            for attempt in 1...max(1, attempts) {
                do {
                    try await fetchBlob(url, ingest: ingest, reference: reference)
                    return
                } catch {
                    lastError = error
                    // A refusal (not found, forbidden) stays one; only breaks are retried.
                    if error.message.contains(" status ") || attempt == attempts { break }
                    try? await Task.sleep(for: .milliseconds(200 * attempt))
                }
            }
            throw lastError
        }

        mutating func fetchBlob(_ url: String, ingest: BlobIngest, reference: String) async throws(OCIImageError) {
            let descriptor = ingest.descriptor
            if ingest.size >= descriptor.size { try ingest.restart("held the whole blob, with the wrong digest") }
            try ingest.trimToCounted()
            let resumeFrom = ingest.size
            let response = try await send(url, accept: "*/*", reference: reference, range: resumeFrom > 0 ? "bytes=\(resumeFrom)-" : nil)
            switch BlobAnswer.of(status: Int(response.status.code), contentRange: response.headers.first(name: "Content-Range"), requestedFrom: resumeFrom) {
            case .rest:
                break
            case .whole:
                // A registry that sends the whole blob again: from the start.
                if resumeFrom > 0 { try ingest.restart("the registry sent the whole blob") }
            case .refused:
                let body = (try? await Self.collect(response, limit: 1 << 16, url: url, reference: reference)) ?? []
                throw OCIImageError("failed to pull \"\(reference)\": \(url): status \(response.status.code): \(RegistryResponse.errorMessage(status: Int(response.status.code), body: body))")
            }
            do {
                for try await buffer in response.body {
                    guard ingest.size + Int64(buffer.readableBytes) <= descriptor.size else {
                        try ingest.restart("the registry sent too many bytes")
                        throw OCIImageError("\(reference): blob \(descriptor.digest): the registry sent more than the \(descriptor.size) bytes the manifest says")
                    }
                    try buffer.withUnsafeReadableBytes { raw in try ingest.append(raw) }
                }
            } catch let error as OCIImageError {
                throw error
            } catch {
                throw OCIImageError("failed to pull \"\(reference)\": \(url): \(Self.describe(error))")
            }
            guard ingest.size == descriptor.size else {
                throw OCIImageError("\(reference): blob \(descriptor.digest): the transfer ended after \(ingest.size) of \(descriptor.size) bytes")
            }
            let actual = ingest.digest
            guard actual == descriptor.digest else {
                try ingest.restart("the digest did not match")
                throw OCIImageError("\(reference): blob \(descriptor.digest): digest mismatch: the registry sent \(actual)")
            }
            try ingest.sync()
        }

        /// GET with the session's authorization; a 401 is answered once (token or basic) and
        /// the request sent again. Connection failures are retried.
        mutating func send(_ url: String, accept: String, reference: String, range: String? = nil) async throws(OCIImageError) -> HTTPClientResponse {
            var answeredChallenge = false
            while true {
                let response = try await execute(url, accept: accept, reference: reference, range: range)
                guard response.status == .unauthorized, !answeredChallenge,
                      let header = response.headers.first(name: "WWW-Authenticate"), let challenge = AuthChallenge.parse(header) else {
                    return response
                }
                answeredChallenge = true
                if challenge.isBasic {
                    guard let credentials else { return response }
                    authorization = credentials.basicAuthorization
                } else if let tokenURL = challenge.tokenURL(scope: endpoint.pullScope) {
                    authorization = "Bearer " + (try await token(tokenURL, reference: reference))
                } else {
                    return response
                }
            }
        }

        func token(_ url: String, reference: String) async throws(OCIImageError) -> String {
            var request = HTTPClientRequest(url: url)
            if let credentials { request.headers.add(name: "Authorization", value: credentials.basicAuthorization) }
            let response: HTTPClientResponse
            do { response = try await HTTPClient.shared.execute(request, timeout: timeout) } catch {
                throw OCIImageError("failed to fetch a token for \"\(reference)\": \(url): \(Self.describe(error))")
            }
            let body = try await Self.collect(response, limit: 1 << 20, url: url, reference: reference)
            guard response.status == .ok else {
                throw OCIImageError("failed to fetch a token for \"\(reference)\": \(url): status \(response.status.code): \(RegistryResponse.errorMessage(status: Int(response.status.code), body: body))")
            }
            return try RegistryResponse.token(body)
        }

        func execute(_ url: String, accept: String, reference: String, range: String? = nil) async throws(OCIImageError) -> HTTPClientResponse {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: accept)
            if let range { request.headers.add(name: "Range", value: range) }
            request.headers.add(name: "User-Agent", value: "podlab")
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            // One try: the HTTP client itself keeps trying to connect until the deadline, and a
            // failed pull is tried again by the pull back-off.
            do {
                return try await HTTPClient.shared.execute(request, timeout: timeout)
            } catch {
                throw OCIImageError("failed to resolve reference \"\(reference)\": GET \(url): \(Self.describe(error))")
            }
        }

        static func collect(_ response: HTTPClientResponse, limit: Int, url: String, reference: String) async throws(OCIImageError) -> [UInt8] {
            do {
                var buffer = try await response.body.collect(upTo: limit)
                return buffer.readBytes(length: buffer.readableBytes) ?? []
            } catch {
                throw OCIImageError("\(reference): \(url): \(describe(error))")
            }
        }

        /// An error of the HTTP stack in words: the system's for a refused or failed connection.
        static func describe(_ error: any Error) -> String {
            if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
                return describe(first.error)
            }
            if let io = error as? IOError { return "connect: \(String(cString: strerror(io.errnoCode)))" }
            if let client = error as? HTTPClientError { return client.description }
            return "\(error)"
        }
    }
}

extension ImageStore {
    /// Moves a pull's complete ingests into `blobs/`, stores its manifest, checks and unpacks the
    /// image and names it, all under the lock; on failure the blobs and layers it added are
    /// removed again.
    func addPulled(manifest: [UInt8], blobs: [ImageDigest], name: String, source: String) throws(OCIImageError) -> Image {
        try lockedAllOrNothing { () throws(OCIImageError) -> Image in
            for digest in blobs { try storeIngest(digest) }
            let manifestDigest = try putBlob(manifest)
            try verifyAndUnpack(manifestDigest, source: source)
            _ = try self.name([(name, manifestDigest)])
            return try image(manifestDigest, names: try readRefs().filter { $0.value == manifestDigest }.map(\.key).sorted())
        }
    }
}

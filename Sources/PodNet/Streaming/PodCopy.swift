/// `kubectl cp`'s decisions, which `podlab cp` takes the same way: what its two arguments
/// name, which direction the copy goes, the names of the tar entries sent into a pod, and where
/// each entry read out of one lands. (`tar` itself runs in the container, through exec.)
public enum PodCopy {
    /// One side of a copy: a local path, or a path in a pod (`[[namespace/]pod:]path`).
    public enum Location: Equatable, Sendable {
        case local(String)
        case pod(namespace: String?, name: String, path: String)
    }

    /// kubectl's words for a spec it cannot read.
    public static let formatError = "filespec must match the canonical format: [[namespace/]pod:]file/path"

    /// kubectl's `extractFileSpec`: no colon is a local path; before the first colon, a pod,
    /// optionally after its namespace.
    public static func location(_ argument: String) throws(PodCopyError) -> Location {
        guard let colon = argument.firstIndex(of: ":") else { return .local(argument) }
        guard colon != argument.startIndex else { throw PodCopyError(formatError) }
        let pod = argument[..<colon].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let path = String(argument[argument.index(after: colon)...])
        switch pod.count {
        case 1: return .pod(namespace: nil, name: pod[0], path: path)
        case 2: return .pod(namespace: pod[0], name: pod[1], path: path)
        default: throw PodCopyError(formatError)
        }
    }

    /// Which way a copy goes, checked as kubectl checks it.
    public enum Direction: Equatable, Sendable {
        case toPod(local: String, namespace: String?, pod: String, path: String)
        case fromPod(namespace: String?, pod: String, path: String, local: String)
    }

    public static func direction(source: String, destination: String) throws(PodCopyError) -> Direction {
        let from = try location(source), to = try location(destination)
        switch (from, to) {
        case (.pod, .pod): throw PodCopyError("one of src or dest must be a local file specification")
        case (.local, .local): throw PodCopyError("one of src or dest must be a remote file specification")
        case let (.local(local), .pod(namespace, pod, path)):
            guard !local.isEmpty, !path.isEmpty else { throw PodCopyError("filepath can not be empty") }
            return .toPod(local: local, namespace: namespace, pod: pod, path: path)
        case let (.pod(namespace, pod, path), .local(local)):
            guard !local.isEmpty, !path.isEmpty else { throw PodCopyError("filepath can not be empty") }
            return .fromPod(namespace: namespace, pod: pod, path: path, local: local)
        }
    }

    /// Go's `path.Clean` (POSIX paths).
    public static func clean(_ path: String) -> String {
        guard !path.isEmpty else { return "." }
        let rooted = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." { parts.removeLast() } else if !rooted { parts.append(part) }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return rooted ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// `path.Base` and `path.Dir` of a cleaned path.
    public static func base(_ path: String) -> String {
        let cleaned = clean(path)
        guard cleaned != "/" else { return "/" }
        return String(cleaned.split(separator: "/").last ?? "")
    }

    public static func directory(_ path: String) -> String {
        let cleaned = clean(path)
        guard let slash = cleaned.lastIndex(of: "/") else { return "." }
        return slash == cleaned.startIndex ? "/" : String(cleaned[..<slash])
    }

    /// Into a pod: the command that unpacks what is sent (`tar -xmf - -C DIR`), given where the
    /// copy goes (`destination`, already joined with the source's name when it is a directory
    /// in the pod); the entries are named from `base(destination)` down.
    public static func unpackCommand(destination: String, noPreserve: Bool = false) -> [String] {
        // kubectl's `--no-preserve`: the files get the container user's ownership and umask.
        var command = noPreserve ? ["tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-"] : ["tar", "-xmf", "-"]
        let directory = directory(destination)
        if !directory.isEmpty { command += ["-C", directory] }
        return command
    }

    /// Out of a pod: what every entry of `tar cf - PATH` starts with (kubectl's prefix: the path
    /// cleaned, without its leading slashes and `../` or `./` shortcuts).
    public static func entryPrefix(remotePath: String) -> String {
        var path = Substring(remotePath)
        while path.hasPrefix("/") { path = path.dropFirst() }
        var cleaned = clean(String(path))
        while cleaned.hasPrefix("../") || cleaned.hasPrefix("./") {
            cleaned = String(cleaned.drop { $0 == "." }.dropFirst())
        }
        if cleaned == "." || cleaned == ".." { return "" }
        return cleaned
    }

    /// Where an entry read out of a pod lands under `local`; nil when it would land outside
    /// (kubectl skips it with a warning). Throws kubectl's error for an entry without the prefix.
    public static func localPath(entry: String, prefix: String, local: String) throws(PodCopyError) -> String? {
        guard entry.hasPrefix(prefix) else { throw PodCopyError("tar contents corrupted") }
        // kubectl's joining: the rest cleaned, its leading slashes and `../` shortcuts dropped,
        // so `../` cannot climb out.
        let remainder = entryPrefix(remotePath: clean(String(entry.dropFirst(prefix.count))))
        let target = clean(local + "/" + remainder)
        let root = clean(local)
        let inside = target == root || target.hasPrefix(root == "/" ? "/" : root + "/")
        return inside ? target : nil
    }
}

/// A refused `cp`, in kubectl's words.
public struct PodCopyError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `kubectl cp --retries` (kubectl ≥ 1.24): a copy out of a pod whose tar stream breaks is
/// resumed by running tar again and reading only the bytes not read yet, through `tail`.
public struct PodCopyRetries: Equatable, Sendable {
    /// `--retries`: 0 none (the default), a negative number without end.
    public let maxTries: Int
    /// The retries made so far.
    public private(set) var retries = 0

    public init(maxTries: Int) { self.maxTries = maxTries }

    /// The command that writes the archive of `path` from byte `offset` on (kubectl's
    /// `initReadFrom`): plain `tar cf - PATH` without retries; with them, tar piped through
    /// `tail -c+OFFSET`, from the first read on (kubectl starts at `tail -c+0`, the whole
    /// stream, and resumes at one past the bytes it read: tail counts from 1). The path is
    /// quoted for the shell, which kubectl leaves out (a path with a space breaks there).
    public func command(path: String, offset: UInt64) -> [String] {
        guard maxTries != 0 else { return ["tar", "cf", "-", path] }
        return ["sh", "-c", "tar cf - \(Self.shellQuoted(path)) | tail -c+\(offset)"]
    }

    /// After the stream ended or failed with `bytesRead` bytes read: the offset to resume at
    /// and kubectl's line saying so (`Resuming copy at N bytes, retry 1/3`), or nil and its
    /// line for giving up (`Dropping out copy after 3 retries`).
    public mutating func afterBreak(bytesRead: UInt64) -> (offset: UInt64?, message: String) {
        guard maxTries < 0 || retries < maxTries else { return (nil, "Dropping out copy after \(retries) retries") }
        retries += 1
        return (bytesRead + 1, "Resuming copy at \(bytesRead) bytes, retry \(retries)/\(maxTries)")
    }

    /// `text` as one word for a POSIX shell.
    public static func shellQuoted(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
    }
}

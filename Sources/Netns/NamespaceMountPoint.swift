import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// The empty file under /run/netns a network namespace is bound onto, made so that it says
/// whose it is from the moment it has its name.
///
/// A creation makes the file first and binds the namespace on it next; a process killed in
/// between leaves a file that holds no namespace (it cannot be entered, `setns` says EINVAL)
/// and blocks the name. Whoever made it may remove it, nobody else: the file is made unnamed
/// (`O_TMPFILE`), given its owner in an extended attribute, and only then linked under its
/// name (`linkat`, EEXIST when the name is taken), so an unbound file without the attribute
/// was not made this way. On a file system without `O_TMPFILE` or extended attributes it is
/// made plainly (`O_EXCL`), without an owner.
public enum NamespaceMountPoint {
    /// The extended attribute that names a mount point's owner (a lab's label).
    public static let ownerAttribute = "trusted.podlab.owner"

    /// Makes `path`, empty, carrying `owner` when given; nil or why not (EEXIST: the name is taken).
    public static func make(_ path: String, owner: String?) -> Errno? {
        if let owner {
            guard let code = makeOwned(path, owner: owner) else { return nil }
            // Any failure but the file system's inability is the answer.
            guard [Errno(EOPNOTSUPP), Errno(EISDIR), .invalidArgument].contains(code) else { return code }
        }
        let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if fd < 0 { return .current }
        close(fd)
        return nil
    }

    /// O_TMPFILE, the attribute, then the name; nil when made. EOPNOTSUPP, EINVAL or EISDIR: the
    /// file system cannot (the caller makes the file plainly).
    private static func makeOwned(_ path: String, owner: String) -> Errno? {
        let directory = NamespaceFile.parent(of: path)
        let rc = pl_make_file_with_xattr(directory.isEmpty ? "/" : directory, path, ownerAttribute, owner)
        return rc == 0 ? nil : Errno(-rc)
    }

    /// The owner written on `path` (nil when it carries none, or cannot be read). Meaningful for
    /// a file no namespace is bound on: a bound one shows the namespace file system's file.
    public static func owner(of path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = pl_getxattr(path, ownerAttribute, &buffer, UInt(buffer.count))
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

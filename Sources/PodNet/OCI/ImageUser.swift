/// The user an image's `User` names, resolved against the image's own `/etc/passwd` and
/// `/etc/group` as containerd resolves it (`oci.WithUser`): `uid`, `uid:gid`, `name`,
/// `name:group`, or empty for root. A numeric uid absent from `/etc/passwd` is allowed (gid
/// 0); a name absent from it is an error.
public struct ImageUser: Hashable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    /// The user's name in `/etc/passwd`, when it has an entry (for its group memberships).
    public var name: String?

    public init(uid: UInt32, gid: UInt32, name: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.name = name
    }

    /// `/etc/passwd` lines: name, uid, gid.
    static func passwdEntries(_ text: String) -> [(name: String, uid: UInt32, gid: UInt32)] {
        text.split(separator: "\n").compactMap { line -> (name: String, uid: UInt32, gid: UInt32)? in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return (String(fields[0]), uid, gid)
        }
    }

    /// `/etc/group` lines: name, gid, members.
    static func groupEntries(_ text: String) -> [(name: String, gid: UInt32, members: [String])] {
        text.split(separator: "\n").compactMap { line -> (name: String, gid: UInt32, members: [String])? in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, let gid = UInt32(fields[2]) else { return nil }
            return (String(fields[0]), gid, fields[3].split(separator: ",").map(String.init))
        }
    }

    /// Resolves `user` (the image config's `User`) with the image's `passwd` and `group` files.
    public static func resolve(_ user: String, passwd: String, group: String) throws(OCIImageError) -> ImageUser {
        if user.isEmpty { return ImageUser(uid: 0, gid: 0, name: passwdEntries(passwd).first { $0.uid == 0 }?.name) }
        let parts = user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let users = passwdEntries(passwd)
        var resolved: ImageUser
        if let uid = UInt32(parts[0]) {
            let entry = users.first { $0.uid == uid }
            resolved = ImageUser(uid: uid, gid: entry?.gid ?? 0, name: entry?.name)
        } else if let entry = users.first(where: { $0.name == parts[0] }) {
            resolved = ImageUser(uid: entry.uid, gid: entry.gid, name: entry.name)
        } else {
            throw OCIImageError("unable to find user \(parts[0]): no matching entries in passwd file")
        }
        if parts.count == 2 {
            if let gid = UInt32(parts[1]) {
                resolved.gid = gid
            } else if let entry = groupEntries(group).first(where: { $0.name == parts[1] }) {
                resolved.gid = entry.gid
            } else {
                throw OCIImageError("unable to find group \(parts[1]): no matching entries in group file")
            }
        }
        return resolved
    }

    /// The groups `/etc/group` lists `name` as a member of, in file order.
    public static func memberships(of name: String?, group: String) -> [UInt32] {
        guard let name else { return [] }
        return groupEntries(group).filter { $0.members.contains(name) }.map(\.gid)
    }

    /// The gid of the `passwd` entry with `uid`, or 0 (containerd's `WithUserID`).
    public static func primaryGroup(of uid: UInt32, passwd: String) -> UInt32 {
        passwdEntries(passwd).first { $0.uid == uid }?.gid ?? 0
    }

    /// True when the user part of `User` is a number (the kubelet verifies `runAsNonRoot`
    /// only against a numeric image user).
    public static func isNumeric(_ user: String) -> Bool {
        user.isEmpty || UInt32(user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]) != nil
    }
}

/// What an entry of a layer's tar stream does to the root file system, by the OCI image
/// spec's layer rules: an ordinary member adds or replaces a path; `.wh.<name>` deletes
/// `<name>` from the layers below; `.wh..wh..opq` hides everything below in its directory.
/// Paths are normalized (`./`, leading `/` and `.` dropped) and any `..` is refused, so nothing
/// can be written outside the layer's directory.
public enum LayerEntry: Hashable, Sendable {
    /// Add (or replace) the path: its components under the layer root.
    case add([String])
    /// Delete `components` from the lower layers (overlayfs: a 0/0 character device).
    case whiteout([String])
    /// Hide the lower layers' contents of the directory (overlayfs: `trusted.overlay.opaque=y`).
    case opaque([String])
    /// Nothing to do: the root itself, or another `.wh..wh.` marker (AUFS's hard-link pool).
    case ignore

    public static let whiteoutPrefix = ".wh."
    public static let opaqueMarker = ".wh..wh..opq"

    /// Classifies an entry's path.
    public static func classify(_ path: String) throws(OCIImageError) -> LayerEntry {
        let components = try normalize(path, what: "layer entry")
        guard let last = components.last else { return .ignore }
        let directory = Array(components.dropLast())
        if last == opaqueMarker { return .opaque(directory) }
        if last.hasPrefix(whiteoutPrefix + whiteoutPrefix) { return .ignore }
        if last.hasPrefix(whiteoutPrefix) {
            let name = String(last.dropFirst(whiteoutPrefix.count))
            guard !name.isEmpty, name != ".", name != ".." else { throw OCIImageError("layer entry \"\(path)\": invalid whiteout") }
            return .whiteout(directory + [name])
        }
        return .add(components)
    }

    /// The components of `path` relative to the root; `..` anywhere is refused (even where it
    /// would stay inside: a layer has no reason to write one, and refusing is simplest to trust).
    public static func normalize(_ path: String, what: String) throws(OCIImageError) -> [String] {
        var components: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." { throw OCIImageError("\(what) \"\(path)\": path escapes the root (\"..\")") }
            components.append(String(component))
        }
        return components
    }

    /// The target of a hard link as components under the root (it must name an entry of the
    /// same layer or a lower one, never a host path).
    public static func hardLinkTarget(_ linkName: String, entry path: String) throws(OCIImageError) -> [String] {
        let target = try normalize(linkName, what: "hard link \"\(path)\" to")
        guard !target.isEmpty else { throw OCIImageError("hard link \"\(path)\": empty target") }
        return target
    }

    /// True when the symbolic link at `components` pointing to `target` resolves, read
    /// lexically, outside the root: `..` past the top. An absolute target is inside: it is read
    /// against the container's root. The store refuses such a link, though the runtime would
    /// clamp it, because an unpacker that followed it would write on the host.
    public static func symlinkEscapes(_ target: String, at components: [String]) -> Bool {
        var depth = target.hasPrefix("/") ? 0 : components.count - 1
        for component in target.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." {
                depth -= 1
                if depth < 0 { return true }
            } else {
                depth += 1
            }
        }
        return false
    }
}

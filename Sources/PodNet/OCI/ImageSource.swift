/// Where a container's image comes from: a built-in image (the host's programs, `ImageCatalog`)
/// or an OCI image of the lab's store, run by an OCI runtime.
public enum ImageSource {
    /// True when `reference` is an OCI image of the store rather than a built-in one. A
    /// reference that names a registry other than docker.io or pins a digest always is (no
    /// built-in image has one); another name is the built-in image of that name first
    /// (`nginx`, `busybox`), the store's otherwise. An unparsable reference is neither: the
    /// catalog reports it (`InvalidImageName`).
    public static func isOCIImage(_ reference: String) -> Bool {
        guard let parsed = try? ImageReference(parsing: reference) else { return false }
        if parsed.registry != ImageReference.defaultRegistry || parsed.digest != nil { return true }
        return (try? ImageCatalog.resolve(reference)) == nil
    }

    /// True when `reference` names its registry (`127.0.0.1:5000/app:1`, `docker.io/library/x`,
    /// `localhost/app`): only such an image is pulled; a bare name that is neither built in nor
    /// in the store is not looked for on Docker Hub.
    public static func namesRegistry(_ reference: String) -> Bool {
        guard let slash = reference.firstIndex(of: "/") else { return false }
        let first = reference[..<slash]
        return first == "localhost" || first.contains(".") || first.contains(":")
    }

    /// The `securityContext` fields podlab acts on for a container of an OCI image, besides
    /// the user and groups (`RuntimeSpec`).
    public static let securityContextFields: Set<String> = ["readOnlyRootFilesystem", "capabilities", "allowPrivilegeEscalation"]
}

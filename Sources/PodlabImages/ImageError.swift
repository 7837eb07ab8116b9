/// Why a container's image cannot be used. The agent shows it as the container's waiting
/// reason (`waitingReason`) and message, as the kubelet does.
public enum ImageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The reference does not parse (kubelet: `InvalidImageName`).
    case invalidReference(String, reason: String)
    /// The reference parses but names no image in the catalog (kubelet: `ErrImagePull`).
    case notFound(String, known: [String])
    /// The image has neither an entrypoint nor a command, and the container gives none.
    case noCommand(image: String)
    /// The command is a BusyBox applet and the host has no BusyBox at `path` (Debian's
    /// busybox-static package is missing). The busybox image is nothing but BusyBox, so it
    /// cannot be had at all (kubelet: `ErrImagePull`); in another image only the container
    /// that needs the applet cannot be made (kubelet: `CreateContainerError`).
    case busyboxMissing(reference: String, image: String, applet: String, path: String)
    /// The reference names an OCI image (a registry, a digest, or a name no built-in image
    /// has) that the lab's image store does not hold (kubelet: `ErrImagePull`).
    case notInStore(String)

    /// The container state's waiting reason: `InvalidImageName`, `ErrImagePull` or `CreateContainerError`.
    public var waitingReason: String {
        switch self {
        case .invalidReference: "InvalidImageName"
        case .notFound, .notInStore: "ErrImagePull"
        case .noCommand: "CreateContainerError"
        case let .busyboxMissing(_, image, _, _): image == "busybox" ? "ErrImagePull" : "CreateContainerError"
        }
    }

    public var description: String {
        switch self {
        case let .invalidReference(text, reason):
            "Failed to apply default image tag \"\(text)\": couldn't parse image name \"\(text)\": invalid reference format: \(reason)"
        case let .notFound(text, known):
            "Failed to pull image \"\(text)\": image not found in the podlab catalog (known: \(known.joined(separator: ", ")))"
        case let .notInStore(text):
            "Failed to pull image \"\(text)\": not in the lab's image store, and not in the podlab catalog (known: \(ImageCatalog.knownNames.joined(separator: ", "))); "
                + "load it with \"podlab image load -i FILE\", or name its registry to pull it"
        case let .noCommand(image):
            "Error: failed to generate container spec: no command specified (image \"\(image)\" has no entrypoint or command)"
        case let .busyboxMissing(reference, image, applet, path):
            (image == "busybox" ? "Failed to pull image \"\(reference)\": the image is the host's BusyBox"
                : "Error: failed to create container: \"\(applet)\" is the host's BusyBox")
                + ", and \(path) is missing: install the Debian package \(ImageCatalog.busyboxPackage) (scripts/install-deps does)"
        }
    }
}

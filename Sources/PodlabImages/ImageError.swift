/// Why a container's image cannot be used. The agent shows it as the container's waiting
/// reason (`waitingReason`) and message, as the kubelet does.
public enum ImageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The reference does not parse (kubelet: `InvalidImageName`).
    case invalidReference(String, reason: String)
    /// The reference parses but names no image in the catalog (kubelet: `ErrImagePull`).
    case notFound(String, known: [String])
    /// The image has neither an entrypoint nor a command, and the container gives none.
    case noCommand(image: String)

    /// The container state's waiting reason: `InvalidImageName`, `ErrImagePull` or `CreateContainerError`.
    public var waitingReason: String {
        switch self {
        case .invalidReference: "InvalidImageName"
        case .notFound: "ErrImagePull"
        case .noCommand: "CreateContainerError"
        }
    }

    public var description: String {
        switch self {
        case let .invalidReference(text, reason):
            "Failed to apply default image tag \"\(text)\": couldn't parse image name \"\(text)\": invalid reference format: \(reason)"
        case let .notFound(text, known):
            "Failed to pull image \"\(text)\": image not found in the podlab catalog (known: \(known.joined(separator: ", ")))"
        case let .noCommand(image):
            "Error: failed to generate container spec: no command specified (image \"\(image)\" has no entrypoint or command)"
        }
    }
}

import PodNet

/// Output shared by the verbs that create or change objects.
enum Printing {
    /// What `run`/`apply` print for an object: the object in `format`, or `pod/NAME <verb><note>`.
    static func created(_ pod: Pod, format: OutputFormat?, verb: String = "created", note: String = "") -> String {
        switch format {
        case .yaml?: pod.yamlText
        case .json?: pod.jsonText + "\n"
        case .name?: "pod/\(pod.metadata.name)\n"
        case .wide?, nil: "pod/\(pod.metadata.name) \(verb)\(note)\n"
        }
    }

    /// Waiting reasons after which a container will not start without a change to the pod.
    static let reasonsThatCannotStart: Set<String> = [
        "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
        "CreateContainerError", "CreateContainerConfigError",
    ]
}

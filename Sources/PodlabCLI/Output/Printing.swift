import PodNet

/// Output shared by the verbs that create or change objects.
enum Printing {
    /// What `run`/`apply` print for an object: the object in `format`, or `pod/NAME <verb><note>`.
    static func created<T: KubernetesResource>(_ object: T, format: OutputFormat?, verb: String = "created", note: String = "") -> String {
        let singular = ResourceKind(argument: T.resource)?.singular ?? T.resource
        switch format {
        case .yaml?: return object.json.yamlText()
        case .json?: return object.json.jsonText() + "\n"
        case .name?: return "\(singular)/\(object.metadata.name)\n"
        case .wide?, nil: return "\(singular)/\(object.metadata.name) \(verb)\(note)\n"
        }
    }

    /// Waiting reasons after which a container will not start without a change to the pod.
    static let reasonsThatCannotStart: Set<String> = [
        "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
        "CreateContainerError", "CreateContainerConfigError",
    ]
}

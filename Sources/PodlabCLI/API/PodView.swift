/// The few fields of a pod that the CLI's flows look at (which containers, which phase),
/// read leniently.
struct PodView: Decodable, Sendable {
    struct Metadata: Decodable, Sendable {
        var name: String?
        var namespace: String?
        var deletionTimestamp: String?
    }

    struct Container: Decodable, Sendable {
        var name: String
        var image: String?
    }

    struct Spec: Decodable, Sendable {
        var containers: [Container]?
    }

    struct Status: Decodable, Sendable {
        var phase: String?
    }

    var metadata: Metadata?
    var spec: Spec?
    var status: Status?

    var containerNames: [String] { spec?.containers?.map(\.name) ?? [] }
}

import Foundation

/// Where a lab keeps its state on the host: `<stateRoot>/<lab>/`.
///
/// `stateRoot` is `$PODLAB_STATE_ROOT` or `/run/podlab`: everything podlab creates lives in
/// /run, like the namespaces themselves, so a reboot leaves nothing stale behind.
public struct LabPaths: Sendable, Equatable {
    public static let defaultStateRoot = "/run/podlab"

    public let lab: String
    /// `<stateRoot>/<lab>`.
    public let directory: String

    public init(lab: String, stateRoot: String? = nil) {
        self.lab = lab
        let base = stateRoot ?? ProcessInfo.processInfo.environment["PODLAB_STATE_ROOT"] ?? LabPaths.defaultStateRoot
        directory = base.hasSuffix("/") ? base + lab : "\(base)/\(lab)"
    }

    public var socket: String { "\(directory)/agent.sock" }
    /// The API socket of the mesh's sidecars (`MeshAPIListener`): Services and EndpointSlices only.
    public var meshSocket: String { "\(directory)/mesh.sock" }
    public var pidFile: String { "\(directory)/agent.pid" }
    public var logFile: String { "\(directory)/agent.log" }
    public var database: String { "\(directory)/state.db" }
    public var logs: String { "\(directory)/logs" }
    /// UTS, IPC and mount namespace files of the pods.
    public var namespaces: String { "\(directory)/ns" }
    /// The images' own programs, as links a container's shell finds (see `ImagePrograms`).
    public var images: String { "\(directory)/images" }
    /// A directory per pod (`pods/<uid>`): its `/etc/hosts` and `/etc/hostname`, its `emptyDir`
    /// volumes, the roots built for its containers' mounts. Removed with the pod.
    public var pods: String { "\(directory)/pods" }
    /// How containers orphaned by a dead agent ended: one `ExitRecord` file per process,
    /// written by the lab's keeper, removed by the agent that takes the status.
    public var exits: String { "\(directory)/exits" }
    /// A file per running keeper (`keepers/<pid>`), naming it and the agent it started.
    public var keepers: String { "\(directory)/keepers" }

    public func podDirectory(uid: String) -> String { "\(pods)/\(uid)" }

    public func podLogDirectory(namespace: String, name: String, uid: String) -> String {
        "\(logs)/\(namespace)_\(name)_\(uid.prefix(8))"
    }

    public func containerLog(namespace: String, name: String, uid: String, container: String, restart: Int) -> String {
        "\(podLogDirectory(namespace: namespace, name: name, uid: uid))/\(container)/\(restart).log"
    }
}

import Foundation
import PodNet

/// kubectl's `--dry-run=none|client|server`, shared by the verbs that change objects.
enum DryRunFlag {
    /// The flag's value checked, with kubectl's error for any other.
    static func validate(_ value: String) throws {
        guard ["none", "client", "server"].contains(value) else {
            throw CLIError("Invalid dry-run value (\(value)). Must be \"none\", \"server\", or \"client\".")
        }
    }

    /// What kubectl appends to `pod/x created`: ` (dry run)`, ` (server dry run)`, or nothing.
    static func note(_ value: String) -> String {
        value == "client" ? " (dry run)" : value == "server" ? " (server dry run)" : ""
    }

    /// Creates `object` in `namespace` (nil: cluster-scoped) as `dryRun` says — printed only,
    /// sent with `dryRun=All`, or created — and prints it as kubectl does (`kind/name VERB`).
    static func create<T: KubernetesResource>(_ object: T, in namespace: String?, dryRun: String, format: OutputFormat?, verb: String = "created",
                                              client: APIClient, context: CommandContext) async throws {
        let note = note(dryRun)
        if dryRun == "client" {
            context.stdout.write(Printing.created(object, format: format, verb: verb, note: note))
            return
        }
        let created = try await client.send(.POST, T.collectionPath(namespace: namespace), json: Data(object.json.jsonText(indent: 0).utf8),
                                            query: dryRun == "server" ? [("dryRun", DryRun.all)] : [], as: T.self)
        context.stdout.write(Printing.created(created, format: format, verb: verb, note: note))
    }
}

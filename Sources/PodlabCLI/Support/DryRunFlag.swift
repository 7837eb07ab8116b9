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
}

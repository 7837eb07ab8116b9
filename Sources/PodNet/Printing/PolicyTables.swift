/// kubectl's table for network policies.
public enum PolicyTables {
    /// `NAME POD-SELECTOR AGE`; an empty pod selector prints `<none>` (it selects every pod).
    public static func networkPolicies(_ policies: [NetworkPolicy], now: Timestamp) -> TextTable {
        TextTable(headers: ["NAME", "POD-SELECTOR", "AGE"], rows: policies.map {
            [$0.metadata.name, formatSelector($0.spec.podSelector), HumanDuration.since($0.metadata.creationTimestamp, now: now)]
        })
    }

    /// `metav1.FormatLabelSelector`: the selector's text, `<none>` when it has no requirement.
    public static func formatSelector(_ selector: LabelSelectorSpec) -> String {
        let text = selector.description
        return text.isEmpty ? "<none>" : text
    }
}

/// kubectl's tables for ConfigMaps and Secrets (the API server's `printConfigMap`, `printSecret`).
public enum ConfigTables {
    /// `NAME DATA AGE`: DATA counts the keys of `data` and `binaryData`.
    public static func configMaps(_ maps: [ConfigMap], now: Timestamp) -> TextTable {
        TextTable(headers: ["NAME", "DATA", "AGE"], rows: maps.map {
            [$0.metadata.name, String($0.keyCount), HumanDuration.since($0.metadata.creationTimestamp, now: now)]
        })
    }

    /// `NAME TYPE DATA AGE`.
    public static func secrets(_ secrets: [Secret], now: Timestamp) -> TextTable {
        TextTable(headers: ["NAME", "TYPE", "DATA", "AGE"], rows: secrets.map {
            [$0.metadata.name, $0.type, String($0.data.count), HumanDuration.since($0.metadata.creationTimestamp, now: now)]
        })
    }
}

import Foundation

/// `kubectl get events`: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE.
public enum EventTable {
    public static let headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]

    /// The rows of `events`, in the given order.
    public static func table(_ events: [Event], now: Timestamp) -> TextTable {
        TextTable(headers: headers, rows: events.map { event in
            [HumanDuration.since(event.lastTimestamp, now: now), event.type.rawValue, event.reason,
             "\(event.involvedObject.kind.lowercased())/\(event.involvedObject.name)",
             event.message.trimmingCharacters(in: .whitespacesAndNewlines)]
        })
    }
}

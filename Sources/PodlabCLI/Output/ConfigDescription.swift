import Foundation
import PodNet

/// `describe configmap` and `describe secret` as kubectl prints them: a ConfigMap's values in
/// full, a Secret's only as byte counts.
enum ConfigDescription {
    static func configMap(_ map: ConfigMap, events: [Event], now: Date = Date()) -> String {
        var w = ""
        w += "Name:\t\(map.metadata.name)\n"
        w += "Namespace:\t\(map.metadata.namespace)\n"
        w += PodDescription.multiline("Labels", map.metadata.labels)
        w += PodDescription.annotations(map.metadata.annotations)
        w += "\nData\n====\n"
        for key in map.data.keys.sorted() {
            w += "\(key):\n----\n\(map.data[key]!)\n\n"
        }
        w += "\nBinaryData\n====\n"
        for key in map.binaryData.keys.sorted() {
            w += "\(key): \(map.binaryData[key]!.count) bytes\n"
        }
        w += "\n"
        w += EventDescription.section(events, now: Timestamp(now))
        return TabWriter().format(w)
    }

    static func secret(_ secret: Secret, events: [Event] = []) -> String {
        var w = ""
        w += "Name:\t\(secret.metadata.name)\n"
        w += "Namespace:\t\(secret.metadata.namespace)\n"
        w += PodDescription.multiline("Labels", secret.metadata.labels)
        w += PodDescription.annotations(secret.metadata.annotations)
        w += "\nType:\t\(secret.type)\n"
        w += "\nData\n====\n"
        for key in secret.data.keys.sorted() {
            // A service account's token is shown, as kubectl does; every other value only by its size.
            if key == "token", secret.type == "kubernetes.io/service-account-token" {
                w += "\(key):\t\(String(decoding: secret.data[key]!, as: UTF8.self))\n"
            } else {
                w += "\(key):\t\(secret.data[key]!.count) bytes\n"
            }
        }
        return TabWriter().format(w)
    }
}

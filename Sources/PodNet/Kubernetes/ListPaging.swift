import Foundation

/// `?limit=N&continue=TOKEN` on a list: at most N items, and a token for the rest in the
/// list's `metadata.continue` (kube-apiserver's chunking, with an offset for a token).
public enum ListPaging {
    /// The page of `list` (a list object's JSON) the query asks for, with `continue` and
    /// `remainingItemCount` set when items are left. A token podlab did not write is the API
    /// server's 400.
    public static func page(_ list: JSONValue, limit: Int?, continueToken: String?) throws(APIStatus) -> JSONValue {
        guard case .object(var fields) = list, let items = fields["items"]?.arrayValue else { return list }
        var start = 0
        if let continueToken, !continueToken.isEmpty {
            guard let offset = decode(continueToken), offset >= 0 else {
                throw APIStatus.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            }
            start = min(offset, items.count)
        }
        let end = limit.map { $0 > 0 ? min(items.count, start + $0) : items.count } ?? items.count
        fields["items"] = .array(Array(items[start..<end]))
        var metadata = fields["metadata"]?.objectValue ?? [:]
        if end < items.count {
            metadata["continue"] = .string(encode(end))
            metadata["remainingItemCount"] = .integer(Int64(items.count - end))
        } else {
            metadata["continue"] = nil
            metadata["remainingItemCount"] = nil
        }
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }

    static func encode(_ offset: Int) -> String {
        Data(#"{"v":"podlab.v1","start":\#(offset)}"#.utf8).base64EncodedString()
    }

    static func decode(_ token: String) -> Int? {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
              let value = try? JSONReader.value(from: text), value["v"] == .string("podlab.v1"),
              case .integer(let offset)? = value["start"] else { return nil }
        return Int(offset)
    }
}

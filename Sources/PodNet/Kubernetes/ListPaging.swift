import Foundation

/// `?limit=N&continue=TOKEN` on a list: at most N items, and a token for the rest in the
/// list's `metadata.continue` (kube-apiserver's chunking, with an offset for a token).
public enum ListPaging {
    /// The page of `list` (a list object's JSON) the query asks for, with `continue` and
    /// `remainingItemCount` set when items are left. A token podlab did not write is the API
    /// server's 400.
    public static func page(_ list: JSONValue, limit: Int?, continueToken: String?) throws(APIStatus) -> JSONValue {
        guard case .object(var fields) = list, let items = fields["items"]?.arrayValue else { return list }
        let window = try Window(count: items.count, limit: limit, continueToken: continueToken)
        fields["items"] = .array(Array(items[window.range]))
        var metadata = fields["metadata"]?.objectValue ?? [:]
        metadata["continue"] = window.continueToken.map { .string($0) }
        metadata["remainingItemCount"] = window.remainingItemCount.map { .integer(Int64($0)) }
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }

    /// Which of a list's `count` items a page holds, and what its metadata says of the rest.
    public struct Window: Equatable, Sendable {
        public let range: Range<Int>
        /// The token for the next page, and how many items are after this one; nil on the last page.
        public let continueToken: String?
        public let remainingItemCount: Int?

        /// The page `limit` and `continueToken` ask for. A token podlab did not write is the API
        /// server's 400.
        public init(count: Int, limit: Int?, continueToken: String?) throws(APIStatus) {
            var start = 0
            if let continueToken, !continueToken.isEmpty {
                guard let offset = ListPaging.decode(continueToken), offset >= 0 else {
                    throw APIStatus.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
                }
                start = min(offset, count)
            }
            let end = limit.map { $0 > 0 ? min(count, start + $0) : count } ?? count
            range = start..<end
            self.continueToken = end < count ? ListPaging.encode(end) : nil
            remainingItemCount = end < count ? count - end : nil
        }
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

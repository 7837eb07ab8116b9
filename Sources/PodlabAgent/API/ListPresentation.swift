import Foundation
import Hummingbird
import Netns
import NIOCore
import PodNet

/// What kubectl asks of a read besides the object: `fieldSelector`, `limit`/`continue` and
/// server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, with
/// `includeObject`). Applied to the JSON the resource's own handler answers, for every
/// served kind alike, lists, single objects and watches.
struct ListPresentation<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, let path = ResourcePath(request.uri.path), path.subresource == nil, let served = path.served else {
            return try await next(request, context)
        }
        let query = request.uri.queryParameters
        let table = ListPresentation.wantsTable(request.headers[.accept])
        let fieldText = query["fieldSelector"].map(String.init) ?? ""
        let limit = query["limit"].flatMap { Int(String($0)) }
        let continueToken = query["continue"].map(String.init)
        let watch = query["watch"].map { $0 == "true" || $0 == "1" } ?? false
        let selector: FieldSelector
        let include: ServerTable.IncludeObject
        do {
            selector = try FieldSelector(parsing: fieldText)
            try selector.check(kind: served.kind)
            guard let parsed = ServerTable.IncludeObject(query: query["includeObject"].map(String.init)) else {
                throw APIStatus.badRequest("includeObject: Unsupported value: \"\(query["includeObject"] ?? "")\": supported values: \"None\", \"Metadata\", \"Object\"")
            }
            include = parsed
        } catch let status as APIStatus {
            return APIServer.json(Data(status.json.jsonText(indent: 0).utf8), status: HTTPResponse.Status(code: Int(status.code)))
        }
        guard table || !selector.requirements.isEmpty || limit != nil || (continueToken?.isEmpty == false) else {
            return try await next(request, context)
        }
        let capture = ListCapture()
        let response = try await ListCapture.$current.withValue(capture) { try await next(request, context) }
        guard response.status == .ok else { return response }
        if !watch, path.name == nil, let list = capture.list, list.kind == served.kind + "List" {
            return try await APIServer.handle {
                try ListPresentation.present(list, response: response, served: served, table: table, selector: selector, limit: limit,
                                             continueToken: continueToken, include: include)
            }
        }
        if watch {
            // A write holds one or more events (a batch), a line each: each is filtered and, for a
            // table, printed as a one-row Table.
            var headers = response.headers
            headers[.contentLength] = nil
            return Response(status: .ok, headers: headers, body: response.body.map { batch in
                WatchLines.eachLine(of: batch) { line in
                    guard let event = try? JSONReader.value(from: String(buffer: line)), let object = event["object"] else { return line }
                    // A bookmark or the watch's error is about the watch, not an object: no selector
                    // or printing applies.
                    if let type = event["type"]?.stringValue, type == "BOOKMARK" || type == "ERROR" { return line }
                    if !selector.matches(object) { return nil }
                    guard table, case .object(var fields) = event else { return line }
                    let version = object["metadata"]?["resourceVersion"]?.stringValue ?? ""
                    fields["object"] = (try? ServerTable.table(served, objects: [object], resourceVersion: version, now: .now(), include: include)) ?? object
                    return ByteBuffer(string: JSONValue.object(fields).jsonText(indent: 0))
                }
            })
        }
        return try await APIServer.handle {
            let body = try await ListPresentation.collect(response.body)
            var value = try JSONReader.value(from: String(buffer: body))
            let objects: [JSONValue]
            if path.name == nil, case .object(var fields) = value, let items = fields["items"]?.arrayValue {
                let selected = items.filter(selector.matches)
                // kubectl always sends a limit (500): a list that fits is answered as it was.
                if !table, selected.count == items.count, limit.map({ $0 <= 0 || $0 >= items.count }) ?? true, continueToken?.isEmpty ?? true {
                    return APIServer.json(Data(buffer: body))
                }
                fields["items"] = .array(selected)
                value = try ListPaging.page(.object(fields), limit: limit, continueToken: continueToken)
                objects = value["items"]?.arrayValue ?? []
            } else {
                objects = [value]
            }
            guard table else { return APIServer.json(Data(value.jsonText(indent: 0).utf8)) }
            let version = value["metadata"]?["resourceVersion"]?.stringValue ?? ""
            var rendered = try ServerTable.table(served, objects: objects, resourceVersion: version, now: .now(), include: include)
            if case .object(var fields) = rendered, let listMetadata = value["metadata"]?.objectValue, path.name == nil {
                fields["metadata"] = .object(listMetadata.filter { ["resourceVersion", "continue", "remainingItemCount"].contains($0.key) })
                rendered = .object(fields)
            }
            return APIServer.json(Data(rendered.jsonText(indent: 0).utf8))
        }
    }

    /// A list the handler answered as encoded objects (`ListCapture`): selected, paged and
    /// printed from those, the same bytes as from its body read back, without reading it.
    static func present(_ list: EncodedList, response: Response, served: ServedResource, table: Bool, selector: FieldSelector, limit: Int?,
                        continueToken: String?, include: ServerTable.IncludeObject) throws -> Response {
        let selected = selector.requirements.isEmpty ? list.items : list.items.filter { selector.matches($0.json) }
        // kubectl always sends a limit (500): a list that fits is answered as it was.
        if !table, selected.count == list.items.count, limit.map({ $0 <= 0 || $0 >= list.items.count }) ?? true, continueToken?.isEmpty ?? true {
            return response
        }
        let window = try ListPaging.Window(count: selected.count, limit: limit, continueToken: continueToken)
        let page = Array(selected[window.range])
        let metadata = list.metadata(continue: window.continueToken, remainingItemCount: window.remainingItemCount)
        guard table else { return APIServer.json(list.jsonData(items: page, metadata: metadata)) }
        return APIServer.json(try ServerTable.tableText(served, objects: page, resourceVersion: list.resourceVersion, metadata: metadata,
                                                        now: .now(), include: include))
    }

    /// Whether an `Accept` header asks for a `meta.k8s.io` Table (v1 or v1beta1).
    static func wantsTable(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { part in
            let parameters = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            return parameters.contains("as=Table") && parameters.contains("g=meta.k8s.io")
        }
    }

    /// The whole body of a response the API built in memory.
    static func collect(_ body: ResponseBody) async throws -> ByteBuffer {
        let collector = BodyCollector()
        try await body.write(CollectingWriter(collector: collector))
        return collector.buffer.withLock { $0 }
    }
}

/// The list a request's handler answered, as the encoded objects its body was joined from
/// (`Controller.listData` records it): `ListPresentation` pages and prints those rather than
/// reading the body back. Set only for a request `ListPresentation` will page or print.
final class ListCapture: Sendable {
    @TaskLocal static var current: ListCapture?

    private let recorded = Locked<EncodedList?>(nil)

    var list: EncodedList? { recorded.withLock { $0 } }

    func record(_ list: EncodedList) {
        recorded.withLock { $0 = list }
    }
}

private final class BodyCollector: Sendable {
    let buffer = Locked(ByteBuffer())
}

private struct CollectingWriter: ResponseBodyWriter {
    let collector: BodyCollector

    mutating func write(_ buffer: ByteBuffer) async throws {
        collector.buffer.withLock { _ = $0.writeImmutableBuffer(buffer) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

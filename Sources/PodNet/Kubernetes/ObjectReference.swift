/// A reference to another object: what an event is about (for a container, `fieldPath` names
/// it: `spec.containers{app}`), the pod behind an endpoint (`targetRef`).
public struct ObjectReference: JSONObjectCodable, Hashable {
    public var kind: String
    public var namespace: String
    public var name: String
    public var uid: String
    public var apiVersion: String
    public var fieldPath: String

    public init(kind: String = "", namespace: String = "", name: String = "", uid: String = "", apiVersion: String = "", fieldPath: String = "") {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.apiVersion = apiVersion
        self.fieldPath = fieldPath
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        kind = try reader.string("kind") ?? ""
        namespace = try reader.string("namespace") ?? ""
        name = try reader.string("name") ?? ""
        uid = try reader.string("uid") ?? ""
        apiVersion = try reader.string("apiVersion") ?? ""
        fieldPath = try reader.string("fieldPath") ?? ""
        _ = reader.preservedFields(["resourceVersion"])
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("kind", omittingEmpty: kind)
        writer.set("namespace", omittingEmpty: namespace)
        writer.set("name", omittingEmpty: name)
        writer.set("uid", omittingEmpty: uid)
        writer.set("apiVersion", omittingEmpty: apiVersion)
        writer.set("fieldPath", omittingEmpty: fieldPath)
    }
}

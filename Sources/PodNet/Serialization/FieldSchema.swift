/// The shape of a field that podlab keeps as raw JSON instead of modelling it, so that strict
/// decoding still finds misspelt fields inside it (`securityContext.runAsUsr`).
public indirect enum FieldSchema: Sendable, Hashable {
    /// Not checked below this point.
    case any
    /// An object with exactly these fields (each with its own shape).
    case object([String: FieldSchema])
    /// A list whose elements have this shape.
    case list(FieldSchema)
    /// A map with free keys whose values have this shape.
    case map(FieldSchema)

    /// An object whose fields are not checked further.
    public static func fields(_ names: [String]) -> FieldSchema {
        .object(Dictionary(uniqueKeysWithValues: names.map { ($0, FieldSchema.any) }))
    }
}

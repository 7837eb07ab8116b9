/// A table laid out like kubectl's output (Go's tabwriter with kubectl's settings): each
/// column as wide as its widest cell plus 3 spaces (at least 6), the last column unpadded,
/// headers in upper case. Widths count Unicode scalars, as Go counts runes.
public struct TextTable: Hashable, Sendable {
    /// Column titles (printed in upper case).
    public var headers: [String]
    /// The cells, row by row.
    public var rows: [[String]]

    /// kubectl's tabwriter settings.
    public static let padding = 3
    public static let minimumWidth = 6

    public init(headers: [String], rows: [[String]] = []) {
        self.headers = headers
        self.rows = rows
    }

    /// The lines of the table, each ending in a newline. With `showHeaders: false` only the rows
    /// (`--no-headers`).
    public func render(showHeaders: Bool = true) -> String {
        let lines = (showHeaders ? [headers.map { $0.uppercased() }] : []) + rows
        guard !lines.isEmpty else { return "" }
        let columns = lines.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for line in lines {
            // The last cell of a line is not padded, so it does not widen its column.
            for (index, cell) in line.enumerated() where index < line.count - 1 {
                widths[index] = max(widths[index], max(TextTable.minimumWidth, cell.unicodeScalars.count + TextTable.padding))
            }
        }
        var output = ""
        for line in lines {
            for (index, cell) in line.enumerated() {
                output += cell
                if index < line.count - 1 {
                    output += String(repeating: " ", count: widths[index] - cell.unicodeScalars.count)
                }
            }
            output += "\n"
        }
        return output
    }
}

/// Columns aligned the way kubectl's tabwriter aligns them: each column as wide as its
/// widest cell, three spaces between columns, no trailing spaces.
public struct TextTable: Sendable {
    public var rows: [[String]]

    public init(_ rows: [[String]]) { self.rows = rows }

    /// The table as lines ending in "\n".
    public func render() -> String {
        guard let columns = rows.map(\.count).max(), columns > 0 else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - cell.count + 3) }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

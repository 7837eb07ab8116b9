/// Go's `text/tabwriter`, as kubectl's `describe` uses it (`tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)`):
/// cells end at a tab; a column is aligned over a block of consecutive lines that have a
/// cell in it, each cell padded to the block's widest cell plus `padding`; the text after a
/// line's last tab is written as is. So a line without tabs ends every block, which is why
/// describe's sections align independently.
struct TabWriter {
    var minimumWidth = 0
    var padding = 2

    /// Aligns `text` (lines separated by "\n", cells by "\t").
    func format(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        let endsWithNewline = text.hasSuffix("\n")
        if endsWithNewline { lines.removeLast() }
        var output: [String] = Array(repeating: "", count: lines.count)
        var widths: [Int] = []
        format(lines, from: 0, to: lines.count, widths: &widths, into: &output)
        return output.joined(separator: "\n") + (endsWithNewline ? "\n" : "")
    }

    /// The recursive column-block algorithm of Go's `Writer.format`.
    private func format(_ lines: [[String]], from start: Int, to end: Int, widths: inout [Int], into output: inout [String]) {
        let column = widths.count
        var line0 = start
        var this = start
        while this < end {
            // Does this line have a terminated cell in `column`?
            if column >= lines[this].count - 1 {
                this += 1
                continue
            }
            write(lines, from: line0, to: this, widths: widths, into: &output)
            line0 = this
            var width = minimumWidth
            while this < end, column < lines[this].count - 1 {
                width = max(width, lines[this][column].unicodeScalars.count + padding)
                this += 1
            }
            widths.append(width)
            format(lines, from: line0, to: this, widths: &widths, into: &output)
            widths.removeLast()
            line0 = this
        }
        write(lines, from: line0, to: end, widths: widths, into: &output)
    }

    private func write(_ lines: [[String]], from start: Int, to end: Int, widths: [Int], into output: inout [String]) {
        guard start < end else { return }
        for index in start..<end {
            let cells = lines[index]
            var text = ""
            for (j, cell) in cells.enumerated() {
                if j < cells.count - 1, j < widths.count {
                    text += cell + String(repeating: " ", count: max(0, widths[j] - cell.unicodeScalars.count))
                } else if j < cells.count - 1 {
                    text += cell
                } else {
                    text += cell
                }
            }
            output[index] = text
        }
    }
}

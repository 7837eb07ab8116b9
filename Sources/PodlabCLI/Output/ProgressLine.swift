/// Progress on stderr while a command waits: on a terminal one line rewritten in place with
/// a spinner; elsewhere one line per change, so logs stay readable.
struct ProgressLine {
    private let sink: any OutputSink
    private var shown: String?
    private var frame = 0
    private static let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    init(_ sink: any OutputSink) { self.sink = sink }

    /// Shows `text` (on a terminal: advances the spinner even if the text is the same).
    mutating func update(_ text: String) {
        if sink.isTerminal {
            frame = (frame + 1) % Self.frames.count
            sink.write("\r\u{1B}[K\(Self.frames[frame]) \(text)")
            shown = text
        } else if text != shown {
            sink.line(text)
            shown = text
        }
    }

    /// Clears the spinner line (on a terminal) so the next output starts clean.
    mutating func finish() {
        if sink.isTerminal, shown != nil { sink.write("\r\u{1B}[K") }
        shown = nil
    }
}

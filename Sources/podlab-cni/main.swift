#if canImport(Glibc)
import Glibc
#endif
import PodlabCNI

// A CNI plugin: the runtime's environment and stdin in, a result or error on stdout and the
// exit status out. Diagnostics go to stderr only (stdout belongs to the protocol).
var environment: [String: String] = [:]
var pointer = environ
while let entry = pointer.pointee {
    let text = String(cString: entry)
    if let equals = text.firstIndex(of: "=") {
        environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
    }
    pointer += 1
}

var input: [UInt8] = []
var buffer = [UInt8](repeating: 0, count: 65_536)
while true {
    let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { break }
    input += buffer[..<n]
}

let outcome = Plugin.run(environment: environment, stdin: input)
if outcome.exitCode != 0 {
    let message = "podlab-cni: \(environment["CNI_COMMAND"] ?? "?") failed: " + outcome.stdout
    _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}
let bytes = Array(outcome.stdout.utf8)
var offset = 0
while offset < bytes.count {
    let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { break }
    offset += n
}
exit(outcome.exitCode)

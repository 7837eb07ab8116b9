#if canImport(Glibc)
import Glibc
#endif
import PodlabCNI

// A CNI plugin: the runtime's environment and stdin in, a result or error on stdout and the
// exit status out. Diagnostics go to stderr only (stdout belongs to the protocol).
// Only the variables the plugin reads (a runtime passes its whole environment).
var environment: [String: String] = [:]
var pointer = environ
while let entry = pointer.pointee {
    if (entry[0] == CChar(UInt8(ascii: "C")) && strncmp(entry, "CNI_", 4) == 0) || strncmp(entry, "PODLAB_CNI_", 11) == 0,
       let equals = strchr(entry, Int32(UInt8(ascii: "="))) {
        let key = String(decoding: UnsafeRawBufferPointer(start: entry, count: equals - entry), as: UTF8.self)
        environment[key] = String(cString: equals + 1)
    }
    pointer += 1
}

// stdin through a buffer that is never zeroed (a zeroed 64 KiB one cost 16 page faults).
var input: [UInt8] = []
withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 16) { buffer in
    while true {
        let n = read(0, buffer.baseAddress, buffer.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        input += UnsafeRawBufferPointer(rebasing: buffer[0..<n])
    }
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

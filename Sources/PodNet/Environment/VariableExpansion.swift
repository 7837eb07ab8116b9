/// Kubernetes' `$(VAR)` expansion (`third_party/forked/golang/expansion`), used for a
/// container's `command`, `args` and env `value`s:
///
/// - `$(NAME)` becomes the value of `NAME` when it is defined, and stays as written otherwise;
/// - `$$` becomes `$` (so `$$(NAME)` is the literal text `$(NAME)`);
/// - a `$(` without a closing `)`, and a `$` before anything else, stay as written.
///
/// No shell is involved: `$NAME` and `${NAME}` are not references.
public enum VariableExpansion {
    /// `input` with its references resolved through `lookup` (nil: not defined).
    public static func expand(_ input: String, _ lookup: (String) -> String?) -> String {
        let bytes = Array(input.utf8)
        let dollar = UInt8(ascii: "$"), opener = UInt8(ascii: "("), closer = UInt8(ascii: ")")
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var cursor = 0
        while cursor < bytes.count {
            let byte = bytes[cursor]
            guard byte == dollar, cursor + 1 < bytes.count else {
                output.append(byte)
                cursor += 1
                continue
            }
            let next = bytes[cursor + 1]
            if next == dollar {
                // An escaped operator.
                output.append(dollar)
                cursor += 2
            } else if next == opener, let close = bytes[(cursor + 2)...].firstIndex(of: closer) {
                let name = String(decoding: bytes[(cursor + 2)..<close], as: UTF8.self)
                if let value = lookup(name) {
                    output += Array(value.utf8)
                } else {
                    output += bytes[cursor...close]
                }
                cursor = close + 1
            } else {
                // `$(` never closed, or a `$` that starts no reference: kept, and scanning goes on
                // after the `$` (Kubernetes copies the next byte on its own; podlab copies it
                // through the loop, which keeps multi-byte characters intact).
                output.append(dollar)
                cursor += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `input` expanded against `variables`.
    public static func expand(_ input: String, variables: [String: String]) -> String {
        expand(input) { variables[$0] }
    }
}

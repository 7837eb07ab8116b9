/// Rewrites kubectl's argument spellings that ArgumentParser does not read as kubectl does,
/// so that command lines copied from kubectl work unchanged:
///
/// - global options before the verb (`podlab -n kube-system get pods`) move after it;
/// - `-oyaml` and `-o=yaml` become `-o yaml`;
/// - boolean flags with a value (`--wait=false`, `--rm=true`) become plain flags or `--no-wait`;
/// - a bare `--dry-run` means `--dry-run=client`; `--dry-run=true|false` mean client and none;
/// - a negative number after `--tail`/`--grace-period` stays that option's value;
/// - `run NAME --image busybox sleep 10`: words after the pod name are the container's
///   arguments, as if written after `--`.
///
/// Nothing after `--` is touched: it belongs to the container's command.
public enum KubectlArguments {
    /// Options every podlab verb accepts before the verb too.
    static let globalOptionsWithValue: Set<String> = ["--lab", "-n", "--namespace"]
    /// Boolean flags whose default is true: `--X=false` becomes `--no-X`.
    static let flagsDefaultingToTrue: Set<String> = ["wait"]
    /// Boolean flags that accept kubectl's `--X=true|false`.
    static let booleanFlags: Set<String> = [
        "wait", "rm", "stdin", "tty", "attach", "command", "all", "all-namespaces", "watch", "watch-only",
        "now", "force", "previous", "follow", "quiet", "show-labels", "ignore-not-found", "recursive", "timestamps",
        "no-headers", "prefix", "overwrite", "list", "all-containers",
    ]
    static let dryRunValues: Set<String> = ["client", "server", "none"]
    static let optionsTakingNegativeNumbers: Set<String> = ["--tail", "--grace-period"]

    public static func normalize(_ arguments: [String]) -> [String] {
        let terminator = arguments.firstIndex(of: "--") ?? arguments.endIndex
        var head = Array(arguments[..<terminator])
        let tail = arguments[terminator...]

        // Global options in front of the verb.
        var leading: [String] = []
        while let first = head.first, first.hasPrefix("-"), first != "-h", first != "--help", first != "--version" {
            let name = first.split(separator: "=", maxSplits: 1).first.map(String.init) ?? first
            guard globalOptionsWithValue.contains(name) || first == "-A" || first == "--all-namespaces" else { break }
            leading.append(head.removeFirst())
            if !first.contains("="), globalOptionsWithValue.contains(name), !head.isEmpty {
                leading.append(head.removeFirst())
            }
        }
        if !leading.isEmpty, !head.isEmpty {
            head.insert(contentsOf: leading, at: 1)
        } else {
            head = leading + head
        }

        var out: [String] = []
        var index = 0
        while index < head.count {
            let argument = head[index]
            index += 1
            if argument.hasPrefix("-o"), !argument.hasPrefix("--"), argument.count > 2 {
                var value = argument.dropFirst(2)
                if value.hasPrefix("=") { value = value.dropFirst() }
                out += ["-o", String(value)]
                continue
            }
            if argument == "--dry-run" {
                if index < head.count, dryRunValues.contains(head[index]) {
                    out += ["--dry-run", head[index]]
                    index += 1
                } else {
                    out.append("--dry-run=client")
                }
                continue
            }
            if argument == "--dry-run=true" { out.append("--dry-run=client"); continue }
            if argument == "--dry-run=false" { out.append("--dry-run=none"); continue }
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                let name = String(argument[argument.index(argument.startIndex, offsetBy: 2)..<equals])
                let value = argument[argument.index(after: equals)...].lowercased()
                if booleanFlags.contains(name), value == "true" || value == "false" {
                    if value == "true" {
                        out.append("--" + name)
                    } else if flagsDefaultingToTrue.contains(name) {
                        out.append("--no-" + name)
                    }
                    continue
                }
            }
            if optionsTakingNegativeNumbers.contains(argument), index < head.count,
               head[index].hasPrefix("-"), Int(head[index]) != nil {
                out.append("\(argument)=\(head[index])")
                index += 1
                continue
            }
            out.append(argument)
        }
        out += tail
        return out.first == "run" ? runArguments(out) : out
    }

    /// Options of `run` that take a value as the next word.
    static let runOptionsWithValue: Set<String> = [
        "--image", "--restart", "--port", "-l", "--labels", "--env", "--dry-run", "-o", "--output",
        "--pod-running-timeout", "-n", "--namespace", "--lab",
    ]

    /// Moves `run`'s positional words after the pod name behind a `--`.
    static func runArguments(_ arguments: [String]) -> [String] {
        var head: [String] = []
        var extra: [String] = []
        var seenName = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if index > 0, !argument.hasPrefix("-") || argument == "-" {
                if seenName { extra.append(argument) } else { head.append(argument); seenName = true }
                index += 1
                continue
            }
            head.append(argument)
            if runOptionsWithValue.contains(argument), index + 1 < arguments.count {
                head.append(arguments[index + 1])
                index += 1
            }
            index += 1
        }
        let after = index < arguments.count ? Array(arguments[(index + 1)...]) : []
        guard !extra.isEmpty || index < arguments.count else { return head }
        return head + ["--"] + extra + after
    }
}

/// Kubernetes' syntax rules for names, label keys and values, port names and environment
/// variable names. Each check returns Kubernetes' own messages (empty when valid), so they can
/// be used in `FieldError.invalid` exactly as the API server does.
public enum KubernetesNames {
    public static let dns1123LabelMaxLength = 63
    public static let dns1123SubdomainMaxLength = 253
    public static let labelValueMaxLength = 63
    public static let qualifiedNameMaxLength = 63

    static let dns1123LabelFormat = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    static let dns1123SubdomainFormat = dns1123LabelFormat + "(\\." + dns1123LabelFormat + ")*"
    static let qualifiedNameFormat = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
    static let labelValueFormat = "(" + qualifiedNameFormat + ")?"
    static let envVarNameFormat = "[-._a-zA-Z][-._a-zA-Z0-9]*"

    /// Names of pods' containers, namespaces, services: `my-name`.
    public static func dns1123LabelErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > dns1123LabelMaxLength { errors.append(maxLengthError(dns1123LabelMaxLength)) }
        if !isDNS1123Label(value) {
            if isDNS1123Subdomain(value) {
                errors.append("must not contain dots")
            } else {
                errors.append(regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                                         format: dns1123LabelFormat, examples: ["my-name", "123-abc"]))
            }
        }
        return errors
    }

    static let dns1035LabelFormat = "[a-z]([-a-z0-9]*[a-z0-9])?"

    /// Names of services (they become DNS labels, which may not start with a digit): `my-name`.
    public static func dns1035LabelErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > dns1123LabelMaxLength { errors.append(maxLengthError(dns1123LabelMaxLength)) }
        if !isDNS1123Label(value) || !(value.utf8.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } ?? false) {
            errors.append(regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
                                     format: dns1035LabelFormat, examples: ["my-name", "abc-123"]))
        }
        return errors
    }

    /// Names of pods and nodes: `example.com`.
    public static func dns1123SubdomainErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > dns1123SubdomainMaxLength { errors.append(maxLengthError(dns1123SubdomainMaxLength)) }
        if !isDNS1123Subdomain(value) {
            errors.append(regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                                     format: dns1123SubdomainFormat, examples: ["example.com"]))
        }
        return errors
    }

    /// Label and annotation keys: an optional DNS subdomain prefix and `/`, then a name.
    public static func qualifiedNameErrors(_ value: String) -> [String] {
        let qualifiedNameMessage = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        let examples = ["MyName", "my.name", "123-abc"]
        var errors: [String] = []
        let parts = value.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let name: String
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            let prefix = parts[0]
            name = parts[1]
            if prefix.isEmpty {
                errors.append("prefix part must be non-empty")
            } else {
                errors += dns1123SubdomainErrors(prefix).map { "prefix part " + $0 }
            }
        default:
            return ["a qualified name " + regexError(qualifiedNameMessage, format: qualifiedNameFormat, examples: examples)
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        if name.isEmpty {
            errors.append("name part must be non-empty")
        } else if name.utf8.count > qualifiedNameMaxLength {
            errors.append("name part " + maxLengthError(qualifiedNameMaxLength))
        }
        if !isQualifiedNamePart(name) {
            errors.append("name part " + regexError(qualifiedNameMessage, format: qualifiedNameFormat, examples: examples))
        }
        return errors
    }

    /// Label values: empty, or like a qualified name's name part.
    public static func labelValueErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > labelValueMaxLength { errors.append(maxLengthError(labelValueMaxLength)) }
        if !value.isEmpty && !isQualifiedNamePart(value) {
            errors.append(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                                     format: labelValueFormat, examples: ["MyValue", "my_value", "12345"]))
        }
        return errors
    }

    /// Port names (IANA service names): up to 15 of `[-a-z0-9]`, at least one letter.
    public static func portNameErrors(_ value: String) -> [String] {
        var errors: [String] = []
        let bytes = Array(value.utf8)
        if bytes.count > 15 { errors.append(maxLengthError(15)) }
        if bytes.isEmpty || !bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }) {
            errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
        }
        if !bytes.contains(where: { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }) {
            errors.append("must contain at least one letter (a-z)")
        }
        if value.contains("--") { errors.append("must not contain consecutive hyphens") }
        if bytes.first == UInt8(ascii: "-") || bytes.last == UInt8(ascii: "-") { errors.append("must not begin or end with a hyphen") }
        return errors
    }

    /// Environment variable names: `[-._a-zA-Z][-._a-zA-Z0-9]*`, and not `.`, `..` or `..*`.
    public static func envVarNameErrors(_ value: String) -> [String] {
        var errors: [String] = []
        let bytes = Array(value.utf8)
        let valid = !bytes.isEmpty
            && isEnvVarCharacter(bytes[0], allowDigit: false)
            && bytes.dropFirst().allSatisfy { isEnvVarCharacter($0, allowDigit: true) }
        if !valid {
            errors.append(regexError("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
                                     format: envVarNameFormat, examples: ["my.env-name", "MY_ENV.NAME", "MyEnvName1"]))
        }
        if value == "." {
            errors.append("must not be '.'")
        } else if value == ".." {
            errors.append("must not be '..'")
        } else if value.hasPrefix("..") {
            errors.append("must not start with '..'")
        }
        return errors
    }

    /// `must be no more than N characters`
    public static func maxLengthError(_ length: Int) -> String { "must be no more than \(length) characters" }

    /// Kubernetes' `RegexError`: the message, examples, and the pattern used.
    static func regexError(_ message: String, format: String, examples: [String]) -> String {
        guard !examples.isEmpty else { return message + " (regex used for validation is '" + format + "')" }
        var text = message + " (e.g. "
        for (index, example) in examples.enumerated() {
            if index > 0 { text += " or " }
            text += "'" + example + "', "
        }
        return text + "regex used for validation is '" + format + "')"
    }

    // MARK: Character classes

    public static func isDNS1123Label(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlphanumeric(first), isLowerAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    public static func isDNS1123Subdomain(_ value: String) -> Bool {
        !value.isEmpty && value.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }

    static func isQualifiedNamePart(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isEnvVarCharacter(_ byte: UInt8, allowDigit: Bool) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            || (allowDigit && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte))
    }
}

/// Validation of `metadata` shared by all kinds.
enum ObjectMetaValidation {
    /// Kubernetes' limit on the total size of an object's annotations.
    static let totalAnnotationSizeLimit = 256 * 1024

    /// Name (with `nameErrors` deciding its syntax), namespace, labels and annotations.
    static func validate(_ metadata: ObjectMeta, nameErrors: (String) -> [String], path: FieldPath = "metadata") -> [FieldError] {
        var errors: [FieldError] = []
        if metadata.name.isEmpty {
            if metadata.preservedFields["generateName"]?.stringValue?.isEmpty ?? true {
                errors.append(.required(path.child("name"), "name or generateName is required"))
            }
        } else {
            errors += nameErrors(metadata.name).map { .invalid(path.child("name"), .string(metadata.name), $0) }
        }
        if !metadata.namespace.isEmpty {
            errors += KubernetesNames.dns1123LabelErrors(metadata.namespace).map { .invalid(path.child("namespace"), .string(metadata.namespace), $0) }
        }
        if let generation = metadata.generation, generation < 0 {
            errors.append(.invalid(path.child("generation"), .integer(generation), "must be greater than or equal to 0"))
        }
        errors += validateLabels(metadata.labels, path: path.child("labels"))
        errors += validateAnnotations(metadata.annotations, path: path.child("annotations"))
        return errors
    }

    /// Keys must be qualified names and values label values; errors name the map, as Kubernetes does.
    static func validateLabels(_ labels: [String: String], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for key in labels.keys.sorted() {
            errors += KubernetesNames.qualifiedNameErrors(key).map { .invalid(path, .string(key), $0) }
            let value = labels[key] ?? ""
            errors += KubernetesNames.labelValueErrors(value).map { .invalid(path, .string(value), $0) }
        }
        return errors
    }

    static func validateAnnotations(_ annotations: [String: String], path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var total = 0
        for key in annotations.keys.sorted() {
            errors += KubernetesNames.qualifiedNameErrors(key.lowercased()).map { .invalid(path, .string(key), $0) }
            total += key.utf8.count + (annotations[key]?.utf8.count ?? 0)
        }
        if total > totalAnnotationSizeLimit {
            errors.append(.tooLong(path, maximumBytes: totalAnnotationSizeLimit))
        }
        return errors
    }
}

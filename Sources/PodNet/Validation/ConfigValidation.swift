/// The API server's checks of ConfigMaps and Secrets (`ValidateConfigMap`, `ValidateSecret`
/// and their updates), with its messages and field paths. Keys are sorted so that the
/// errors come in a stable order (Go's map order is random).
public enum ConfigValidation {
    /// What a ConfigMap or a Secret may hold in all, in bytes (`MaxSecretSize`).
    public static let maxSize = 1024 * 1024
    static let keyFormat = "[-._a-zA-Z0-9]+"
    static let immutableMessage = "field is immutable when `immutable` is set"

    /// `IsConfigMapKey`: the key of a ConfigMap or Secret, which becomes a file name.
    public static func keyErrors(_ key: String) -> [String] {
        var errors: [String] = []
        if key.utf8.count > KubernetesNames.dns1123SubdomainMaxLength {
            errors.append(KubernetesNames.maxLengthError(KubernetesNames.dns1123SubdomainMaxLength))
        }
        let valid = !key.isEmpty && key.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        if !valid {
            errors.append(KubernetesNames.regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                                     format: keyFormat, examples: ["key.name", "KEY_NAME", "key-name"]))
        }
        if key == "." {
            errors.append("must not be '.'")
        } else if key == ".." {
            errors.append("must not be '..'")
        } else if key.hasPrefix("..") {
            errors.append("must not start with '..'")
        }
        return errors
    }

    public static func validate(_ map: ConfigMap) -> [FieldError] {
        var errors = ObjectMetaValidation.validate(map.metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        var size = 0
        for key in map.data.keys.sorted() {
            errors += keyErrors(key).map { .invalid(FieldPath("data").key(key), .string(key), $0) }
            if map.binaryData[key] != nil { errors.append(.invalid(FieldPath("data").key(key), .string(key), "duplicate of key present in binaryData")) }
            size += map.data[key]!.utf8.count
        }
        for key in map.binaryData.keys.sorted() {
            errors += keyErrors(key).map { .invalid(FieldPath("binaryData").key(key), .string(key), $0) }
            if map.data[key] != nil { errors.append(.invalid(FieldPath("binaryData").key(key), .string(key), "duplicate of key present in data")) }
            size += map.binaryData[key]!.count
        }
        if size > maxSize { errors.append(.tooLong(.root, maximumBytes: maxSize)) }
        return errors
    }

    public static func validateUpdate(_ new: ConfigMap, old: ConfigMap) -> [FieldError] {
        var errors = validate(new)
        guard old.immutable == true else { return errors }
        if new.immutable != true { errors.append(.forbidden(FieldPath("immutable"), immutableMessage)) }
        if new.data != old.data { errors.append(.forbidden(FieldPath("data"), immutableMessage)) }
        if new.binaryData != old.binaryData { errors.append(.forbidden(FieldPath("binaryData"), immutableMessage)) }
        return errors
    }

    /// The keys each built-in secret type requires (`ValidateSecret`); other types need none.
    static func typeErrors(_ secret: Secret) -> [FieldError] {
        let data = FieldPath("data")
        switch secret.type {
        case "kubernetes.io/service-account-token":
            if (secret.metadata.annotations["kubernetes.io/service-account.name"] ?? "").isEmpty {
                return [.required(FieldPath("metadata").child("annotations").key("kubernetes.io/service-account.name"))]
            }
        case "kubernetes.io/dockercfg":
            if secret.data[".dockercfg"] == nil { return [.required(data.key(".dockercfg"))] }
        case "kubernetes.io/dockerconfigjson":
            if secret.data[".dockerconfigjson"] == nil { return [.required(data.key(".dockerconfigjson"))] }
        case "kubernetes.io/basic-auth":
            if secret.data["username"] == nil && secret.data["password"] == nil {
                return [.required(data.key("username")), .required(data.key("password"))]
            }
        case "kubernetes.io/ssh-auth":
            if (secret.data["ssh-privatekey"] ?? []).isEmpty { return [.required(data.key("ssh-privatekey"))] }
        case "kubernetes.io/tls":
            return ["tls.crt", "tls.key"].filter { secret.data[$0] == nil }.map { .required(data.key($0)) }
        default:
            break
        }
        return []
    }

    /// A secret as stored (`stringData` already merged into `data`, see `Secret.applyingDefaults`).
    public static func validate(_ secret: Secret) -> [FieldError] {
        var errors = ObjectMetaValidation.validate(secret.metadata, nameErrors: KubernetesNames.dns1123SubdomainErrors)
        var size = 0
        for key in secret.data.keys.sorted() {
            errors += keyErrors(key).map { .invalid(FieldPath("data").key(key), .string(key), $0) }
            size += secret.data[key]!.count
        }
        errors += typeErrors(secret)
        if size > maxSize { errors.append(.tooLong(FieldPath("data"), maximumBytes: maxSize)) }
        return errors
    }

    public static func validateUpdate(_ new: Secret, old: Secret) -> [FieldError] {
        var errors = validate(new)
        if new.type != old.type { errors.append(.invalid(FieldPath("type"), .string(new.type), "field is immutable")) }
        guard old.immutable == true else { return errors }
        if new.immutable != true { errors.append(.forbidden(FieldPath("immutable"), immutableMessage)) }
        if new.data != old.data { errors.append(.forbidden(FieldPath("data"), immutableMessage)) }
        return errors
    }
}

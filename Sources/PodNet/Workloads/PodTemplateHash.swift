/// The `pod-template-hash` label: what tells the ReplicaSets of one Deployment (and their
/// pods) apart. As the deployment controller computes it — FNV-32a over the template, plus
/// the collision count when there is one, written as a decimal number whose digits are
/// mapped to Kubernetes' safe alphabet (`rand.SafeEncodeString`) — though over podlab's
/// canonical JSON of the template rather than Go's object dump, so the values differ from a
/// real cluster's.
public enum PodTemplateHash {
    public static let label = "pod-template-hash"

    public static func value(of template: PodTemplateSpec, collisionCount: Int32? = nil) -> String {
        var hash: UInt32 = 2_166_136_261
        func add(_ bytes: some Sequence<UInt8>) {
            for byte in bytes {
                hash ^= UInt32(byte)
                hash = hash &* 16_777_619
            }
        }
        add(withoutHash(template).json.jsonText(indent: 0).utf8)
        if let collisionCount {
            // Little-endian, as `binary.LittleEndian.PutUint32` writes it.
            let count = UInt32(bitPattern: collisionCount)
            add([UInt8(count & 0xff), UInt8(count >> 8 & 0xff), UInt8(count >> 16 & 0xff), UInt8(count >> 24)])
        }
        return safeEncode(String(hash))
    }

    static func safeEncode(_ text: String) -> String {
        String(text.utf8.map { SafeAlphabet.characters[Int($0) % SafeAlphabet.characters.count] })
    }

    /// The template without the hash label: how templates are compared (`EqualIgnoreHash`).
    public static func withoutHash(_ template: PodTemplateSpec) -> PodTemplateSpec {
        var template = template
        template.metadata.labels.removeValue(forKey: label)
        return template
    }

    public static func equalIgnoringHash(_ a: PodTemplateSpec, _ b: PodTemplateSpec) -> Bool {
        withoutHash(a) == withoutHash(b)
    }
}

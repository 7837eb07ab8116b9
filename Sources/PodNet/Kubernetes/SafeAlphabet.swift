/// The characters Kubernetes' `rand` package draws from and maps to (`rand.String`,
/// `rand.SafeEncodeString`): no vowels, no look-alikes, so no words and no misreadings.
public enum SafeAlphabet {
    public static let characters = Array("bcdfghjklmnpqrstvwxz2456789")

    /// `count` random characters: the five `generateName` appends, or a name of one's own.
    public static func random(count: Int = 5) -> String {
        String((0..<count).map { _ in characters.randomElement()! })
    }
}

/// Names of a link's `IFF_*` flags (`<linux/if.h>`), as `ip link` prints them between `<` and `>`.
public enum InterfaceFlagNames {
    /// Flag bits under their kernel names, in the order iproute2 prints them.
    static let ordered: [(bit: UInt32, name: String)] = [
        (0x8, "LOOPBACK"),        // IFF_LOOPBACK
        (0x2, "BROADCAST"),       // IFF_BROADCAST
        (0x10, "POINTOPOINT"),    // IFF_POINTOPOINT
        (0x1000, "MULTICAST"),    // IFF_MULTICAST
        (0x80, "NOARP"),          // IFF_NOARP
        (0x200, "ALLMULTI"),      // IFF_ALLMULTI
        (0x100, "PROMISC"),       // IFF_PROMISC
        (0x400, "MASTER"),        // IFF_MASTER
        (0x800, "SLAVE"),         // IFF_SLAVE
        (0x4, "DEBUG"),           // IFF_DEBUG
        (0x8000, "DYNAMIC"),      // IFF_DYNAMIC
        (0x4000, "AUTOMEDIA"),    // IFF_AUTOMEDIA
        (0x2000, "PORTSEL"),      // IFF_PORTSEL
        (0x20, "NOTRAILERS"),     // IFF_NOTRAILERS
        (0x1, "UP"),              // IFF_UP
        (0x10000, "LOWER_UP"),    // IFF_LOWER_UP
        (0x20000, "DORMANT"),     // IFF_DORMANT
        (0x40000, "ECHO"),        // IFF_ECHO
    ]
    static let IFF_UP: UInt32 = 0x1
    static let IFF_RUNNING: UInt32 = 0x40

    /// The names of the set bits of `flags`, as iproute2 prints them: `NO-CARRIER` first for a
    /// link that is up without carrier (`IFF_UP` without `IFF_RUNNING`), `RUNNING` never.
    public static func names(_ flags: UInt32) -> [String] {
        var names: [String] = []
        if flags & IFF_UP != 0 && flags & IFF_RUNNING == 0 { names.append("NO-CARRIER") }
        for (bit, name) in ordered where flags & bit != 0 { names.append(name) }
        return names
    }
}

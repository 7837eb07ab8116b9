@testable import PodlabProxy
import Testing

/// Which mappings the sidecar advises `MADV_RANDOM`: the read-only mappings of files only.
@Suite struct ResidentCodeTests {
    static let maps = """
    55d0c1a00000-55d0c1c00000 r--p 00000000 fd:01 1234                       /usr/lib/podlab/podlab-proxy
    55d0c1c00000-55d0c3e00000 r-xp 00200000 fd:01 1234                       /usr/lib/podlab/podlab-proxy
    55d0c3e00000-55d0c3f00000 rw-p 02400000 fd:01 1234                       /usr/lib/podlab/podlab-proxy
    55d0c4000000-55d0c4100000 rw-p 00000000 00:00 0                          [heap]
    7f0000000000-7f0000021000 rw-p 00000000 00:00 0 
    7f1e2a000000-7f1e2a028000 r--p 00000000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
    7f1e2a028000-7f1e2a1bd000 r-xp 00028000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
    7ffd1b5f0000-7ffd1b5f2000 r-xp 00000000 00:00 0                          [vdso]
    7ffd1b600000-7ffd1b601000 r--p 00000000 fd:01 77                         /opt/with a space/lib.so
    """

    @Test func readOnlyFileMappingsOnly() {
        let mappings = ResidentCode.readOnlyFileMappings(Self.maps)
        #expect(mappings.map(\.path) == ["/usr/lib/podlab/podlab-proxy", "/usr/lib/podlab/podlab-proxy",
                                         "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/opt/with a space/lib.so"])
        #expect(mappings.first == ResidentCode.Mapping(start: 0x55d0c1a00000, end: 0x55d0c1c00000, path: "/usr/lib/podlab/podlab-proxy"))
    }

    @Test func thisProcessHasSuchMappingsAndTheAdviceIsTaken() {
        // The test binary's own text and libc at least (other tests may map more meanwhile).
        let maps = ResidentCode.readFile("/proc/self/maps") ?? ""
        #expect(ResidentCode.readOnlyFileMappings(maps).count >= 2)
        #expect(ResidentCode.adviseRandomAccess() >= 2)
    }
}

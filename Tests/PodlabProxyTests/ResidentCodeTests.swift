@testable import PodlabProxy
import Testing

/// Which mappings the sidecar releases once it serves: the executable's own text only — never
/// read-only data (the loader may have written it before making it read-only), nor libraries.
@Suite struct ResidentCodeTests {
    static let maps = """
    55d0c1a00000-55d0c1c00000 r--p 00000000 fd:01 1234                       /usr/lib/podlab/podlab-proxy
    55d0c1c00000-55d0c3e00000 r-xp 00200000 fd:01 1234                       /usr/lib/podlab/podlab-proxy
    55d0c3e00000-55d0c3f00000 r--p 02400000 fd:01 1234                       /usr/lib/podlab/podlab-proxy
    55d0c3f00000-55d0c3f10000 rw-p 02500000 fd:01 1234                       /usr/lib/podlab/podlab-proxy
    55d0c4000000-55d0c4100000 rw-p 00000000 00:00 0                          [heap]
    7f1e2a028000-7f1e2a1bd000 r-xp 00028000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
    7ffd1b5f0000-7ffd1b5f2000 r-xp 00000000 00:00 0                          [vdso]
    """

    @Test func theExecutablesTextOnly() {
        let mappings = ResidentCode.executableMappings(Self.maps, of: "/usr/lib/podlab/podlab-proxy")
        #expect(mappings == [ResidentCode.Mapping(start: 0x55d0c1c00000, end: 0x55d0c3e00000, path: "/usr/lib/podlab/podlab-proxy")])
        #expect(ResidentCode.executableMappings(Self.maps, of: "/usr/lib/podlab/other").isEmpty)
    }

    @Test func thisProcessReleasesItsTextAndRunsOn() {
        // The test binary's own text is released; the code this test runs comes back as it runs.
        #expect(ResidentCode.releaseStartCode() >= 1)
        #expect(ResidentCode.executableMappings("", of: "/x").isEmpty)
    }
}

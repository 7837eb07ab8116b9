// swift-tools-version: 6.0
import PackageDescription

/// Release builds of the processes that start often (podlab-tools, every built-in container;
/// podlab-cni, every ADD and DEL) carry the Swift runtime inside and start as fast as a process
/// of their size can: libstdc++ and libgcc linked in too (from the directory scripts/install-deps
/// makes, searched before the compiler's own; where it is missing they stay shared libraries),
/// and a position-dependent executable, whose 23 000 relocations of a PIE the loader no longer
/// applies page by page (ARCHITECTURE.md, the CNI plugin).
let fastStartLinkerFlags = ["-static-stdlib", "-L", "/opt/podlab/static-cxx",
                            "-Xclang-linker", "-static-libgcc", "-Xclang-linker", "-no-pie"]

/// Type metadata that release code of the fast-starting processes' modules needs is made by the
/// types' accessor functions, not looked up by mangled name: a lookup demangles the name and
/// searches the binary's protocol conformances at run time, once per type, which cost every ADD
/// of podlab-cni about 0.3 ms of its start (ARCHITECTURE.md, the CNI plugin).
let fastStartSwiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"], .when(configuration: .release)),
]

let package = Package(
    name: "podlab",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PodNet", targets: ["PodNet"]),
        .library(name: "Netns", targets: ["Netns"]),
        .library(name: "Netlink", targets: ["Netlink"]),
        .library(name: "NFTables", targets: ["NFTables"]),
        .library(name: "PodlabTools", targets: ["PodlabTools"]),
        .executable(name: "podlab-tools", targets: ["podlab-tools"]),
        .library(name: "PodlabCNI", targets: ["PodlabCNI"]),
        .executable(name: "podlab-cni", targets: ["podlab-cni"]),
        .executable(name: "podlab-proxy", targets: ["podlab-proxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    ],
    targets: [
        // C libraries, found with pkg-config, headers wrapped in one umbrella each.
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CNftnl", pkgConfig: "libnftnl", providers: [.apt(["libnftnl-dev"])]),
        // zlib: SPDY/3.1's compressed header blocks (kubectl's streaming protocol), gzip image layers.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libzstd: zstd image layers.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // glibc's malloc_trim (not in Swift's Glibc module): the sidecar gives freed pages back.
        .systemLibrary(name: "CMalloc"),
        // _GNU_SOURCE wrappers and macro values Swift cannot import.
        .target(name: "CNetlink"),

        .target(name: "Netns", dependencies: ["CNetlink", "CMnl"], swiftSettings: fastStartSwiftSettings),
        .target(name: "Netlink", dependencies: ["CNetlink", "CMnl", "Netns", "Addressing"], swiftSettings: fastStartSwiftSettings),
        .target(name: "NFTables", dependencies: ["CNetlink", "CMnl", "CNftnl", "Netns", "Addressing"], swiftSettings: fastStartSwiftSettings),
        // IPv4/IPv6 addresses, prefixes and MACs: the only model types the kernel layer needs.
        // Pure Swift without Foundation; PodNet re-exports it.
        .target(name: "Addressing", swiftSettings: fastStartSwiftSettings),
        .target(name: "PodNet", dependencies: ["Addressing", "PodlabImages", "MeshAuthorization", "MeshRouting", .product(name: "Yams", package: "Yams")]),
        // MeshPolicy's rules as plain values and the allow/deny decision: pure Swift without
        // Foundation, shared by the model (PodNet) and the sidecar (PodlabProxy).
        .target(name: "MeshAuthorization"),
        // Route's rules as plain values and the per-request decisions (rule, backend, fault,
        // retry, least-request): pure Swift without Foundation, shared by PodNet and PodlabProxy.
        .target(name: "MeshRouting"),
        // The built-in images' catalog and references: pure Swift without Foundation, shared by
        // the model (PodNet) and the images themselves (PodlabTools).
        .target(name: "PodlabImages"),

        // Control plane: store, scheduler, IPAM, reconcilers, container supervision, HTTP API.
        .target(name: "PodlabAgent", dependencies: [
            "PodNet", "Netns", "Netlink", "NFTables", "CNetlink", "CZlib", "CZstd",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),

        // Benchmarks (run with scripts/bench-*).
        .executableTarget(name: "nftables-bench", dependencies: ["NFTables", "Netns", "PodNet"], path: "Benchmarks/NFTablesBench"),
        // The Service dataplane: full syncs, kube-proxy's layout beside it, connect latency (scripts/bench-services).
        .executableTarget(name: "services-bench", dependencies: ["PodlabAgent", "PodlabCLI", "PodlabTools", "NFTables", "Netlink", "Netns", "PodNet",
                                                                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")],
                          path: "Benchmarks/ServicesBench"),
        // Pod start through the API as Kubernetes' pod-startup SLI measures it (scripts/bench-images).
        .executableTarget(name: "pod-start-bench", dependencies: ["PodlabAgent", "PodlabCLI", .product(name: "NIOCore", package: "swift-nio")],
                          path: "Benchmarks/PodStartBench"),
        .executableTarget(name: "netpol-bench", dependencies: ["PodlabAgent", "NFTables", "Netlink", "Netns", "PodNet"], path: "Benchmarks/NetpolBench"),
        // The API's list path in-process: a list, its pages and kubectl's Table, before and after kept encodings.
        .executableTarget(name: "list-bench", dependencies: ["PodNet"], path: "Benchmarks/ListBench"),
        // The mesh's certificate issue for a new pod: key, signed certificate, the pod's files.
        .executableTarget(name: "mesh-cert-bench", dependencies: ["PodlabAgent", "PodNet"], path: "Benchmarks/MeshCertBench"),
        // The `podlab` command line: kubectl's verbs over the agent's HTTP API, and the lab verbs.
        .target(name: "PodlabCLI", dependencies: [
            "PodNet", "PodlabAgent", "Netns",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // AsyncThrowingChannel: an answer's body handed to the command a part at a time.
            .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
        ]),
        .executableTarget(name: "podlab", dependencies: ["PodlabCLI"]),

        // The built-in container images (web servers, curl, BusyBox applets): plain POSIX
        // sockets, no SwiftNIO or Foundation, so the pods' processes start fast. The DNS zone is
        // a persistent map (HashTreeCollections), changed name by name and published whole.
        .target(name: "PodlabTools", dependencies: ["PodlabImages", "CNetlink", .product(name: "HashTreeCollections", package: "swift-collections")]),
        // Release builds carry the Swift runtime inside: a container starts in ~2 ms instead of
        // ~4 ms spent loading a dozen shared libraries. (Not in debug builds: the test bundle
        // links this target too, and its test libraries exist only as shared ones.)
        .executableTarget(name: "podlab-tools", dependencies: ["PodlabTools"],
                          linkerSettings: [.unsafeFlags(fastStartLinkerFlags, .when(configuration: .release))]),

        // The CNI plugin: config, results, IPAM store and the verbs, on the kernel layer only (no
        // Kubernetes model, YAML, HTTP or Foundation: every ADD pays the process's start-up).
        .target(name: "PodlabCNI", dependencies: ["Addressing", "Netns", "Netlink", "NFTables"], swiftSettings: fastStartSwiftSettings),
        // Release builds carry the Swift runtime inside, as podlab-tools does (fastStartLinkerFlags).
        .executableTarget(name: "podlab-cni", dependencies: ["PodlabCNI"], swiftSettings: fastStartSwiftSettings,
                          linkerSettings: [.unsafeFlags(fastStartLinkerFlags, .when(configuration: .release))]),

        // The mesh's sidecar: SwiftNIO (with NIOSSL for mTLS) and FoundationEssentials only (no Yams, Hummingbird or the
        // model), so each meshed pod's proxy starts fast and stays small.
        .target(name: "PodlabProxy", dependencies: [
            "MeshAuthorization", "MeshRouting", "CMalloc",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // mTLS between sidecars (BoringSSL); the certificates come from the agent.
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
        ]),
        // Release builds link for a fast start and a small resident set: one sidecar per meshed
        // pod, so the shared Swift and Foundation libraries' touched and relocated pages counted
        // in every sidecar's RSS (fastStartLinkerFlags).
        .executableTarget(name: "podlab-proxy", dependencies: ["PodlabProxy"],
                          linkerSettings: [.unsafeFlags(fastStartLinkerFlags + ["-Xlinker", "-l_FoundationCollections", "-Xlinker", "-l_FoundationCShims"],
                                                        .when(configuration: .release))]),

        // Pod setup cost: podlab's netlink path against the same work done with `ip` (not a test).
        .executableTarget(name: "netlink-bench", dependencies: ["Netlink", "Netns", "PodNet"], path: "Benchmarks/NetlinkBench"),

        // Shared helpers for integration tests: unique names, root checks, `ip -j` readers.
        .target(name: "KernelTestSupport", dependencies: ["Netns"], path: "Tests/KernelTestSupport"),

        // The real controller and API with the kernel's part faked, for tests without root.
        .target(name: "AgentTestSupport", dependencies: [
            "PodlabAgent", "PodNet", "Netns",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/AgentTestSupport"),

        .testTarget(name: "PodNetTests", dependencies: ["PodNet"]),
        .testTarget(name: "PodlabCNITests", dependencies: ["PodlabCNI", "podlab-cni", "Netns", "Netlink", "NFTables", "KernelTestSupport"]),
        .testTarget(name: "PodlabAgentTests", dependencies: ["PodlabAgent", "PodNet", "Netns", "Netlink", "NFTables", "AgentTestSupport", "KernelTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                                                             .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto"),
                                                             .product(name: "SwiftASN1", package: "swift-asn1"), .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "NetnsTests", dependencies: ["Netns", "KernelTestSupport"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "Netns", "KernelTestSupport"]),
        .testTarget(name: "NFTablesTests", dependencies: ["NFTables", "Netlink", "Netns", "KernelTestSupport"]),
        .testTarget(name: "PodlabToolsTests", dependencies: ["PodlabTools", "podlab-tools", "PodNet", "Netns", "KernelTestSupport"]),
        .testTarget(name: "PodlabE2ETests", dependencies: ["podlab", "podlab-tools", "podlab-proxy", "Netns", "PodNet", "PodlabAgent", "KernelTestSupport"]),
        .testTarget(name: "PodlabProxyTests", dependencies: ["PodlabProxy", "PodlabAgent", .product(name: "NIOCore", package: "swift-nio"),
                                                             .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                                             .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                                             .product(name: "X509", package: "swift-certificates")]),
        .testTarget(name: "PodlabCLITests", dependencies: [
            "PodlabCLI", "PodNet", "AgentTestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)

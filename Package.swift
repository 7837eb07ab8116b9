// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "podlab",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PodNet", targets: ["PodNet"]),
        .library(name: "Netns", targets: ["Netns"]),
        .library(name: "Netlink", targets: ["Netlink"]),
        .library(name: "NFTables", targets: ["NFTables"]),
    ],
    targets: [
        // C libraries, found with pkg-config, headers wrapped in one umbrella each.
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CNftnl", pkgConfig: "libnftnl", providers: [.apt(["libnftnl-dev"])]),
        // _GNU_SOURCE wrappers and macro values Swift cannot import.
        .target(name: "CNetlink"),

        .target(name: "Netns", dependencies: ["CNetlink", "CMnl"]),
        .target(name: "Netlink", dependencies: ["CNetlink", "CMnl", "Netns", "PodNet"]),
        .target(name: "NFTables", dependencies: ["CNetlink", "CMnl", "CNftnl", "Netns", "PodNet"]),
        .target(name: "PodNet"),

        // Pod setup cost: podlab's netlink path against the same work done with `ip` (not a test).
        .executableTarget(name: "netlink-bench", dependencies: ["Netlink", "Netns", "PodNet"], path: "Benchmarks/NetlinkBench"),

        // Shared helpers for integration tests: unique names, root checks, `ip -j` readers.
        .target(name: "KernelTestSupport", dependencies: ["Netns"], path: "Tests/KernelTestSupport"),

        .testTarget(name: "PodNetTests", dependencies: ["PodNet"]),
        .testTarget(name: "NetnsTests", dependencies: ["Netns", "KernelTestSupport"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "Netns", "KernelTestSupport"]),
        .testTarget(name: "NFTablesTests", dependencies: ["NFTables", "Netlink", "Netns", "KernelTestSupport"]),
    ]
)

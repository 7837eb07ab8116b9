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
        .library(name: "PodlabTools", targets: ["PodlabTools"]),
        .executable(name: "podlab-tools", targets: ["podlab-tools"]),
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
        // The built-in container images (web servers, curl, BusyBox applets): plain POSIX
        // sockets, no SwiftNIO or Foundation, so the pods' processes start fast.
        .target(name: "PodlabTools", dependencies: ["PodNet"]),
        .executableTarget(name: "podlab-tools", dependencies: ["PodlabTools"]),

        // Shared helpers for integration tests: unique names, root checks, `ip -j` readers.
        .target(name: "KernelTestSupport", dependencies: ["Netns"], path: "Tests/KernelTestSupport"),

        .testTarget(name: "PodNetTests", dependencies: ["PodNet"]),
        .testTarget(name: "NetnsTests", dependencies: ["Netns", "KernelTestSupport"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "Netns", "KernelTestSupport"]),
        .testTarget(name: "NFTablesTests", dependencies: ["NFTables", "Netlink", "Netns", "KernelTestSupport"]),
        .testTarget(name: "PodlabToolsTests", dependencies: ["PodlabTools", "podlab-tools", "PodNet", "Netns", "KernelTestSupport"]),
    ]
)

// The address types (IPv4Address, IPv4Prefix, IPv6Address, MACAddress …) live in their own
// module below the kernel layer; everything that imports PodNet sees them as before.
@_exported import Addressing

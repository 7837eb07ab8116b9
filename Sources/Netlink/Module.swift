// Netlink module

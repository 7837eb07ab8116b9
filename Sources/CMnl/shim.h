#ifndef PODLAB_CMNL_SHIM_H
#define PODLAB_CMNL_SHIM_H
/* <netinet/in.h> must come before any linux/ header: libc-compat.h then suppresses the
 * duplicate definitions from <linux/in.h> that would clash with glibc's. */
#include <netinet/in.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_bridge.h>
#include <linux/veth.h>
#include <linux/neighbour.h>
#include <linux/netfilter/nfnetlink.h>
#endif

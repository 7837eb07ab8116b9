#ifndef PODLAB_CMALLOC_SHIM_H
#define PODLAB_CMALLOC_SHIM_H
/* glibc's allocator controls (malloc_trim), which Swift's Glibc module leaves out: the sidecar
 * gives the pages its closed connections freed back to the kernel. */
#include <malloc.h>
#endif

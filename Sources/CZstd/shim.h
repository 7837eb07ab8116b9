#ifndef PODLAB_CZSTD_SHIM_H
#define PODLAB_CZSTD_SHIM_H
/* libzstd: zstd-compressed image layers (application/vnd.oci.image.layer.v1.tar+zstd),
 * decompressed as a stream with ZSTD_decompressStream. */
#include <zstd.h>
#endif

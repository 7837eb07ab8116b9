#ifndef PODLAB_CZLIB_SHIM_H
#define PODLAB_CZLIB_SHIM_H
/* zlib: SPDY/3.1's compressed header blocks (kubectl's streaming protocol) and gzip image layers. */
#include <zlib.h>

/* inflateInit2 is a macro Swift cannot import. 16 + MAX_WBITS: read a gzip (RFC 1952)
 * header and trailer, not zlib's. Returns Z_OK or a zlib error. */
static inline int podlab_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 16 + MAX_WBITS);
}
#endif

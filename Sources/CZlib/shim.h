// zlib, for SPDY/3.1's header blocks (deflate with SPDY's dictionary).
#include <zlib.h>

// zlib's function-like macros as static inline functions Swift can call. Prefix `czlib_`.
#ifndef CZLIB_H
#define CZLIB_H

#include <zlib.h>

#pragma clang assume_nonnull begin

/// Raw deflate (no zlib header), as a ZIP entry needs.
static inline int czlib_deflate_init_raw(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
}

/// Deflate with a gzip wrapper (header, CRC-32, length), as an HTTP `Content-Encoding: gzip` body has.
static inline int czlib_deflate_init_gzip(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, MAX_WBITS + 16, 8, Z_DEFAULT_STRATEGY);
}

static inline int czlib_inflate_init_raw(z_streamp stream) {
    return inflateInit2(stream, -MAX_WBITS);
}

static inline uLong czlib_crc32(uLong crc, const void *_Nullable bytes, size_t count) {
    return crc32_z(crc, (const Bytef *)bytes, count);
}

static inline uLong czlib_crc32_combine(uLong crc1, uLong crc2, long length2) {
    return crc32_combine(crc1, crc2, (z_off_t)length2);
}

#pragma clang assume_nonnull end

#endif

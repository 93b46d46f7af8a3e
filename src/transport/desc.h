/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the transport descriptor: what an exporter publishes for one
 * segment, as bytes a peer receives by any channel.
 *
 * Wire format (little-endian, no padding, 176 bytes in version 1):
 *
 *   off size field
 *     0    4 magic        "EVPT" (0x54505645)
 *     4    2 version      EVP_TDESC_VERSION
 *     6    2 kind         evp_transport_kind_t
 *     8    4 length       bytes of the whole descriptor (176)
 *    12    4 device       the exporter's device of the allocation
 *    16    8 nonce        random, per exporting process
 *    24    8 base_id      the allocation's id within that process
 *    32    8 seg_offset   where the segment starts inside the allocation
 *    40    8 seg_length   the segment's bytes
 *    48    4 mem.magic    the backend memory descriptor (backend/mem.h) of
 *    52    2 mem.version    the whole allocation, field by field
 *    54    2 mem.handle
 *    56    8 mem.size
 *    64    8 mem.offset
 *    72    8 mem.len
 *    80   64 mem.bytes    the handle (CUDA IPC); zero for an fd
 *   144   24 reserved     zero (a reader of this version requires it)
 *   168    8 checksum     FNV-1a 64 of bytes [0, 168)
 *
 * A pure codec: no I/O, no logging, no allocation (a fuzzer drives
 * evp_tdesc_decode directly); messages go to the caller's buffer. */
#ifndef EVPOOL_SRC_TRANSPORT_DESC_H
#define EVPOOL_SRC_TRANSPORT_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "backend/mem.h"

#define EVP_TDESC_MAGIC 0x54505645u /* "EVPT" little-endian */
#define EVP_TDESC_VERSION 1u
#define EVP_TDESC_BYTES 176u

struct evp_tdesc {
    uint16_t kind;
    int32_t device;
    uint64_t nonce, base_id;
    uint64_t seg_offset, seg_length;
    struct evp_mem_desc mem; /* of the whole allocation */
};

/* Writes d into buf (cap >= EVP_TDESC_BYTES). Returns the bytes written, or
 * 0 if cap is too small. */
size_t evp_tdesc_encode(const struct evp_tdesc *d, void *buf, size_t cap);

/* Parses and checks len bytes: size, magic, version, declared length,
 * checksum, reserved bytes, kind (1..3), the memory descriptor (magic,
 * version, one handle type, offset + len within size) and the segment
 * inside it (seg_length > 0, seg_offset + seg_length <= mem.len: the segment
 * lies in the exported range, which starts mem.offset into the allocation).
 * Returns 0 and *out; EVP_EINVAL with a message in err (errlen > 0:
 * always NUL-terminated) naming what is wrong. */
int evp_tdesc_decode(const void *buf, size_t len, struct evp_tdesc *out, char *err, size_t errlen);

/* FNV-1a 64 of n bytes (the checksum). */
uint64_t evp_tdesc_checksum(const void *buf, size_t n);

#endif

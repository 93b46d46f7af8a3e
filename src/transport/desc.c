/* SPDX-License-Identifier: Apache-2.0 */
#include "transport/desc.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "evpool/error.h"

_Static_assert(EVP_MEM_HANDLE_BYTES == 64, "the wire format holds a 64-byte handle");

#define EVP_TDESC_SUM_AT 168u

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t evp_tdesc_checksum(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

size_t evp_tdesc_encode(const struct evp_tdesc *d, void *buf, size_t cap)
{
    if (!d || !buf || cap < EVP_TDESC_BYTES)
        return 0;
    unsigned char *p = buf;
    memset(p, 0, EVP_TDESC_BYTES);
    put32(p + 0, EVP_TDESC_MAGIC);
    put16(p + 4, EVP_TDESC_VERSION);
    put16(p + 6, d->kind);
    put32(p + 8, EVP_TDESC_BYTES);
    put32(p + 12, (uint32_t)d->device);
    put64(p + 16, d->nonce);
    put64(p + 24, d->base_id);
    put64(p + 32, d->seg_offset);
    put64(p + 40, d->seg_length);
    put32(p + 48, d->mem.magic);
    put16(p + 52, d->mem.version);
    put16(p + 54, d->mem.handle);
    put64(p + 56, d->mem.size);
    put64(p + 64, d->mem.offset);
    put64(p + 72, d->mem.len);
    memcpy(p + 80, d->mem.bytes, EVP_MEM_HANDLE_BYTES);
    put64(p + EVP_TDESC_SUM_AT, evp_tdesc_checksum(p, EVP_TDESC_SUM_AT));
    return EVP_TDESC_BYTES;
}

int evp_tdesc_decode(const void *buf, size_t len, struct evp_tdesc *out, char *err, size_t errlen)
{
    const unsigned char *p = buf;
    if (err && errlen)
        err[0] = '\0';
    if (!buf || !out)
        return evp_invalid(err, errlen, "no descriptor");
    /* The fixed head first: a foreign or future descriptor is named as such
     * even when it is shorter than ours. */
    if (len < 8)
        return evp_invalid(err, errlen, "truncated: %zu bytes, a descriptor has %u", len, EVP_TDESC_BYTES);
    if (get32(p) != EVP_TDESC_MAGIC)
        return evp_invalid(err, errlen, "not an evpool transport descriptor (magic 0x%08x)", get32(p));
    uint16_t version = get16(p + 4);
    if (version > EVP_TDESC_VERSION)
        return evp_invalid(err, errlen, "descriptor version %u is newer than this evpool reads (%u)", version,
                           EVP_TDESC_VERSION);
    if (version != EVP_TDESC_VERSION)
        return evp_invalid(err, errlen, "descriptor version %u is not supported (this evpool reads %u)", version,
                           EVP_TDESC_VERSION);
    if (len < EVP_TDESC_BYTES)
        return evp_invalid(err, errlen, "truncated: %zu bytes, a descriptor has %u", len, EVP_TDESC_BYTES);
    uint32_t declared = get32(p + 8);
    if (declared != EVP_TDESC_BYTES)
        return evp_invalid(err, errlen, "declared length %u, version %u descriptors have %u", declared, version,
                           EVP_TDESC_BYTES);
    if (len != EVP_TDESC_BYTES)
        return evp_invalid(err, errlen, "%zu bytes given, the descriptor has %u (trailing bytes)", len,
                           EVP_TDESC_BYTES);
    uint64_t sum = get64(p + EVP_TDESC_SUM_AT);
    if (sum != evp_tdesc_checksum(p, EVP_TDESC_SUM_AT))
        return evp_invalid(err, errlen, "corrupted: checksum mismatch");
    for (unsigned i = 144; i < EVP_TDESC_SUM_AT; i++)
        if (p[i])
            return evp_invalid(err, errlen, "reserved byte %u is not zero", i);
    struct evp_tdesc d;
    memset(&d, 0, sizeof d);
    d.kind = get16(p + 6);
    d.device = (int32_t)get32(p + 12);
    d.nonce = get64(p + 16);
    d.base_id = get64(p + 24);
    d.seg_offset = get64(p + 32);
    d.seg_length = get64(p + 40);
    d.mem.magic = get32(p + 48);
    d.mem.version = get16(p + 52);
    d.mem.handle = get16(p + 54);
    d.mem.size = get64(p + 56);
    d.mem.offset = get64(p + 64);
    d.mem.len = get64(p + 72);
    memcpy(d.mem.bytes, p + 80, EVP_MEM_HANDLE_BYTES);
    if (d.kind < 1 || d.kind > 3)
        return evp_invalid(err, errlen, "unknown transport kind %u", d.kind);
    if (d.device < 0)
        return evp_invalid(err, errlen, "device %d", (int)d.device);
    if (d.mem.magic != EVP_MEM_DESC_MAGIC || d.mem.version != EVP_MEM_DESC_VERSION)
        return evp_invalid(err, errlen, "memory descriptor of another kind or version (magic 0x%08x, version %u)",
                           d.mem.magic, d.mem.version);
    if (d.mem.handle == 0 || (d.mem.handle & (d.mem.handle - 1u)) ||
        !(d.mem.handle & (EVP_MEM_FD | EVP_MEM_FABRIC | EVP_MEM_CUDA_IPC)))
        return evp_invalid(err, errlen, "memory handle type 0x%x", d.mem.handle);
    if (d.mem.len == 0 || d.mem.offset > d.mem.size || d.mem.len > d.mem.size - d.mem.offset)
        return evp_invalid(err, errlen, "memory range %llu+%llu outside its %llu bytes",
                           (unsigned long long)d.mem.offset, (unsigned long long)d.mem.len,
                           (unsigned long long)d.mem.size);
    if (d.seg_length == 0 || d.seg_offset > d.mem.len || d.seg_length > d.mem.len - d.seg_offset)
        return evp_invalid(err, errlen, "segment %llu+%llu outside its allocation of %llu bytes",
                           (unsigned long long)d.seg_offset, (unsigned long long)d.seg_length,
                           (unsigned long long)d.mem.len);
    *out = d;
    return 0;
}

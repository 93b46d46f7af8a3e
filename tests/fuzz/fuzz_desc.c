/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness: the transport descriptor parser, evp_tdesc_decode
 * (src/transport/desc.h), a pure codec that reads bytes from a peer.
 *
 * The first input byte picks a mode and the error buffer; the rest is:
 *   mode 0 (raw)     the bytes handed to the decoder as they are;
 *   mode 1..3        a program: descriptor fields (mostly in range, the
 *                    input says when not), encoded by evp_tdesc_encode,
 *                    then up to 8 mutations (flip a byte, set a field to a
 *                    boundary or input value, truncate, append trailing
 *                    bytes); bit 2 of the first byte re-seals the checksum
 *                    afterwards, so that the field checks behind it are
 *                    reached (half the programs).
 * The bytes given to the decoder lie in a heap block of exactly their
 * length, and the error buffer in one of exactly errlen bytes (256, 1,
 * 2..17, or NULL/0), so ASan reports any read or write past either.
 *
 * Checked for every input:
 *   - the result is 0 or EVP_EINVAL, and it is 0 exactly when an
 *     independent reading of the wire format in this file accepts the
 *     bytes: length 176, magic, version 1, declared length 176, FNV-1a 64
 *     of [0,168) at 168 (computed here, not by evp_tdesc_checksum),
 *     reserved bytes zero, kind 1..3, device >= 0, memory descriptor magic
 *     and version, one known handle type, mem.len > 0 and
 *     mem.offset + mem.len <= mem.size, seg_length > 0 and
 *     seg_offset + seg_length <= mem.len (the exported range, which the
 *     importer maps from: transport.c adds seg_offset to its first byte;
 *     hence also <= mem.size, as desc.h words it); all sums without
 *     wrapping;
 *   - err (errlen > 0) is NUL-terminated within errlen whatever the result,
 *     and on EVP_EINVAL non-empty (errlen > 1) and printable ASCII;
 *   - on 0: every field of *out equals its bytes and evp_tdesc_encode of
 *     *out gives back exactly the input (round trip);
 *   - NULL buf or out is EVP_EINVAL, and err NULL / errlen 0 is accepted.
 * A failed check prints what differs and aborts (libFuzzer keeps the
 * input). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evpool/error.h"
#include "transport/desc.h"

#define SUM_AT 168u
#define MAX_BYTES 512u /* the buffer a program builds (MAX_LEN) */

static void fail(const char *what, const unsigned char *b, size_t len, const char *err)
    __attribute__((noreturn));
static void fail(const char *what, const unsigned char *b, size_t len, const char *err)
{
    fprintf(stderr, "fuzz_desc: invariant failed: %s (%zu bytes, message \"%s\")\n", what, len,
            err ? err : "");
    for (size_t i = 0; i < len && i < EVP_TDESC_BYTES; i++)
        fprintf(stderr, "%02x%s", b[i], i % 16 == 15 ? "\n" : " ");
    fprintf(stderr, "\n");
    abort();
}

/* ---- An independent reading of the wire format ------------------------ */

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Whether a correct decoder accepts the len bytes at b. */
static bool reference_accepts(const unsigned char *b, size_t len)
{
    if (len != EVP_TDESC_BYTES || le(b, 4) != 0x54505645u || le(b + 4, 2) != 1 || le(b + 8, 4) != 176)
        return false;
    if (le(b + SUM_AT, 8) != fnv1a(b, SUM_AT))
        return false;
    for (unsigned i = 144; i < SUM_AT; i++)
        if (b[i])
            return false;
    uint64_t kind = le(b + 6, 2), device = le(b + 12, 4);
    uint64_t seg_off = le(b + 32, 8), seg_len = le(b + 40, 8);
    uint64_t handle = le(b + 54, 2), size = le(b + 56, 8), off = le(b + 64, 8), mlen = le(b + 72, 8);
    if (kind < 1 || kind > 3 || device > INT32_MAX)
        return false;
    if (le(b + 48, 4) != 0x65766d64u || le(b + 52, 2) != 1)
        return false;
    if (handle != 1 && handle != 2 && handle != 4)
        return false;
    if (mlen == 0 || off > size || mlen > size - off)
        return false;
    if (seg_len == 0 || seg_off > mlen || seg_len > mlen - seg_off)
        return false;
    return true;
}

/* On 0: what the decoder returned is what the bytes say. */
static void check_fields(const struct evp_tdesc *d, const unsigned char *b, size_t len, const char *err)
{
    bool same = d->kind == le(b + 6, 2) && (uint32_t)d->device == le(b + 12, 4) && d->nonce == le(b + 16, 8) &&
                d->base_id == le(b + 24, 8) && d->seg_offset == le(b + 32, 8) && d->seg_length == le(b + 40, 8) &&
                d->mem.magic == le(b + 48, 4) && d->mem.version == le(b + 52, 2) && d->mem.handle == le(b + 54, 2) &&
                d->mem.size == le(b + 56, 8) && d->mem.offset == le(b + 64, 8) && d->mem.len == le(b + 72, 8) &&
                memcmp(d->mem.bytes, b + 80, EVP_MEM_HANDLE_BYTES) == 0;
    if (!same)
        fail("accepted, but a decoded field differs from its bytes", b, len, err);
    /* The documented ranges, on the decoded struct. */
    if (d->kind < 1 || d->kind > 3 || d->device < 0 || d->seg_length == 0 || d->mem.len == 0 ||
        d->mem.offset > d->mem.size || d->mem.len > d->mem.size - d->mem.offset ||
        d->seg_offset > d->mem.len || d->seg_length > d->mem.len - d->seg_offset)
        fail("accepted a descriptor outside the documented ranges", b, len, err);
    unsigned char again[EVP_TDESC_BYTES + 8];
    memset(again, 0xa5, sizeof again);
    size_t n = evp_tdesc_encode(d, again, sizeof again);
    if (n != EVP_TDESC_BYTES || n != len || memcmp(again, b, len) != 0)
        fail("accepted, but evp_tdesc_encode of the result is not the input (round trip)", b, len, err);
    for (size_t i = n; i < sizeof again; i++)
        if (again[i] != 0xa5)
            fail("evp_tdesc_encode wrote past the descriptor", b, len, err);
}

/* ---- The decode call and its checks ----------------------------------- */

static void decode_and_check(const unsigned char *bytes, size_t len, unsigned errmode, uint8_t errarg)
{
    /* Exactly len bytes on the heap: ASan sees any read past them. */
    unsigned char *b = malloc(len ? len : 1);
    if (!b)
        abort();
    if (len)
        memcpy(b, bytes, len);
    size_t errlen = errmode == 0 ? 256 : errmode == 1 ? 1 : errmode == 2 ? 2 + errarg % 16u : 0;
    char *err = errlen ? malloc(errlen) : NULL;
    if (errlen && !err)
        abort();
    if (err)
        memset(err, 0x7f, errlen);

    struct evp_tdesc out;
    memset(&out, 0x5a, sizeof out);
    int rc = evp_tdesc_decode(b, len, &out, err, errlen);
    const char *msg = err && memchr(err, '\0', errlen) ? err : NULL;
    if (err && !msg)
        fail("the message is not NUL-terminated within errlen", b, len, NULL);
    if (rc != 0 && rc != EVP_EINVAL) {
        char what[64];
        snprintf(what, sizeof what, "returned %d, neither 0 nor EVP_EINVAL", rc);
        fail(what, b, len, msg);
    }
    bool want = reference_accepts(b, len);
    if ((rc == 0) != want)
        fail(want ? "rejected a valid descriptor" : "accepted an invalid descriptor", b, len, msg);
    if (rc == 0) {
        check_fields(&out, b, len, msg);
    } else if (errlen > 1) {
        if (!msg[0])
            fail("EVP_EINVAL with an empty message", b, len, msg);
        for (const char *c = msg; *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                fail("EVP_EINVAL with a message that is not printable ASCII", b, len, msg);
    }
    free(err);
    free(b);
}

/* ---- Programs: a valid descriptor, then mutations --------------------- */

static const uint8_t *in;
static size_t in_len, in_at;

static uint8_t byte(void)
{
    return in_at < in_len ? in[in_at++] : 0;
}

static uint64_t bytes(int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)byte() << (8 * i);
    return v;
}

/* v reduced to [0, max]. */
static uint64_t upto(uint64_t max, uint64_t v)
{
    return max == UINT64_MAX ? v : v % (max + 1);
}

/* A size: small, a power of two, near the top, or any 64-bit value. */
static uint64_t some_size(void)
{
    uint8_t how = byte();
    switch (how & 3) {
    case 0: return bytes(2);
    case 1: return (uint64_t)1 << (how >> 2) % 64;
    case 2: return UINT64_MAX - (how >> 2);
    default: return bytes(8);
    }
}

static void put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The fields (offset, size) a mutation may set. */
static const struct { uint8_t at, n; } fields[] = {
    {0, 4}, {4, 2}, {6, 2}, {8, 4}, {12, 4}, {16, 8}, {24, 8}, {32, 8}, {40, 8},
    {48, 4}, {52, 2}, {54, 2}, {56, 8}, {64, 8}, {72, 8}, {80, 8}, {144, 8}, {160, 8}, {168, 8},
};

static const uint64_t boundary[] = {
    0, 1, 2, 3, 4, 7, 8, 175, 176, 177, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000u, 0xffffffffu,
    0x54505645u, 0x65766d64u, UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 63,
};

static size_t program(unsigned char *b)
{
    struct evp_tdesc d;
    memset(&d, 0, sizeof d);
    uint8_t k = byte(), dev = byte(), h = byte(), wild = byte();
    d.kind = (k & 0xc0) == 0xc0 ? (uint16_t)bytes(2) : (uint16_t)(1 + k % 3);
    d.device = dev & 0x80 ? (int32_t)(uint32_t)bytes(4) : dev % 8;
    d.nonce = bytes(8);
    d.base_id = bytes(8);
    uint16_t handle = h & 0x80 ? (uint16_t)bytes(2) : (uint16_t)(1u << h % 3);
    /* In range unless a bit of `wild` says otherwise. */
    uint64_t size = some_size();
    uint64_t off = wild & 1 ? some_size() : upto(size, bytes(8));
    uint64_t mlen = wild & 2 ? some_size() : off <= size ? 1 + upto(size - off - (size > off), bytes(8)) : 1;
    if (!(wild & 2) && size == off)
        mlen = wild & 4 ? 0 : 1; /* no room: out of range either way */
    if (wild & 8)
        mlen = 0;
    evp_mem_desc_init(&d.mem, (enum evp_mem_handle)handle, size, off, mlen);
    if (wild & 16)
        d.mem.magic ^= (uint32_t)1 << byte() % 32;
    if (wild & 32)
        d.mem.version = (uint16_t)bytes(2);
    d.seg_offset = wild & 64 ? some_size() : upto(mlen ? mlen - 1 : 0, bytes(8));
    d.seg_length = wild & 128 ? some_size() : 1 + upto(mlen > d.seg_offset ? mlen - d.seg_offset - 1 : 0, bytes(8));
    for (int i = 0; i < EVP_MEM_HANDLE_BYTES; i++)
        d.mem.bytes[i] = byte();

    memset(b, 0, MAX_BYTES);
    if (evp_tdesc_encode(&d, b, EVP_TDESC_BYTES - 1) != 0)
        fail("evp_tdesc_encode into 175 bytes did not refuse", b, 0, NULL);
    size_t len = evp_tdesc_encode(&d, b, MAX_BYTES);
    if (len != EVP_TDESC_BYTES)
        fail("evp_tdesc_encode did not write 176 bytes", b, len, NULL);

    for (int m = byte() % 9; m > 0; m--) {
        uint8_t op = byte();
        switch (op & 3) {
        case 0: { /* flip bits of one byte */
            size_t at = byte() % EVP_TDESC_BYTES;
            b[at] ^= (unsigned char)(byte() | 1);
            break;
        }
        case 1: { /* a field to a boundary or input value */
            size_t f = (op >> 2) % (sizeof fields / sizeof fields[0]);
            uint8_t v = byte();
            uint64_t val = v & 0x80 ? bytes(8) : boundary[v % (sizeof boundary / sizeof boundary[0])];
            put(b + fields[f].at, val, fields[f].n);
            break;
        }
        case 2: /* truncate */
            len = upto(len, byte());
            break;
        default: { /* trailing bytes */
            size_t n = 1 + byte() % 32;
            for (size_t i = 0; i < n && len < MAX_BYTES; i++)
                b[len++] = byte();
            break;
        }
        }
    }
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    unsigned errmode = (mode >> 3) & 3;
    uint8_t errarg = (uint8_t)(mode >> 5);
    if ((mode & 3) == 0) {
        decode_and_check(data + 1, size - 1, errmode, errarg);
    } else {
        static unsigned char b[MAX_BYTES];
        in = data + 1;
        in_len = size - 1;
        in_at = 0;
        size_t len = program(b);
        if ((mode & 4) && len >= EVP_TDESC_BYTES)
            put(b + SUM_AT, fnv1a(b, SUM_AT), 8);
        decode_and_check(b, len, errmode, errarg);
    }

    /* The argument checks (cheap; every input). */
    struct evp_tdesc out;
    char err[8];
    unsigned char one = 0;
    if (evp_tdesc_decode(NULL, EVP_TDESC_BYTES, &out, err, sizeof err) != EVP_EINVAL || !memchr(err, 0, sizeof err) ||
        !err[0])
        fail("NULL buf is not EVP_EINVAL with a message", &one, 0, NULL);
    if (evp_tdesc_decode(&one, 1, NULL, NULL, 0) != EVP_EINVAL)
        fail("NULL out is not EVP_EINVAL", &one, 0, NULL);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The transport layer on the host kind, in one process (a segment exported
 * here is imported here too: a second mapping of the same memfd):
 *   - the descriptor codec: round trip; every truncation, every flipped
 *     byte, a foreign magic, a future version, trailing bytes, a bad kind
 *     or range (re-checksummed, so the field check itself is what fails):
 *     EVP_EINVAL with a message, never a crash;
 *   - import of malformed descriptors, of another kind, without the fd;
 *   - out-of-bounds and malformed requests: EVP_EINVAL, nothing enqueued,
 *     no lease taken, the sub-batch still usable; too many requests:
 *     EVP_ENOSPC; the bytes of a good request land;
 *   - registration widening and its errors, mem_free while registered,
 *     imports shared per allocation, uninstall idempotent and closing
 *     every import (fd counts), calls after it EVP_ESTALE. */
#include <string.h>
#include <unistd.h>

#include "batch_host.h"
#include "harness.h"
#include "peer.h"
#include "transport/desc.h"

static evp_transport_t *open_host(void)
{
    evp_config_t c = evp_test_config("EVPOOL_SIZE", "8", "EVPOOL_BATCH_TASKS", "8", NULL);
    evp_transport_t *t = NULL;
    CHECK_RC(evp_transport_open(EVP_TRANSPORT_HOST, &c, &t), 0);
    CHECK_EQ(evp_transport_kind(t), EVP_TRANSPORT_HOST);
    CHECK(strcmp(evp_transport_name(t), "host") == 0);
    CHECK(evp_transport_caps(t) & EVP_TRANSPORT_CAP_HOST_HOST);
    CHECK_EQ(evp_transport_device_count(t), EVP_HOST_DEVICES);
    return t;
}

static struct evp_tdesc sample_desc(void)
{
    struct evp_tdesc d;
    memset(&d, 0, sizeof d);
    d.kind = EVP_TRANSPORT_NVLINK;
    d.device = 1;
    d.nonce = 0x1122334455667788ull;
    d.base_id = 42;
    d.seg_offset = 100;
    d.seg_length = 900;
    evp_mem_desc_init(&d.mem, EVP_MEM_CUDA_IPC, 4096, 0, 4096);
    for (int i = 0; i < EVP_MEM_HANDLE_BYTES; i++)
        d.mem.bytes[i] = (uint8_t)(i * 7 + 1);
    return d;
}

/* Re-seals a modified descriptor so that the field check, not the
 * checksum, must catch it. */
static void reseal(unsigned char *b)
{
    uint64_t s = evp_tdesc_checksum(b, 168);
    for (int i = 0; i < 8; i++)
        b[168 + i] = (unsigned char)(s >> (8 * i));
}

static void expect_bad(const unsigned char *b, size_t len, const char *needle)
{
    struct evp_tdesc out;
    char err[256];
    CHECK_RC(evp_tdesc_decode(b, len, &out, err, sizeof err), EVP_EINVAL);
    CHECK(err[0] != '\0');
    if (needle && !strstr(err, needle))
        evp_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", err, needle);
}

static void test_desc_codec(void)
{
    struct evp_tdesc d = sample_desc(), out;
    unsigned char b[EVP_TRANSPORT_DESC_MAX + 8], m[sizeof b];
    CHECK_EQ(evp_tdesc_encode(&d, b, 10), 0);
    size_t n = evp_tdesc_encode(&d, b, sizeof b);
    CHECK_EQ(n, EVP_TDESC_BYTES);
    CHECK(n <= EVP_TRANSPORT_DESC_MAX);
    char err[256];
    CHECK_RC(evp_tdesc_decode(b, n, &out, err, sizeof err), 0);
    CHECK(memcmp(&out.mem, &d.mem, sizeof d.mem) == 0);
    CHECK_EQ(out.kind, d.kind);
    CHECK_EQ(out.device, 1);
    CHECK(out.nonce == d.nonce && out.base_id == 42 && out.seg_offset == 100 && out.seg_length == 900);

    for (size_t len = 0; len < n; len++)
        expect_bad(b, len, NULL); /* every truncation */
    expect_bad(b, 3, "truncated");
    expect_bad(b, n - 1, "truncated");
    expect_bad(NULL, n, "no descriptor");
    memcpy(m, b, n);
    m[n] = 0;
    expect_bad(m, n + 1, "trailing");
    for (size_t i = 0; i < n; i++) /* every byte flipped */
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(m, b, n);
            m[i] ^= (unsigned char)(1u << bit);
            expect_bad(m, n, NULL);
        }
    memcpy(m, b, n);
    m[100] ^= 1;
    expect_bad(m, n, "checksum");
    memcpy(m, b, n);
    m[0] = 'X';
    expect_bad(m, n, "not an evpool transport descriptor");
    memcpy(m, b, n);
    m[4] = 2; /* version 2: from the future, even if shorter or longer */
    expect_bad(m, n, "newer");
    expect_bad(m, 40, "newer");
    m[4] = 0;
    expect_bad(m, n, "not supported");
    struct {
        size_t at;
        unsigned char v;
        const char *msg;
    } fields[] = {
        {8, 200, "declared length"},  {6, 9, "unknown transport kind"}, {15, 0x80, "device"},
        {48, 0, "memory descriptor"}, {54, 3, "handle type"},          {54, 0, "handle type"},
        {150, 1, "reserved"},         {41, 0x10, "segment"},           {72, 0, "memory range"},
        {33, 0x10, "segment"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        memcpy(m, b, n);
        m[fields[i].at] = fields[i].v;
        if (fields[i].at == 72) /* mem.len 0 */
            memset(m + 72, 0, 8);
        reseal(m);
        expect_bad(m, n, fields[i].msg);
    }
    /* Random garbage of every length up to 300 never decodes. */
    uint64_t x = 99;
    for (size_t len = 0; len < 300; len++) {
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            m[i % sizeof m] = (unsigned char)x;
        }
        CHECK_RC(evp_tdesc_decode(m, len < sizeof m ? len : sizeof m, &out, err, sizeof err), EVP_EINVAL);
    }
}

/* A segment of `len` bytes at `off` inside a fresh allocation of `alloc`;
 * exported into desc. */
static evp_segment_t make_segment(evp_transport_t *t, size_t alloc, size_t off, size_t len, void **base,
                                  unsigned char *desc, size_t *dlen, int *fd)
{
    CHECK_RC(evp_transport_mem_alloc(t, 0, alloc, base), 0);
    evp_segment_t s = EVP_SEGMENT_NONE;
    CHECK_RC(evp_transport_register(t, (char *)*base + off, len, &s), 0);
    CHECK(s != EVP_SEGMENT_NONE);
    CHECK_RC(evp_transport_export(t, s, desc, EVP_TRANSPORT_DESC_MAX, dlen, fd), 0);
    CHECK(*fd >= 0);
    return s;
}

static evp_batch_status_t poll_done(evp_transport_t *t, evp_batch_t b)
{
    return wait_terminal_any(NULL, t, b, 30000, 50000);
}

static void test_import_errors(void)
{
    evp_transport_t *t = open_host();
    unsigned char desc[EVP_TRANSPORT_DESC_MAX], bad[EVP_TRANSPORT_DESC_MAX];
    size_t dlen = 0;
    int fd = -1;
    void *base;
    evp_segment_t local = make_segment(t, 8192, 100, 4000, &base, desc, &dlen, &fd);
    evp_segment_t s;
    CHECK_RC(evp_transport_import(t, desc, dlen - 1, fd, -1, &s), EVP_EINVAL); /* truncated */
    memcpy(bad, desc, dlen);
    bad[60] ^= 0x40;
    CHECK_RC(evp_transport_import(t, bad, dlen, fd, -1, &s), EVP_EINVAL); /* corrupted */
    memcpy(bad, desc, dlen);
    bad[6] = EVP_TRANSPORT_NVLINK;
    reseal(bad);
    CHECK_RC(evp_transport_import(t, bad, dlen, fd, -1, &s), EVP_EINVAL); /* another kind */
    CHECK_RC(evp_transport_import(t, desc, dlen, -1, -1, &s), EVP_EINVAL); /* no fd */
    CHECK_RC(evp_transport_import(t, desc, dlen, fd, EVP_HOST_DEVICES, &s), EVP_EINVAL);
    CHECK_RC(evp_transport_import(t, NULL, dlen, fd, -1, &s), EVP_EINVAL);
    CHECK_RC(evp_transport_import(t, desc, dlen, fd, -1, NULL), EVP_EINVAL);
    /* Good: twice, sharing one mapping; unimport of a local segment, twice. */
    evp_segment_t s1, s2;
    CHECK_RC(evp_transport_import(t, desc, dlen, fd, -1, &s1), 0);
    CHECK_RC(evp_transport_import(t, desc, dlen, -1, -1, &s2), 0); /* cached: no fd needed */
    void *a1, *a2;
    uint64_t l1;
    int dev;
    CHECK_RC(evp_transport_segment(t, s1, &a1, &l1, &dev), 0);
    CHECK_RC(evp_transport_segment(t, s2, &a2, NULL, NULL), 0);
    CHECK(a1 == a2 && l1 == 4000 && dev == 0);
    CHECK(a1 != (char *)base + 100); /* a mapping of its own */
    CHECK_RC(evp_transport_unimport(t, local), EVP_EINVAL);
    CHECK_RC(evp_transport_unimport(t, s1), 0);
    CHECK_RC(evp_transport_unimport(t, s1), EVP_EINVAL);
    CHECK_RC(evp_transport_unimport(t, s2), 0);
    CHECK_RC(evp_transport_segment(t, s2, NULL, NULL, NULL), EVP_EINVAL);
    CHECK_RC(evp_transport_close(t), 0);
}

static void test_register_errors(void)
{
    evp_transport_t *t = open_host();
    static char not_shareable[64];
    evp_segment_t s;
    CHECK_RC(evp_transport_register(t, not_shareable, sizeof not_shareable, &s), EVP_EINVAL);
    void *base;
    CHECK_RC(evp_transport_mem_alloc(t, 0, 0, &base), EVP_EINVAL);
    CHECK_RC(evp_transport_mem_alloc(t, EVP_HOST_DEVICES, 64, &base), EVP_EINVAL);
    CHECK_RC(evp_transport_mem_alloc(t, 3, 4096, &base), 0);
    CHECK_RC(evp_transport_register(t, (char *)base + 4000, 97, &s), EVP_EINVAL); /* overruns */
    CHECK_RC(evp_transport_register(t, base, 0, &s), EVP_EINVAL);
    CHECK_RC(evp_transport_register(t, (char *)base + 4000, 96, &s), 0);
    int dev = -1;
    CHECK_RC(evp_transport_segment(t, s, NULL, NULL, &dev), 0);
    CHECK_EQ(dev, 3);
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t dlen;
    int fd;
    CHECK_RC(evp_transport_export(t, s, desc, 100, &dlen, &fd), EVP_EINVAL); /* too small */
    CHECK_RC(evp_transport_export(t, s + 1, desc, sizeof desc, &dlen, &fd), EVP_EINVAL);
    CHECK_RC(evp_transport_mem_free(t, base), EVP_EBUSY);
    CHECK_RC(evp_transport_mem_free(t, (char *)base + 1), EVP_EINVAL);
    CHECK_RC(evp_transport_unregister(t, s), 0);
    CHECK_RC(evp_transport_unregister(t, s), EVP_EINVAL);
    CHECK_RC(evp_transport_mem_free(t, base), 0);
    evp_transport_t *bad = NULL;
    CHECK_RC(evp_transport_open((evp_transport_kind_t)77, NULL, &bad), EVP_EINVAL);
    CHECK(bad == NULL);
    CHECK_RC(evp_transport_close(t), 0);
    CHECK_RC(evp_transport_close(NULL), 0);
}

static void test_bad_requests(void)
{
    evp_transport_t *t = open_host();
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t dlen;
    int fd;
    void *base;
    enum { SEG = 1000 };
    make_segment(t, 4096, 17, SEG, &base, desc, &dlen, &fd);
    evp_segment_t s;
    CHECK_RC(evp_transport_import(t, desc, dlen, fd, -1, &s), 0);
    unsigned char *src = malloc(2 * SEG), *dst = malloc(2 * SEG);
    CHECK(src && dst);
    fill_pattern(src, 2 * SEG, 5);
    evp_batch_t b;
    CHECK_RC(evp_transport_batch_alloc(t, 4, &b), 0);
    evp_xfer_req_t good = {EVP_XFER_WRITE, src, s, 0, SEG};
    evp_xfer_req_t bads[] = {
        {EVP_XFER_WRITE, src, s, 1, SEG},                  /* one byte past the end */
        {EVP_XFER_WRITE, src, s, SEG + 1, 0},              /* offset past the end */
        {EVP_XFER_READ, dst, s, UINT64_MAX, 2},            /* offset + length wraps */
        {EVP_XFER_READ, dst, s, 2, UINT64_MAX - 1},        /* length wraps */
        {EVP_XFER_WRITE, NULL, s, 0, 16},                  /* no local address */
        {(evp_xfer_op_t)7, src, s, 0, 16},                 /* unknown op */
        {EVP_XFER_WRITE, src, s + 1, 0, 16},               /* not a segment */
        {EVP_XFER_WRITE, src, EVP_SEGMENT_NONE, 0, 16},
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        evp_xfer_req_t two[2] = {good, bads[i]}; /* the good one must not go either */
        CHECK_RC(evp_transport_submit(t, b, two, 2, NULL), EVP_EINVAL);
    }
    CHECK_RC(evp_transport_submit(t, b, NULL, 1, NULL), EVP_EINVAL);
    CHECK_RC(evp_transport_submit(t, b, &good, 0, NULL), EVP_EINVAL);
    evp_batch_stats_t st;
    evp_transport_batch_stats(t, &st);
    CHECK_EQ(st.leases, 0);
    CHECK_EQ(st.tasks, 0);
    evp_batch_status_t bs;
    CHECK_RC(evp_transport_status(t, b, &bs), 0);
    CHECK_EQ(bs.status, EVP_TASK_INITIAL); /* nothing enqueued, nothing lost */
    /* Too many requests: EVP_ENOSPC, nothing enqueued. */
    evp_xfer_req_t five[5];
    for (int i = 0; i < 5; i++)
        five[i] = (evp_xfer_req_t){EVP_XFER_WRITE, src + 200 * i, s, 200 * (uint64_t)i, 200};
    CHECK_RC(evp_transport_submit(t, b, five, 5, NULL), EVP_ENOSPC);
    evp_transport_batch_stats(t, &st);
    CHECK_EQ(st.tasks, 0);
    /* Then the good ones, in two submits (append-only: tasks 0..3). */
    uint32_t first = 99;
    CHECK_RC(evp_transport_submit(t, b, five, 3, &first), 0);
    CHECK_EQ(first, 0);
    CHECK_RC(evp_transport_submit(t, b, five + 3, 2, &first), EVP_ENOSPC);
    CHECK_RC(evp_transport_submit(t, b, five + 3, 1, &first), 0);
    CHECK_EQ(first, 3);
    CHECK_RC(evp_transport_submit(t, b, five + 4, 1, &first), EVP_ENOSPC);
    bs = poll_done(t, b);
    CHECK_EQ(bs.status, EVP_TASK_COMPLETED);
    CHECK_EQ(bs.transferred_bytes, 800);
    CHECK_RC(evp_transport_task_status(t, b, 3, &bs), 0);
    CHECK_EQ(bs.status, EVP_TASK_COMPLETED);
    CHECK_EQ(bs.transferred_bytes, 200);
    CHECK_RC(evp_transport_task_status(t, b, 4, &bs), EVP_EINVAL);
    /* The exporter's memory (base + 17) holds them. */
    CHECK(memcmp((char *)base + 17, src, 800) == 0);
    CHECK_RC(evp_transport_batch_free(t, b), 0);
    CHECK_RC(evp_transport_batch_free(t, b), EVP_ESTALE);
    /* A READ of the whole segment, exactly to its end. */
    CHECK_RC(evp_transport_batch_alloc(t, 0, &b), 0);
    evp_xfer_req_t rd = {EVP_XFER_READ, dst, s, 0, SEG};
    CHECK_RC(evp_transport_submit(t, b, &rd, 1, NULL), 0);
    CHECK_EQ(poll_done(t, b).status, EVP_TASK_COMPLETED);
    CHECK(memcmp(dst, (char *)base + 17, SEG) == 0);
    CHECK_RC(evp_transport_batch_free(t, b), 0);
    CHECK_RC(evp_transport_close(t), 0);
    free(src);
    free(dst);
}

/* Uninstall with imports, registrations, allocations and a freed sub-batch
 * whose 1 MiB copy may still be in flight: everything closes, fds
 * included; a second uninstall is a no-op; calls after it EVP_ESTALE. */
static void test_uninstall(void)
{
    int fds0 = count_fds();
    evp_transport_t *t = open_host();
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t dlen;
    int fd;
    void *base;
    make_segment(t, 1 << 20, 0, 1 << 20, &base, desc, &dlen, &fd);
    evp_segment_t s;
    CHECK_RC(evp_transport_import(t, desc, dlen, fd, 1, &s), 0);
    char *local = malloc(1 << 20);
    CHECK(local);
    memset(local, 0x5a, 1 << 20);
    evp_batch_t b;
    CHECK_RC(evp_transport_batch_alloc(t, 0, &b), 0);
    evp_xfer_req_t w = {EVP_XFER_WRITE, local, s, 0, 1 << 20};
    CHECK_RC(evp_transport_submit(t, b, &w, 1, NULL), 0);
    CHECK_RC(evp_transport_batch_free(t, b), 0); /* in flight or not: never blocks */
    CHECK_RC(evp_transport_uninstall(t), 0);     /* waits, then closes all */
    CHECK_RC(evp_transport_uninstall(t), 0);
    CHECK_RC(evp_transport_submit(t, b, &w, 1, NULL), EVP_ESTALE);
    CHECK_RC(evp_transport_import(t, desc, dlen, fd, 1, &s), EVP_ESTALE);
    CHECK_RC(evp_transport_mem_alloc(t, 0, 64, &base), EVP_ESTALE);
    CHECK_RC(evp_transport_close(t), 0);
    CHECK_EQ(count_fds(), fds0); /* the memfd and every mapping are gone */
    free(local);
}

int main(void)
{
    TEST(test_desc_codec);
    TEST(test_import_errors);
    TEST(test_register_errors);
    TEST(test_bad_requests);
    TEST(test_uninstall);
    return 0;
}

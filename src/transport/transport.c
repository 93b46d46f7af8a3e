/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the transport: segment tables, descriptors and sub-batches, the
 * same for every kind (kind.h holds what differs).
 *
 * Ownership. The transport owns:
 *   - bases: allocations it exports (local). One per allocation, sorted by
 *     address (the submit path finds a local buffer's device in it), each
 *     holding a backend memory object of the WHOLE allocation: made by
 *     mem_alloc (owned: freed by mem_free / uninstall) or attached to the
 *     caller's allocation at register (forgotten with its last segment).
 *   - imports: peers' allocations mapped here, one per allocation (a CUDA
 *     IPC handle is opened once per base), refcounted by their segments,
 *     released with the last one or at uninstall.
 *   - segments: a table of {local|imported, address, length, device}; a
 *     handle is {slot + 1: 24 bits, generation: 40 bits}.
 * All three change under the write lock; submit resolves under the read
 * lock and releases it before enqueuing (the memory itself must outlive
 * the work: the caller's contract, as in every engine).
 * The sub-batch library (batch.h) owns events, streams and sub-batches. */
#include "evpool/transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/fdpass.h"
#include "backend/mem.h"
#include "base/log.h"
#include "transport/desc.h"
#include "transport/kind.h"

#define EVP_SEG_SLOT_BITS 24
#define EVP_SEG_SLOT_MAX ((1u << EVP_SEG_SLOT_BITS) - 1)
#define EVP_SEG_GEN_MASK ((UINT64_C(1) << 40) - 1)

struct evp_tbase {
    char *addr;
    size_t size;
    int device;
    bool owned;               /* made by mem_alloc */
    uint64_t id;              /* process-wide, with the nonce names it to importers */
    uint32_t segs;            /* registered segments inside */
    evp_mem_t *mem;           /* the whole allocation; owned by this entry */
    struct evp_mem_desc desc; /* its export, made once */
    int fd;                   /* host: the memfd (owned by mem), else -1 */
};

struct evp_timport {
    uint64_t nonce, base_id;
    unsigned char handle[EVP_MEM_HANDLE_BYTES];
    int device;
    uint32_t refs; /* imported segments using it */
    evp_mem_t *mem; /* owned: released with the last segment */
};

enum { EVP_SEG_FREE = 0, EVP_SEG_LOCAL, EVP_SEG_IMPORTED };

struct evp_tseg {
    uint64_t gen; /* of the handle now issued on this slot */
    int type;     /* EVP_SEG_* */
    char *addr;
    uint64_t len;
    int device;
    struct evp_tbase *base;     /* LOCAL */
    struct evp_timport *import; /* IMPORTED */
};

struct evp_transport {
    const struct evp_tkind *kind;
    struct evp_tkind_sel sel; /* what it exports, imports, can do (kind.select) */
    const struct evp_backend *be;      /* what the batch layer resolved (maybe the fault wrapper) */
    const struct evp_backend *copy_be; /* copies (the real backend if the wrapper has none) */
    const struct evp_backend_mem *mem; /* export/import */
    int ndev;
    evp_batch_lib_t *lib;
    _Atomic int uninstalled;
    pthread_rwlock_t lock; /* bases, imports, segs */
    struct evp_tbase **bases; /* sorted by addr */
    size_t nbases, capbases;
    struct evp_timport **imports;
    size_t nimports, capimports;
    struct evp_tseg *segs;
    uint32_t nsegs, capsegs;
    uint64_t next_gen;
};

/* ---- process identity --------------------------------------------------- */

static pthread_once_t evp_tnonce_once = PTHREAD_ONCE_INIT;
static uint64_t evp_tnonce;
static _Atomic uint64_t evp_tbase_ids;

static void evp_tnonce_init(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)(uintptr_t)&r ^ ((uint64_t)getpid() << 32);
    evp_tnonce = r ^ (uint64_t)getpid();
}

static uint64_t evp_transport_nonce(void)
{
    pthread_once(&evp_tnonce_once, evp_tnonce_init);
    return evp_tnonce;
}

/* ---- growable arrays ----------------------------------------------------- */

static int evp_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elem);
    if (!p)
        return EVP_ENOMEM;
    *arr = p;
    *cap = n;
    return 0;
}

/* ---- lookups (lock held) ------------------------------------------------- */

/* The base holding addr, or NULL. Bases never overlap (allocations). */
static struct evp_tbase *evp_tbase_find(const evp_transport_t *t, const void *addr, size_t *pos)
{
    size_t lo = 0, hi = t->nbases;
    uintptr_t a = (uintptr_t)addr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)t->bases[mid]->addr <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo; /* where a base at addr would be inserted */
    if (lo == 0)
        return NULL;
    struct evp_tbase *b = t->bases[lo - 1];
    return a - (uintptr_t)b->addr < b->size ? b : NULL;
}

static struct evp_tseg *evp_tseg_find(const evp_transport_t *t, evp_segment_t h)
{
    uint32_t slot = (uint32_t)(h & EVP_SEG_SLOT_MAX);
    if (slot == 0 || slot > t->nsegs)
        return NULL;
    struct evp_tseg *s = &t->segs[slot - 1];
    return s->type != EVP_SEG_FREE && s->gen == h >> EVP_SEG_SLOT_BITS ? s : NULL;
}

/* A free slot for a new segment; *h its handle. */
static struct evp_tseg *evp_tseg_new(evp_transport_t *t, evp_segment_t *h)
{
    uint32_t i = 0;
    while (i < t->nsegs && t->segs[i].type != EVP_SEG_FREE)
        i++;
    if (i == t->nsegs) {
        size_t cap = t->capsegs;
        if (i >= EVP_SEG_SLOT_MAX || evp_grow((void **)&t->segs, &cap, (size_t)i + 1, sizeof *t->segs))
            return NULL;
        t->capsegs = (uint32_t)cap;
        t->nsegs++;
    }
    struct evp_tseg *s = &t->segs[i];
    memset(s, 0, sizeof *s);
    t->next_gen = (t->next_gen + 1) & EVP_SEG_GEN_MASK;
    if (t->next_gen == 0)
        t->next_gen = 1;
    s->gen = t->next_gen;
    *h = (s->gen << EVP_SEG_SLOT_BITS) | (i + 1);
    return s;
}

static int evp_transport_live(evp_transport_t *t)
{
    if (!t)
        return EVP_EINVAL;
    /* Acquire pairs with uninstall's release store (which must not race
     * with other calls anyway; this only reports use after it). */
    return atomic_load_explicit(&t->uninstalled, memory_order_acquire) ? EVP_ESTALE : 0;
}

/* ---- open / uninstall / close -------------------------------------------- */

static const struct evp_tkind *evp_tkind_of(evp_transport_kind_t kind)
{
    switch (kind) {
    case EVP_TRANSPORT_HOST: return &evp_tkind_host;
    case EVP_TRANSPORT_NVLINK: return &evp_tkind_nvlink;
    case EVP_TRANSPORT_MNNVL: return &evp_tkind_mnnvl;
    default: return NULL;
    }
}

int evp_transport_open(evp_transport_kind_t kind, const evp_config_t *cfg, evp_transport_t **out)
{
    char err[512];
    const struct evp_tkind *k = evp_tkind_of(kind);
    if (!out || !k) {
        evp_error("transport open: %s", !out ? "no out pointer" : "unknown kind");
        return EVP_EINVAL;
    }
    evp_config_t c;
    int rc = 0;
    if (cfg) {
        c = *cfg;
    } else {
        evp_config_init(&c);
        rc = evp_config_load_env(&c, err, sizeof err);
    }
    if (rc == 0)
        rc = evp_config_set_u64(&c, EVP_KNOB_BACKEND, k->backend, err, sizeof err);
    if (rc) {
        evp_error("transport %s: invalid configuration: %s", k->name, err);
        return EVP_EINVAL;
    }
    evp_transport_t *t = calloc(1, sizeof *t);
    if (!t)
        return EVP_ENOMEM;
    t->kind = k;
    pthread_rwlock_init(&t->lock, NULL);
    if ((rc = evp_batch_lib_create(&c, &t->lib)) != 0)
        goto fail;
    if ((rc = evp_backend_resolve(c.backend, &t->be)) != 0)
        goto fail;
    const struct evp_backend *real = k->backend == EVP_BACKEND_HOST ? &evp_backend_host : &evp_backend_cuda;
    t->copy_be = t->be->copy_batch ? t->be : real;
    t->mem = t->be->mem ? t->be->mem : real->mem;
    if ((t->ndev = t->be->device_count(err, sizeof err)) < 0) {
        rc = t->ndev;
        goto fail;
    }
    if (k->open && (rc = k->open(t->ndev)) != 0)
        goto fail;
    t->sel = (struct evp_tkind_sel){.handle = k->handle, .imports = k->handle, .caps = k->caps};
    if (k->select && (rc = k->select(t->ndev, &c, &t->sel)) != 0)
        goto fail;
    evp_info("transport %s: open, %d device(s)", k->name, t->ndev);
    *out = t;
    return 0;
fail:
    if (t->lib)
        evp_batch_lib_destroy(t->lib, NULL);
    pthread_rwlock_destroy(&t->lock);
    free(t);
    return rc;
}

static int evp_first(int rc, int r)
{
    return rc ? rc : r;
}

int evp_transport_uninstall(evp_transport_t *t)
{
    if (!t)
        return EVP_EINVAL;
    if (atomic_exchange_explicit(&t->uninstalled, 1, memory_order_acq_rel))
        return 0;
    /* Sub-batches first: destroy waits for work in flight, which may still
     * touch the memory released below. */
    evp_batch_stats_t st;
    int rc = evp_batch_lib_destroy(t->lib, &st);
    t->lib = NULL;
    pthread_rwlock_wrlock(&t->lock);
    size_t open_imports = t->nimports, open_bases = t->nbases;
    for (size_t i = 0; i < t->nimports; i++) {
        rc = evp_first(rc, t->mem->release(t->imports[i]->mem));
        free(t->imports[i]);
    }
    for (size_t i = 0; i < t->nbases; i++) {
        rc = evp_first(rc, t->mem->release(t->bases[i]->mem));
        free(t->bases[i]);
    }
    free(t->imports);
    free(t->bases);
    free(t->segs);
    t->imports = NULL;
    t->bases = NULL;
    t->segs = NULL;
    t->nimports = t->nbases = t->capimports = t->capbases = 0;
    t->nsegs = t->capsegs = 0;
    pthread_rwlock_unlock(&t->lock);
    evp_info("transport %s: uninstalled (%zu import(s) closed, %zu allocation(s) released, %llu sub-batch(es) "
             "freed at teardown)",
             t->kind->name, open_imports, open_bases, (unsigned long long)st.live_at_destroy);
    return rc;
}

int evp_transport_close(evp_transport_t *t)
{
    if (!t)
        return 0;
    int rc = evp_transport_uninstall(t);
    pthread_rwlock_destroy(&t->lock);
    free(t);
    return rc;
}

evp_transport_kind_t evp_transport_kind(const evp_transport_t *t)
{
    return t->kind->kind;
}

const char *evp_transport_name(const evp_transport_t *t)
{
    return t->kind->name;
}

unsigned evp_transport_caps(const evp_transport_t *t)
{
    return t->sel.caps;
}

int evp_transport_device_count(const evp_transport_t *t)
{
    return t->ndev;
}

/* ---- local memory: bases and registered segments ------------------------- */

/* Makes a base of m (the whole allocation, owned by the new entry) and
 * exports it once. Write lock held. m is released on failure. */
static int evp_tbase_add(evp_transport_t *t, evp_mem_t *m, bool owned, size_t pos, struct evp_tbase **out)
{
    struct evp_tbase *b = calloc(1, sizeof *b);
    int rc = b ? 0 : EVP_ENOMEM;
    if (rc == 0)
        rc = evp_grow((void **)&t->bases, &t->capbases, t->nbases + 1, sizeof *t->bases);
    if (rc == 0) {
        b->fd = -1;
        rc = t->mem->export_(m, t->sel.handle, &b->desc, &b->fd);
    }
    if (rc) {
        free(b);
        t->mem->release(m);
        return rc;
    }
    b->addr = m->ptr;
    b->size = m->len;
    b->device = m->device;
    b->owned = owned;
    b->mem = m;
    b->id = atomic_fetch_add_explicit(&evp_tbase_ids, 1, memory_order_relaxed) + 1;
    memmove(&t->bases[pos + 1], &t->bases[pos], (t->nbases - pos) * sizeof *t->bases);
    t->bases[pos] = b;
    t->nbases++;
    *out = b;
    return 0;
}

static void evp_tbase_drop(evp_transport_t *t, struct evp_tbase *b)
{
    size_t i = 0;
    while (i < t->nbases && t->bases[i] != b)
        i++;
    memmove(&t->bases[i], &t->bases[i + 1], (t->nbases - i - 1) * sizeof *t->bases);
    t->nbases--;
    int rc = t->mem->release(b->mem);
    if (rc)
        evp_warn("transport %s: releasing an allocation failed: %s", t->kind->name, evp_strerror(rc));
    free(b);
}

int evp_transport_mem_alloc(evp_transport_t *t, int device, size_t len, void **ptr)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    if (!ptr || len == 0 || device < 0 || device >= t->ndev) {
        evp_error("transport %s mem_alloc: bad arguments (device %d of %d, %zu bytes)", t->kind->name, device,
                  t->ndev, len);
        return EVP_EINVAL;
    }
    evp_mem_t *m = NULL;
    if ((rc = t->mem->alloc(device, len, t->sel.handle, t->sel.access, &m)) != 0)
        return rc;
    pthread_rwlock_wrlock(&t->lock);
    size_t pos;
    struct evp_tbase *b = NULL;
    if (evp_tbase_find(t, m->ptr, &pos)) { /* cannot happen: a fresh allocation */
        t->mem->release(m);
        rc = EVP_EBACKEND;
    } else {
        rc = evp_tbase_add(t, m, true, pos, &b);
    }
    pthread_rwlock_unlock(&t->lock);
    if (rc == 0)
        *ptr = b->addr;
    return rc;
}

int evp_transport_mem_free(evp_transport_t *t, void *ptr)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&t->lock);
    struct evp_tbase *b = evp_tbase_find(t, ptr, NULL);
    if (!b || !b->owned || b->addr != ptr) {
        evp_error("transport %s mem_free: %p is not memory of evp_transport_mem_alloc", t->kind->name, ptr);
        rc = EVP_EINVAL;
    } else if (b->segs) {
        evp_error("transport %s mem_free: %u segment(s) still registered in %p", t->kind->name, b->segs, ptr);
        rc = EVP_EBUSY;
    } else {
        evp_tbase_drop(t, b);
    }
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* The base of the caller's allocation holding [addr, addr+len), attached on
 * first use (widened to the allocation's base). Write lock held. */
static int evp_tbase_attach(evp_transport_t *t, void *addr, size_t len, struct evp_tbase **out)
{
    int device = -1;
    int rc = t->kind->locate(addr, len, &device);
    evp_mem_t *m = NULL;
    struct evp_mem_desc d;
    int fd = -1;
    if (rc == 0)
        rc = t->mem->attach(device, addr, len, &m);
    /* The export names the allocation: its offset is where addr sits. */
    if (rc == 0)
        rc = t->mem->export_(m, t->sel.handle, &d, &fd);
    if (m)
        t->mem->release(m); /* forgets the range; nothing is freed */
    if (rc)
        return rc;
    char *base = (char *)addr - d.offset;
    size_t pos;
    struct evp_tbase *b = evp_tbase_find(t, base, &pos);
    if (b) {
        *out = b;
        return 0;
    }
    if ((rc = t->mem->attach(device, base, (size_t)d.size, &m)) != 0)
        return rc;
    return evp_tbase_add(t, m, false, pos, out);
}

int evp_transport_register(evp_transport_t *t, void *addr, size_t len, evp_segment_t *seg)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    if (!addr || len == 0 || !seg) {
        evp_error("transport %s register: bad arguments (%p, %zu bytes)", t->kind->name, addr, len);
        return EVP_EINVAL;
    }
    pthread_rwlock_wrlock(&t->lock);
    struct evp_tbase *b = evp_tbase_find(t, addr, NULL);
    if (!b)
        rc = evp_tbase_attach(t, addr, len, &b);
    if (rc == 0 && len > b->size - (size_t)((char *)addr - b->addr)) {
        evp_error("transport %s register: %zu bytes at %p overrun their allocation (%zu bytes at %p)",
                  t->kind->name, len, addr, b->size, (void *)b->addr);
        rc = EVP_EINVAL;
    }
    struct evp_tseg *s = NULL;
    if (rc == 0 && !(s = evp_tseg_new(t, seg)))
        rc = EVP_ENOMEM;
    if (rc == 0) {
        s->type = EVP_SEG_LOCAL;
        s->addr = addr;
        s->len = len;
        s->device = b->device;
        s->base = b;
        b->segs++;
    } else if (b && !b->owned && b->segs == 0) {
        evp_tbase_drop(t, b); /* attached for this call only */
    }
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

int evp_transport_unregister(evp_transport_t *t, evp_segment_t seg)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&t->lock);
    struct evp_tseg *s = evp_tseg_find(t, seg);
    if (!s || s->type != EVP_SEG_LOCAL) {
        rc = EVP_EINVAL;
    } else {
        struct evp_tbase *b = s->base;
        s->type = EVP_SEG_FREE;
        if (--b->segs == 0 && !b->owned)
            evp_tbase_drop(t, b);
    }
    pthread_rwlock_unlock(&t->lock);
    if (rc)
        evp_error("transport %s unregister: not a registered segment", t->kind->name);
    return rc;
}

int evp_transport_export(evp_transport_t *t, evp_segment_t seg, void *buf, size_t cap, size_t *len, int *fd)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    if (!buf || !len || !fd || cap < EVP_TDESC_BYTES) {
        evp_error("transport export: bad arguments (a buffer of %zu bytes; %u needed)", cap, EVP_TDESC_BYTES);
        return EVP_EINVAL;
    }
    pthread_rwlock_rdlock(&t->lock);
    struct evp_tseg *s = evp_tseg_find(t, seg);
    if (!s || s->type != EVP_SEG_LOCAL) {
        rc = EVP_EINVAL;
    } else {
        struct evp_tdesc d = {
            .kind = (uint16_t)t->kind->kind,
            .device = s->base->device,
            .nonce = evp_transport_nonce(),
            .base_id = s->base->id,
            .seg_offset = (uint64_t)(s->addr - s->base->addr),
            .seg_length = s->len,
            .mem = s->base->desc,
        };
        *len = evp_tdesc_encode(&d, buf, cap);
        *fd = s->base->fd;
    }
    pthread_rwlock_unlock(&t->lock);
    if (rc)
        evp_error("transport %s export: not a registered segment", t->kind->name);
    return rc;
}

/* ---- imports ------------------------------------------------------------- */

static struct evp_timport *evp_timport_find(const evp_transport_t *t, const struct evp_tdesc *d, int device)
{
    for (size_t i = 0; i < t->nimports; i++) {
        struct evp_timport *im = t->imports[i];
        if (im->device != device)
            continue;
        if (t->kind->key_by_handle ? memcmp(im->handle, d->mem.bytes, sizeof im->handle) == 0
                                   : im->nonce == d->nonce && im->base_id == d->base_id)
            return im;
    }
    return NULL;
}

int evp_transport_import(evp_transport_t *t, const void *desc, size_t len, int fd, int device, evp_segment_t *seg)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    char err[256];
    struct evp_tdesc d;
    if (!seg) {
        evp_error("transport import: no segment pointer");
        return EVP_EINVAL;
    }
    if ((rc = evp_tdesc_decode(desc, len, &d, err, sizeof err)) != 0) {
        evp_error("transport %s import: %s", t->kind->name, err);
        return rc;
    }
    if (d.kind != t->kind->kind || !(d.mem.handle & t->sel.imports)) {
        const struct evp_tkind *other = evp_tkind_of((evp_transport_kind_t)d.kind);
        if (d.kind == t->kind->kind && t->sel.no_import) {
            evp_error("transport %s import: %s", t->kind->name, t->sel.no_import);
            return EVP_EPERM;
        }
        evp_error("transport %s import: a descriptor of kind %s (handle 0x%x) does not belong here",
                  t->kind->name, other ? other->name : "?", d.mem.handle);
        return EVP_EINVAL;
    }
    if (device < 0)
        device = d.device < t->ndev ? d.device : 0;
    if (device >= t->ndev) {
        evp_error("transport %s import: device %d out of range (%d devices)", t->kind->name, device, t->ndev);
        return EVP_EINVAL;
    }
    pthread_rwlock_wrlock(&t->lock);
    struct evp_timport *im = evp_timport_find(t, &d, device);
    bool fresh = !im;
    if (fresh) {
        if (d.mem.handle == EVP_MEM_FD && fd < 0) {
            evp_error("transport %s import: the descriptor needs its fd (SCM_RIGHTS)", t->kind->name);
            rc = EVP_EINVAL;
        } else if (!(im = calloc(1, sizeof *im)) ||
                   evp_grow((void **)&t->imports, &t->capimports, t->nimports + 1, sizeof *t->imports)) {
            rc = EVP_ENOMEM;
        } else if ((rc = t->mem->import(device, &d.mem, fd, t->sel.access, &im->mem)) == 0) {
            im->nonce = d.nonce;
            im->base_id = d.base_id;
            memcpy(im->handle, d.mem.bytes, sizeof im->handle);
            im->device = device;
            t->imports[t->nimports++] = im;
        }
        if (rc) {
            free(im);
            im = NULL;
        }
    }
    struct evp_tseg *s = NULL;
    if (rc == 0 && !(s = evp_tseg_new(t, seg)))
        rc = EVP_ENOMEM;
    if (rc == 0) {
        s->type = EVP_SEG_IMPORTED;
        s->addr = (char *)im->mem->ptr + d.seg_offset;
        s->len = d.seg_length;
        s->device = device;
        s->import = im;
        im->refs++;
    } else if (im && fresh) {
        t->nimports--;
        t->mem->release(im->mem);
        free(im);
    }
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

int evp_transport_unimport(evp_transport_t *t, evp_segment_t seg)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&t->lock);
    struct evp_tseg *s = evp_tseg_find(t, seg);
    if (!s || s->type != EVP_SEG_IMPORTED) {
        rc = EVP_EINVAL;
    } else {
        struct evp_timport *im = s->import;
        s->type = EVP_SEG_FREE;
        if (--im->refs == 0) {
            size_t i = 0;
            while (t->imports[i] != im)
                i++;
            t->imports[i] = t->imports[--t->nimports];
            rc = t->mem->release(im->mem);
            free(im);
        }
    }
    pthread_rwlock_unlock(&t->lock);
    if (rc == EVP_EINVAL)
        evp_error("transport %s unimport: not an imported segment", t->kind->name);
    return rc;
}

int evp_transport_segment(evp_transport_t *t, evp_segment_t seg, void **addr, uint64_t *len, int *device)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    pthread_rwlock_rdlock(&t->lock);
    struct evp_tseg *s = evp_tseg_find(t, seg);
    if (!s) {
        rc = EVP_EINVAL;
    } else {
        if (addr)
            *addr = s->addr;
        if (len)
            *len = s->len;
        if (device)
            *device = s->device;
    }
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* ---- descriptors over a socket ------------------------------------------- */

int evp_transport_desc_send(int sock, const void *desc, size_t len, int fd)
{
    if (!desc || len == 0 || len > EVP_TRANSPORT_DESC_MAX)
        return EVP_EINVAL;
    uint32_t n = (uint32_t)len;
    int rc = evp_fd_send(sock, &n, sizeof n, fd);
    return rc ? rc : evp_fd_send(sock, desc, len, -1);
}

int evp_transport_desc_recv(int sock, void *buf, size_t cap, size_t *len, int *fd)
{
    if (!buf || !len || !fd)
        return EVP_EINVAL;
    *fd = -1;
    uint32_t n = 0;
    int rc = evp_fd_recv(sock, &n, sizeof n, fd);
    if (rc)
        return rc;
    int none = -1;
    if (n == 0 || n > cap || n > EVP_TRANSPORT_DESC_MAX) {
        evp_error("transport: a descriptor of %u bytes announced (room for %zu)", n, cap);
        rc = EVP_EINVAL;
    } else if ((rc = evp_fd_recv(sock, buf, n, &none)) == 0 && none >= 0) {
        close(none);
        rc = EVP_EINVAL;
    }
    if (rc && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    if (rc == 0)
        *len = n;
    return rc;
}

/* ---- sub-batches ---------------------------------------------------------- */

int evp_transport_batch_alloc(evp_transport_t *t, uint32_t max_requests, evp_batch_t *out)
{
    int rc = evp_transport_live(t);
    return rc ? rc : evp_batch_alloc(t->lib, max_requests, out);
}

/* The batch layer's callback: one copy_batch for the call's requests on the
 * sub-batch's stream (cudaMemcpyBatchAsync where the runtime and driver
 * have it, else a cudaMemcpyAsync each; memcpy on a host worker). reqs[i]:
 * local, target = the resolved peer address, opcode = evp_xfer_op_t. */
static int evp_transport_enqueue(void *ctx, void *stream, int device, const evp_batch_req_t *reqs, uint32_t n)
{
    const evp_transport_t *t = ctx;
    enum { STACK = 32 };
    void *dst_s[STACK];
    const void *src_s[STACK];
    size_t len_s[STACK];
    void **dst = dst_s;
    const void **src = src_s;
    size_t *len = len_s;
    if (n > STACK) {
        dst = malloc(n * sizeof *dst);
        src = malloc(n * sizeof *src);
        len = malloc(n * sizeof *len);
    }
    int rc = dst && src && len ? 0 : EVP_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        void *remote = (void *)(uintptr_t)reqs[i].target;
        bool write = reqs[i].opcode == EVP_XFER_WRITE;
        dst[i] = write ? remote : reqs[i].local;
        src[i] = write ? reqs[i].local : remote;
        len[i] = (size_t)reqs[i].length;
    }
    if (rc == 0)
        rc = t->copy_be->copy_batch(dst, src, len, n, stream);
    if (n > STACK) {
        free(dst);
        free(src);
        free(len);
    }
    return rc;
}

/* Checks and resolves reqs into out under the read lock. */
static int evp_transport_resolve(evp_transport_t *t, const evp_xfer_req_t *reqs, uint32_t n, evp_batch_req_t *out)
{
    int rc = 0;
    pthread_rwlock_rdlock(&t->lock);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const evp_xfer_req_t *r = &reqs[i];
        const struct evp_tseg *s = evp_tseg_find(t, r->segment);
        const char *bad = NULL;
        if (r->op != EVP_XFER_READ && r->op != EVP_XFER_WRITE)
            bad = "unknown op (EVP_XFER_READ or EVP_XFER_WRITE)";
        else if (!r->local)
            bad = "no local address";
        else if (!s)
            bad = "not a segment of this transport (never imported, or unimported)";
        else if (r->offset > s->len || r->length > s->len - r->offset)
            bad = "outside its segment";
        if (bad) {
            evp_error("transport %s submit: request %u (%s %llu bytes at offset %llu): %s; nothing enqueued",
                      t->kind->name, i, r->op == EVP_XFER_WRITE ? "WRITE" : "READ", (unsigned long long)r->length,
                      (unsigned long long)r->offset, bad);
            if (s)
                evp_error("transport %s submit: the segment holds %llu bytes", t->kind->name,
                          (unsigned long long)s->len);
            rc = EVP_EINVAL;
            break;
        }
        /* The stream's device: the registered local buffer's, else the
         * segment's. Never a pointer query here. */
        const struct evp_tbase *b = evp_tbase_find(t, r->local, NULL);
        out[i] = (evp_batch_req_t){
            .device = b ? b->device : s->device,
            .opcode = (uint32_t)r->op,
            .local = r->local,
            .target = (uint64_t)(uintptr_t)(s->addr + r->offset),
            .offset = r->offset,
            .length = r->length,
        };
    }
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

int evp_transport_submit(evp_transport_t *t, evp_batch_t b, const evp_xfer_req_t *reqs, uint32_t n,
                         uint32_t *first)
{
    int rc = evp_transport_live(t);
    if (rc)
        return rc;
    if (!reqs || n == 0) {
        evp_error("transport %s submit: no requests", t->kind->name);
        return EVP_EINVAL;
    }
    enum { STACK = 16 };
    evp_batch_req_t stack[STACK];
    evp_batch_req_t *br = n <= STACK ? stack : malloc((size_t)n * sizeof *br);
    if (!br)
        return EVP_ENOMEM;
    rc = evp_transport_resolve(t, reqs, n, br);
    if (rc == 0)
        rc = evp_batch_submit(t->lib, b, br, n, evp_transport_enqueue, t, first);
    if (br != stack)
        free(br);
    return rc;
}

int evp_transport_task_status(evp_transport_t *t, evp_batch_t b, uint32_t task, evp_batch_status_t *out)
{
    int rc = evp_transport_live(t);
    return rc ? rc : evp_batch_task_status(t->lib, b, task, out);
}

int evp_transport_status(evp_transport_t *t, evp_batch_t b, evp_batch_status_t *out)
{
    int rc = evp_transport_live(t);
    return rc ? rc : evp_batch_status(t->lib, b, out);
}

int evp_transport_batch_free(evp_transport_t *t, evp_batch_t b)
{
    int rc = evp_transport_live(t);
    return rc ? rc : evp_batch_free(t->lib, b);
}

int evp_transport_pool(evp_transport_t *t, int device, evp_pool_t **out)
{
    int rc = evp_transport_live(t);
    return rc ? rc : evp_batch_lib_pool(t->lib, device, out);
}

void evp_transport_batch_stats(evp_transport_t *t, evp_batch_stats_t *out)
{
    if (evp_transport_live(t) == 0)
        evp_batch_lib_stats(t->lib, out);
    else
        memset(out, 0, sizeof *out);
}

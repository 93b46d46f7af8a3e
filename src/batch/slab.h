/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — slab: fixed-size objects handed out by index, for sub-batches.
 *
 * Objects live in chunks of EVP_SLAB_CHUNK, created up front (`initial`)
 * and then one chunk at a time on demand, never beyond `max`; a chunk is
 * freed only by evp_slab_fini, so an index stays a valid address for the
 * slab's whole life (a poller holding a freed sub-batch's handle can still
 * read its generation). Nothing is held after evp_slab_fini.
 *
 * Free objects wait on a lock-free stack of indices (Treiber, tagged head:
 * 32-bit tag | index + 1). A thread's cache holds up to EVP_SLAB_CACHE free
 * indices taken in one CAS (a pop walks up to that many links and swings
 * the head past them; the tag makes the CAS fail if anything moved), so
 * most gets touch no shared line. Puts go straight to the stack: they come
 * from the reclaimer (the library's reclaimer thread), where a cache would only
 * hide objects from allocating threads. A thread's cache is flushed back
 * when the thread exits, or when it moves to another slab.
 *
 * Exhaustion: a get that finds its cache and the stack empty grows the slab
 * (under a mutex, the rare path), and at `max` answers EVP_EAGAIN. Up to
 * EVP_SLAB_CACHE - 1 free objects per thread that allocated may then sit in
 * other threads' caches; the bound (max) is exact, availability is exact
 * up to that slack.
 *
 * Progress: get and put are lock-free but for growth (mutex, once per
 * chunk) and a thread's first get from a slab (a registry mutex).
 *
 * Thread safety: get, put and at from any thread; init and fini must not
 * race with anything on the same slab. */
#ifndef EVPOOL_SRC_BATCH_SLAB_H
#define EVPOOL_SRC_BATCH_SLAB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define EVP_SLAB_CHUNK 64u
#define EVP_SLAB_CACHE 8u
/* Indices fit in 24 bits (the sub-batch handle's slot field). */
#define EVP_SLAB_MAX_OBJECTS (1u << 24)

struct evp_slab_chunk;

struct evp_slab {
    size_t obj_size; /* bytes per object, a multiple of 64 */
    uint32_t max;    /* objects at most */
    /* Called once per object as its chunk is created (zeroed memory). */
    void (*ctor)(void *obj, uint32_t idx, void *arg);
    void *arg;
    /* Free stack: tag << 32 | (index + 1); low half 0 = empty. Every
     * successful CAS (push or pop) bumps the tag. acq_rel CASes chain the
     * pushes, so a pop's acquire load sees every link of the stack. */
    _Alignas(64) _Atomic uint64_t head;
    /* Objects created; release store after the chunk is published, pairs
     * with acquire loads in evp_slab_at. */
    _Alignas(64) _Atomic uint32_t created;
    _Atomic(struct evp_slab_chunk *) *chunks; /* max / CHUNK rounded up; owned */
    pthread_mutex_t grow_mu;
    uint64_t uid;           /* never reused: names the slab in thread caches */
    struct evp_slab *live;  /* registry link (under the registry mutex) */
};

/* Creates `initial` objects (rounded up to a chunk, at most max). 0,
 * EVP_ENOMEM, EVP_EINVAL (obj_size not a multiple of 64, max out of range). */
int evp_slab_init(struct evp_slab *s, size_t obj_size, uint32_t initial, uint32_t max,
                  void (*ctor)(void *obj, uint32_t idx, void *arg), void *arg);
/* Frees every chunk; objects in use are the caller's business. */
void evp_slab_fini(struct evp_slab *s);

/* A free object's index. 0; EVP_EAGAIN (max reached); EVP_ENOMEM. */
int evp_slab_get(struct evp_slab *s, uint32_t *idx);
/* Gives an object back (the caller owns it until this call). */
void evp_slab_put(struct evp_slab *s, uint32_t idx);
/* The object of idx, or NULL if idx was never created. */
void *evp_slab_at(struct evp_slab *s, uint32_t idx);
/* Objects created so far. */
uint32_t evp_slab_created(struct evp_slab *s);

#endif

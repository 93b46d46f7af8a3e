/* SPDX-License-Identifier: Apache-2.0 */
#include "pool/tcache.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evpool/error.h"
#include "evpool/pool.h"
#include "base/log.h"

__thread struct evp_tls_tab *evp_tls;
bool evp_tcache_asym;

/* Live homes by idx, for thread-exit flushes. Under evp_homes_mu, which
 * nests outside every home->mu. */
static pthread_mutex_t evp_homes_mu = PTHREAD_MUTEX_INITIALIZER;
static struct evp_tcache_home *evp_homes[EVP_TCACHE_HOMES_MAX];
static uint64_t evp_homes_uid;
/* The key whose destructor flushes a thread's caches at exit. Created under
 * evp_homes_mu by the first home; a failed creation is retried by the next
 * one (it never falls back to key 0, which belongs to someone else). */
static bool evp_tcache_ready;
static pthread_key_t evp_tcache_key;
_Atomic uint32_t evp_fork_epoch;

#ifdef EVP_TSAN
_Atomic uint64_t evp_tcache_fence_word;
#endif

static long evp_membarrier(int cmd)
{
    return syscall(SYS_membarrier, cmd, 0, 0);
}

void evp_tcache_remote_fence(void)
{
    /* A failed membarrier (it cannot fail once registered) would leave
     * the owners' fast paths unordered: fall back to seq_cst for good. */
    if (evp_tcache_asym && evp_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        evp_tcache_asym = false;
    evp_fence_full();
}

static void evp_tcache_thread_exit(void *arg);
static void evp_tcache_fork_child(void);

/* Under evp_homes_mu. 0, or pthread_key_create's error. */
static int evp_tcache_setup(void)
{
    if (evp_tcache_ready)
        return 0;
    int err = pthread_key_create(&evp_tcache_key, evp_tcache_thread_exit);
    if (err)
        return err;
    err = pthread_atfork(NULL, NULL, evp_tcache_fork_child);
    if (err) {
        pthread_key_delete(evp_tcache_key);
        return err;
    }
    evp_tcache_ready = true;
#ifndef EVP_TSAN
    long cmds = evp_membarrier(MEMBARRIER_CMD_QUERY);
    evp_tcache_asym = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
                      evp_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
    return 0;
}

int evp_tcache_home_init(struct evp_tcache_home *home, uint32_t cap, uint32_t batch,
                         struct evp_depot *depot, struct evp_waitq *wq)
{
    home->cap = cap;
    home->batch = batch;
    home->depot = depot;
    home->wq = wq;
    atomic_init(&home->list, NULL);
    if (pthread_mutex_init(&home->mu, NULL) != 0)
        return EVP_ENOMEM;
    pthread_mutex_lock(&evp_homes_mu);
    int err = evp_tcache_setup();
    if (err) {
        pthread_mutex_unlock(&evp_homes_mu);
        pthread_mutex_destroy(&home->mu);
        /* Logged after the unlock: no mutex is held across a log write. */
        evp_error("pthread_key_create failed (%s): no thread-specific key left for the thread caches; "
                  "pool not created",
                  err == EAGAIN ? "all PTHREAD_KEYS_MAX keys in use" : "out of memory");
        return EVP_ENOMEM;
    }
    uint32_t i = 0;
    while (i < EVP_TCACHE_HOMES_MAX && evp_homes[i])
        i++;
    if (i == EVP_TCACHE_HOMES_MAX) {
        pthread_mutex_unlock(&evp_homes_mu);
        pthread_mutex_destroy(&home->mu);
        evp_error("too many pools alive at once (limit %d)", EVP_TCACHE_HOMES_MAX);
        return EVP_EBUSY;
    }
    home->idx = i;
    home->uid = ++evp_homes_uid;
    evp_homes[i] = home;
    pthread_mutex_unlock(&evp_homes_mu);
    return 0;
}

void evp_tcache_home_detach(struct evp_tcache_home *home)
{
    /* After this no thread-exit handler can find the home: they look it up
     * under evp_homes_mu. */
    pthread_mutex_lock(&evp_homes_mu);
    if (home->idx < EVP_TCACHE_HOMES_MAX && evp_homes[home->idx] == home)
        evp_homes[home->idx] = NULL;
    pthread_mutex_unlock(&evp_homes_mu);
}

void evp_tcache_home_fini(struct evp_tcache_home *home)
{
    struct evp_tcache *c = atomic_load_explicit(&home->list, memory_order_acquire);
    while (c) {
        struct evp_tcache *next = c->next;
        free(c);
        c = next;
    }
    atomic_store_explicit(&home->list, NULL, memory_order_relaxed);
    pthread_mutex_destroy(&home->mu);
}

static struct evp_tls_tab *evp_tls_reserve(uint32_t idx)
{
    struct evp_tls_tab *t = evp_tls;
    if (t && idx < t->n)
        return t;
    uint32_t n = t ? t->n : 0, want = idx + 1 > 2 * n ? idx + 1 : 2 * n;
    if (want < 8)
        want = 8;
    /* Never beyond the homes table: the thread-exit walk indexes it. */
    if (want > EVP_TCACHE_HOMES_MAX)
        want = EVP_TCACHE_HOMES_MAX;
    struct evp_tls_tab *nt = realloc(t, sizeof *nt + want * sizeof nt->e[0]);
    if (!nt)
        return NULL;
    memset(&nt->e[n], 0, (want - n) * sizeof nt->e[0]);
    nt->n = want;
    evp_tls = nt;
    /* The destructor receives this pointer: keep it current. */
    pthread_setspecific(evp_tcache_key, nt);
    return nt;
}

struct evp_tcache *evp_tcache_attach(struct evp_tcache_home *home)
{
    struct evp_tls_tab *t = evp_tls_reserve(home->idx);
    if (!t)
        return NULL;
    struct evp_tcache *c;
    pthread_mutex_lock(&home->mu);
    for (c = atomic_load_explicit(&home->list, memory_order_relaxed); c; c = c->next)
        if (c->orphan)
            break;
    if (c) {
        c->orphan = false; /* its previous owner flushed it and left (home->mu orders us after) */
    } else {
        uint32_t ring = 1;
        while (ring <= home->cap)
            ring <<= 1;
        size_t bytes = sizeof *c + (size_t)ring * sizeof c->ring[0];
        c = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!c) {
            pthread_mutex_unlock(&home->mu);
            return NULL;
        }
        memset(c, 0, bytes);
        c->cap = home->cap;
        c->mask = ring - 1;
        c->next = atomic_load_explicit(&home->list, memory_order_relaxed);
        /* Release pairs with the acquire load of list in walkers: they see
         * an initialized cache. */
        atomic_store_explicit(&home->list, c, memory_order_release);
    }
    pthread_mutex_unlock(&home->mu);
    t->e[home->idx] = (struct evp_tls_ent){.uid = home->uid, .cache = c};
    return c;
}

static void evp_tcache_thread_exit(void *arg)
{
    struct evp_tls_tab *t = arg;
    pthread_mutex_lock(&evp_homes_mu);
    /* t->n never exceeds the table (evp_tls_reserve caps it); the bound is
     * repeated here because reading past evp_homes[] is what it prevents. */
    for (uint32_t i = 0; i < t->n && i < EVP_TCACHE_HOMES_MAX; i++) {
        struct evp_tcache_home *home = evp_homes[i];
        if (!t->e[i].uid || !home || home->uid != t->e[i].uid)
            continue; /* that pool is gone; it freed the cache */
        struct evp_tcache *c = t->e[i].cache;
        pthread_mutex_lock(&home->mu);
        evp_tcache_flush(home, c, 0);
        c->orphan = true;
        pthread_mutex_unlock(&home->mu);
    }
    pthread_mutex_unlock(&evp_homes_mu);
    evp_tls = NULL;
    free(t);
}

/* Pushes leases[0..n) to the depot as chains of at most a batch. */
static void evp_tcache_push_depot(struct evp_tcache_home *home, const uint64_t *leases, uint32_t n)
{
    for (uint32_t at = 0; at < n; at += home->batch) {
        uint32_t k = n - at < home->batch ? n - at : home->batch;
        evp_depot_push(home->depot, evp_lease_slot(leases[at]), &leases[at], k);
    }
}

void evp_tcache_release(struct evp_tcache_home *home, const uint64_t *leases, uint32_t n)
{
    uint32_t at = 0;
    while (at < n && evp_waitq_waiting(home->wq) && evp_waitq_give(home->wq, evp_lease_slot(leases[at])))
        at++;
    evp_tcache_push_depot(home, &leases[at], n - at);
}

uint32_t evp_tcache_refill(struct evp_tcache_home *home, struct evp_tcache *c, uint64_t *first)
{
    uint64_t got[EVP_STACK_WIDTH_MAX];
    uint32_t k = evp_depot_pop(home->depot, got);
    if (!k)
        return 0;
    *first = got[0];
    uint32_t i = 1;
    while (i < k && evp_tcache_put(c, got[i]))
        i++;
    if (i < k) /* no room (a small cache): the rest go back */
        evp_tcache_release(home, &got[i], k - i);
    return k;
}

uint32_t evp_tcache_flush(struct evp_tcache_home *home, struct evp_tcache *c, uint32_t keep)
{
    uint64_t out[EVP_STACK_WIDTH_MAX];
    uint32_t moved = 0;
    uint64_t b = atomic_load_explicit(&c->bottom, memory_order_relaxed); /* own: does not move */
    uint64_t t = atomic_load_explicit(&c->top, memory_order_acquire);
    while (b > t && b - t > keep) {
        /* The oldest entries, a chain at a time, claimed with one CAS on
         * top as a thief would (only we write the ring, so they cannot
         * change under us; thieves may take some first: then retry). */
        uint32_t k = b - t - keep < home->batch ? (uint32_t)(b - t - keep) : home->batch;
        for (uint32_t i = 0; i < k; i++)
            out[i] = atomic_load_explicit(&c->ring[(t + i) & c->mask], memory_order_relaxed);
        /* seq_cst: one order with thieves' and our own take's CAS. On
         * failure t is reloaded. */
        if (!atomic_compare_exchange_strong_explicit(&c->top, &t, t + k, memory_order_seq_cst,
                                                     memory_order_acquire))
            continue;
        t += k;
        evp_tcache_release(home, out, k);
        moved += k;
    }
    return moved;
}

uint32_t evp_tcache_steal(struct evp_tcache_home *home, struct evp_tcache *self, uint64_t *out, uint32_t n)
{
    enum { ROUND = 32, PASSES = 4 };
    struct evp_tcache *victim[ROUND];
    uint64_t top[ROUND];
    uint32_t got = 0;
    struct evp_tcache *head = atomic_load_explicit(&home->list, memory_order_acquire);
    for (int pass = 0; pass < PASSES && got < n; pass++) {
        uint32_t before = got;
        for (struct evp_tcache *c = head; c && got < n;) {
            /* Up to ROUND victims that look non-empty, with their top. */
            uint32_t v = 0;
            for (; c && v < ROUND; c = c->next) {
                if (c == self)
                    continue;
                uint64_t t = atomic_load_explicit(&c->top, memory_order_acquire);
                if (atomic_load_explicit(&c->bottom, memory_order_relaxed) > t) {
                    victim[v] = c;
                    top[v++] = t;
                }
            }
            if (v == 0)
                continue;
            /* Between our loads of top and of bottom: an owner that takes
             * an entry without a CAS stored its smaller bottom before this
             * point (we see it), or loads top after it (it sees our CAS
             * and races us for the last entry). Chase-Lev's StoreLoad
             * pair, made asymmetric. */
            evp_tcache_remote_fence();
            for (uint32_t i = 0; i < v && got < n; i++) {
                struct evp_tcache *x = victim[i];
                uint64_t t = top[i];
                /* Acquire pairs with the owner's release store of bottom
                 * in put: the entry below it is written. */
                if (atomic_load_explicit(&x->bottom, memory_order_acquire) <= t)
                    continue;
                uint64_t lease = atomic_load_explicit(&x->ring[t & x->mask], memory_order_relaxed);
                /* seq_cst: one order with the owner's CAS on the last
                 * entry. A failure means someone else took entry t. */
                if (atomic_compare_exchange_strong_explicit(&x->top, &t, t + 1, memory_order_seq_cst,
                                                            memory_order_relaxed))
                    out[got++] = lease;
            }
        }
        if (got == before)
            break;
    }
    return got;
}

uint64_t evp_tcache_outstanding(struct evp_tcache_home *home, _Atomic uint64_t *extra_returns)
{
    for (;;) {
        uint64_t sum[2][2] = {{0, 0}, {0, 0}};
        struct evp_tcache *head[2];
        for (int k = 0; k < 2; k++) {
            /* Acquire on every counter: a collect sees everything the
             * owners did before the counts it reads. */
            head[k] = atomic_load_explicit(&home->list, memory_order_acquire);
            for (struct evp_tcache *c = head[k]; c; c = c->next) {
                sum[k][0] += atomic_load_explicit(&c->leases, memory_order_acquire);
                sum[k][1] += atomic_load_explicit(&c->returns, memory_order_acquire);
            }
            if (extra_returns)
                sum[k][1] += atomic_load_explicit(extra_returns, memory_order_acquire);
        }
        /* Every counter only grows, so equal sums over the same list mean
         * no counter moved between the collects: the values held at once,
         * at any instant between them. */
        if (head[0] == head[1] && sum[0][0] == sum[1][0] && sum[0][1] == sum[1][1])
            return sum[0][0] - sum[0][1];
    }
}

void evp_tcache_walk(struct evp_tcache_home *home, void (*fn)(uint64_t lease, void *arg), void *arg)
{
    for (struct evp_tcache *c = atomic_load_explicit(&home->list, memory_order_acquire); c; c = c->next) {
        uint64_t b = atomic_load_explicit(&c->bottom, memory_order_relaxed);
        for (uint64_t i = atomic_load_explicit(&c->top, memory_order_relaxed); i < b; i++)
            fn(atomic_load_explicit(&c->ring[i & c->mask], memory_order_relaxed), arg);
    }
}

/* fork(): the child has only the forking thread. Homes of the parent's
 * pools are forgotten (no thread of the child flushes into them), the homes
 * mutex, which another thread may have held, is made anew, and the epoch
 * moves so that the parent's pools answer EVP_ENODEV (pool.c). */
static void evp_tcache_fork_child(void)
{
    memset(evp_homes, 0, sizeof evp_homes);
    pthread_mutex_init(&evp_homes_mu, NULL);
    atomic_fetch_add_explicit(&evp_fork_epoch, 1, memory_order_relaxed);
}

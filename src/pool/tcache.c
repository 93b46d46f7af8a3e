#include "pool/tcache.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evpool/error.h"
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

#if defined(__SANITIZE_THREAD__)
#define EVP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVP_TSAN 1
#endif
#endif

static long evp_membarrier(int cmd)
{
    return syscall(SYS_membarrier, cmd, 0, 0);
}

static void evp_tcache_thread_exit(void *arg);

/* Under evp_homes_mu. 0, or pthread_key_create's error. */
static int evp_tcache_setup(void)
{
    if (evp_tcache_ready)
        return 0;
    int err = pthread_key_create(&evp_tcache_key, evp_tcache_thread_exit);
    if (err)
        return err;
    evp_tcache_ready = true;
#ifndef EVP_TSAN
    long cmds = evp_membarrier(MEMBARRIER_CMD_QUERY);
    evp_tcache_asym = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
                      evp_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
    return 0;
}

int evp_tcache_home_init(struct evp_tcache_home *home, uint32_t cap,
                         void (*flush)(struct evp_tcache_home *, struct evp_tcache *))
{
    home->cap = cap;
    home->flush = flush;
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
        c->orphan = false;
    } else {
        size_t bytes = sizeof *c + ((size_t)home->cap + 1) * sizeof c->parked[0];
        c = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!c) {
            pthread_mutex_unlock(&home->mu);
            return NULL;
        }
        memset(c, 0, bytes);
        c->cap = home->cap;
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
        home->flush(home, c);
        c->orphan = true;
        pthread_mutex_unlock(&home->mu);
    }
    pthread_mutex_unlock(&evp_homes_mu);
    evp_tls = NULL;
    free(t);
}

uint32_t evp_tcache_steal(struct evp_tcache_home *home, struct evp_tcache *self,
                          uint64_t *out, uint32_t n)
{
    uint32_t got = 0;
    pthread_mutex_lock(&home->mu);
    struct evp_tcache *head = atomic_load_explicit(&home->list, memory_order_acquire);
    bool any = false;
    for (struct evp_tcache *c = head; c; c = c->next) {
        if (c == self || atomic_load_explicit(&c->n, memory_order_relaxed) == 0)
            continue;
        /* seq_cst pairs with the owner's seq_cst load of steal in
         * evp_tcache_enter (or, in asym mode, is ordered by membarrier). */
        atomic_store_explicit(&c->steal, 1, memory_order_seq_cst);
        any = true;
    }
    if (!any) {
        pthread_mutex_unlock(&home->mu);
        return 0;
    }
    if (evp_tcache_asym && evp_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
        /* Cannot order against owners: take nothing, clear the flags. */
        n = 0;
    }
    for (struct evp_tcache *c = head; c; c = c->next) {
        if (!atomic_load_explicit(&c->steal, memory_order_relaxed))
            continue;
        /* Acquire pairs with the owner's release of busy in
         * evp_tcache_exit: its writes to parked/n are visible. busy == 1: the
         * owner is inside, skip it (never wait on a preempted owner). */
        if (got < n && atomic_load_explicit(&c->busy, memory_order_seq_cst) == 0) {
            uint32_t have = atomic_load_explicit(&c->n, memory_order_relaxed);
            uint32_t take = have < n - got ? have : n - got;
            memcpy(&out[got], &c->parked[have - take], take * sizeof out[0]);
            atomic_store_explicit(&c->n, have - take, memory_order_relaxed);
            got += take;
        }
        /* Release pairs with the owner's load of steal on its next entry:
         * it sees the shortened cache. */
        atomic_store_explicit(&c->steal, 0, memory_order_release);
    }
    pthread_mutex_unlock(&home->mu);
    return got;
}

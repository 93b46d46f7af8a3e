#include "pool/stack.h"

#include <stdlib.h>

#include "evpool/error.h"

/* head = {tag:32 | top+1:32}; links hold id+1; 0 = none. */
static inline uint64_t evp_stack_head(uint64_t tag, uint32_t top1)
{
    return (tag << 32) | top1;
}

int evp_stack_init(struct evp_stack *s, uint32_t cap)
{
    /* calloc: zero pages are "no link" and stay untouched until used.
     * Atomic objects of integer type with all-zero bytes are valid zeros. */
    s->next = calloc(cap ? cap : 1, sizeof *s->next);
    if (!s->next)
        return EVP_ENOMEM;
    s->cap = cap;
    atomic_init(&s->head, 0);
    return 0;
}

void evp_stack_fini(struct evp_stack *s)
{
    free((void *)s->next);
    s->next = NULL;
}

void evp_stack_push(struct evp_stack *s, const uint32_t *ids, uint32_t n)
{
    if (n == 0)
        return;
    /* The chain's links are ours until the CAS publishes them: relaxed
     * stores, made visible by the release CAS below. */
    for (uint32_t i = 0; i + 1 < n; i++)
        atomic_store_explicit(&s->next[ids[i]], ids[i + 1] + 1, memory_order_relaxed);
    uint32_t last = ids[n - 1];
    uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&s->next[last], (uint32_t)h, memory_order_relaxed);
        /* Release pairs with the acquire load/CAS of head in evp_stack_pop:
         * it publishes the links (and all the pusher did with these slots).
         * Every head change is an RMW, so a pop that reads a later head
         * still synchronizes with this push (release sequence). */
        if (atomic_compare_exchange_weak_explicit(&s->head, &h,
                                                  evp_stack_head((h >> 32) + 1, ids[0] + 1),
                                                  memory_order_release, memory_order_relaxed))
            return;
    }
}

uint32_t evp_stack_pop(struct evp_stack *s, uint32_t *ids, uint32_t n)
{
    if (n == 0)
        return 0;
    /* Acquire pairs with the release CAS in evp_stack_push: the links
     * walked below were written before that push. */
    uint64_t h = atomic_load_explicit(&s->head, memory_order_acquire);
    for (;;) {
        uint32_t link = (uint32_t)h;
        if (link == 0)
            return 0;
        /* Walk up to n links. If head changes meanwhile, the links may be
         * rewritten by the slots' new owners; every value read is still an
         * id+1 or 0 (next[] never holds anything else), and the CAS below
         * fails because the tag moved, so a torn walk is never used. */
        uint32_t k = 0;
        do {
            ids[k++] = link - 1;
            link = atomic_load_explicit(&s->next[link - 1], memory_order_relaxed);
        } while (k < n && link != 0);
        /* Acquire on failure too: the retry walks links of pushes that
         * landed after our first load. */
        if (atomic_compare_exchange_weak_explicit(&s->head, &h, evp_stack_head((h >> 32) + 1, link),
                                                  memory_order_acquire, memory_order_acquire))
            return k;
    }
}

void evp_stack_walk(struct evp_stack *s, void (*fn)(uint32_t id, void *arg), void *arg)
{
    uint32_t link = (uint32_t)atomic_load_explicit(&s->head, memory_order_acquire);
    for (uint32_t steps = 0; link != 0 && steps < s->cap; steps++) {
        fn(link - 1, arg);
        link = atomic_load_explicit(&s->next[link - 1], memory_order_relaxed);
    }
}

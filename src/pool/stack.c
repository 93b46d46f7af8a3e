/* SPDX-License-Identifier: Apache-2.0 */
#include "pool/stack.h"

#include <stdlib.h>
#include <string.h>

#include "evpool/error.h"

#define EVP_LINK_MASK ((UINT32_C(1) << 25) - 1)
/* head: {tag:39 | top+1:25}. */
#define EVP_HEAD_TOP_BITS 25
#define EVP_HEAD_TOP_MASK ((UINT64_C(1) << EVP_HEAD_TOP_BITS) - 1)

static inline uint64_t evp_stack_head(uint64_t tag, uint32_t top1)
{
    return (tag << EVP_HEAD_TOP_BITS) | top1;
}

static inline uint32_t evp_stack_top1(uint64_t head)
{
    return (uint32_t)(head & EVP_HEAD_TOP_MASK);
}

int evp_stack_init(struct evp_stack *s, uint32_t cap, uint32_t width)
{
    if (cap == 0 || cap >= (UINT32_C(1) << 24) || width == 0 || width > EVP_STACK_WIDTH_MAX)
        return EVP_EINVAL;
    /* calloc: zero links mean "none", and the pages of nodes never used are
     * never touched. Rows are aligned by hand to a cache line. */
    s->next = calloc(cap, sizeof *s->next);
    s->rows_mem = calloc((size_t)cap * width + 8, sizeof(uint64_t));
    if (!s->next || !s->rows_mem) {
        free((void *)s->next);
        free(s->rows_mem);
        return EVP_ENOMEM;
    }
    s->rows = (uint64_t *)(((uintptr_t)s->rows_mem + 63) & ~(uintptr_t)63);
    s->cap = cap;
    s->width = width;
    atomic_init(&s->head, 0);
    atomic_init(&s->items, 0);
    return 0;
}

void evp_stack_fini(struct evp_stack *s)
{
    free((void *)s->next);
    free(s->rows_mem);
    s->next = NULL;
    s->rows_mem = s->rows = NULL;
}

void evp_stack_push(struct evp_stack *s, uint32_t node, const uint64_t *vals, uint32_t n)
{
    /* The row is ours until the CAS publishes it. */
    memcpy(&s->rows[(size_t)node * s->width], vals, n * sizeof *vals);
    uint32_t len = (n - 1) << 25;
    uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&s->next[node], len | evp_stack_top1(h), memory_order_relaxed);
        /* Release pairs with the acquire CAS/load of head in evp_stack_pop:
         * it publishes the row and the link (and all the pusher did with
         * the values' slots). seq_cst: a leaser that registers as a waiter
         * and then looks at the depot (pool.c) must see this push, or we
         * must see its registration. The tag is kept: only pops need to
         * move it (see stack.h). */
        if (atomic_compare_exchange_weak_explicit(&s->head, &h, evp_stack_head(h >> EVP_HEAD_TOP_BITS, node + 1),
                                                  memory_order_seq_cst, memory_order_relaxed))
            break;
    }
    atomic_fetch_add_explicit(&s->items, n, memory_order_relaxed);
}

uint32_t evp_stack_pop(struct evp_stack *s, uint64_t *vals)
{
    /* Acquire pairs with the release CAS in evp_stack_push. */
    uint64_t h = atomic_load_explicit(&s->head, memory_order_acquire);
    uint32_t top1, link;
    do {
        top1 = evp_stack_top1(h);
        if (top1 == 0)
            return 0;
        /* If head moved since we read it, this link may already belong to
         * the node's next owner; the CAS then fails (the tag moved) and the
         * value is never used. */
        link = atomic_load_explicit(&s->next[top1 - 1], memory_order_relaxed);
        /* Acquire on failure too: the retry reads links and rows of pushes
         * that landed after our first load. */
    } while (!atomic_compare_exchange_weak_explicit(&s->head, &h,
                                                    evp_stack_head((h >> EVP_HEAD_TOP_BITS) + 1, link & EVP_LINK_MASK),
                                                    memory_order_acquire, memory_order_acquire));
    uint32_t n = (link >> 25) + 1;
    memcpy(vals, &s->rows[(size_t)(top1 - 1) * s->width], n * sizeof *vals);
    atomic_fetch_sub_explicit(&s->items, n, memory_order_relaxed);
    return n;
}

void evp_stack_walk(struct evp_stack *s, void (*fn)(const uint64_t *vals, uint32_t n, void *arg), void *arg)
{
    uint32_t top1 = evp_stack_top1(atomic_load_explicit(&s->head, memory_order_acquire));
    for (uint32_t steps = 0; top1 != 0 && steps < s->cap; steps++) {
        uint32_t link = atomic_load_explicit(&s->next[top1 - 1], memory_order_relaxed);
        fn(&s->rows[(size_t)(top1 - 1) * s->width], (link >> 25) + 1, arg);
        top1 = link & EVP_LINK_MASK;
    }
}

/* The depot stack: LIFO order, bulk claims, and conservation under
 * concurrent bulk push/pop (every id present exactly once at the end, and
 * never owned by two threads at once). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"
#include "pool/stack.h"

static void test_lifo_and_bulk(void)
{
    struct evp_stack s;
    CHECK_RC(evp_stack_init(&s, 16), 0);
    uint32_t out[16];
    CHECK_EQ(evp_stack_pop(&s, out, 4), 0); /* empty */
    uint32_t a[] = {3, 4, 5};
    evp_stack_push(&s, a, 3);
    uint32_t b[] = {9};
    evp_stack_push(&s, b, 1);
    CHECK_EQ(evp_stack_pop(&s, out, 2), 2);
    CHECK_EQ(out[0], 9);
    CHECK_EQ(out[1], 3);
    CHECK_EQ(evp_stack_pop(&s, out, 16), 2);
    CHECK_EQ(out[0], 4);
    CHECK_EQ(out[1], 5);
    CHECK_EQ(evp_stack_pop(&s, out, 16), 0);
    /* id 0 and the last id are ordinary ids. */
    uint32_t c[] = {0, 15};
    evp_stack_push(&s, c, 2);
    CHECK_EQ(evp_stack_pop(&s, out, 1), 1);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(evp_stack_pop(&s, out, 1), 1);
    CHECK_EQ(out[0], 15);
    evp_stack_fini(&s);
}

#define NIDS 64
#define THREADS 8
#define ROUNDS 50000

static struct evp_stack g_stack;
static _Atomic int g_owner[NIDS]; /* 0 free, else owning thread + 1 */

static void *churn(void *arg)
{
    int me = (int)(intptr_t)arg + 1;
    uint32_t held[NIDS];
    unsigned seed = (unsigned)me;
    for (int r = 0; r < ROUNDS; r++) {
        uint32_t want = 1 + (uint32_t)(rand_r(&seed) % 8);
        uint32_t k = evp_stack_pop(&g_stack, held, want);
        CHECK(k <= want);
        for (uint32_t i = 0; i < k; i++) {
            int expect = 0;
            if (!atomic_compare_exchange_strong(&g_owner[held[i]], &expect, me))
                evp_test_fail(__FILE__, __LINE__, "id %u popped by %d while owned by %d", held[i], me, expect);
        }
        for (uint32_t i = 0; i < k; i++) {
            int expect = me;
            CHECK(atomic_compare_exchange_strong(&g_owner[held[i]], &expect, 0));
        }
        evp_stack_push(&g_stack, held, k);
    }
    return NULL;
}

static void count_id(uint32_t id, void *arg)
{
    ((int *)arg)[id]++;
}

static void test_concurrent_conservation(void)
{
    CHECK_RC(evp_stack_init(&g_stack, NIDS), 0);
    uint32_t all[NIDS];
    for (uint32_t i = 0; i < NIDS; i++)
        all[i] = i;
    evp_stack_push(&g_stack, all, NIDS);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, churn, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int seen[NIDS] = {0};
    evp_stack_walk(&g_stack, count_id, seen);
    for (int i = 0; i < NIDS; i++)
        CHECK_EQ(seen[i], 1);
    evp_stack_fini(&g_stack);
}

int main(void)
{
    TEST(test_lifo_and_bulk);
    TEST(test_concurrent_conservation);
    return 0;
}

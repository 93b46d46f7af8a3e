/* SPDX-License-Identifier: Apache-2.0 */
/* The depot stack of chains: LIFO order, chain contents kept whole, empty,
 * and conservation under concurrent push/pop (every value present exactly
 * once at the end, never owned by two threads at once). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"
#include "depot_churn.h"
#include "pool/stack.h"

static void test_lifo_and_chains(void)
{
    struct evp_stack s;
    CHECK_RC(evp_stack_init(&s, 16, 4), 0);
    uint64_t out[4];
    CHECK_EQ(evp_stack_pop(&s, out), 0); /* empty */
    uint64_t a[] = {300, 301, 302};
    evp_stack_push(&s, 3, a, 3);
    uint64_t b[] = {900};
    evp_stack_push(&s, 9, b, 1);
    CHECK_EQ(atomic_load(&s.items), 4);
    CHECK_EQ(evp_stack_pop(&s, out), 1);
    CHECK_EQ(out[0], 900);
    CHECK_EQ(evp_stack_pop(&s, out), 3);
    CHECK_EQ(out[0], 300);
    CHECK_EQ(out[2], 302);
    CHECK_EQ(evp_stack_pop(&s, out), 0);
    CHECK_EQ(atomic_load(&s.items), 0);
    /* Node 0 and the last node are ordinary; a full-width chain. */
    uint64_t c[] = {1, 2, 3, 4};
    evp_stack_push(&s, 0, c, 4);
    evp_stack_push(&s, 15, b, 1);
    CHECK_EQ(evp_stack_pop(&s, out), 1);
    CHECK_EQ(evp_stack_pop(&s, out), 4);
    CHECK_EQ(out[3], 4);
    evp_stack_fini(&s);
    CHECK_RC(evp_stack_init(&s, 0, 4), EVP_EINVAL);
    CHECK_RC(evp_stack_init(&s, 4, EVP_STACK_WIDTH_MAX + 1), EVP_EINVAL);
}

#define NVALS 64
#define WIDTH 4
#define THREADS 8
#define ROUNDS 50000

static struct evp_depot g_depot; /* EVP_DEPOT_STACK */
static _Atomic int g_owner[NVALS]; /* 0 free, else owning thread + 1 */

static void *churn(void *arg)
{
    int me = (int)(intptr_t)arg + 1;
    unsigned seed = (unsigned)me;
    for (int r = 0; r < ROUNDS; r++)
        depot_churn_round(&g_depot, g_owner, me, &seed, WIDTH);
    return NULL;
}

static void test_concurrent_conservation(void)
{
    CHECK_RC(evp_depot_init(&g_depot, EVP_DEPOT_STACK, NVALS, WIDTH), 0);
    for (uint64_t i = 0; i < NVALS; i++)
        evp_depot_push(&g_depot, (uint32_t)i, &i, 1);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, churn, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    depot_check_each_once(&g_depot, NVALS);
    evp_depot_fini(&g_depot);
}

int main(void)
{
    TEST(test_lifo_and_chains);
    TEST(test_concurrent_conservation);
    return 0;
}

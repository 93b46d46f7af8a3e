/* SPDX-License-Identifier: Apache-2.0 */
/* A hostile environment: every pthread key is in use when the first pool is
 * created. Pool creation must fail with a clear error (EVP_ENOMEM, logged)
 * and must not write another component's thread-specific data (it used to
 * fall back to key 0). Once a key is free again, creation succeeds. Its own
 * binary: the key evpool creates lives for the whole process. */
#include <limits.h>
#include <pthread.h>

#include "harness.h"

int main(void)
{
    /* Another component's key and value, created first (likely key 0). */
    pthread_key_t theirs;
    CHECK(pthread_key_create(&theirs, NULL) == 0);
    int marker = 42;
    CHECK(pthread_setspecific(theirs, &marker) == 0);
    /* Exhaust the rest. */
    static pthread_key_t keys[PTHREAD_KEYS_MAX + 1];
    int n = 0;
    while (n < PTHREAD_KEYS_MAX + 1 && pthread_key_create(&keys[n], NULL) == 0)
        n++;
    CHECK(n < PTHREAD_KEYS_MAX + 1);
    fprintf(stderr, "  %d keys taken\n", n + 1);

    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "2", NULL);
    evp_pool_t *p = NULL;
    CHECK_RC(evp_pool_create(0, &cfg, &p), EVP_ENOMEM);
    CHECK(p == NULL);
    CHECK(pthread_getspecific(theirs) == &marker); /* untouched */

    /* One key back: the next creation succeeds and the pool works. */
    CHECK(pthread_key_delete(keys[n - 1]) == 0);
    CHECK_RC(evp_pool_create(0, &cfg, &p), 0);
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0);
    CHECK_RC(evp_pool_return(p, l), 0);
    CHECK(pthread_getspecific(theirs) == &marker);
    evp_pool_stats_t st;
    CHECK_RC(evp_pool_destroy(p, &st), 0);
    CHECK_EQ(st.outstanding, 0);
    fprintf(stderr, "test_keys: ok\n");
    return 0;
}

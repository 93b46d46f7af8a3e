/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest program against evpool: a host-backend pool, one lease taken
 * and returned, teardown that destroys every event. Exits 0 when the pool
 * behaved and the library linked is the version of the headers. */
#include <stdio.h>
#include <string.h>

#include <evpool/evpool.h>

int main(void)
{
    evp_config_t cfg;
    evp_pool_t *pool;
    evp_lease_t lease;
    evp_pool_stats_t final;
    char err[256] = "";
    int rc;

    if (strcmp(evp_version(), EVP_VERSION_STRING) != 0) {
        fprintf(stderr, "evpool-consumer: headers %s, library %s\n", EVP_VERSION_STRING,
                evp_version());
        return 1;
    }
    evp_config_init(&cfg);
    if ((rc = evp_config_set(&cfg, "EVPOOL_BACKEND", "host", err, sizeof err)) != 0 ||
        (rc = evp_config_set(&cfg, "EVPOOL_SIZE", "4", err, sizeof err)) != 0) {
        fprintf(stderr, "evpool-consumer: config: %s (%s)\n", evp_strerror(rc), err);
        return 1;
    }
    if ((rc = evp_pool_create(0, &cfg, &pool)) != 0) {
        fprintf(stderr, "evpool-consumer: create: %s\n", evp_strerror(rc));
        return 1;
    }
    if ((rc = evp_pool_lease(pool, &lease)) != 0 || (rc = evp_pool_return(pool, lease)) != 0) {
        fprintf(stderr, "evpool-consumer: lease/return: %s\n", evp_strerror(rc));
        return 1;
    }
    if ((rc = evp_pool_destroy(pool, &final)) != 0 || final.outstanding != 0 ||
        final.events_created != final.events_destroyed) {
        fprintf(stderr, "evpool-consumer: destroy: %s, %llu leaked, %llu created, %llu destroyed\n",
                evp_strerror(rc), (unsigned long long)final.outstanding,
                (unsigned long long)final.events_created,
                (unsigned long long)final.events_destroyed);
        return 1;
    }
    printf("evpool-consumer: evpool %s linked and working\n", evp_version());
    return 0;
}

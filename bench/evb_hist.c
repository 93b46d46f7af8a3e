/* SPDX-License-Identifier: Apache-2.0 */
/* evb histogram: see evb_hist.h. */
#include "evb_hist.h"

#include <math.h>
#include <string.h>

void evb_hist_reset(evb_hist *h)
{
    memset(h, 0, sizeof *h);
}

void evb_hist_merge(evb_hist *into, const evb_hist *from)
{
    into->count += from->count;
    into->sum_ns += from->sum_ns;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
    for (unsigned i = 0; i < EVB_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
}

/* Lower bound and width of bucket i, inverting evb_hist_index. */
static void evb_hist_bucket_range(unsigned i, double *lo, double *width)
{
    if (i < EVB_HIST_SUB) {
        *lo = i;
        *width = 1;
        return;
    }
    unsigned group = i >> EVB_HIST_SUB_BITS; /* = e - SUB_BITS + 1 */
    unsigned sub = i & (EVB_HIST_SUB - 1u);
    unsigned shift = group - 1u;             /* = e - SUB_BITS */
    *lo = ldexp((double)(EVB_HIST_SUB + sub), (int)shift);
    *width = ldexp(1.0, (int)shift);
}

double evb_hist_quantile(const evb_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    /* The rank of the q-quantile, 1-based: the smallest value with at
     * least q * count samples at or below it. */
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < EVB_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            double lo, width;
            evb_hist_bucket_range(i, &lo, &width);
            double mid = width > 1 ? lo + width / 2 : lo;
            return mid > (double)h->max_ns ? (double)h->max_ns : mid;
        }
    }
    return (double)h->max_ns;
}

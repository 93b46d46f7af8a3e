/* SPDX-License-Identifier: Apache-2.0 */
/* evb histogram: per-thread latency histogram, log-linear buckets in ns.
 *
 * Values below 16 ns get a bucket each; above, every power of two is split
 * into 16 linear sub-buckets, so a bucket is at most 1/16 (6.25%) of its
 * value wide and a percentile read from it is within about 3% (the middle
 * of the bucket is reported). 976 buckets cover the whole uint64_t range in
 * under 8 KiB: one per benchmark thread, allocated before the timed loop
 * (recording never allocates), merged by one thread after the run.
 */
#ifndef EVB_HIST_H
#define EVB_HIST_H

#include <stdint.h>

#define EVB_HIST_SUB_BITS 4
#define EVB_HIST_SUB (1u << EVB_HIST_SUB_BITS)
#define EVB_HIST_BUCKETS ((64u - EVB_HIST_SUB_BITS + 1u) * EVB_HIST_SUB)

typedef struct evb_hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t bucket[EVB_HIST_BUCKETS];
} evb_hist;

static inline unsigned evb_hist_index(uint64_t ns)
{
    if (ns < EVB_HIST_SUB)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* >= EVB_HIST_SUB_BITS */
    unsigned shift = e - EVB_HIST_SUB_BITS;
    return ((e - EVB_HIST_SUB_BITS + 1u) << EVB_HIST_SUB_BITS) |
           (unsigned)((ns >> shift) & (EVB_HIST_SUB - 1u));
}

static inline void evb_hist_record(evb_hist *h, uint64_t ns)
{
    h->bucket[evb_hist_index(ns)]++;
    h->count++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void evb_hist_reset(evb_hist *h);
/* into += from */
void evb_hist_merge(evb_hist *into, const evb_hist *from);
/* The q-quantile (0 < q <= 1) in ns: the middle of the bucket holding it,
 * never above the exact maximum. 0 for an empty histogram. */
double evb_hist_quantile(const evb_hist *h, double q);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* evb suite: every benchmark family registers itself from one function;
 * evb_register_all (evb_suite.c) calls them in the order they report.
 * main (evb_main.c) calls evb_register_all and evb_context_collect. */
#ifndef EVB_SUITE_H
#define EVB_SUITE_H

void evb_register_all(void);         /* evb_suite.c: every family below, in report order */
/* evb_context.c: machine, CPU and GPU facts, each handed to add(key, value)
 * (evb_add_context: the JSON context). */
void evb_context_collect(void (*add)(const char *key, const char *value));

void evb_evpool_register(void);      /* evb_evpool.c: same/cross thread, cache on and off */
void evb_ck_ring_register(void);     /* baselines/ck_ring_pool.c */
void evb_mutex_vector_register(void);/* baselines/mutex_vector_pool.c */
void evb_cuda_create_register(void); /* baselines/cuda_create_destroy.c */
void evb_exhaust_register(void);     /* evb_exhaust.c */
void evb_submit_register(void);      /* evb_submit.c (CUDA) */
void evb_depot_register(void);       /* evb_depot.c: the depot alone, ring/stack/ck_ring */

#endif

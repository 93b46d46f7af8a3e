/* SPDX-License-Identifier: Apache-2.0 */
/* evb suite: the order here is the order of the report (and of the JSON). */
#include "evb_suite.h"

#include "shim/evb.h"

void evb_register_all(void)
{
    evb_evpool_register();
    evb_ck_ring_register();
    evb_mutex_vector_register();
    evb_cuda_create_register();
    evb_exhaust_register();
    evb_submit_register();
    evb_depot_register();
}

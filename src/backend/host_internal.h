/* evpool — host stream internals the host backend reads. */
#ifndef EVPOOL_SRC_BACKEND_HOST_INTERNAL_H
#define EVPOOL_SRC_BACKEND_HOST_INTERNAL_H

#include <stdint.h>

#include "evpool/host.h"

/* Number of callbacks enqueued so far: an event recorded now completes when
 * evp_host_stream_done() reaches it. */
uint64_t evp_host_stream_enqueued(evp_host_stream_t *s);
/* Number of callbacks that have finished running. */
uint64_t evp_host_stream_done(evp_host_stream_t *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The host kind: memfd segments, memcpy on host worker streams. */
#include "transport/kind.h"

#include "backend/mem.h"
#include "base/log.h"

static int evp_thost_locate(void *addr, size_t len, int *device)
{
    evp_error("transport host: %p (%zu bytes) is not memory of evp_transport_mem_alloc; only that memory can be "
              "shared with another process (memfd)",
              addr, len);
    return EVP_EINVAL;
}

const struct evp_tkind evp_tkind_host = {
    .name = "host",
    .kind = EVP_TRANSPORT_HOST,
    .backend = EVP_BACKEND_HOST,
    .caps = EVP_TRANSPORT_CAP_HOST_HOST | EVP_TRANSPORT_CAP_INTER_PROC,
    .handle = EVP_MEM_FD,
    .key_by_handle = 0,
    .open = NULL,
    .locate = evp_thost_locate,
};

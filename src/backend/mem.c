/* SPDX-License-Identifier: Apache-2.0 */
#include "backend/mem.h"

#include <string.h>

#include "evpool/error.h"
#include "base/log.h"

_Static_assert(sizeof(struct evp_mem_desc) == 96, "the descriptor is a fixed wire layout");

void evp_mem_desc_init(struct evp_mem_desc *d, enum evp_mem_handle handle, uint64_t size, uint64_t offset,
                       uint64_t len)
{
    memset(d, 0, sizeof *d);
    d->magic = EVP_MEM_DESC_MAGIC;
    d->version = EVP_MEM_DESC_VERSION;
    d->handle = (uint16_t)handle;
    d->size = size;
    d->offset = offset;
    d->len = len;
}

int evp_mem_desc_check(const struct evp_mem_desc *d, unsigned allowed)
{
    const char *bad = NULL;
    if (!d)
        bad = "no descriptor";
    else if (d->magic != EVP_MEM_DESC_MAGIC)
        bad = "not an evpool memory descriptor (magic)";
    else if (d->version != EVP_MEM_DESC_VERSION)
        bad = "descriptor of another evpool version";
    else if (!(d->handle & allowed) || (d->handle & (d->handle - 1u)))
        bad = "handle type not importable by this backend";
    else if (d->len == 0 || d->offset > d->size || d->len > d->size - d->offset)
        bad = "exported range outside the mapping";
    if (!bad)
        return 0;
    evp_error("memory import: %s", bad);
    return EVP_EINVAL;
}

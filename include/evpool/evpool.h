/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — umbrella header. Link evpool::evpool (libevpool.a). */
#ifndef EVPOOL_EVPOOL_H
#define EVPOOL_EVPOOL_H

#include "evpool/batch.h"
#include "evpool/config.h"
#include "evpool/device.h"
#include "evpool/error.h"
#include "evpool/host.h"
#include "evpool/pool.h"
#include "evpool/transport.h"
#include "evpool/version.h"

/* The 0.1.0 names of the version macros; use EVP_VERSION_* (evpool/version.h). */
#define EVPOOL_VERSION_MAJOR EVP_VERSION_MAJOR
#define EVPOOL_VERSION_MINOR EVP_VERSION_MINOR
#define EVPOOL_VERSION_PATCH EVP_VERSION_PATCH

#endif

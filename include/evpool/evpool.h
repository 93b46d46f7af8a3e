/* evpool — umbrella header. Link evpool::evpool (libevpool.a). */
#ifndef EVPOOL_EVPOOL_H
#define EVPOOL_EVPOOL_H

#include "evpool/batch.h"
#include "evpool/config.h"
#include "evpool/device.h"
#include "evpool/error.h"
#include "evpool/host.h"
#include "evpool/pool.h"

#define EVPOOL_VERSION_MAJOR 0
#define EVPOOL_VERSION_MINOR 1
#define EVPOOL_VERSION_PATCH 0

#endif

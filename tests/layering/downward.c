/* SPDX-License-Identifier: Apache-2.0 */
/* Must compile with the pool layer's include root: the pool sees the
 * backend and base below it (tests/CMakeLists.txt, layering_downward_ok). */
#include "backend/backend.h"
#include "base/log.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* Must NOT compile with the backend layer's include root: the backend may
 * not see the pool (tests/CMakeLists.txt, layering_upward_fails). */
#include "pool/pool_internal.h"

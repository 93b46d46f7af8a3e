/* SPDX-License-Identifier: Apache-2.0 */
/* evp_version: the library's own version, from the generated evpool/version.h. */
#include "evpool/version.h"

const char *evp_version(void)
{
    return EVP_VERSION_STRING;
}

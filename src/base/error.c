/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — names and messages of the error codes, generated from
 * EVP_ERRNO_MAP (include/evpool/error.h). */
#include "evpool/error.h"

const char *evp_strerror(int err)
{
    switch (err) {
    case EVP_OK: return "EVP_OK: success";
#define EVP_ERROR_MESSAGE(name, value, msg) \
    case EVP_E##name: return "EVP_E" #name ": " msg;
        EVP_ERRNO_MAP(EVP_ERROR_MESSAGE)
#undef EVP_ERROR_MESSAGE
    default: return "unknown evpool error";
    }
}

const char *evp_err_name(int err)
{
    switch (err) {
    case EVP_OK: return "EVP_OK";
#define EVP_ERROR_NAME(name, value, msg) \
    case EVP_E##name: return "EVP_E" #name;
        EVP_ERRNO_MAP(EVP_ERROR_NAME)
#undef EVP_ERROR_NAME
    default: return "EVP_UNKNOWN";
    }
}

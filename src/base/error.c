#include "evpool/error.h"

const char *evp_strerror(int err)
{
    switch (err) {
    case EVP_OK: return "EVP_OK: success";
    case EVP_EPERM: return "EVP_EPERM: not permitted or not available on this machine (see the log); use the fallback";
    case EVP_EBACKEND: return "EVP_EBACKEND: the backend (CUDA) call failed (see the log for the CUDA error)";
    case EVP_EAGAIN: return "EVP_EAGAIN: pool exhausted: no event became free within the wait policy";
    case EVP_ENOMEM: return "EVP_ENOMEM: out of host memory";
    case EVP_EBUSY: return "EVP_EBUSY: object still in use";
    case EVP_ENODEV: return "EVP_ENODEV: no usable device (no GPU or driver, or device out of range)";
    case EVP_EINVAL: return "EVP_EINVAL: invalid argument or configuration value";
    case EVP_ENODATA: return "EVP_ENODATA: nothing was recorded through this lease";
    case EVP_ESTALE: return "EVP_ESTALE: stale lease (already returned: double return or use after return)";
    default: return "unknown evpool error";
    }
}

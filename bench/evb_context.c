/* SPDX-License-Identifier: Apache-2.0 */
/* evb context: what machine a result came from, for the JSON "context"
 * (benchmark::AddCustomContext). Google Benchmark already records the host
 * name, date, CPU count and MHz, caches and load; this adds the CPU model,
 * the GPU, the driver and CUDA versions (through the CUDA runtime, linked
 * statically: without a driver the calls fail and the GPU reads "none"),
 * the evpool backend and the harness's own settings. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "evb_clock.h"
#include "evb_patterns.h"
#include "evb_run.h"
#include "evb_suite.h"
#include "evpool/evpool.h"
#include "shim/evb.h"

/* The first line of `path` starting with `key`, after its ':' and blanks. */
static bool evb_context_read_field(const char *path, const char *key, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) != 0)
            continue;
        const char *v = strchr(line, ':');
        v = v ? v + 1 : line + strlen(key);
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(out, len, "%s", v);
        out[strcspn(out, "\n")] = '\0';
        found = true;
    }
    fclose(f);
    return found;
}

/* 12040 -> "12.4" (cudaDriverGetVersion / cudaRuntimeGetVersion). */
static void evb_context_cuda_version(int v, char *out, size_t len)
{
    snprintf(out, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

static void evb_context_gpu(void (*add)(const char *, const char *))
{
    char buf[256];
    int n = 0, v = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess)
        n = 0;
    snprintf(buf, sizeof buf, "%d", n);
    add("gpu_count", buf);
    if (n > 0) {
        struct cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
            add("gpu_name", prop.name);
            snprintf(buf, sizeof buf, "%d.%d", prop.major, prop.minor);
            add("gpu_compute_capability", buf);
        } else {
            add("gpu_name", "unknown");
        }
    } else {
        add("gpu_name", "none");
        add("gpu_why_none", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    }
    /* 0 when no driver is installed. */
    if (cudaDriverGetVersion(&v) == cudaSuccess && v > 0) {
        evb_context_cuda_version(v, buf, sizeof buf);
        add("cuda_driver_api", buf);
    } else {
        add("cuda_driver_api", "none");
    }
    if (cudaRuntimeGetVersion(&v) == cudaSuccess) {
        evb_context_cuda_version(v, buf, sizeof buf);
        add("cuda_runtime", buf);
    }
    /* The driver's own version (580.159...) is not in the runtime API. */
    if (evb_context_read_field("/proc/driver/nvidia/version", "NVRM version", buf, sizeof buf))
        add("nvidia_driver", buf);
    else
        add("nvidia_driver", "none");
    cudaGetLastError(); /* leave no error behind for the benchmarks */
}

static void evb_context_evpool(void (*add)(const char *, const char *))
{
    char buf[128];
    snprintf(buf, sizeof buf, "%d.%d.%d", EVPOOL_VERSION_MAJOR, EVPOOL_VERSION_MINOR,
             EVPOOL_VERSION_PATCH);
    add("evpool_version", buf);
    /* The backend EVPOOL_BACKEND resolves to, as the evpool runs will see it:
     * a small pool created and destroyed again. */
    evp_config_t cfg;
    evp_config_init(&cfg);
    evp_config_set(&cfg, "EVPOOL_SIZE", "1", NULL, 0);
    evp_pool_t *pool;
    if (evp_config_load_env(&cfg, buf, sizeof buf) == 0 && evp_pool_create(0, &cfg, &pool) == 0) {
        add("evpool_backend", evp_pool_backend(pool));
        evp_pool_destroy(pool, NULL); /* nothing leased: nothing to report */
    } else {
        add("evpool_backend", "unavailable");
    }
}

void evb_context_collect(void (*add)(const char *key, const char *value))
{
    char buf[256];
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        add("os", buf);
    }
    snprintf(buf, sizeof buf, "%d", evb_cpu_count());
    add("cpu_count", buf);
    if (!evb_context_read_field("/proc/cpuinfo", "model name", buf, sizeof buf))
        snprintf(buf, sizeof buf, "unknown");
    add("cpu_model", buf);
    evb_context_gpu(add);
    evb_context_evpool(add);

    add("evb_clock", evb_clock_source());
    snprintf(buf, sizeof buf, "%.1f", evb_clock_overhead_ns());
    add("evb_timer_ns", buf);
    snprintf(buf, sizeof buf, "%g", evb_deadline_s());
    add("evb_deadline_s", buf);
    snprintf(buf, sizeof buf, "%u", EVB_SAMPLE_MEAN);
    add("evb_sample_mean", buf);
    snprintf(buf, sizeof buf, "%u", EVB_POOL_CAPACITY);
    add("evb_pool_capacity", buf);
}

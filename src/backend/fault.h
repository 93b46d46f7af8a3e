/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — fault injection: a wrapper of a backend's ops table that makes
 * chosen calls fail, for tests of every failure path above the backend.
 *
 * Off unless enabled: evp_fault_enable() (tests) or the environment variable
 * EVPOOL_FAULT (read once, at the first backend resolve), whose value is a
 * comma-separated list of op:N[:COUNT], e.g. "record:3" (the 3rd record
 * fails) or "query:1:5,stream_create:2". Once enabled, evp_backend_resolve
 * hands out the wrapper instead of the real table; with nothing armed the
 * wrapper only counts calls and forwards them.
 *
 * Every op of the table is covered: events, streams, copies and host
 * callbacks, and the memory table (backend/mem.h), which the wrapper also
 * wraps (`mem` of the wrapper forwards to the real backend's). One backend
 * is wrapped at a time (the first resolved while enabled): a test process
 * uses one backend. An injected failure returns EVP_EBACKEND. The real op
 * is not called (its outputs are left untouched, nothing is enqueued or
 * allocated), except for the ops that end an object's life: an injected
 * destroy, stream_destroy or mem_release still releases the real object and
 * only reports the failure, so that its path can be tested under the leak
 * checker (the caller must not release the object again).
 *
 * Thread safety: every function may be called from any thread; arm while
 * no other thread drives the op if the count "from now" must be exact. */
#ifndef EVPOOL_SRC_BACKEND_FAULT_H
#define EVPOOL_SRC_BACKEND_FAULT_H

#include <stdint.h>

#include "backend/backend.h"

/* The ops that can be made to fail; names as EVPOOL_FAULT spells them. */
#define EVP_FAULT_OPS(X)                                                       \
    X(CREATE, "create")                                                        \
    X(DESTROY, "destroy")                                                      \
    X(RECORD, "record")                                                        \
    X(QUERY, "query")                                                          \
    X(STREAM_CREATE, "stream_create")                                          \
    X(STREAM_DESTROY, "stream_destroy")                                        \
    X(STREAM_SYNC, "stream_sync")                                              \
    X(COPY, "copy")                                                            \
    X(COPY_BATCH, "copy_batch")                                                \
    X(HOST_FN, "host_fn")                                                      \
    X(MEM_ALLOC, "mem_alloc")                                                  \
    X(MEM_ATTACH, "mem_attach")                                                \
    X(MEM_EXPORT, "mem_export")                                                \
    X(MEM_IMPORT, "mem_import")                                                \
    X(MEM_RELEASE, "mem_release")

typedef enum evp_fault_op {
#define EVP_FAULT_ENUM(id, name) EVP_FAULT_##id,
    EVP_FAULT_OPS(EVP_FAULT_ENUM)
#undef EVP_FAULT_ENUM
    EVP_FAULT_OP_COUNT
} evp_fault_op_t;

/* From now on evp_backend_resolve returns the wrapper. Idempotent. */
void evp_fault_enable(void);

/* Calls nth .. nth+count-1 of op, counted from now (nth >= 1), fail with
 * EVP_EBACKEND. Replaces what was armed for op. 0, EVP_EINVAL. */
int evp_fault_arm(evp_fault_op_t op, uint64_t nth, uint64_t count);

/* Disarms every op (counters stay). */
void evp_fault_disarm(void);

/* Calls of op seen by the wrapper, and failures injected into them. */
uint64_t evp_fault_calls(evp_fault_op_t op);
uint64_t evp_fault_injected(evp_fault_op_t op);

/* The op's name as EVPOOL_FAULT spells it; NULL for an op out of range. */
const char *evp_fault_op_name(evp_fault_op_t op);

/* Arms from a spec as EVPOOL_FAULT spells it and enables the wrapper.
 * 0; EVP_EINVAL (message logged) for a malformed spec, nothing armed. */
int evp_fault_parse(const char *spec);

/* What evp_backend_resolve returns for `be`: the wrapper when enabled (and
 * `be` is the wrapped backend), else `be`. */
const struct evp_backend *evp_fault_wrap(const struct evp_backend *be);

#endif

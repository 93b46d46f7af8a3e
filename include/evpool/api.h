/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — what a public declaration is marked with.
 *
 * The library is compiled with -fvisibility=hidden and its archive is made
 * from one partial link whose hidden symbols are then made local, so only
 * declarations marked EVP_API are global in libevpool.a: internal functions
 * of one layer cannot collide with a program's own symbols. Every function a
 * public header declares (static inline ones aside) carries EVP_API; the
 * archive_symbols test fails on one that does not.
 */
#ifndef EVPOOL_API_H
#define EVPOOL_API_H

#if defined(__GNUC__) || defined(__clang__)
#define EVP_API __attribute__((visibility("default")))
#else
#define EVP_API
#endif

#endif

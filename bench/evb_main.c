/* SPDX-License-Identifier: Apache-2.0 */
/* evpool-bench's main: C owns it and calls the shim (shim/evb.h), which
 * calls back only through the function pointers of each evb_bench. */
#include "evb_suite.h"
#include "shim/evb.h"

int main(int argc, char **argv)
{
    if (evb_initialize(argc, argv) != 0)
        return 1;
    evb_context_collect(evb_add_context);
    evb_register_all();
    evb_run_benchmarks();
    return 0;
}

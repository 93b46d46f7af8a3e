/* SPDX-License-Identifier: Apache-2.0 */
/* evpool-config: prints the configuration the current environment resolves
 * to, one knob per line, so that a deployment can be checked before a pool
 * is ever created. Exit status: 0 valid, 1 invalid value, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "evpool/config.h"
#include "evpool/version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: evpool-config [--help | --version]\n"
            "Prints every evpool knob as resolved from the EVPOOL_* environment:\n"
            "variable, effective value, source (default or environment), accepted\n"
            "values and meaning. Exits 1, with the reason on stderr, if a value is\n"
            "invalid. --version prints the version of the evpool library it was\n"
            "linked with.\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("evpool-config %s\n", evp_version());
        return 0;
    }
    if (argc != 1) {
        usage(stderr);
        return 2;
    }
    evp_config_t cfg;
    char err[2048]; /* every bad value, " | " between */
    evp_config_init(&cfg);
    if (evp_config_load_env(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "evpool-config: %s\n", err);
        return 1;
    }
    int name_w = (int)strlen("variable"), acc_w = (int)strlen("accepted");
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        int n = (int)strlen(evp_config_knob_name((evp_knob_t)k));
        int a = (int)strlen(evp_config_knob_accepts((evp_knob_t)k));
        name_w = n > name_w ? n : name_w;
        acc_w = a > acc_w ? a : acc_w;
    }
    printf("%-*s  %-10s  %-11s  %-*s  %s\n", name_w, "variable", "value", "source", acc_w,
           "accepted", "meaning");
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        char value[32];
        evp_config_format(&cfg, (evp_knob_t)k, value, sizeof value);
        printf("%-*s  %-10s  %-11s  %-*s  %s\n", name_w, evp_config_knob_name((evp_knob_t)k),
               value, evp_config_source_name(cfg.source[k]), acc_w,
               evp_config_knob_accepts((evp_knob_t)k), evp_config_knob_doc((evp_knob_t)k));
    }
    return 0;
}

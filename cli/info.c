/* backtune info / list: what this machine is and which variants exist. */
#include "cmdline.h"
#include "commands.h"
#include "fingerprint.h"
#include "internal.h"
#include "suite.h"
#ifdef BT_HAVE_BENCH
#include "bench_cmd.h"
#endif

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char info_help[] =
    "usage: backtune info [--brief]\n"
    "Prints this machine's fingerprint (CPU, ISA flags and class, cores, PUs allowed to this\n"
    "process, caches, compiler), which the tuner keys tables by, and the ISA backtune uses\n"
    "(capped by BACKTUNE_ISA_CAP=scalar|avx2|avx512). Without --brief it also measures the\n"
    "FP32 FMA peak per ISA and the memory bandwidth, for 1 and all threads (about 2 s; run\n"
    "it on an idle machine).\n";

int bt_cmd_info(int argc, char **argv) {
    static const struct option opts[] = {
        {"brief", no_argument, NULL, 'b'}, {"help", no_argument, NULL, 'h'}, {0}};
    int brief = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":bh", opts, NULL)) != -1) {
        if (c == 'b') {
            brief = 1;
        } else if (c == 'h') {
            return fputs(info_help, stdout), 0;
        } else {
            bt_cli_bad_option("backtune info", c, argv);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "backtune info: unexpected argument '%s'\n", argv[optind]);
        bt_cli_try_help("backtune info");
        return 2;
    }
    const bt_machine *m = bt_machine_get();
    bt_fingerprint_print(stdout);
    printf("backtune isa: %s (cpu: avx2 %s, avx512 %s); %d variants registered\n",
           bt_isa_name(m->isa_cap), m->has_avx2 ? "yes" : "no", m->has_avx512 ? "yes" : "no",
           bt_variant_count());
#ifdef BT_HAVE_BENCH
    if (!brief) {
        printf("\n");
        bt_bench_print_machine(stdout);
    }
#else
    (void)brief;
#endif
    return 0;
}

static const char list_help[] =
    "usage: backtune list [--names | --suites]\n"
    "Lists every registered variant: op, ISA, whether this CPU runs it, and its tunable\n"
    "parameters (every variant also takes threads=N, bind=none|close|spread and\n"
    "algorithms=all|direct), then what the approximate families' error is.\n\n"
    "  -n, --names    the variant names only, one a line\n"
    "      --suites   the suites that --suite NAME finds, one a line\n"
    "  -h, --help     this text\n";

int bt_cmd_list(int argc, char **argv) {
    enum { OPT_SUITES = 256 };
    static const struct option opts[] = {{"names", no_argument, NULL, 'n'},
                                         {"suites", no_argument, NULL, OPT_SUITES},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int names = 0, suites = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":nh", opts, NULL)) != -1) {
        if (c == 'n') {
            names = 1;
        } else if (c == OPT_SUITES) {
            suites = 1;
        } else if (c == 'h') {
            return fputs(list_help, stdout), 0;
        } else {
            bt_cli_bad_option("backtune list", c, argv);
            return 2;
        }
    }
    if (optind < argc || (names && suites)) {
        if (optind < argc)
            fprintf(stderr, "backtune list: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "backtune list: give --names or --suites, not both\n");
        bt_cli_try_help("backtune list");
        return 2;
    }
    if (suites) {
        bt_suite_print_names(stdout);
        return 0;
    }
    if (names) {
        for (int i = 0; i < bt_variant_count(); i++) printf("%s\n", bt_variant_name(i));
        return 0;
    }
    printf("%-40s %-11s %-7s %-4s %s\n", "variant", "op", "isa", "cpu", "parameters");
    for (int i = 0; i < bt_variant_count(); i++)
        printf("%-40s %-11s %-7s %-4s %s\n", bt_variant_name(i), bt_op_name(bt_variant_op(i)),
               bt_variant_isa(i), bt_variant_cpu_ok(i) ? "yes" : "no", bt_variant_param_space(i));
    /* The families whose results are approximate, once each, with their error. */
    const char *said = NULL;
    for (int i = 0; i < bt_variant_count(); i++) {
        const bt_variant *v = bt_registry_get(i);
        if (!v->numerics || (said && !strcmp(said, v->family))) continue;
        printf("\n%s: %s\n", v->family, v->numerics);
        said = v->family;
    }
    return 0;
}

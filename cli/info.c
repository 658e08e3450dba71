/* backtune info / list: what this machine is and which variants exist. */
#include "commands.h"
#include "fingerprint.h"
#include "internal.h"
#ifdef BT_HAVE_BENCH
#include "bench_cmd.h"
#endif

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int only_help(int argc, char **argv, const char *text) {
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(text, stdout);
            return 0;
        }
        fputs(text, stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n%s", argv[0], argv[optind], text);
        return 2;
    }
    return -1;
}

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
    while ((c = getopt_long(argc, argv, "bh", opts, NULL)) != -1) {
        if (c == 'b')
            brief = 1;
        else if (c == 'h')
            return fputs(info_help, stdout), 0;
        else
            return fputs(info_help, stderr), 2;
    }
    if (optind < argc) {
        fprintf(stderr, "backtune info: unexpected argument '%s'\n%s", argv[optind], info_help);
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

int bt_cmd_list(int argc, char **argv) {
    int rc = only_help(argc, argv,
                       "usage: backtune list\n"
                       "Lists every registered variant: op, ISA, whether this CPU runs it, and "
                       "its tunable parameters\n(every variant also takes threads=N, "
                       "bind=none|close|spread and algorithms=all|direct), then what\nthe "
                       "approximate families' error is.\n");
    if (rc >= 0) return rc;
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

/* backtune info: what this machine is. */
#include "cmdline.h"
#include "commands.h"
#include "fingerprint.h"
#include "internal.h"
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

/* backtune: one command over the library, benchmarks and tuner. */
#include "cmdline.h"
#include "commands.h"
#include "compare_cmd.h"
#include "tune_cmd.h"
#ifdef BT_HAVE_BENCH
#include "bench_cmd.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct command {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"info", "this machine: CPU, ISA, cores, caches", bt_cmd_info},
    {"list", "list the registered variants and their parameters", bt_cmd_list},
    {"check", "check variants against the reference on problems", bt_cmd_check},
#ifdef BT_HAVE_BENCH
    {"bench", "benchmark variants and peers on a suite (Google benchmark)", bt_cmd_bench},
#endif
    {"tune", "tune a suite for this machine and write its tuning table", bt_cmd_tune},
    {"compare", "compare results of machines, builds or dates", bt_cmd_compare},
    {"report", "HTML report with plots from results folders", bt_cmd_report},
    {"import-model", "a torchvision model or ONNX file -> a suite file (Python, torch)",
     bt_cmd_import_model},
};

static void usage(FILE *out) {
    fprintf(out, "usage: backtune <command> [options]   (backtune <command> --help for more)\n"
                 "       backtune --version (-V) | --help\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nProblems are written '<op>[_nhwc] <benchdnn descriptor>', read by benchdnn's\n"
                 "rules: width fields alone make a 1-D convolution, height fields alone a square\n"
                 "one, and a given output size sets the padding (deduced when ph is missing) and\n"
                 "the end padding, which may differ from the begin padding. E.g.\n"
                 "  backtune check \"conv_bwd_w mb2ic3ih7oc4kh3ph1\"\n"
                 "  backtune check \"conv_bwd_d mb2ic8ih8oc8oh4kh3sh2\"   ('SAME': pad 0 before, 1 "
                 "after)\n"
                 "  backtune check \"conv_bwd_w mb2ic8iw32oc8kw5pw2\"      (1-D)\n");
    fprintf(out,
            "\nEnvironment (the library's, so also of programs linked with it):\n"
            "  BACKTUNE_TABLE=PATH[:PATH...]  tuning tables dispatch follows: files, a machine's\n"
            "                                 results folder, or results/ (best-matching table)\n"
            "  BACKTUNE_TABLE_MATCH=LEVEL     whose tables are followed: exact (this hardware\n"
            "                                 only), uarch (default: also the same vendor,\n"
            "                                 microarchitecture and ISA class, with a note),\n"
            "                                 isa (any CPU of the same ISA class), any\n"
            "  BACKTUNE_VARIANT=NAME          force a variant\n"
            "  BACKTUNE_VERBOSE=1             say each dispatch decision and why\n"
            "  BACKTUNE_ISA_CAP=avx2|scalar   cap the ISA\n"
            "  OMP_PLACES, OMP_PROC_BIND      unset: backtune runs with cores and close binding\n"
            "                                 (set either to choose; plans say bind=none when\n"
            "                                 OpenMP has no places)\n");
}

/* OpenMP binds threads only to places, read from the environment when the runtime loads,
 * before main: so that measurements run on bound threads (ours and the peers' alike), the
 * command starts itself again with places and close binding, unless the user chose either. */
static void bind_threads_by_default(char **argv) {
    if (getenv("OMP_PLACES") || getenv("OMP_PROC_BIND")) return;
    if (setenv("OMP_PLACES", "cores", 0) || setenv("OMP_PROC_BIND", "close", 0)) return;
    execv("/proc/self/exe", argv);
    /* No re-execution (no /proc): run unbound, as the plans then say (bind=none). */
    unsetenv("OMP_PLACES");
    unsetenv("OMP_PROC_BIND");
}

int main(int argc, char **argv) {
    bind_threads_by_default(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        /* "name version" on the first line, as help2man and packagers read it. */
        printf("backtune %s\n", bt_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "backtune: unknown %s '%s'\n", argv[1][0] == '-' ? "option" : "command",
            argv[1]);
    bt_cli_try_help("backtune");
    return 2;
}

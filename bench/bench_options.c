/* backtune bench: its options and help (Google benchmark's flags are separated out before),
 * and the names derived from them. */
#include "bench_run.h"

#include "fingerprint.h"

#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char bench_help[] =
    "usage: backtune bench [options] [google-benchmark flags]\n"
    "Times every variant (and peer library) of the chosen ops on a suite or on given problems,\n"
    "with Google benchmark, and prints a summary per problem: best variant, its GFLOP/s and %\n"
    "of this machine's measured peak, best peer, ratio.\n\n" BT_CLI_SELECTION_HELP_SUITE_PROBLEM
        BT_CLI_SELECTION_HELP_OPS_LAYOUTS
    "  -v, --variants GLOBS    comma-separated shell globs over variant and peer names; a\n"
    "                          leading '!' excludes (default '*,!*__ref': all but the\n"
    "                          double-precision reference). The name 'dispatch' is what\n"
    "                          bt_plan_create(variant NULL) picks: the tuning table\n"
    "                          (BACKTUNE_TABLE) or else the heuristic\n"
    "  -t, --threads LIST      OpenMP thread counts (default: 1 and OpenMP's "
    "default)\n" BT_CLI_SELECTION_HELP_MB
    "      --cache warm|cold   cold: evict the caches (touch a buffer > L3, timer paused)\n"
    "                          before every iteration (default warm); slow in wall time\n"
    "                          for small problems, which take many iterations\n"
    "      --evict-mb N        size of the eviction buffer (default 2x L3, 32..1024 MiB)\n"
    "      --out FILE.json     write the results as JSON (same as --benchmark_out=FILE\n"
    "                          --benchmark_out_format=json); directories are created\n"
    "      --save              --out results/<machine-id>/bench_<suite>[_cold][_mbN].json\n"
    "                          (relative to the current directory: run from the repo root;\n"
    "                          several suites: their names joined by '+')\n"
    "      --strict            on interference (below), save nothing and exit with status "
    "3\n" BT_WORLD_HELP_SHARED_NODE
    "      --verbose           say why each unsupported (variant, problem) pair is skipped\n"
    "      --quiet             no progress lines (one per problem on stderr: i/N, time so far\n"
    "                          and the ETA from the benchmarks run before it)\n"
    "  -h, --help              this text\n\n"
    "Google benchmark's flags pass through: --benchmark_filter=REGEX (names are\n"
    "op/descriptor/variant/omp:T), --benchmark_repetitions=N, --benchmark_min_time=S (default\n"
    "0.1, or the suite's '#! min_time'), --benchmark_out=FILE, --benchmark_out_format=\n"
    "json|csv|console, --benchmark_format=..., --benchmark_list_tests.\n\n"
    "Counters: FLOP/s, bytes/s (of the tensors touched once), AI (flop per byte of them),\n"
    "peak_GFLOP/s (measured, for the variant's ISA and thread count; peers: the CPU's best\n"
    "ISA) and pct_peak. Ctrl-C stops cleanly (the JSON written so far stays valid); a second\n"
    "Ctrl-C kills.\n\n"
    "Output: progress on stderr; the summary after the run on stdout with the console format,\n"
    "on stderr with --benchmark_format=json or csv, so that stdout is then Google benchmark's\n"
    "JSON or CSV alone (backtune bench --benchmark_format=json | python3 -m json.tool).\n\n"
    "Interference: the run is checked for other processes using this process's CPUs (their\n"
    "CPU time from /proc/stat, over the whole run and over each benchmark's timed runs; more\n"
    "than 0.2 cores on average beyond the CPUs a benchmark leaves free), for CPU time stolen\n"
    "by a hypervisor (over 5%), for 1-thread benchmarks whose thread ran less than 85% of\n"
    "the wall time, and for the peak measured again at the end differing from the start's by\n"
    "over 10%. The last lines of the output say 'interference: ...' with what was seen and\n"
    "the benchmarks flagged (marked in the summary table); the JSON file gets it as\n"
    "context.interference and a per-benchmark \"interference\" flag. The file is written\n"
    "under a temporary name and renamed into place at the end.\n\n"
    "Under mpirun or srun (several ranks) every rank runs the benchmarks on its own machine;\n"
    "--save names each rank's file after its host (bench_<suite>_<host>[_r<rank>].json) and\n"
    "rank 0 gathers every rank's file into its results/<machine-id>/ folders: then\n"
    "`backtune compare results/` and `backtune report results/ -o DIR` show the fleet.\n";

static int parse_positive(const char *text, const char *what, int64_t max, int64_t *out) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*end || v < 1 || v > max) {
        fprintf(stderr, "backtune bench: bad %s '%s'\n", what, text);
        return -1;
    }
    *out = v;
    return 0;
}

int bench_is_gbench_flag(const char *arg) {
    return !strncmp(arg, "--benchmark_", 12) || !strncmp(arg, "--v=", 4);
}

/* Our options (Google benchmark's flags were taken out before). 0 ok, 1 help shown, -1 bad. */
int bench_parse_options(int argc, char **argv, bench_options *o) {
    enum {
        OPT_CACHE = 256,
        OPT_EVICT,
        OPT_OUT,
        OPT_SAVE,
        OPT_STRICT,
        OPT_VERBOSE,
        OPT_QUIET,
        OPT_SHARED
    };
    static const struct option longopts[] = {{"variants", required_argument, NULL, 'v'},
                                             {"cache", required_argument, NULL, OPT_CACHE},
                                             {"evict-mb", required_argument, NULL, OPT_EVICT},
                                             {"out", required_argument, NULL, OPT_OUT},
                                             {"save", no_argument, NULL, OPT_SAVE},
                                             {"strict", no_argument, NULL, OPT_STRICT},
                                             {"verbose", no_argument, NULL, OPT_VERBOSE},
                                             {"quiet", no_argument, NULL, OPT_QUIET},
                                             {"allow-shared-node", no_argument, NULL, OPT_SHARED},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    bt_cli_parser parser;
    if (bt_cli_parser_init(&parser, &o->sel, "backtune bench", argc, "v:h", longopts)) return -1;
    o->variants = "*,!*__ref";
    int c;
    int64_t v;
    while ((c = bt_cli_getopt(&parser, argc, argv)) != -1) {
        switch (c) {
        case 'v':
            o->variants = optarg;
            break;
        case OPT_CACHE:
            if (strcmp(optarg, "warm") && strcmp(optarg, "cold")) {
                fprintf(stderr, "backtune bench: --cache takes warm or cold\n");
                return -1;
            }
            o->cold = !strcmp(optarg, "cold");
            break;
        case OPT_EVICT:
            if (parse_positive(optarg, "--evict-mb", 1 << 16, &v)) return -1;
            o->evict_bytes = (size_t)v << 20;
            break;
        case OPT_OUT:
            o->out = optarg;
            break;
        case OPT_SAVE:
            o->save = 1;
            break;
        case OPT_STRICT:
            o->strict = 1;
            break;
        case OPT_VERBOSE:
            o->sel.verbose = 1;
            break;
        case OPT_QUIET:
            o->quiet = 1;
            break;
        case OPT_SHARED:
            o->allow_shared_node = 1;
            break;
        case 'h':
            fputs(bench_help, stdout);
            return 1;
        case BT_CLI_BAD_VALUE:
            return -1;
        default:
            fputs(bench_help, stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "backtune bench: unexpected argument '%s' (problems go after --problem)\n",
                argv[optind]);
        return -1;
    }
    if (o->save && o->out) {
        fprintf(stderr, "backtune bench: give --out or --save, not both\n");
        return -1;
    }
    if (!o->sel.nsuites && !o->sel.nproblems) {
        fprintf(stderr, "backtune bench: give --suite or --problem\n\n%s", bench_help);
        return -1;
    }
    if (!o->sel.nthreads) {
        o->sel.threads[o->sel.nthreads++] = 1;
        if (omp_get_max_threads() > 1) o->sel.threads[o->sel.nthreads++] = omp_get_max_threads();
    }
    return 0;
}

/* The suites as given, joined by '+' ("quick", "quick+fc"); `base`: their file names without
 * directory and .txt, for file names. */
void bench_suite_names(const bench_options *o, int base, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < o->sel.nsuites && used < size; i++) {
        const char *name = o->sel.suites[i];
        const char *slash = strrchr(name, '/');
        if (base && slash) name = slash + 1;
        size_t n = strlen(name);
        if (base && n > 4 && !strcmp(name + n - 4, ".txt")) n -= 4;
        int w = snprintf(buf + used, size - used, "%s%.*s", i ? "+" : "", (int)n, name);
        if (w > 0) used += (size_t)w;
    }
}

/* results/<machine-id>/bench_<suite>[_cold][_mbN][_<host>[_r<rank>]].json (the host in a job
 * of several ranks: world.h) */
void bench_default_out_path(const bench_options *o, const bt_world *w, char *path, size_t size) {
    char suite[128] = "problems";
    if (o->sel.nsuites) bench_suite_names(o, 1, suite, sizeof suite);
    char mb[32] = "";
    if (o->sel.mb) snprintf(mb, sizeof mb, "_mb%lld", (long long)o->sel.mb);
    char tag[BT_WORLD_HOST + 16];
    bt_world_file_tag(w, tag, sizeof tag);
    snprintf(path, size, "results/%s/bench_%s%s%s%s.json", bt_fingerprint_id(), suite,
             o->cold ? "_cold" : "", mb, tag);
}

int bench_has_flag(char **args, int n, const char *prefix) {
    for (int i = 0; i < n; i++)
        if (!strncmp(args[i], prefix, strlen(prefix))) return 1;
    return 0;
}

/* backtune bench: every (problem x op x layout x variant or peer x thread count) as one
 * Google benchmark, through the C shim.
 *
 * Each benchmark creates its plan (or the peer's primitive) once, on buffers allocated,
 * filled and touched before timing, and times only the execute call. Results carry the
 * repro line, variant, parameters and threads in the label; FLOP/s and bytes/s as rates;
 * the arithmetic intensity, the measured peak for the variant's ISA and thread count and the
 * % of it as plain counters. The context block describes the machine, the peaks, the build
 * and the thread binding. A summary table per problem follows the run.
 *
 * Interference (cmdline/interference.h): other processes' CPU time on our CPUs over the whole
 * run and over each benchmark's timed runs, the CPU time / real time of 1-thread benchmarks,
 * and the peak probe measured again at the end. The verdict ends the console output and goes
 * into the saved JSON (context.interference, and an "interference" flag per benchmark), which
 * is written under a temporary name and renamed into place at the end; --strict removes it
 * instead when interference was seen, and exits with status 3.
 *
 * Ctrl-C: the first one stops the run cleanly. The benchmark in progress stops at its next
 * iteration and every later one is skipped at once; those runs are dropped from every report
 * (shim hook), and Google benchmark then finishes normally, closing the --benchmark_out file,
 * so the JSON holds every completed result and stays valid. A second Ctrl-C kills. */
#include "bench_cmd.h"

#include "bench_build.h"
#include "bench_impl.h"
#include "bench_util.h"
#include "bt_gbench.h"
#include "check.h"
#include "fingerprint.h"
#include "peak.h"
#include "tuning.h"
#include "cmdline.h"
#include "git_revision.h"
#include "interference.h"
#include "selection.h"
#include "suite.h"
#include "world.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INTERRUPTED_REASON "interrupted"
#define DEFAULT_MIN_TIME 0.1 /* seconds, when neither the command line nor the suite says */
#define TEXT_SIZE 512
/* Cold-cache eviction buffer: twice the L3, within bounds (a VM may report a huge L3). */
#define EVICT_MIN_BYTES ((size_t)32 << 20)
#define EVICT_MAX_BYTES ((size_t)1 << 30)
/* Interference thresholds beyond the detector's own (cmdline/interference.h): a 1-thread
 * benchmark whose thread ran less than this fraction of the wall time was descheduled (with
 * more threads the main thread may rightly sleep at barriers, under OMP_WAIT_POLICY=PASSIVE
 * or while a peer's own pool works, so the ratio says nothing there); a peak that moved by
 * more than this fraction between the start and the end of the run. */
#define MIN_CPU_REAL_RATIO 0.85
#define MAX_PEAK_DRIFT 0.10
#define PEAK_SETTLE_SECONDS 0.25 /* before the end probe: peers' thread pools stop spinning */
#define STATUS_INTERFERENCE 3    /* --strict, on interference */

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
    "  -h, --help              this text\n\n"
    "Google benchmark's flags pass through: --benchmark_filter=REGEX (names are\n"
    "op/descriptor/variant/omp:T), --benchmark_repetitions=N, --benchmark_min_time=S (default\n"
    "0.1, or the suite's '#! min_time'), --benchmark_out=FILE, --benchmark_out_format=\n"
    "json|csv|console, --benchmark_format=..., --benchmark_list_tests.\n\n"
    "Counters: FLOP/s, bytes/s (of the tensors touched once), AI (flop per byte of them),\n"
    "peak_GFLOP/s (measured, for the variant's ISA and thread count; peers: the CPU's best\n"
    "ISA) and pct_peak. Progress goes to stderr. Ctrl-C stops cleanly (the JSON written so far\n"
    "stays valid); a second Ctrl-C kills.\n\n"
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

typedef struct options {
    bt_cli_selection sel; /* suites, problems, ops, layouts, threads, mb */
    const char *variants;
    int cold;
    size_t evict_bytes;
    const char *out;
    int save;
    int strict;
    int allow_shared_node;
} options;

/* One problem instance (descriptor x op x layout) and its buffers while it is being run. */
typedef struct bench_problem {
    bt_problem problem;
    char text[TEXT_SIZE]; /* canonical problem text: the repro line */
    char name[128];       /* the descriptor's n"..." or "" */
    int count;            /* occurrences in the model */
    int ordinal;          /* 1-based, for progress */
    double flops, bytes;
    float *x, *w, *dy, *dx, *dw, *db;
} bench_problem;

typedef struct bench_case {
    bench_problem *prob;
    const bt_bench_impl *impl;
    int threads;
    double peak_gflops;
    char name[TEXT_SIZE + 128];
    /* outcome */
    int failed;
    char failure[256];
    int timed_runs, interrupted;
    double best_gflops;
    /* interference */
    bt_load_window load; /* over the calls' timed loops */
    double cpu_real_min; /* of the timed runs (Google benchmark's CPU time: main thread) */
    int flagged;
    char flag_reason[384]; /* why, when flagged */
} bench_case;

/* What the run saw of other processes (see the top of this file). */
typedef struct bench_verdict {
    bt_interference run; /* over the whole run */
    bt_isa peak_isa;
    int peak_threads;
    double peak_start, peak_end; /* GFLOP/s; 0: not measured */
    int peak_drifted;
    int flagged; /* benchmarks */
    int detected;
} bench_verdict;

typedef struct bench_run {
    options opt;
    bench_problem *problems;
    int nproblems;
    bt_bench_impl *impls;
    int nimpls;
    bench_case *cases;
    int ncases;
    int unsupported;
    float *evict;
    size_t evict_floats;
    bench_problem *loaded; /* whose buffers are allocated */
    bench_case *prepared;  /* whose state is live */
    void *state;
    double start;
    char openblas_coretype[64];
    bt_load_sample load_start;
    bench_verdict verdict;
} bench_run;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* ---- options ---- */

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

static int is_gbench_flag(const char *arg) {
    return !strncmp(arg, "--benchmark_", 12) || !strncmp(arg, "--v=", 4);
}

/* Our options (Google benchmark's flags were taken out before). 0 ok, 1 help shown, -1 bad. */
static int parse_options(int argc, char **argv, options *o) {
    enum { OPT_CACHE = 256, OPT_EVICT, OPT_OUT, OPT_SAVE, OPT_STRICT, OPT_VERBOSE, OPT_SHARED };
    static const struct option longopts[] = {{"variants", required_argument, NULL, 'v'},
                                             {"cache", required_argument, NULL, OPT_CACHE},
                                             {"evict-mb", required_argument, NULL, OPT_EVICT},
                                             {"out", required_argument, NULL, OPT_OUT},
                                             {"save", no_argument, NULL, OPT_SAVE},
                                             {"strict", no_argument, NULL, OPT_STRICT},
                                             {"verbose", no_argument, NULL, OPT_VERBOSE},
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
static void suite_names(const options *o, int base, char *buf, size_t size) {
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

/* ---- problems ---- */

static int op_is_fc(bt_op op) {
    return op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS;
}

static int add_problem(bench_run *run, const bt_problem *p, const char *name, int count) {
    bt_problem q = *p;
    char text[TEXT_SIZE];
    if (bt_problem_format(&q, text, sizeof text) < 0) {
        fprintf(stderr, "backtune bench: %s\n", bt_last_error());
        return -1;
    }
    for (int i = 0; i < run->nproblems; i++)
        if (!strcmp(run->problems[i].text, text)) {
            fprintf(stderr, "backtune bench: '%s' given twice, run once\n", text);
            return 0;
        }
    bench_problem *bp = realloc(run->problems, (size_t)(run->nproblems + 1) * sizeof *bp);
    if (!bp) return -1;
    run->problems = bp;
    bench_problem *b = &bp[run->nproblems++];
    memset(b, 0, sizeof *b);
    b->problem = q;
    snprintf(b->text, sizeof b->text, "%s", text);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->count = count;
    b->ordinal = run->nproblems;
    b->flops = bt_problem_flops(&q);
    double x = (double)bt_problem_x_elems(&q), w = (double)bt_problem_w_elems(&q),
           dy = (double)bt_problem_dy_elems(&q), db = (double)bt_problem_db_elems(&q);
    int rw = q.accumulate ? 2 : 1; /* accumulating outputs are read and written */
    int bwd_data = q.op == BT_CONV_BWD_DATA || q.op == BT_FC_BWD_DATA;
    b->bytes = sizeof(float) * (bwd_data ? w + dy + rw * x : x + dy + rw * (w + db));
    return 0;
}

/* The selected problems (cmdline/selection.h), each run once. */
static int collect_problems(bench_run *run) {
    bt_cli_problem_list list = {0};
    int rc = bt_cli_selection_problems(&run->opt.sel, &list);
    for (int i = 0; !rc && i < list.count; i++)
        rc = add_problem(run, &list.items[i].problem, list.items[i].name, list.items[i].count);
    bt_cli_problem_list_free(&list);
    return rc;
}

/* ---- impls and cases ---- */

/* Measures every peak the run can need before any peer library is set up: a peer's own
 * thread pool (OpenBLAS's spins after a call) would otherwise share the cores with the
 * probe and lower the peak (to 390 of 444 GFLOP/s on 2 threads here). Cached afterwards. */
static void measure_peaks_before_peers(bench_run *run) {
    for (int t = 0; t < run->opt.sel.nthreads; t++)
        for (int isa = BT_ISA_SCALAR; isa <= BT_ISA_AVX512; isa++)
            bt_peak_gflops((bt_isa)isa, run->opt.sel.threads[t]);
    /* The probe measured again at the end: the best ISA on the most threads of the run
     * that the CPUs can hold. */
    bench_verdict *v = &run->verdict;
    int cpus = run->load_start.cpus > 0 ? run->load_start.cpus : bt_machine_get()->pus;
    for (int t = 0; t < run->opt.sel.nthreads; t++)
        if (run->opt.sel.threads[t] > v->peak_threads) v->peak_threads = run->opt.sel.threads[t];
    if (v->peak_threads > cpus) v->peak_threads = cpus;
    v->peak_isa = bt_machine_get()->isa_cap;
    v->peak_start = bt_peak_gflops(v->peak_isa, v->peak_threads);
}

static int collect_impls(bench_run *run) {
    int nvariants = bt_variant_count(), npeers = 0;
    while (bt_bench_peers[npeers]) npeers++;
    run->impls = calloc((size_t)(nvariants + npeers + 1), sizeof *run->impls);
    if (!run->impls) return -1;
    int op_used[4] = {0}; /* by some problem (a full problem text brings its own op) */
    for (int p = 0; p < run->nproblems; p++) op_used[run->problems[p].problem.op] = 1;
    for (int i = 0; i < nvariants; i++) {
        if (!op_used[bt_variant_op(i)]) continue;
        if (bt_cli_name_selected(bt_variant_name(i), run->opt.variants))
            bt_bench_variant_impl(i, &run->impls[run->nimpls++]);
    }
    if (bt_cli_name_selected(bt_bench_dispatch.name, run->opt.variants))
        run->impls[run->nimpls++] = bt_bench_dispatch;
    for (int i = 0; i < npeers; i++) {
        const bt_bench_impl *peer = bt_bench_peers[i];
        if (!bt_cli_name_selected(peer->name, run->opt.variants)) continue;
        if (peer->setup && peer->setup(peer) != BT_OK) {
            fprintf(stderr, "backtune bench: %s left out: %s\n", peer->name, bt_last_error());
            continue;
        }
        run->impls[run->nimpls++] = *peer;
    }
    if (!run->nimpls) {
        fprintf(stderr, "backtune bench: no variant or peer matches '%s'\n", run->opt.variants);
        return -1;
    }
    return 0;
}

static int collect_cases(bench_run *run) {
    size_t max = (size_t)run->nproblems * (size_t)run->nimpls * (size_t)run->opt.sel.nthreads;
    run->cases = calloc(max ? max : 1, sizeof *run->cases);
    if (!run->cases) return -1;
    for (int p = 0; p < run->nproblems; p++) {
        bench_problem *prob = &run->problems[p];
        for (int i = 0; i < run->nimpls; i++) {
            const bt_bench_impl *impl = &run->impls[i];
            if (!impl->peer && impl->variant >= 0 &&
                bt_variant_op(impl->variant) != prob->problem.op)
                continue;
            if (impl->supports(impl, &prob->problem) != BT_OK) {
                run->unsupported++;
                if (run->opt.sel.verbose)
                    fprintf(stderr, "backtune bench: %s on '%s': %s\n", impl->name, prob->text,
                            bt_last_error());
                continue;
            }
            for (int t = 0; t < run->opt.sel.nthreads; t++) {
                bench_case *c = &run->cases[run->ncases++];
                c->prob = prob;
                c->impl = impl;
                c->threads = run->opt.sel.threads[t];
                char path[TEXT_SIZE];
                snprintf(path, sizeof path, "%s", prob->text);
                for (char *s = path; *s; s++)
                    if (*s == ' ') *s = '/';
                snprintf(c->name, sizeof c->name, "%s/%s/omp:%d", path, impl->name, c->threads);
            }
        }
    }
    return 0;
}

/* ---- running ---- */

static void release_state(bench_run *run) {
    if (run->prepared && run->state) run->prepared->impl->destroy(run->state);
    run->prepared = NULL;
    run->state = NULL;
}

static void release_buffers(bench_run *run) {
    bench_problem *b = run->loaded;
    if (!b) return;
    float **bufs[] = {&b->x, &b->w, &b->dy, &b->dx, &b->dw, &b->db};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    run->loaded = NULL;
}

/* Inputs random, outputs zero: every page touched before timing. */
static bt_status load_buffers(bench_run *run, bench_problem *b) {
    release_buffers(run);
    const bt_problem *p = &b->problem;
    int bwd_data = p->op == BT_CONV_BWD_DATA || p->op == BT_FC_BWD_DATA;
    size_t nx = bt_problem_x_elems(p), nw = bt_problem_w_elems(p), ndy = bt_problem_dy_elems(p),
           ndb = bt_problem_db_elems(p);
    run->loaded = b;
    b->dy = bt_bench_alloc(ndy * sizeof(float));
    if (b->dy) bt_fill_random(b->dy, ndy, 3);
    if (bwd_data) {
        b->w = bt_bench_alloc(nw * sizeof(float));
        if (b->w) bt_fill_random(b->w, nw, 2);
        b->dx = bt_bench_alloc_zero(nx * sizeof(float));
        if (!b->dy || !b->w || !b->dx) return bt_fail(BT_ENOMEM, "out of memory for %s", b->text);
    } else {
        b->x = bt_bench_alloc(nx * sizeof(float));
        if (b->x) bt_fill_random(b->x, nx, 1);
        b->dw = bt_bench_alloc_zero(nw * sizeof(float));
        b->db = bt_bench_alloc_zero(ndb * sizeof(float));
        if (!b->dy || !b->x || !b->dw || !b->db)
            return bt_fail(BT_ENOMEM, "out of memory for %s", b->text);
    }
    fprintf(stderr, "[bench %d/%d, %.1f s] %s%s%s%s\n", b->ordinal, run->nproblems,
            bt_bench_now() - run->start, b->text, b->name[0] ? " (" : "", b->name,
            b->name[0] ? ")" : "");
    return BT_OK;
}

static bt_tensors tensors_of(const bench_problem *b) {
    return (bt_tensors){.x = b->x, .w = b->w, .dy = b->dy, .dx = b->dx, .dw = b->dw, .db = b->db};
}

/* Makes the case's buffers and state current (kept across the calls Google benchmark makes
 * for one case), with the inputs loaded into a peer's own layouts and one warm-up run, none
 * of it timed. A failure sticks to the case. */
static bt_status prepare(bench_run *run, bench_case *c) {
    if (run->prepared == c) return BT_OK;
    release_state(run);
    bt_status st = BT_OK;
    if (run->loaded != c->prob) st = load_buffers(run, c->prob);
    if (st == BT_OK) {
        st = c->impl->create(c->impl, &c->prob->problem, c->threads, &run->state);
        run->prepared = c;
    }
    bt_tensors t = tensors_of(c->prob);
    if (st == BT_OK && c->impl->load) st = c->impl->load(run->state, &t);
    if (st == BT_OK) st = c->impl->execute(run->state, &t);
    if (st != BT_OK) {
        c->failed = 1;
        snprintf(c->failure, sizeof c->failure, "%s", bt_last_error());
        release_state(run);
    }
    return st;
}

/* Touches every cache line of a buffer bigger than the caches on every core. */
static void evict_caches(bench_run *run) {
    float *e = run->evict;
    int64_t n = (int64_t)run->evict_floats;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += 16) e[i] += 1.0f;
}

static bench_run *current_run; /* for the Google-benchmark callbacks */

static void bench_case_fn(bt_gbench_state *st, void *user) {
    bench_run *run = current_run;
    bench_case *c = user;
    if (interrupted) {
        bt_gbench_skip(st, INTERRUPTED_REASON);
        return;
    }
    if (c->failed || prepare(run, c) != BT_OK) {
        bt_gbench_skip(st, c->failure);
        return;
    }
    char label[TEXT_SIZE + 256];
    snprintf(label, sizeof label, "%s; %s; %s", c->prob->text, c->impl->name,
             c->impl->describe(run->state));
    bt_gbench_set_label(st, label);
    bt_tensors t = tensors_of(c->prob);
    bt_load_sample before, after;
    bt_load_sample_take(&before);
    while (bt_gbench_keep_running(st)) {
        if (run->opt.cold) {
            bt_gbench_pause_timing(st);
            evict_caches(run);
            bt_gbench_resume_timing(st);
        }
        if (c->impl->execute(run->state, &t) != BT_OK) {
            c->failed = 1;
            snprintf(c->failure, sizeof c->failure, "%s", bt_last_error());
            bt_gbench_skip(st, c->failure);
            break;
        }
        if (interrupted) {
            bt_gbench_skip(st, INTERRUPTED_REASON);
            break;
        }
    }
    bt_load_sample_take(&after);
    bt_load_window_add(&c->load, &before, &after);
    if (bt_gbench_skipped(st)) return;
    bt_gbench_set_rate(st, "FLOP/s", c->prob->flops, 0);
    bt_gbench_set_rate(st, "bytes/s", c->prob->bytes, 0);
    bt_gbench_set_counter(st, "AI", c->prob->flops / c->prob->bytes);
    bt_gbench_set_counter(st, "peak_GFLOP/s", c->peak_gflops);
}

/* Every reported run: drop interrupted ones, add the % of peak, remember the best. */
static int on_result(bt_gbench_run *r, void *ctx) {
    (void)ctx;
    bench_case *c = r->user;
    if (!c) return 1;
    if (r->skipped) {
        if (!strcmp(r->skip_reason, INTERRUPTED_REASON)) {
            c->interrupted = 1;
            return 0;
        }
        return 1;
    }
    double rate;
    if (strcmp(r->aggregate_name, "cv") && c->peak_gflops > 0 &&
        bt_gbench_run_counter(r, "FLOP/s", &rate) == 0)
        bt_gbench_run_set_counter(r, "pct_peak", 100.0 * rate * 1e-9 / c->peak_gflops);
    /* The best run; medians and means too, for when only aggregates are reported
     * (--benchmark_report_aggregates_only, --benchmark_display_aggregates_only). */
    int timing = !r->is_aggregate || !strcmp(r->aggregate_name, "median") ||
                 !strcmp(r->aggregate_name, "mean");
    if (timing && r->real_seconds > 0) {
        double gflops = c->prob->flops / r->real_seconds * 1e-9;
        if (gflops > c->best_gflops) c->best_gflops = gflops;
        c->timed_runs++;
    }
    if (!r->is_aggregate && r->real_seconds > 0 && r->cpu_seconds > 0) {
        double ratio = r->cpu_seconds / r->real_seconds;
        if (c->cpu_real_min == 0 || ratio < c->cpu_real_min) c->cpu_real_min = ratio;
    }
    return 1;
}

/* ---- context ---- */

static void context_int(const char *key, long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    bt_gbench_add_context(key, buf);
}

static void context_double(const char *key, double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.2f", v);
    bt_gbench_add_context(key, buf);
}

static void context_env(const char *key, const char *var) {
    const char *v = getenv(var);
    bt_gbench_add_context(key, v ? v : "(unset)");
}

/* The machine fingerprint (kernels/core/fingerprint.h) in full, and its main fields one by one. */
static void add_machine_context(void) {
    const bt_fingerprint *fp = bt_fingerprint_get();
    const bt_machine *m = bt_machine_get();
    bt_gbench_add_context("machine_id", fp->id);
    bt_gbench_add_context("machine_fingerprint_hash", fp->hash);
    bt_gbench_add_context("machine_cpu_model", fp->model_name);
    bt_gbench_add_context("machine_uarch", fp->uarch);
    context_int("machine_packages", fp->packages);
    context_int("machine_numa_nodes", fp->numa_nodes);
    context_int("machine_cores", fp->cores);
    context_int("machine_pus", fp->pus);
    context_int("machine_pus_allowed", fp->pus_allowed);
    context_int("machine_l1d_bytes", m->l1d_bytes);
    context_int("machine_l2_bytes", m->l2_bytes);
    context_int("machine_l3_bytes", m->l3_bytes);
    bt_gbench_add_context("machine_isa", bt_isa_name(m->isa_cap));
    context_env("machine_backtune_isa_cap", "BACKTUNE_ISA_CAP");
    json_t *json = bt_fingerprint_to_json(fp);
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    bt_gbench_add_context("machine_fingerprint", text ? text : "(unavailable)");
    free(text);
    json_decref(json);
}

static void add_peak_context(const bench_run *run) {
    static const bt_isa isas[] = {BT_ISA_SCALAR, BT_ISA_AVX2, BT_ISA_AVX512};
    static const char *const isa_keys[] = {"scalar_sse2", "avx2", "avx512"};
    char key[64];
    for (int t = 0; t < run->opt.sel.nthreads; t++) {
        int threads = run->opt.sel.threads[t];
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            double g = bt_peak_gflops(isas[i], threads);
            if (g <= 0) continue;
            snprintf(key, sizeof key, "peak_gflops_%s_t%d", isa_keys[i], threads);
            context_double(key, g);
        }
        bt_bandwidth bw = bt_peak_bandwidth(threads);
        snprintf(key, sizeof key, "bandwidth_read_gbs_t%d", threads);
        context_double(key, bw.read_gbs);
        snprintf(key, sizeof key, "bandwidth_triad_gbs_t%d", threads);
        context_double(key, bw.triad_gbs);
        if (t == 0) context_int("bandwidth_buffer_bytes", (long long)bw.buffer_bytes);
        /* A busy machine (other jobs on the cores) shows as a peak that does not grow with
         * the threads; every result of this run is then suspect. */
        double one = bt_peak_gflops(BT_ISA_SCALAR, 1),
               many = bt_peak_gflops(BT_ISA_SCALAR, threads);
        if (threads > 1 && threads <= bt_machine_get()->cores && many < 0.75 * one * threads)
            fprintf(stderr,
                    "backtune bench: WARNING: the %d-thread peak is %.1fx the 1-thread one (not "
                    "%dx): are other jobs running? Results with %d threads are not reliable.\n",
                    threads, many / one, threads, threads);
    }
}

/* The problems run, as suite lines ("descriptor # xN"), so that the results can be rerun
 * or compared on a machine without this suite file. */
static void add_problems_context(const bench_run *run) {
    size_t size = 1;
    for (int i = 0; i < run->nproblems; i++) size += strlen(run->problems[i].text) + 160;
    char *text = malloc(size), *at = text;
    if (!text) return;
    *at = '\0';
    for (int i = 0; i < run->nproblems; i++) {
        const bench_problem *p = &run->problems[i];
        at += snprintf(at, size - (size_t)(at - text), "%s%s%s%s # x%d\n", p->text,
                       p->name[0] ? "n\"" : "", p->name, p->name[0] ? "\"" : "", p->count);
    }
    bt_gbench_add_context("backtune_problems", text);
    free(text);
}

/* The CPUs each thread of a team of each measured size really had ("thread_cpus_omp:T":
 * "0:0 1:1"), from a plan formed as every plan of the run is, so a binding is not merely
 * claimed; printed to stderr too. */
static void add_affinity_context(const bench_run *run) {
    bt_problem p;
    if (bt_problem_parse("fc_bwd_d mb1ic1oc1", &p) != BT_OK) return;
    for (int t = 0; t < run->opt.sel.nthreads; t++) {
        char params[32], key[48], cpus[512];
        snprintf(params, sizeof params, "threads=%d", run->opt.sel.threads[t]);
        bt_plan *plan;
        if (bt_plan_create(&plan, &p, NULL, params) != BT_OK) continue;
        const char *bind = strstr(bt_plan_params(plan), "bind=");
        if (bt_plan_affinity(plan, cpus, sizeof cpus) == BT_OK) {
            snprintf(key, sizeof key, "thread_cpus_omp:%d", run->opt.sel.threads[t]);
            bt_gbench_add_context(key, cpus);
            fprintf(stderr, "backtune bench: %d threads, %s: cpus %s\n", run->opt.sel.threads[t],
                    bind ? bind : "bind=?", cpus);
        }
        bt_plan_destroy(plan);
    }
}

static void add_run_context(const bench_run *run, int argc, char **argv) {
    char command[2048] = "backtune";
    size_t used = strlen(command);
    for (int i = 0; i < argc && used < sizeof command; i++) {
        int w = snprintf(command + used, sizeof command - used, " %s", argv[i]);
        if (w > 0) used += (size_t)w;
    }
    bt_gbench_add_context("backtune_command", command);
    bt_gbench_add_context("backtune_version", BT_VERSION);
    context_int("backtune_schema", BT_RESULTS_SCHEMA);
    char suites[512];
    suite_names(&run->opt, 0, suites, sizeof suites);
    bt_gbench_add_context("backtune_suite", run->opt.sel.nsuites ? suites : "(none)");
    add_problems_context(run);
    bt_gbench_add_context("backtune_registry_hash", bt_registry_hash());
    bt_gbench_add_context("build_git_revision", BT_GIT_REVISION);
    context_int("backtune_variants_registered", bt_variant_count());
    bt_gbench_add_context("bench_cache", run->opt.cold ? "cold" : "warm");
    if (run->opt.cold) context_int("bench_evict_bytes", (long long)(run->evict_floats * 4));
    if (run->opt.sel.mb) context_int("bench_mb_override", run->opt.sel.mb);
    bt_gbench_add_context("bench_denormals", "flushed to zero in bt_plan_execute; peers: their "
                                             "own setting");
    bt_gbench_add_context("build_compiler", BT_BUILD_COMPILER);
    bt_gbench_add_context("build_type", BT_BUILD_TYPE);
    bt_gbench_add_context("build_flags", BT_BUILD_FLAGS);
    bt_gbench_add_context("build_sanitize", BT_BUILD_SANITIZE);
    context_env("omp_proc_bind", "OMP_PROC_BIND");
    context_env("omp_places", "OMP_PLACES");
    context_env("omp_wait_policy", "OMP_WAIT_POLICY");
    context_env("omp_num_threads", "OMP_NUM_THREADS");
    context_int("omp_max_threads", omp_get_max_threads());
    add_affinity_context(run);
    /* As the process got it: the OpenBLAS peer clears it before loading the library. */
    bt_gbench_add_context("openblas_coretype", run->openblas_coretype);
    add_machine_context();
    add_peak_context(run);
}

/* ---- summary ---- */

static int better(const bench_case *c, const bench_case *best) {
    return c->timed_runs && (!best || c->best_gflops > best->best_gflops);
}

static void print_summary(const bench_run *run) {
    int wname = 4, wtext = 7, wvar = 12, wpeer = 9;
    for (int i = 0; i < run->nproblems; i++) {
        int n = (int)strlen(run->problems[i].name), t = (int)strlen(run->problems[i].text);
        if (n > wname) wname = n;
        if (t > wtext) wtext = t;
    }
    for (int i = 0; i < run->nimpls; i++) {
        int n = (int)strlen(run->impls[i].name);
        if (run->impls[i].peer && n > wpeer) wpeer = n;
        if (!run->impls[i].peer && n > wvar) wvar = n;
    }
    printf("\nsummary: best GFLOP/s of each (problem, threads) over its runs; %%peak of the\n"
           "measured peak for that ISA and thread count; ratio = best variant / best peer\n");
    printf("%-*s  %-*s  %3s  %-*s %9s %6s  %-*s %9s %6s\n", wname, "name", wtext, "problem", "T",
           wvar, "best variant", "GFLOP/s", "%peak", wpeer, "best peer", "GFLOP/s", "ratio");
    for (int p = 0; p < run->nproblems; p++) {
        const bench_problem *prob = &run->problems[p];
        for (int t = 0; t < run->opt.sel.nthreads; t++) {
            const bench_case *ours = NULL, *peer = NULL;
            int any = 0;
            for (int i = 0; i < run->ncases; i++) {
                const bench_case *c = &run->cases[i];
                if (c->prob != prob || c->threads != run->opt.sel.threads[t]) continue;
                any |= c->timed_runs > 0 || c->failed;
                if (c->impl->peer ? better(c, peer) : better(c, ours)) {
                    if (c->impl->peer)
                        peer = c;
                    else
                        ours = c;
                }
            }
            if (!any) continue;
            printf("%-*s  %-*s  %3d  ", wname, prob->name[0] ? prob->name : "-", wtext, prob->text,
                   run->opt.sel.threads[t]);
            if (ours)
                printf("%-*s %9.2f %6.1f  ", wvar, ours->impl->name, ours->best_gflops,
                       ours->peak_gflops > 0 ? 100 * ours->best_gflops / ours->peak_gflops : 0);
            else
                printf("%-*s %9s %6s  ", wvar, "-", "", "");
            if (peer)
                printf("%-*s %9.2f ", wpeer, peer->impl->name, peer->best_gflops);
            else
                printf("%-*s %9s ", wpeer, "-", "");
            if (ours && peer)
                printf("%6.2f", ours->best_gflops / peer->best_gflops);
            else
                printf("%6s", "");
            printf("%s\n",
                   (ours && ours->flagged) || (peer && peer->flagged) ? "  interference" : "");
        }
    }
}

/* Per (op, layout, threads): the time of one pass over every shape, each weighted by its
 * occurrence count, with the best variant (and the best peer) of each shape. */
static void print_model_totals(const bench_run *run) {
    int header = 0;
    for (int op = 0; op < 4; op++)
        for (int layout = BT_NCHW; layout <= BT_NHWC; layout++)
            for (int t = 0; t < run->opt.sel.nthreads; t++) {
                int threads = run->opt.sel.threads[t], shapes = 0, layers = 0, both = 0;
                double ours_s = 0, flop = 0, ours_both_s = 0, peer_both_s = 0;
                for (int p = 0; p < run->nproblems; p++) {
                    const bench_problem *prob = &run->problems[p];
                    if ((int)prob->problem.op != op ||
                        (!op_is_fc(prob->problem.op) && (int)prob->problem.layout != layout) ||
                        (op_is_fc(prob->problem.op) && layout != BT_NCHW))
                        continue;
                    const bench_case *ours = NULL, *peer = NULL;
                    for (int i = 0; i < run->ncases; i++) {
                        const bench_case *c = &run->cases[i];
                        if (c->prob != prob || c->threads != threads) continue;
                        if (c->impl->peer ? better(c, peer) : better(c, ours)) {
                            if (c->impl->peer)
                                peer = c;
                            else
                                ours = c;
                        }
                    }
                    if (!ours) continue;
                    double s = prob->count * prob->flops / (ours->best_gflops * 1e9);
                    shapes++;
                    layers += prob->count;
                    ours_s += s;
                    flop += prob->count * prob->flops;
                    if (peer) {
                        both++;
                        ours_both_s += s;
                        peer_both_s += prob->count * prob->flops / (peer->best_gflops * 1e9);
                    }
                }
                if (shapes < 2) continue;
                if (!header)
                    printf("\nmodel totals: one pass over the shapes, each x its count, best "
                           "variant per shape\n");
                header = 1;
                char label[32];
                snprintf(label, sizeof label, "%s%s", bt_op_name((bt_op)op),
                         !op_is_fc((bt_op)op) && layout == BT_NHWC ? "_nhwc" : "");
                printf("  %-15s T=%-3d %10.4g ms  %8.2f GFLOP/s  (%d shapes, %d layers)", label,
                       threads, ours_s * 1e3, flop / ours_s * 1e-9, shapes, layers);
                if (both)
                    printf("; best peers %.4g ms on %d of them, ratio %.2f", peer_both_s * 1e3,
                           both, peer_both_s / ours_both_s);
                printf("\n");
            }
}

/* ---- interference ---- */

/* The verdict: the whole run's window, every benchmark's, and the peak measured again. */
static void judge_interference(bench_run *run) {
    bench_verdict *v = &run->verdict;
    if (v->peak_start > 0) {
        struct timespec settle = {0, (long)(PEAK_SETTLE_SECONDS * 1e9)};
        nanosleep(&settle, NULL);
        v->peak_end = bt_peak_gflops_remeasure(v->peak_isa, v->peak_threads);
        v->peak_drifted = v->peak_end > 0 && fabs(v->peak_end / v->peak_start - 1) > MAX_PEAK_DRIFT;
    }
    bt_load_sample end;
    bt_load_sample_take(&end);
    int most = 1;
    for (int t = 0; t < run->opt.sel.nthreads; t++)
        if (run->opt.sel.threads[t] > most) most = run->opt.sel.threads[t];
    bt_interference_between(&run->load_start, &end, most, &v->run);
    for (int i = 0; i < run->ncases; i++) {
        bench_case *c = &run->cases[i];
        if (!c->timed_runs) continue;
        bt_interference ci;
        bt_interference_judge(&c->load, c->threads, &ci);
        int descheduled =
            c->threads == 1 && c->cpu_real_min > 0 && c->cpu_real_min < MIN_CPU_REAL_RATIO;
        if (!ci.detected && !descheduled) continue;
        char ratio[96] = "";
        if (descheduled)
            snprintf(ratio, sizeof ratio, "its thread ran %.0f%% of the wall time (limit %.0f%%)",
                     100 * c->cpu_real_min, 100 * MIN_CPU_REAL_RATIO);
        snprintf(c->flag_reason, sizeof c->flag_reason, "%s%s%s", ci.reasons,
                 ci.detected && descheduled ? "; " : "", ratio);
        c->flagged = 1;
        v->flagged++;
    }
    v->detected = v->run.detected || v->peak_drifted || v->flagged;
}

/* "peak (avx512 fma, 2 threads) 96.1 GFLOP/s at start, 51.0 at end (-47%, limit 10%)" */
static void peak_text(const bench_verdict *v, char *buf, size_t size) {
    if (!(v->peak_start > 0 && v->peak_end > 0)) {
        snprintf(buf, size, "peak not measured again");
        return;
    }
    snprintf(buf, size,
             "peak (%s, %d thread%s) %.1f GFLOP/s at start, %.1f at end (%+.0f%%, limit %.0f%%)",
             bt_peak_isa_label(v->peak_isa), v->peak_threads, v->peak_threads > 1 ? "s" : "",
             v->peak_start, v->peak_end, 100 * (v->peak_end / v->peak_start - 1),
             100 * MAX_PEAK_DRIFT);
}

/* What fired, in a few words. */
static void verdict_reasons(const bench_run *run, char *buf, size_t size) {
    const bench_verdict *v = &run->verdict;
    char peak[160];
    peak_text(v, peak, sizeof peak);
    int timed = 0;
    for (int i = 0; i < run->ncases; i++) timed += run->cases[i].timed_runs > 0;
    snprintf(buf, size, "%s%s%s%s", v->run.detected ? v->run.reasons : "",
             v->run.detected && (v->peak_drifted || v->flagged) ? "; " : "",
             v->peak_drifted ? peak : "", v->peak_drifted && v->flagged ? "; " : "");
    if (v->flagged) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%d of %d benchmarks flagged", v->flagged, timed);
    }
}

/* The verdict's last lines of the console output. */
static void print_interference(const bench_run *run) {
    const bench_verdict *v = &run->verdict;
    char peak[160];
    peak_text(v, peak, sizeof peak);
    if (!v->detected) {
        printf("\ninterference: none detected (%s; %s)\n", v->run.text, peak);
        return;
    }
    char reasons[512];
    verdict_reasons(run, reasons, sizeof reasons);
    printf("\ninterference: DETECTED: %s\n"
           "  Other work shared the CPUs: these results are not reliable; rerun on a quiet "
           "machine.\n",
           reasons);
    printf("  whole run: %s\n  %s\n", v->run.text, peak);
    int shown = 0;
    for (int i = 0; i < run->ncases && shown < 20; i++)
        if (run->cases[i].flagged) {
            if (!shown++) printf("  flagged benchmarks (marked in the summary table):\n");
            printf("    %s: %s\n", run->cases[i].name, run->cases[i].flag_reason);
        }
    if (v->flagged > shown) printf("    ... %d more\n", v->flagged - shown);
}

static json_t *verdict_json(const bench_run *run) {
    const bench_verdict *v = &run->verdict;
    json_t *o = bt_interference_to_json(&v->run);
    if (!o) return NULL;
    char reasons[512];
    verdict_reasons(run, reasons, sizeof reasons);
    int timed = 0;
    for (int i = 0; i < run->ncases; i++) timed += run->cases[i].timed_runs > 0;
    /* detected and reasons are the run's verdict; the other figures its whole-run window's. */
    json_object_set_new(o, "detected", json_boolean(v->detected));
    json_object_set_new(o, "reasons", json_string(reasons));
    json_object_set_new(o, "run_detected", json_boolean(v->run.detected));
    json_object_set_new(o, "peak_isa", json_string(bt_peak_isa_label(v->peak_isa)));
    json_object_set_new(o, "peak_threads", json_integer(v->peak_threads));
    json_object_set_new(o, "peak_start",
                        v->peak_start > 0 ? json_real(v->peak_start) : json_null());
    json_object_set_new(o, "peak_end", v->peak_end > 0 ? json_real(v->peak_end) : json_null());
    json_object_set_new(o, "peak_drift_limit", json_real(MAX_PEAK_DRIFT));
    json_object_set_new(o, "cpu_real_limit", json_real(MIN_CPU_REAL_RATIO));
    json_object_set_new(o, "benchmarks_flagged", json_integer(v->flagged));
    json_object_set_new(o, "benchmarks_checked", json_integer(timed));
    return o;
}

/* The case of the run named `name` (its name, then Google benchmark's "/real_time"),
 * searched from where the last one was found (the file lists the runs in the order they
 * ran). */
static bench_case *find_case(bench_run *run, const char *name, int *cursor) {
    for (int n = 0; name && n < run->ncases; n++) {
        int i = (*cursor + n) % run->ncases;
        size_t len = strlen(run->cases[i].name);
        if (!strncmp(run->cases[i].name, name, len) && (!name[len] || name[len] == '/')) {
            *cursor = i;
            return &run->cases[i];
        }
    }
    return NULL;
}

/* Adds the verdict to the JSON file Google benchmark wrote (context.interference, and per
 * benchmark "interference" and "interference_reason"), in place: it is still under its
 * temporary name. */
static int add_verdict_to_file(bench_run *run, const char *path) {
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    json_t *context = json_object_get(root, "context");
    if (!json_is_object(context)) {
        fprintf(stderr, "backtune bench: %s: %s; saved without the interference verdict\n", path,
                root ? "no context" : err.text);
        json_decref(root);
        return 0;
    }
    json_object_set_new(context, "interference", verdict_json(run));
    size_t i;
    json_t *b;
    int cursor = 0;
    json_array_foreach(json_object_get(root, "benchmarks"), i, b) {
        const bench_case *c =
            find_case(run, json_string_value(json_object_get(b, "run_name")), &cursor);
        if (!c) continue;
        json_object_set_new(b, "interference", json_boolean(c->flagged));
        if (c->flagged) json_object_set_new(b, "interference_reason", json_string(c->flag_reason));
    }
    int rc = json_dump_file(root, path, JSON_INDENT(2));
    if (rc) fprintf(stderr, "backtune bench: cannot rewrite %s\n", path);
    json_decref(root);
    return rc ? -1 : 0;
}

/* The results file: the verdict added (JSON), then renamed from its temporary name into
 * place; or, with --strict on interference, removed. Returns the exit status it calls for
 * (0 or STATUS_INTERFERENCE), -1 when it could not be saved. */
static int save_results(bench_run *run, const char *tmp, const char *out, int json, int judged) {
    const bench_verdict *v = &run->verdict;
    if (judged && v->detected && run->opt.strict) {
        unlink(tmp);
        fprintf(stderr, "backtune bench: --strict: interference detected, %s not saved\n", out);
        return STATUS_INTERFERENCE;
    }
    struct stat st;
    if (stat(tmp, &st) != 0) return 0; /* nothing written (a list of the benchmarks) */
    if ((json && judged && add_verdict_to_file(run, tmp)) || rename(tmp, out) != 0) {
        fprintf(stderr, "backtune bench: cannot save %s (the results are in %s)\n", out, tmp);
        return -1;
    }
    fprintf(stderr, "backtune bench: results in %s%s\n", out,
            judged && v->detected ? " (marked: interference)" : "");
    return 0;
}

static int print_outcome(const bench_run *run) {
    int failed = 0, not_run = 0;
    for (int i = 0; i < run->ncases; i++) {
        const bench_case *c = &run->cases[i];
        if (c->failed) {
            if (failed < 20)
                fprintf(stderr, "backtune bench: FAILED %s: %s\n", c->name, c->failure);
            failed++;
        }
        if (c->interrupted) not_run++;
    }
    if (failed > 20) fprintf(stderr, "backtune bench: ... %d failures in all\n", failed);
    fprintf(stderr,
            "backtune bench: %d benchmarks, %d failed, %d (variant, problem) pairs "
            "unsupported and skipped, %.1f s\n",
            run->ncases, failed, run->unsupported, bt_bench_now() - run->start);
    if (interrupted)
        fprintf(stderr,
                "backtune bench: interrupted; %d benchmarks not run (left out of the "
                "reports)\n",
                not_run);
    return interrupted ? 130 : failed ? 1 : 0;
}

/* ---- the command ---- */

/* results/<machine-id>/bench_<suite>[_cold][_mbN][_<host>[_r<rank>]].json (the host in a job
 * of several ranks: world.h) */
static void default_out_path(const options *o, const bt_world *w, char *path, size_t size) {
    char suite[128] = "problems";
    if (o->sel.nsuites) suite_names(o, 1, suite, sizeof suite);
    char mb[32] = "";
    if (o->sel.mb) snprintf(mb, sizeof mb, "_mb%lld", (long long)o->sel.mb);
    char tag[BT_WORLD_HOST + 16];
    bt_world_file_tag(w, tag, sizeof tag);
    snprintf(path, size, "results/%s/bench_%s%s%s%s.json", bt_fingerprint_id(), suite,
             o->cold ? "_cold" : "", mb, tag);
}

static int has_flag(char **args, int n, const char *prefix) {
    for (int i = 0; i < n; i++)
        if (!strncmp(args[i], prefix, strlen(prefix))) return 1;
    return 0;
}

static void free_run(bench_run *run) {
    release_state(run);
    release_buffers(run);
    free(run->problems);
    free(run->impls);
    free(run->cases);
    free(run->evict);
    bt_cli_selection_free(&run->opt.sel);
}

int bt_cmd_bench(int argc, char **argv) {
    bench_run run = {0};
    bt_world world = {.size = 1};
    run.start = bt_bench_now();
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    snprintf(run.openblas_coretype, sizeof run.openblas_coretype, "%s",
             coretype ? coretype : "(unset)");
    /* Google benchmark's flags to it (after our defaults, so the user's win), ours to getopt. */
    char **ours = calloc((size_t)argc + 1, sizeof *ours);
    char **gb = calloc((size_t)argc + 5, sizeof *gb);
    int nours = 0, ngb = 0, rc = 2, initialized = 0;
    if (!ours || !gb) goto done;
    ours[nours++] = argv[0];
    char **user_gb = gb + 4;
    int nuser_gb = 0;
    /* --benchmark_out=FILE is --out FILE: saved the same way (under a temporary name). */
    static const char gb_out_flag[] = "--benchmark_out=";
    const char *gb_out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], gb_out_flag, sizeof gb_out_flag - 1))
            gb_out = argv[i] + sizeof gb_out_flag - 1;
        else if (is_gbench_flag(argv[i]))
            user_gb[nuser_gb++] = argv[i];
        else
            ours[nours++] = argv[i];
    }
    int parsed = parse_options(nours, ours, &run.opt);
    if (parsed) {
        rc = parsed > 0 ? 0 : 2;
        goto done;
    }
    if (gb_out && (run.opt.out || run.opt.save)) {
        fprintf(stderr, "backtune bench: give one of --out, --save and --benchmark_out\n");
        goto done;
    }
    if (gb_out) run.opt.out = gb_out;
    if (bt_world_join(&world, "backtune bench", run.opt.allow_shared_node)) goto done;
    bt_load_sample_take(&run.load_start);
    double suite_min_time = 0; /* the suites' longest, read early: it becomes a default flag */
    for (int i = 0; i < run.opt.sel.nsuites; i++) {
        bt_suite s;
        if (bt_suite_load(run.opt.sel.suites[i], &s) == BT_OK) {
            if (s.min_time > suite_min_time) suite_min_time = s.min_time;
            bt_suite_free(&s);
        }
    }
    static char arg0[] = "backtune bench", min_time[64], out[1200];
    static char out_format[] = "--benchmark_out_format=json";
    gb[ngb++] = arg0;
    if (!has_flag(user_gb, nuser_gb, "--benchmark_min_time")) {
        snprintf(min_time, sizeof min_time, "--benchmark_min_time=%g",
                 suite_min_time > 0 ? suite_min_time : DEFAULT_MIN_TIME);
        gb[ngb++] = min_time;
    }
    static char saved_path[512], tmp_path[1100];
    if (run.opt.save) {
        default_out_path(&run.opt, &world, saved_path, sizeof saved_path);
        run.opt.out = saved_path;
    }
    if (run.opt.out) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", run.opt.out);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            if (bt_mkdirs(dir) != BT_OK) {
                fprintf(stderr, "backtune bench: %s\n", bt_last_error());
                goto done;
            }
        }
        snprintf(tmp_path, sizeof tmp_path, "%s.tmp.%ld", run.opt.out, (long)getpid());
        snprintf(out, sizeof out, "--benchmark_out=%s", tmp_path);
        gb[ngb++] = out;
        gb[ngb++] = out_format;
    }
    /* The file is JSON unless the user asked for another format (the last flag wins). */
    int out_json = 1;
    for (int i = 0; i < nuser_gb; i++)
        if (!strncmp(user_gb[i], "--benchmark_out_format=", 23))
            out_json = !strcmp(user_gb[i] + 23, "json");
    memmove(gb + ngb, user_gb, (size_t)nuser_gb * sizeof *gb);
    ngb += nuser_gb;
    bt_gbench_initialize(&ngb, gb);
    initialized = 1;
    if (bt_gbench_report_unrecognized(ngb, gb)) goto done;
    int list_only = has_flag(user_gb, nuser_gb, "--benchmark_list_tests") &&
                    !has_flag(user_gb, nuser_gb, "--benchmark_list_tests=false");

    if (collect_problems(&run)) goto done;
    if (!list_only) measure_peaks_before_peers(&run);
    if (collect_impls(&run) || collect_cases(&run)) goto done;
    if (run.opt.cold) {
        size_t bytes = run.opt.evict_bytes;
        if (!bytes) {
            bytes = 2 * (size_t)bt_machine_get()->l3_bytes;
            bytes = bytes < EVICT_MIN_BYTES   ? EVICT_MIN_BYTES
                    : bytes > EVICT_MAX_BYTES ? EVICT_MAX_BYTES
                                              : bytes;
        }
        run.evict_floats = bytes / sizeof(float);
        run.evict = bt_bench_alloc_zero(bytes);
        if (!run.evict) {
            fprintf(stderr, "backtune bench: no memory for the %zu MiB eviction buffer\n",
                    bytes >> 20);
            goto done;
        }
    }
    fprintf(stderr,
            "backtune bench: %d problems, %d impls, %d benchmarks (%d unsupported pairs "
            "skipped)%s\n",
            run.nproblems, run.nimpls, run.ncases, run.unsupported,
            list_only ? "" : "; measuring the peak...");
    for (int i = 0; i < run.ncases; i++) {
        bench_case *c = &run.cases[i];
        if (!list_only) c->peak_gflops = bt_peak_gflops(bt_bench_impl_isa(c->impl), c->threads);
        if (bt_gbench_register(c->name, bench_case_fn, c)) {
            fprintf(stderr, "backtune bench: cannot register %s\n", c->name);
            goto done;
        }
    }
    if (!list_only) add_run_context(&run, argc, argv);

    current_run = &run;
    interrupted = 0;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    bt_gbench_run_specified(on_result, &run);
    sigaction(SIGINT, &old_sa, NULL);
    release_state(&run);
    release_buffers(&run);
    current_run = NULL;
    if (!list_only) {
        judge_interference(&run);
        print_summary(&run);
        print_model_totals(&run);
        print_interference(&run);
        fflush(stdout);
        rc = print_outcome(&run);
        int saved = run.opt.out ? save_results(&run, tmp_path, run.opt.out, out_json, 1) : 0;
        if (saved < 0 && !rc) rc = 1;
        /* --save in a job of several ranks: every rank's file into rank 0's results/. */
        if (run.opt.save &&
            bt_world_gather_files(&world, "backtune bench", saved == 0 ? run.opt.out : NULL) < 0 &&
            !rc)
            rc = 1;
        if (run.verdict.detected && run.opt.strict) {
            if (!run.opt.out) fprintf(stderr, "backtune bench: --strict: interference detected\n");
            if (rc != 130) rc = STATUS_INTERFERENCE;
        }
    } else {
        rc = run.opt.out && save_results(&run, tmp_path, run.opt.out, out_json, 0) < 0;
    }
done:
    if (initialized) bt_gbench_shutdown();
    bt_world_leave(&world);
    free_run(&run);
    free(ours);
    free(gb);
    return rc;
}

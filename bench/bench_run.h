/* backtune bench's run, shared by the files that make up the command: options
 * (bench_options.c), problems and benchmarks (bench_cases.c), buffers and timing
 * (bench_timing.c), the results' context (bench_context.c), summaries (bench_summary.c), the
 * interference verdict and saving (bench_verdict.c); bench_cmd.c drives them. */
#ifndef BT_BENCH_RUN_H
#define BT_BENCH_RUN_H

#include "bench_impl.h"
#include "interference.h"
#include "selection.h"
#include "world.h"

#include <stddef.h>
#include <stdio.h>

#define TEXT_SIZE 512
#define STATUS_INTERFERENCE 3 /* --strict, on interference */

typedef struct bench_options {
    bt_cli_selection sel; /* suites, problems, ops, layouts, threads, mb */
    const char *variants;
    int cold;
    size_t evict_bytes;
    const char *out;
    int save;
    int strict;
    int quiet; /* no progress lines */
    int allow_shared_node;
} bench_options;

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
    bench_options opt;
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
    double start, cases_start; /* of the command, of the first benchmark */
    char openblas_coretype[64];
    bt_load_sample load_start;
    bench_verdict verdict;
    FILE *report; /* summaries: stdout with the console format, else stderr (stdout is data) */
} bench_run;
static inline int bench_op_is_fc(bt_op op) {
    return op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS;
}

/* bench_options.c */
/* Our options (Google benchmark's flags were taken out before). 0 ok, 1 help shown, -1 bad. */
int bench_parse_options(int argc, char **argv, bench_options *o);
int bench_is_gbench_flag(const char *arg);
/* Whether one of args[0..n) starts with prefix. */
int bench_has_flag(char **args, int n, const char *prefix);
/* The suites as given, joined by '+'; `base`: their file names without directory and .txt. */
void bench_suite_names(const bench_options *o, int base, char *buf, size_t size);
/* results/<machine-id>/bench_<suite>[_cold][_mbN][_<host>[_r<rank>]].json (the host in a job
 * of several ranks: world.h) */
void bench_default_out_path(const bench_options *o, const bt_world *w, char *path, size_t size);

/* bench_cases.c */
int bench_collect_problems(bench_run *run);
/* Every peak the run can need, before any peer library is set up. */
void bench_measure_peaks_before_peers(bench_run *run);
int bench_collect_impls(bench_run *run);
int bench_collect_cases(bench_run *run);

/* bench_timing.c */
/* Every case as a Google benchmark. 0 ok, -1 (said on stderr) not. */
int bench_register_cases(bench_run *run);
/* Runs the registered benchmarks (Google benchmark's own selection), Ctrl-C stopping them
 * cleanly, and releases the last buffers and state. */
void bench_run_cases(bench_run *run);
/* Whether Ctrl-C stopped the last bench_run_cases. */
int bench_interrupted(void);
/* Frees the buffers and state of the benchmark in progress (after an early exit too). */
void bench_release(bench_run *run);

/* bench_context.c */
/* The results' context block: command, problems, build, binding, machine, peaks. */
void bench_add_context(const bench_run *run, int argc, char **argv);

/* bench_summary.c */
/* The summaries and the verdict go to run->report. */
void bench_print_summary(const bench_run *run);
void bench_print_model_totals(const bench_run *run);
/* Failures and counts to stderr; returns the exit status they call for. */
int bench_print_outcome(const bench_run *run);

/* bench_verdict.c */
void bench_judge_interference(bench_run *run);
void bench_print_interference(const bench_run *run);
/* The results file: the verdict added (JSON), renamed from tmp to out; or, with --strict on
 * interference, removed. Returns 0, STATUS_INTERFERENCE, or -1 when it could not be saved. */
int bench_save_results(bench_run *run, const char *tmp, const char *out, int json, int judged);

#endif

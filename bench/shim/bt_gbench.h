/* A C interface to Google benchmark (1.7), so benchmarks are written in C.
 *
 * Usage:
 *     static void bench_fn(bt_gbench_state *st, void *user) {
 *         ...set up (not timed)...
 *         while (bt_gbench_keep_running(st)) work(user);
 *         bt_gbench_set_rate(st, "FLOP/s", flops_per_iteration);
 *     }
 *     bt_gbench_initialize(&argc, argv);   // consumes --benchmark_* flags
 *     bt_gbench_register("name", bench_fn, user);
 *     bt_gbench_run_specified(on_result, ctx);
 *     bt_gbench_shutdown();
 *
 * Every benchmark uses real (wall-clock) time, one benchmark thread (parallel code inside
 * a benchmark brings its own threads) and microseconds as the display unit. Google
 * benchmark's own flags keep working: --benchmark_filter, _repetitions, _min_time, _out,
 * _out_format, _format, ...
 *
 * Results pass through a C hook before the reporters (console and --benchmark_out file) see
 * them: the hook can read a run's counters, add derived counters (values that need the
 * measured time, such as a percentage of a peak rate) and drop runs (e.g. runs skipped
 * because the user interrupted), so the output files hold only what the hook kept. */
#ifndef BT_GBENCH_H
#define BT_GBENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The running benchmark (a benchmark::State). Only valid inside the benchmark function. */
typedef struct bt_gbench_state bt_gbench_state;
typedef void (*bt_gbench_fn)(bt_gbench_state *state, void *user);

/* ---- set-up and running ---- */

/* Hands argv to Google benchmark, which removes the flags it knows (--benchmark_*, --v).
 * Call once, before registering. */
void bt_gbench_initialize(int *argc, char **argv);
/* Whether arguments other than argv[0] remain; prints them as unrecognized if so. */
int bt_gbench_report_unrecognized(int argc, char **argv);
/* Registers a benchmark; fn(state, user) is called each time Google benchmark runs it
 * (several times: once per iteration-count trial and per repetition). Names must be
 * unique: returns 0, or -1 for a NULL or already registered name. */
int bt_gbench_register(const char *name, bt_gbench_fn fn, void *user);
/* Adds key: value to the "context" block of every report. Call before running. */
void bt_gbench_add_context(const char *key, const char *value);

/* One reported run as the hook sees it. Strings are valid during the hook call only. */
typedef struct bt_gbench_run {
    const char *name;           /* as registered */
    void *user;                 /* as registered */
    int is_aggregate;           /* a statistic over repetitions, not one run */
    const char *aggregate_name; /* "mean", "median", "stddev", "cv", or "" */
    int skipped;                /* skipped with bt_gbench_skip */
    const char *skip_reason;
    int64_t iterations;
    double real_seconds;      /* wall time per iteration (aggregates: the statistic) */
    double cpu_seconds;       /* CPU time of the benchmark's thread per iteration, likewise */
    int64_t repetition_index; /* -1 when not repeated */
    void *impl_;              /* the Google benchmark run, for the functions below */
} bt_gbench_run;

/* Called once per run (each repetition, then each aggregate). Return 1 to report it, 0 to
 * leave it out of every report. */
typedef int (*bt_gbench_report_fn)(bt_gbench_run *run, void *ctx);

/* A counter of a reported run (after Google benchmark applied its flags, so a rate counter
 * holds amount per second); returns 0 and sets *value, or -1 if the run has no such one. */
int bt_gbench_run_counter(const bt_gbench_run *run, const char *name, double *value);
/* Adds (or replaces) a plain counter of a reported run. */
void bt_gbench_run_set_counter(bt_gbench_run *run, const char *name, double value);

/* Runs the registered benchmarks selected by --benchmark_filter; hook may be NULL.
 * Returns the number of benchmarks that matched the filter. */
size_t bt_gbench_run_specified(bt_gbench_report_fn hook, void *ctx);
/* Releases Google benchmark's state (registered benchmarks included). */
void bt_gbench_shutdown(void);

/* ---- inside a benchmark function ---- */

/* True while the timed loop should go on; the first call starts the timer. */
int bt_gbench_keep_running(bt_gbench_state *state);
/* Iterations run so far (the total, once the loop has ended). */
int64_t bt_gbench_iterations(const bt_gbench_state *state);
/* Stops and restarts the timer, e.g. around cache eviction (costs a few microseconds). */
void bt_gbench_pause_timing(bt_gbench_state *state);
void bt_gbench_resume_timing(bt_gbench_state *state);
/* Marks the run as skipped with a reason (Google benchmark's SkipWithError). Inside the
 * timed loop, break out right after; before it, return without looping. */
void bt_gbench_skip(bt_gbench_state *state, const char *reason);
int bt_gbench_skipped(const bt_gbench_state *state);
/* Free text shown with the result and stored in its "label". */
void bt_gbench_set_label(bt_gbench_state *state, const char *label);
/* A plain value reported as is. */
void bt_gbench_set_counter(bt_gbench_state *state, const char *name, double value);
/* A rate: `amount_per_iteration` x iterations / elapsed seconds (Counter kIsRate, iteration
 * invariant), shown with SI prefixes (binary ones when `binary` is set), e.g. FLOP/s. */
void bt_gbench_set_rate(bt_gbench_state *state, const char *name, double amount_per_iteration,
                        int binary);

#ifdef __cplusplus
}
#endif
#endif

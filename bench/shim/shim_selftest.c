/* Self-test of the Google-benchmark shim: registers a benchmark that sets every kind of
 * counter and a label and pauses its timer, one that skips, and one the report hook drops;
 * checks what the hook saw. Exit status 0 when all is as expected. Google benchmark flags
 * pass through (e.g. --benchmark_out=x.json to look at the file). */
#include "bt_gbench.h"

#include <stdio.h>
#include <string.h>

typedef struct seen {
    int timed_runs, skipped_runs, dropped_runs;
    int rate_ok, derived_ok;
} seen;

static volatile double sink;

static void spin(int n) {
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)i * 1e-9;
    sink = acc;
}

static void bench_counters(bt_gbench_state *st, void *user) {
    int *work = user;
    bt_gbench_set_label(st, "label text");
    while (bt_gbench_keep_running(st)) {
        bt_gbench_pause_timing(st);
        spin(100); /* untimed */
        bt_gbench_resume_timing(st);
        spin(*work);
    }
    bt_gbench_set_rate(st, "FLOP/s", 2.0 * *work, 0);
    bt_gbench_set_rate(st, "bytes/s", 8.0 * *work, 1);
    bt_gbench_set_counter(st, "work", *work);
}

static void bench_skip(bt_gbench_state *st, void *user) {
    (void)user;
    bt_gbench_skip(st, "not supported here");
    if (!bt_gbench_skipped(st)) fprintf(stderr, "shim_selftest: skip not recorded\n");
}

static int hook(bt_gbench_run *run, void *ctx) {
    seen *s = ctx;
    if (!strcmp(run->name, "selftest/dropped")) {
        s->dropped_runs++;
        return 0;
    }
    if (run->skipped) {
        if (!strcmp(run->skip_reason, "not supported here")) s->skipped_runs++;
        return 1;
    }
    if (!strcmp(run->name, "selftest/counters") && !run->is_aggregate) {
        s->timed_runs++;
        double flops, work;
        if (bt_gbench_run_counter(run, "FLOP/s", &flops) == 0 &&
            bt_gbench_run_counter(run, "work", &work) == 0 && run->real_seconds > 0) {
            /* A rate counter arrives as amount per second of wall time. */
            double expect = 2.0 * work / run->real_seconds;
            s->rate_ok = flops > 0.99 * expect && flops < 1.01 * expect;
        }
        bt_gbench_run_set_counter(run, "derived", 42.0);
        double d;
        s->derived_ok = bt_gbench_run_counter(run, "derived", &d) == 0 && d == 42.0;
    }
    return 1;
}

int main(int argc, char **argv) {
    bt_gbench_initialize(&argc, argv);
    if (bt_gbench_report_unrecognized(argc, argv)) return 2;
    static int work = 20000;
    int fails = 0;
    fails += bt_gbench_register("selftest/counters", bench_counters, &work) != 0;
    fails += bt_gbench_register("selftest/skip", bench_skip, NULL) != 0;
    fails += bt_gbench_register("selftest/dropped", bench_counters, &work) != 0;
    fails += bt_gbench_register("selftest/counters", bench_counters, &work) != -1; /* duplicate */
    bt_gbench_add_context("selftest", "yes");
    seen s = {0};
    size_t matched = bt_gbench_run_specified(hook, &s);
    bt_gbench_shutdown();
    int ok = !fails && matched == 3 && s.timed_runs >= 1 && s.skipped_runs >= 1 &&
             s.dropped_runs >= 1 && s.rate_ok && s.derived_ok;
    fprintf(stderr,
            "shim_selftest: %s (matched %zu, timed %d, skipped %d, dropped %d, rate %s, "
            "derived counter %s)\n",
            ok ? "PASS" : "FAIL", matched, s.timed_runs, s.skipped_runs, s.dropped_runs,
            s.rate_ok ? "ok" : "wrong", s.derived_ok ? "ok" : "missing");
    return ok ? 0 : 1;
}

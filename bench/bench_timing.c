/* backtune bench: buffers, plans and the timed loop of each benchmark, the results Google
 * benchmark reports, and Ctrl-C (bench_run.h). */
#include "bench_run.h"

#include "bench_util.h"
#include "bt_gbench.h"
#include "check.h"
#include "progress.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERRUPTED_REASON "interrupted"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

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
    return BT_OK;
}

/* One line per problem, as its first benchmark starts: its place, the time so far and the
 * ETA from the benchmarks run before it. */
static void print_progress(const bench_run *run, const bench_case *c) {
    if (run->opt.quiet) return;
    const double now = bt_bench_now();
    char text[96];
    bt_cli_progress_text(c->prob->ordinal, run->nproblems, now - run->start, now - run->cases_start,
                         (double)(c - run->cases) / run->ncases, text, sizeof text);
    const bench_problem *b = c->prob;
    fprintf(stderr, "[bench %s] %s%s%s%s\n", text, b->text, b->name[0] ? " (" : "", b->name,
            b->name[0] ? ")" : "");
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
    if (run->loaded != c->prob) {
        print_progress(run, c);
        st = load_buffers(run, c->prob);
    }
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

void bench_release(bench_run *run) {
    release_state(run);
    release_buffers(run);
}

int bench_interrupted(void) {
    return interrupted;
}

int bench_register_cases(bench_run *run) {
    for (int i = 0; i < run->ncases; i++)
        if (bt_gbench_register(run->cases[i].name, bench_case_fn, &run->cases[i])) {
            fprintf(stderr, "backtune bench: cannot register %s\n", run->cases[i].name);
            return -1;
        }
    return 0;
}

void bench_run_cases(bench_run *run) {
    run->cases_start = bt_bench_now();
    current_run = run;
    interrupted = 0;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    bt_gbench_run_specified(on_result, run);
    sigaction(SIGINT, &old_sa, NULL);
    release_state(run);
    release_buffers(run);
    current_run = NULL;
}

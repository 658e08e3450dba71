/* Timing a plan the way the tuner compares candidates: buffers allocated and touched once per
 * problem (first touch costs ~2.5 ms/MB), a warm-up run, then min-of-N with a
 * median and spread, a time cap per candidate, and early abandon of a candidate already
 * clearly slower than the best so far. Also the reduced copy of a problem that candidates are
 * checked on when the full reference would take too long. */
#ifndef BT_TUNE_MEASURE_H
#define BT_TUNE_MEASURE_H

#include "internal.h"

typedef struct bt_buffers {
    float *x, *w, *dy, *dx, *dw, *db;
} bt_buffers;

/* Every tensor of the problem (db included), filled with random values in [-1, 1]. */
bt_status bt_buffers_alloc(bt_buffers *b, const bt_problem *p);
void bt_buffers_free(bt_buffers *b);
bt_tensors bt_buffers_tensors(const bt_buffers *b);

typedef struct bt_timing_options {
    int min_reps, max_reps; /* timed runs after the warm-up */
    double rep_seconds;     /* stop adding runs past min_reps once this much is timed */
    double cap_seconds;     /* stop measuring past this; a single run longer is a timeout */
    double abandon_ratio;   /* abandon once min > ratio * best after abandon_reps timed
                               runs, or after the warm-up at warmup_ratio * best */
    int abandon_reps;
    double warmup_ratio;
    double best_seconds; /* the best min time so far for this key; 0: none yet */
} bt_timing_options;

typedef struct bt_timing {
    double warmup_s, min_s, median_s, max_s;
    double spread; /* (max - min) / min over the timed runs */
    int reps;      /* timed runs (the warm-up is reused as one when nothing else was timed) */
    int abandoned; /* clearly slower than best_seconds: stopped early */
    int timed_out; /* one run took longer than cap_seconds */
} bt_timing;

void bt_timing_defaults(bt_timing_options *o);
bt_status bt_time_plan(bt_plan *plan, const bt_buffers *b, const bt_timing_options *o,
                       bt_timing *out);

/* The fastest of `runs` (>= 1) runs of the plan, warm-up included: no statistics. */
bt_status bt_time_min(bt_plan *plan, const bt_buffers *b, int runs, double *min_s);

/* Sorts v[0..n) (n >= 1) ascending and returns its median. */
double bt_sort_median(double *v, int n);

/* Seconds on a monotonic clock. */
double bt_now(void);

/* A copy of p with the same op, layout, channels, groups, kernel, stride, padding and
 * dilation but fewer samples and rows/columns, so that its FLOP count is at most max_flops
 * where the shape allows (its output keeps at least two rows/columns of stride). Returns 1
 * if it differs from p. */
int bt_reduce_problem(const bt_problem *p, double max_flops, bt_problem *out);

/* p (any op) with its minibatch cut in proportion to target_cost / cost (seconds of a run,
 * FLOPs: any cost proportional to the minibatch), kept a multiple of `threads` (so that
 * splitting the batch over threads balances as it does on p). Returns 1 if the minibatch is at
 * most half of p's, else 0 and out = p. */
int bt_cut_minibatch(const bt_problem *p, int threads, double cost, double target_cost,
                     bt_problem *out);

/* The problem the tuner screens candidates on when one run of p takes run_seconds:
 * bt_cut_minibatch, for convolutions only (an FC layer's batch is its M dimension, not a loop
 * over samples: cutting it changes which GEMM is fastest). */
int bt_screen_problem(const bt_problem *p, int threads, double run_seconds, double target_seconds,
                      bt_problem *out);

#endif

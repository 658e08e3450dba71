/* Machines side by side, in numbers the report turns into its verdict and its model-total,
 * efficiency, scaling and tuning views. Every function reads rows of a best-of-ours match
 * (bt_cmp_match_runs with by_variant = 0) or the sets' tuning-table entries, for any number
 * of sets; set 0 (A) is the reference the others are measured against. */
#ifndef BT_COMPARE_FLEET_H
#define BT_COMPARE_FLEET_H

#include "match.h"

/* A model total: one pass over the shapes counted, each weighted by its layer count, with
 * each shape's best variant (bench's "model totals"). */
typedef struct bt_cmp_total {
    double seconds, flop; /* sum of count x flops / rate, and of count x flops */
    int shapes, layers;
    double peak; /* the highest measured peak of the runs counted (for the ISA of the variant
                    that ran, dispatch's included, and the thread count): what the code that
                    ran could reach; 0 unknown */
} bt_cmp_total;

/* The measured peak for the ISA of the variant a cell ran (dispatch's from its parameters)
 * and its thread count, from the set's context; the run's peak counter when that is missing. */
double bt_cmp_cell_peak(const bt_cmp_set *set, const bt_cmp_cell *c);

/* Set s's total over rows [begin, end) at `threads` whose op is `op` (NULL: any), counting
 * only the rows every set in `with` (a bit per set) measured too (0: every row of s). Layer
 * counts are those of each row's suite (bt_cmp_layer_count over sets, the match's sets). */
bt_cmp_total bt_cmp_total_of(const bt_cmp_set *sets, const bt_cmp_rows *rows, int begin, int end,
                             const char *op, int threads, int s, unsigned with);
/* The sets that measured at least one row of [begin, end) at `threads`, as bits. */
unsigned bt_cmp_sets_present(const bt_cmp_rows *rows, int begin, int end, int threads);
/* The distinct thread counts of rows [begin, end), ascending; returns how many (<= max). */
int bt_cmp_rows_thread_counts(const bt_cmp_rows *rows, int begin, int end, int *out, int max);
/* The distinct ops of rows [begin, end) in order; returns how many (<= max). */
int bt_cmp_rows_ops(const bt_cmp_rows *rows, int begin, int end, char (*out)[32], int max);

/* What set s is against A, for the verdict. */
typedef struct bt_cmp_verdict {
    /* The bench suite with the most work (flop over its layers) A and s both measured (ties:
     * more threads). */
    int found;
    int group, begin, end; /* the group's rows in the match */
    int threads, shapes, layers;
    int suite_shapes;  /* A's shapes of that suite at those threads */
    double speed;      /* A's model time over s's: > 1, s is faster */
    double peak_ratio; /* the peak of s's runs over that of A's (bt_cmp_total.peak); 0 unknown */
    double per_peak;   /* speed / peak_ratio; 0 unknown */
    char weakest_op[32], strongest_op[32];
    double weakest, strongest; /* speed per op (with layout); 0 with one op */
    /* The tuning keys both tuned: geomean of s's tuned GFLOP/s over A's. */
    int table_keys;
    double table_speed;
} bt_cmp_verdict;
bt_cmp_verdict bt_cmp_verdict_of(const bt_cmp_set *sets, const bt_cmp_rows *bench,
                                 const bt_cmp_rows *tables, int s);

/* Set s's tuning-table entries with a default-dispatch timing: geomean, worst and best of
 * tuned over default GFLOP/s at `threads` (0: any count); count 0 when there are none. */
typedef struct bt_cmp_tuning_gain {
    int count, worst, best; /* worst and best: indexes in set->choices */
    double geomean;
} bt_cmp_tuning_gain;
bt_cmp_tuning_gain bt_cmp_tuning_gain_of(const bt_cmp_set *set, int threads);

#endif

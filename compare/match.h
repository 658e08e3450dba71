/* Matching results across sets: the same (cache mode, problem, variant or "best", threads)
 * measured by each set becomes one row, with the speedup of each set over the first and
 * whether that speedup is inside the measured noise.
 *
 * Noise: a speedup r = X/A is inside the noise when |ln r| <= BT_CMP_NOISE_SIGMAS *
 * sqrt(cv_A^2 + cv_X^2), cv being the coefficient of variation of each side's time over its
 * repetitions (Google benchmark's cv aggregate; for tuning tables, estimated from the spread
 * of the tuner's timings). A side measured once has no known noise: the verdict is unknown. */
#ifndef BT_COMPARE_MATCH_H
#define BT_COMPARE_MATCH_H

#include "results.h"

#define BT_CMP_MAX_SETS 8
#define BT_CMP_NOISE_SIGMAS 2.0

typedef enum bt_cmp_noise {
    BT_CMP_NOISE_UNKNOWN, /* a side has one repetition (or no spread recorded) */
    BT_CMP_NOISE_INSIDE,  /* the difference is within the measured noise */
    BT_CMP_NOISE_OUTSIDE
} bt_cmp_noise;

typedef struct bt_cmp_options {
    int by_variant;       /* 0: the best variant per problem on each side; 1: variant by name */
    const char *variants; /* comma-separated globs over variant names, '!' excludes; NULL: all
                             of ours ("*,!peer:*") for best, everything for by_variant */
    /* Thread counts: none (runs match at equal counts), one (that count only), or one per
     * set (set i's runs at threads[i] match each other: 1 thread against 2). */
    int threads[BT_CMP_MAX_SETS];
    int nthreads;
} bt_cmp_options;

/* One side of a row. */
typedef struct bt_cmp_cell {
    int present;
    const char *variant, *params; /* of the run or table entry */
    double gflops, cv, peak_gflops, ai;
    int threads, reps;
    const bt_cmp_run *run;       /* bench rows */
    const bt_cmp_choice *choice; /* tuning-table rows */
} bt_cmp_cell;

typedef struct bt_cmp_row {
    int group;                 /* index in bt_cmp_rows.groups */
    char op[32];               /* op with layout: "conv_bwd_w_nhwc" */
    char problem[BT_CMP_TEXT]; /* canonical text */
    char variant[BT_CMP_NAME]; /* matched by name, or "best" */
    int seq;                   /* order of first appearance (set by set, file order) */
    int op_seq;                /* seq of the first row of this op in the group */
    bt_cmp_cell cell[BT_CMP_MAX_SETS];
    double speedup[BT_CMP_MAX_SETS]; /* cell i over cell 0; 0 when either is missing */
    bt_cmp_noise noise[BT_CMP_MAX_SETS];
} bt_cmp_row;

typedef struct bt_cmp_group {
    char suite[BT_CMP_NAME]; /* suite, file name, or "tuning tables" */
    char cache[8];
} bt_cmp_group;

typedef struct bt_cmp_rows {
    int nsets;
    bt_cmp_group *groups;
    int ngroups;
    bt_cmp_row *rows; /* ordered by group, then op, then first appearance */
    int nrows;
    int matched;                  /* rows present in at least two sets */
    int only_in[BT_CMP_MAX_SETS]; /* rows present in set i alone */
} bt_cmp_rows;

/* Rows of the bench runs of the sets. */
bt_status bt_cmp_match_runs(const bt_cmp_set *sets, int nsets, const bt_cmp_options *o,
                            bt_cmp_rows *out);
/* Rows of the tuning-table entries of the sets (key: problem, threads; one group). */
bt_status bt_cmp_match_choices(const bt_cmp_set *sets, int nsets, const bt_cmp_options *o,
                               bt_cmp_rows *out);
void bt_cmp_rows_free(bt_cmp_rows *rows);

/* Whether the ratio of two measurements with these coefficients of variation is noise. */
bt_cmp_noise bt_cmp_noise_of(double ratio, double cv_a, double cv_b);

/* Geometric mean of set i's speedups over rows [begin, end) of one kind (rows where set 0 and
 * set i are both present); counts how many were inside or of unknown noise. */
typedef struct bt_cmp_geomean {
    double value; /* 0 when no row counts */
    int count, inside, unknown;
} bt_cmp_geomean;
bt_cmp_geomean bt_cmp_geomean_of(const bt_cmp_rows *rows, int begin, int end, int set);

#endif

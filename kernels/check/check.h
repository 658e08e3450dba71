/* Checking a plan against the double reference (docs/design.md, correctness). Shared by `backtune
 * check`, the tests and the tuner, so there is one definition of "correct" and one tolerance.
 *
 * Exact mode fills inputs with small integers (and accumulate targets too) so that every
 * partial sum of every summation order is an integer below 2^24, exactly representable in
 * float: any correct variant matches the reference bit for bit, threshold 0.
 * Random mode fills uniform [-1, 1]; an output passes when
 *     |got - ref| <= BT_CHECK_RANDOM_ULPS_PER_TERM * FLT_EPSILON * (L + 1) * sum|terms|
 * where L is the reduction length of that output and sum|terms| is the reference run on the
 * absolute values of the inputs (plus |prior value| when accumulating): the classic
 * recursive-summation bound, valid for any summation order.
 * Approximate algorithms (bt_plan_error_factor > 0: Winograd) round transformed
 * values, which mix every input of a tile: an output's error follows the magnitudes around
 * it, not its own terms (an output whose terms are all zero is not computed exactly). Their
 * bound is the variant's factor for the plan times FLT_EPSILON * (L + 1) * max sum|terms|,
 * the largest over the output tensor (plus |prior value|), in both modes (in an exact-mode
 * case made from a direct plan, max sum|terms| is bounded by L * max|input| * max|dy|): integer
 * inputs do not keep their sums exact, so exact mode does not apply to them (res->approximate says
 * the check used the bound). */
#ifndef BT_CHECK_H
#define BT_CHECK_H

#include "internal.h"

#define BT_CHECK_RANDOM_ULPS_PER_TERM 1.0

typedef enum bt_check_mode { BT_CHECK_EXACT, BT_CHECK_RANDOM } bt_check_mode;

typedef struct bt_check_options {
    bt_check_mode mode;
    uint64_t seed;
    int with_bias; /* bwd_weights: also compute and check db */
} bt_check_options;

typedef struct bt_check_result {
    int pass;
    double max_abs_err;  /* over all checked outputs */
    double worst_ratio;  /* max |err| / tolerance (random mode), 0 in exact mode if pass */
    double max_abs_ref;  /* max |reference| over all checked outputs */
    int approximate;     /* an approximate plan: checked to its bound, even in exact mode */
    double error_factor; /* its bound over the direct one (1 for direct algorithms) */
    int64_t bad_count;   /* outputs outside tolerance */
    char detail[256];    /* first mismatch, in words */
} bt_check_result;

/* Runs the plan on fresh inputs and compares with the reference. Returns BT_OK when the
 * check ran (the verdict is in res->pass), or an error if it could not run. */
bt_status bt_check_plan(bt_plan *plan, const bt_check_options *opt, bt_check_result *res);

/* The same check in two steps, for checking many plans of one problem (the tuner): a case
 * holds the inputs and the reference results, computed once; each plan is then run on copies
 * of the inputs (which must come back unchanged) and compared. A case is read-only once made:
 * threads may share it. */
typedef struct bt_check_case bt_check_case;
bt_status bt_check_case_create(const bt_plan *plan, const bt_check_options *opt,
                               bt_check_case **out);
/* plan: of the same problem as the plan the case was made from. */
bt_status bt_check_plan_case(bt_plan *plan, const bt_check_case *c, bt_check_result *res);
void bt_check_case_free(bt_check_case *c);

/* Deterministic fills used by the check (exposed for tests and benchmarks). */
void bt_fill_random(float *a, size_t n, uint64_t seed);
void bt_fill_exact(float *a, size_t n, uint64_t seed, int max_abs);

#endif

/* The worked examples of the seed documents (the papers the math comes from), with expected values
 * computed by hand, run through every variant of the op at 1 and more-than-cores threads,
 * in both layouts for conv. Small integers: every variant must match exactly, except the
 * approximate algorithms (Winograd), which must stay within their bound (kernels/check/check.h)
 * of the largest expected value; their lines say so.
 *
 * Matrices are written row by row; conv tensors have one channel, so NCHW and NHWC hold
 * them the same way. FC: x is N x C, dy is N x K, w is K x C. */
#include "testlib.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { MAX_STEPS = 9, MAX_OUT = 32 };

/* One call: the problem descriptor (the test's op and the layout are prefixed), whether it
 * adds into the previous step's outputs, its inputs, and the outputs expected after it
 * (want NULL: not checked at this step). */
typedef struct seed_step {
    const char *desc;
    int accumulate;
    const float *in; /* x for bwd_weights, w for bwd_data */
    const float *dy;
    const float *want, *want_db;
} seed_step;

typedef struct seed_test {
    const char *name;
    bt_op op;
    int nsteps;
    seed_step steps[MAX_STEPS];
} seed_test;

/* Whether got matches want exactly, or (approximate algorithms, factor > 0) within
 * factor * FLT_EPSILON * (reduction + 1) * max |want|. */
static int matches(const float *got, const float *want, size_t n, double factor, double reduction,
                   char *detail, size_t size, const char *what) {
    double largest = 0;
    for (size_t i = 0; i < n; i++) largest = fmax(largest, fabs(want[i]));
    double tol = factor * FLT_EPSILON * (reduction + 1) * largest;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol)) {
            snprintf(detail, size, "%s[%zu] = %.9g, expected %.9g (tolerance %.3g)", what, i,
                     got[i], want[i], tol);
            return 0;
        }
    return 1;
}

/* Runs the steps with one variant, threads and layout; returns 1 if all outputs match.
 * *approximate: set when the variant is an approximate algorithm. */
static int run_steps(const seed_test *t, const char *variant, int threads, bt_layout layout,
                     char *detail, size_t size, int *skipped, int *approximate) {
    float out[MAX_OUT], db[MAX_OUT];
    for (int i = 0; i < MAX_OUT; i++) out[i] = db[i] = NAN; /* must be overwritten */
    int data = tl_op_is_data(t->op);
    for (int si = 0; si < t->nsteps; si++) {
        const seed_step *st = &t->steps[si];
        char text[200], params[32];
        bt_problem p = tl_problem(t->op, layout, st->desc, st->accumulate);
        bt_problem_format(&p, text, sizeof text);
        snprintf(params, sizeof params, "threads=%d", threads);
        size_t nout = data ? bt_problem_x_elems(&p) : bt_problem_w_elems(&p);
        size_t nk = bt_problem_db_elems(&p);
        if (nout > MAX_OUT || nk > MAX_OUT) {
            snprintf(detail, size, "test bug: step %d is too large", si);
            return 0;
        }
        bt_plan *plan;
        bt_status s = bt_plan_create(&plan, &p, variant, params);
        if (s == BT_EUNSUPPORTED) {
            snprintf(detail, size, "%s", bt_last_error());
            *skipped = 1;
            return 0;
        }
        if (s != BT_OK) {
            snprintf(detail, size, "step %d '%s': plan: %s", si + 1, text, bt_last_error());
            return 0;
        }
        bt_tensors tensors = {.x = data ? NULL : st->in,
                              .w = data ? st->in : NULL,
                              .dy = st->dy,
                              .dx = data ? out : NULL,
                              .dw = data ? NULL : out,
                              .db = data ? NULL : db};
        s = bt_plan_execute(plan, &tensors);
        double factor = bt_plan_error_factor(plan);
        const bt_shape *sh = &plan->shape;
        double reduction =
            data ? (double)(sh->kg * sh->r * sh->s) : (double)(sh->n * sh->p * sh->q);
        *approximate = factor > 0;
        bt_plan_destroy(plan);
        if (s != BT_OK) {
            snprintf(detail, size, "step %d: execute: %s", si + 1, bt_last_error());
            return 0;
        }
        char what[32];
        snprintf(what, sizeof what, "step %d: %s", si + 1, data ? "dx" : "dw");
        if (st->want && !matches(out, st->want, nout, factor, reduction, detail, size, what))
            return 0;
        snprintf(what, sizeof what, "step %d: db", si + 1);
        if (st->want_db && !matches(db, st->want_db, nk, factor, reduction, detail, size, what))
            return 0;
    }
    return 1;
}

static void run_seed(const seed_test *t) {
    int fc = t->op == BT_FC_BWD_DATA || t->op == BT_FC_BWD_WEIGHTS;
    for (int vi = 0; vi < bt_variant_count(); vi++) {
        if (!tl_variant_selected(vi, t->op) || !tl_variant_runnable(vi, t->name)) continue;
        for (int layout = BT_NCHW; layout <= (fc ? BT_NCHW : BT_NHWC); layout++)
            for (int ti = 0; ti < TL_THREAD_COUNTS; ti += 2) {
                int threads = tl_threads(ti), skipped = 0, approximate = 0;
                char detail[300] = "";
                int ok = run_steps(t, bt_variant_name(vi), threads, (bt_layout)layout, detail,
                                   sizeof detail, &skipped, &approximate);
                const char *lname = fc ? "" : (layout == BT_NHWC ? " nhwc" : " nchw");
                if (skipped)
                    tl_skip("%s: %s t%d%s: %s", t->name, bt_variant_name(vi), threads, lname,
                            detail);
                else if (!tl_expect(ok, "%s: %s t%d%s%s", t->name, bt_variant_name(vi), threads,
                                    lname,
                                    approximate ? " (approximate algorithm: an exact match does "
                                                  "not apply, within its bound)"
                                                : ""))
                    tl_note("%s", detail);
            }
    }
}

/* ---- seed 001: a 3x3 input i1..i9 under a 2x2 filter w1..w4 gives o1..o4; a second 2x2
 * layer maps o to a single o^2, with cost C = (o^2 - y)^2. ---- */
static const float seed1_input[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* i1..i9 */
static const float seed1_w1[4] = {1, 0, -1, 2};                  /* first filter w1..w4 */
/* o1 = i1 w1 + i2 w2 + i4 w3 + i5 w4 = 1 + 0 - 4 + 10 = 7; o2 = 2 - 5 + 12 = 9;
 * o3 = 4 - 7 + 16 = 13; o4 = 5 - 8 + 18 = 15. */
static const float seed1_o1[4] = {7, 9, 13, 15};
static const float seed1_w2[4] = {1, 2, 3, -1}; /* second filter */
/* o^2 = 7 + 18 + 39 - 15 = 49; with y = 45, dC/do^2 = 2 (o^2 - y) = 8. */
static const float seed1_dc_do2[1] = {8};

static void seed001(void) {
    /* Uniform dC/do = 2 at all four outputs: w1 touched i1, i2, i4, i5, so
     * dW_1 = 2 (i1 + i2 + i4 + i5) = 2 * 12; dW_2 = 2 (i2 + i3 + i5 + i6) = 32;
     * dW_3 = 2 (i4 + i5 + i7 + i8) = 48; dW_4 = 2 (i5 + i6 + i8 + i9) = 56; db = 4 * 2. */
    static const float dy[4] = {2, 2, 2, 2}, dw[4] = {24, 32, 48, 56}, db[1] = {8};
    seed_test uniform = {"seed 001 dW_1 = (i1+i2+i4+i5) dC/do on a 3x3 input, 2x2 filter",
                         BT_CONV_BWD_WEIGHTS,
                         1,
                         {{"mb1ic1ih3oc1kh2", 0, seed1_input, dy, dw, db}}};
    run_seed(&uniform);

    /* Second layer: dC/dw^2_j = o^1_j * 8. */
    static const float dw2[4] = {56, 72, 104, 120}, db2[1] = {8};
    seed_test second = {"seed 001 second 2x2 layer: dW^2 = o^1 * 2(o^2 - y)",
                        BT_CONV_BWD_WEIGHTS,
                        1,
                        {{"mb1ic1ih2oc1kh2", 0, seed1_o1, seed1_dc_do2, dw2, db2}}};
    run_seed(&second);

    /* dC/do^1_j = w^2_j * 8: one value per output, each through its own weight (not the sum
     * of all four that the seed's question proposes). */
    static const float dc_do1[4] = {8, 16, 24, -8};
    seed_test back = {"seed 001 dC/do^1 = w^2 * 2(o^2 - y), one value per output",
                      BT_CONV_BWD_DATA,
                      1,
                      {{"mb1ic1ih2oc1kh2", 0, seed1_w2, seed1_dc_do2, dc_do1, NULL}}};
    run_seed(&back);

    /* The first layer's dW from those: dW_1 = i1*8 + i2*16 + i4*24 + i5*(-8) = 96;
     * dW_2 = i2*8 + i3*16 + i5*24 + i6*(-8) = 136; dW_3 = 32 + 80 + 168 - 64 = 216;
     * dW_4 = 40 + 96 + 192 - 72 = 256; db = 8 + 16 + 24 - 8 = 40. */
    static const float dw1[4] = {96, 136, 216, 256}, db1[1] = {40};
    seed_test chain = {"seed 001 chained: dW_1 = i1 d1 + i2 d2 + i4 d3 + i5 d4",
                       BT_CONV_BWD_WEIGHTS,
                       1,
                       {{"mb1ic1ih3oc1kh2", 0, seed1_input, dc_do1, dw1, db1}}};
    run_seed(&chain);

    /* dC/di: each input collects d_j w_k over the (output j, weight k) pairs that touched it:
     * di1 = d1 w1 = 8; di2 = d1 w2 + d2 w1 = 16; di3 = d2 w2 = 0; di4 = d1 w3 + d3 w1 = 16;
     * di5 = d1 w4 + d2 w3 + d3 w2 + d4 w1 = 16 - 16 + 0 - 8 = -8; di6 = d2 w4 + d4 w2 = 32;
     * di7 = d3 w3 = -24; di8 = d3 w4 + d4 w3 = 48 + 8 = 56; di9 = d4 w4 = -16. */
    static const float dx1[9] = {8, 16, 0, 16, -8, 32, -24, 56, -16};
    seed_test input = {"seed 001 dC/di of the first layer (full correlation with w^1)",
                       BT_CONV_BWD_DATA,
                       1,
                       {{"mb1ic1ih3oc1kh2", 0, seed1_w1, dc_do1, dx1, NULL}}};
    run_seed(&input);
}

/* ---- seeds 000, 002 §4, 004: a FC layer on a batch of two. ---- */
static const float batch_x[6] = {1, 2, 3, /* x_1 */ 4, 5, 6 /* x_2 */};
static const float batch_dy[4] = {1, -1, /* dy_1 */ 2, 3 /* dy_2 */};

static void seed_batch(void) {
    /* dw_ji = dy_1j x_1i + dy_2j x_2i, a sum over the samples (not a mean):
     * row 1: 1*(1,2,3) + 2*(4,5,6) = (9,12,15); row 2: -1*(1,2,3) + 3*(4,5,6) = (11,13,15);
     * db = dy_1 + dy_2 = (3, 2). */
    static const float dw[6] = {9, 12, 15, 11, 13, 15}, db[2] = {3, 2};
    seed_test sum = {"seeds 000/002/004 batch of two: dW = dy_1 x_1^T + dy_2 x_2^T, db = sum dy",
                     BT_FC_BWD_WEIGHTS,
                     1,
                     {{"mb2ic3oc2", 0, batch_x, batch_dy, dw, db}}};
    run_seed(&sum);

    /* The same sum as two single-sample calls, the second adding (accumulate): after the
     * first, dW = dy_1 x_1^T = (1,2,3; -1,-2,-3) and db = dy_1. */
    static const float dw_first[6] = {1, 2, 3, -1, -2, -3}, db_first[2] = {1, -1};
    seed_test split = {"seed 000 batch gradient = sum of per-sample gradients (accumulate)",
                       BT_FC_BWD_WEIGHTS,
                       2,
                       {{"mb1ic3oc2", 0, batch_x, batch_dy, dw_first, db_first},
                        {"mb1ic3oc2", 1, batch_x + 3, batch_dy + 2, dw, db}}};
    run_seed(&split);

    /* dX = dY W per sample, W = (1,0,2; -1,1,0): dx_1 = 1*(1,0,2) - 1*(-1,1,0) = (2,-1,2);
     * dx_2 = 2*(1,0,2) + 3*(-1,1,0) = (-1,3,4). */
    static const float w[6] = {1, 0, 2, -1, 1, 0}, dx[6] = {2, -1, 2, -1, 3, 4};
    seed_test data = {"seeds 002/004 batch of two: dX = dY W",
                      BT_FC_BWD_DATA,
                      1,
                      {{"mb2ic3oc2", 0, w, batch_dy, dx, NULL}}};
    run_seed(&data);
}

/* ---- seed 002 §3: one W used by two layers, z1 = W x + b, z2 = W z1 + b. ---- */
static void seed_reused_weights(void) {
    /* W = (1,2; 0,-1), b = (1,1), x = (1,2): z1 = (1+4+1, 0-2+1) = (6,-1). Given
     * delta2 = dL/dz2 = (1,2): delta1 = W^T delta2 = (1*1 + 0*2, 2*1 - 1*2) = (1,0). */
    static const float w[4] = {1, 2, 0, -1}, x[2] = {1, 2}, z1[2] = {6, -1};
    static const float delta2[2] = {1, 2}, delta1[2] = {1, 0};
    seed_test back = {"seed 002 §3 delta^(l1) = W^T delta^(l2)",
                      BT_FC_BWD_DATA,
                      1,
                      {{"mb1ic2oc2", 0, w, delta2, delta1, NULL}}};
    run_seed(&back);

    /* dL/dW = delta2 z1^T + delta1 x^T = (6,-1; 12,-2) + (1,2; 0,0) = (7,1; 12,-2), and
     * dL/db = delta2 + delta1 = (2,2): the second use's call adds into the first's. */
    static const float dw_l2[4] = {6, -1, 12, -2}, db_l2[2] = {1, 2};
    static const float dw[4] = {7, 1, 12, -2}, db[2] = {2, 2};
    seed_test sum = {
        "seed 002 §3 reused weights: dW = delta2 z1^T + delta1 x^T (accumulate)",
        BT_FC_BWD_WEIGHTS,
        2,
        {{"mb1ic2oc2", 0, z1, delta2, dw_l2, db_l2}, {"mb1ic2oc2", 1, x, delta1, dw, db}}};
    run_seed(&sum);
}

/* ---- seed 003: one 3x3 receptive field shared by the 9 neurons over a 5x5 grid. ---- */
static void seed003(void) {
    float x[25]; /* x[i][j] = 5i + j + 1: 1..25 row by row */
    for (int i = 0; i < 25; i++) x[i] = (float)(i + 1);

    /* dy = 1 everywhere: dW_rs = sum over the 9 positions (p,q) of x[p+r][q+s]
     * = 9 (5r + s + 1) + 5 * 3 * (0+1+2) + 3 * (0+1+2) = 9 (5r + s) + 63; db = 9. */
    static const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const float dw_ones[9] = {63, 72, 81, 108, 117, 126, 153, 162, 171}, db_ones[1] = {9};
    seed_test uniform = {"seed 003 shared 3x3 field on 5x5: dW = sum over all 9 positions",
                         BT_CONV_BWD_WEIGHTS,
                         1,
                         {{"mb1ic1ih5oc1kh3", 0, x, ones, dw_ones, db_ones}}};
    run_seed(&uniform);

    /* dy[p][q] = 3p + q + 1 (1..9): dW_rs = sum_pq (3p+q+1) x[p+r][q+s]; dW_00 = 1*1 + 2*2 +
     * 3*3 + 4*6 + 5*7 + 6*8 + 7*11 + 8*12 + 9*13 = 411, and each step right adds
     * sum(dy) = 45, each step down adds 5 * 45: (411,456,501; 636,681,726; 861,906,951). */
    static const float dy[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const float dw[9] = {411, 456, 501, 636, 681, 726, 861, 906, 951}, db[1] = {45};
    seed_test weighted = {"seed 003 shared field, dy = 1..9: dW_00 = sum dy_pq x_pq = 411",
                          BT_CONV_BWD_WEIGHTS,
                          1,
                          {{"mb1ic1ih5oc1kh3", 0, x, dy, dw, db}}};
    run_seed(&weighted);

    /* The seed's recipe literally: the gradient of each of the 9 connections computed as if
     * unshared (dy one position at a time), then added (accumulate) = the shared gradient.
     * After the first position alone, dW = 1 * x[0..2][0..2]. */
    static float one_hot[9][9];
    static const float dw_first[9] = {1, 2, 3, 6, 7, 8, 11, 12, 13}, db_first[1] = {1};
    seed_test added = {"seed 003 sum of the 9 per-position gradients (accumulate) = shared",
                       BT_CONV_BWD_WEIGHTS,
                       9,
                       {{0}}};
    for (int k = 0; k < 9; k++) {
        one_hot[k][k] = dy[k];
        added.steps[k] = (seed_step){"mb1ic1ih5oc1kh3",  k > 0, x, one_hot[k], k ? NULL : dw_first,
                                     k ? NULL : db_first};
    }
    added.steps[8].want = dw, added.steps[8].want_db = db;
    run_seed(&added);

    /* bwd_data with w = 1 and dy = 1: each input's gradient counts the windows covering it,
     * (1,2,3,2,1) per axis, so dx = (1,2,3,2,1)^T (1,2,3,2,1). */
    static const float dx[25] = {1, 2, 3, 2, 1, 2, 4, 6, 4, 2, 3, 6, 9,
                                 6, 3, 2, 4, 6, 4, 2, 1, 2, 3, 2, 1};
    seed_test data = {"seed 003 dX of the shared field: windows covering each input",
                      BT_CONV_BWD_DATA,
                      1,
                      {{"mb1ic1ih5oc1kh3", 0, ones, ones, dx, NULL}}};
    run_seed(&data);
}

int main(void) {
    seed001();
    seed_batch();
    seed_reused_weights();
    seed003();
    return tl_finish();
}

/* Plan checking against the reference: see check.h for the rules. */
#include "check.h"

#include "ref/ref.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_random(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void bt_fill_random(float *a, size_t n, uint64_t seed) {
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) a[i] = (float)((double)(next_random(&st) >> 11) * 0x1p-52 - 1.0);
}

void bt_fill_exact(float *a, size_t n, uint64_t seed, int max_abs) {
    uint64_t st = seed;
    uint64_t span = 2 * (uint64_t)max_abs + 1;
    for (size_t i = 0; i < n; i++) a[i] = (float)((int64_t)(next_random(&st) % span) - max_abs);
}

static float *alloc_floats(size_t n) {
    /* Exact size (no rounding up), so AddressSanitizer sees any write past the end. */
    return malloc((n ? n : 1) * sizeof(float));
}

typedef struct buffers {
    float *x, *w, *dy, *out, *out_db, *ref, *ref_db, *abs_ref, *abs_db;
} buffers;

static void free_buffers(buffers *b) {
    float **all[] = {&b->x,   &b->w,      &b->dy,      &b->out,   &b->out_db,
                     &b->ref, &b->ref_db, &b->abs_ref, &b->abs_db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(*all[i]), *all[i] = NULL;
}

/* Largest integer magnitude of the exact fill that keeps sums of L products below 2^24. */
static int exact_magnitude(double reduction) {
    if (reduction * 4.0 + 4.0 < 0x1p24) return 2;
    return 1;
}

static void absolute(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = fabsf(src[i]);
}

bt_status bt_check_plan(bt_plan *plan, const bt_check_options *opt, bt_check_result *res) {
    if (!plan || !opt || !res) return bt_fail(BT_EINVAL, "bt_check_plan: NULL argument");
    memset(res, 0, sizeof *res);
    const bt_shape *s = &plan->shape;
    int data = s->op == BT_FC_BWD_DATA || s->op == BT_CONV_BWD_DATA;
    size_t nx = bt_shape_x_elems(s), nw = bt_shape_w_elems(s), ndy = bt_shape_dy_elems(s);
    size_t nout = data ? nx : nw, nk = (size_t)s->k;
    int bias = !data && opt->with_bias;
    /* Reduction length of an output: bwd_data sums over kg*r*s (at most), bwd_weights over
     * n*p*q (db too). */
    double reduction = data ? (double)(s->kg * s->r * s->s) : (double)(s->n * s->p * s->q);
    buffers b = {0};
    b.dy = alloc_floats(ndy);
    b.out = alloc_floats(nout);
    b.ref = alloc_floats(nout);
    b.abs_ref = alloc_floats(nout);
    if (data)
        b.w = alloc_floats(nw);
    else
        b.x = alloc_floats(nx);
    if (bias) b.out_db = alloc_floats(nk), b.ref_db = alloc_floats(nk), b.abs_db = alloc_floats(nk);
    if (!b.dy || !b.out || !b.ref || !b.abs_ref || (data ? !b.w : !b.x) ||
        (bias && (!b.out_db || !b.ref_db || !b.abs_db))) {
        free_buffers(&b);
        return bt_fail(BT_ENOMEM, "bt_check_plan: out of memory for the check's buffers");
    }
    float *in = data ? b.w : b.x;
    size_t nin = data ? nw : nx;
    uint64_t seed = opt->seed;
    if (opt->mode == BT_CHECK_EXACT) {
        int m = exact_magnitude(reduction);
        bt_fill_exact(b.dy, ndy, seed + 1, m);
        bt_fill_exact(in, nin, seed + 2, m);
        bt_fill_exact(b.out, nout, seed + 3, m);
        if (bias) bt_fill_exact(b.out_db, nk, seed + 4, m);
    } else {
        bt_fill_random(b.dy, ndy, seed + 1);
        bt_fill_random(in, nin, seed + 2);
        bt_fill_random(b.out, nout, seed + 3);
        if (bias) bt_fill_random(b.out_db, nk, seed + 4);
    }
    if (!s->accumulate) { /* garbage the variant must overwrite, never read */
        for (size_t i = 0; i < nout; i++) b.out[i] = (i & 1) ? NAN : 1e30f;
        if (bias)
            for (size_t i = 0; i < nk; i++) b.out_db[i] = NAN;
    }
    memcpy(b.ref, b.out, nout * sizeof(float));
    if (bias) memcpy(b.ref_db, b.out_db, nk * sizeof(float));

    bt_tensors t = {.x = b.x,
                    .w = b.w,
                    .dy = b.dy,
                    .dx = data ? b.out : NULL,
                    .dw = data ? NULL : b.out,
                    .db = bias ? b.out_db : NULL};
    bt_status st = bt_plan_execute(plan, &t);
    if (st != BT_OK) {
        free_buffers(&b);
        return st;
    }
    if (data)
        bt_ref_bwd_data(s, b.w, b.dy, b.ref);
    else
        bt_ref_bwd_weights(s, b.x, b.dy, b.ref, bias ? b.ref_db : NULL);

    if (opt->mode == BT_CHECK_RANDOM) { /* sum|terms| per output: the reference on |inputs| */
        bt_shape plain = *s;
        plain.accumulate = 0;
        absolute(b.dy, b.dy, ndy);
        absolute(in, in, nin);
        if (data)
            bt_ref_bwd_data(&plain, b.w, b.dy, b.abs_ref);
        else
            bt_ref_bwd_weights(&plain, b.x, b.dy, b.abs_ref, bias ? b.abs_db : NULL);
    }
    double unit = BT_CHECK_RANDOM_ULPS_PER_TERM * FLT_EPSILON * (reduction + 1.0);
    res->pass = 1;
    const float *got[2] = {b.out, b.out_db}, *want[2] = {b.ref, b.ref_db},
                *mag[2] = {b.abs_ref, b.abs_db};
    size_t count[2] = {nout, bias ? nk : 0};
    const char *what[2] = {data ? "dx" : "dw", "db"};
    for (int o = 0; o < 2; o++)
        for (size_t i = 0; i < count[o]; i++) {
            double g = got[o][i], r = want[o][i];
            double err = fabs(g - r);
            if (isnan(err)) err = INFINITY;
            double tol = 0;
            if (opt->mode == BT_CHECK_RANDOM) {
                double prior = s->accumulate ? fabs(r) : 0;
                tol = unit * ((double)mag[o][i] + prior) + FLT_MIN;
            }
            if (err > res->max_abs_err) res->max_abs_err = err;
            double ratio = tol > 0 ? err / tol : (err > 0 ? INFINITY : 0);
            if (ratio > res->worst_ratio) res->worst_ratio = ratio;
            if (err > tol) {
                if (res->pass)
                    snprintf(res->detail, sizeof res->detail,
                             "%s[%zu] = %.9g, reference %.9g (tolerance %.3g)", what[o], i, g, r,
                             tol);
                res->pass = 0;
                res->bad_count++;
            }
        }
    free_buffers(&b);
    return BT_OK;
}

/* Oracles that share no code with the kernels:
 *
 * (a) Finite differences: with the loss L = <y, dy>, y = conv(x, w) + b computed by the
 *     forward definition in double (bt_ref_forward), dL/dx = bwd_data, dL/dw = bwd_weights
 *     and dL/db = db. Central differences of L are checked against the reference's
 *     gradients. L is linear in each perturbed input, so the difference quotient is exact up
 *     to double rounding (about 1e-12 here) and the reference's gradients are rounded to float
 *     once: the tolerance is FD_TOLERANCE * (1 + |gradient|).
 *
 * (b) The adjoint identity <conv(x,w), dy> = <x, bwd_data(dy,w)> = <w, bwd_weights(x,dy)>
 *     (+ <b, db> with a bias), in double, for every variant's outputs (the reference is a
 *     registered variant too) on the shape list of testlib.c. Exact mode (small integer
 *     inputs, every float sum exact): threshold 0. Random mode: each output carries at most
 *     the check's error FLT_EPSILON * (L + 1) * sum|terms| (check.h), so the inner product
 *     is off by at most FLT_EPSILON * (L + 2) * <|conv|(|x|,|w|) + |b|, |dy|> (the +1 covers
 *     the final rounding to float). Approximate algorithms (Winograd): that bound times the
 *     variant's factor, in both modes (exact sums do not apply to them). */
#include "testlib.h"

#include "ref/ref.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_TOLERANCE 0x1p-22
#define FD_STEP 0.0625

static double dot_f(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}
static double dot_fd(const double *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * (double)b[i];
    return s;
}

static bt_shape shape_of(const bt_problem *p) {
    bt_problem norm;
    bt_shape s;
    if (bt_problem_normalize(p, &norm) != BT_OK) {
        fprintf(stderr, "test bug: bad problem: %s\n", bt_last_error());
        exit(2);
    }
    bt_shape_from_problem(&norm, &s);
    return s;
}

/* The loss <forward(x, w, b), dy> in double. */
static double loss(const bt_shape *s, const float *x, const float *w, const float *b,
                   const float *dy, double *y) {
    bt_ref_forward(s, x, w, b, y);
    return dot_fd(y, dy, bt_shape_dy_elems(s));
}

/* Central differences of the loss in each element of v, against the gradient `grad`. */
static void check_fd(const char *what, const char *text, const bt_shape *s, float *v, size_t n,
                     const float *grad, const float *x, const float *w, const float *b,
                     const float *dy, double *y) {
    double worst = 0;
    size_t bad = (size_t)-1;
    double bad_fd = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = v[i];
        float up = (float)(keep + FD_STEP), down = (float)(keep - FD_STEP);
        v[i] = up;
        double l_up = loss(s, x, w, b, dy, y);
        v[i] = down;
        double l_down = loss(s, x, w, b, dy, y);
        v[i] = keep;
        double fd = (l_up - l_down) / ((double)up - (double)down);
        double err = fabs(fd - (double)grad[i]) / (1.0 + fabs((double)grad[i]));
        if (!(err <= worst)) worst = err;
        if (!(err <= FD_TOLERANCE) && bad == (size_t)-1) bad = i, bad_fd = fd;
    }
    if (!tl_expect(bad == (size_t)-1, "finite differences %-2s '%s' (%zu elements) rel_err=%.3g",
                   what, text, n, worst))
        tl_note("%s[%zu]: reference %.9g, finite difference %.9g", what, bad, grad[bad], bad_fd);
}

static void finite_differences(void) {
    static const struct {
        bt_op op;
        bt_layout layout;
        const char *desc;
    } shapes[] = {
        {BT_CONV_BWD_WEIGHTS, BT_NCHW, "mb2ic3ih5oc4kh3ph1"},
        {BT_CONV_BWD_WEIGHTS, BT_NHWC, "mb2ic3ih6iw5oc2kh3kw3sh2sw2ph2pw2"},
        {BT_CONV_BWD_WEIGHTS, BT_NCHW, "g2mb1ic4ih7oc6kh3ph2dh1"},
        {BT_CONV_BWD_WEIGHTS, BT_NHWC, "g3mb2ic3ih5oc3kh5ph2"},
        {BT_CONV_BWD_WEIGHTS, BT_NCHW, "mb1ic2ih5iw7oc3kh1kw3sh2sw3ph0pw1"},
        {BT_CONV_BWD_WEIGHTS, BT_NHWC, "mb3ic2ih4oc3kh2sh3ph1"},
        {BT_CONV_BWD_WEIGHTS, BT_NCHW, "mb2ic3ih5oc2oh6kh3ph2"}, /* uneven: 2 before, 1 after */
        {BT_CONV_BWD_WEIGHTS, BT_NHWC, "mb2ic3ih8iw7oc2oh4ow4kh3kw2sh2sw2"}, /* 'SAME' */
        {BT_CONV_BWD_WEIGHTS, BT_NCHW, "mb2ic3iw9oc2ow5kw3sw2pw1"},          /* 1-D */
        {BT_FC_BWD_WEIGHTS, BT_NCHW, "mb3ic5oc4"},
    };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        bt_problem p = tl_problem(shapes[si].op, shapes[si].layout, shapes[si].desc, 0);
        char text[256];
        bt_problem_format(&p, text, sizeof text);
        bt_shape s = shape_of(&p);
        size_t nx = bt_shape_x_elems(&s), nw = bt_shape_w_elems(&s), ndy = bt_shape_dy_elems(&s),
               nk = (size_t)s.k;
        float *x = tl_alloc(nx), *w = tl_alloc(nw), *b = tl_alloc(nk), *dy = tl_alloc(ndy);
        float *dx = tl_alloc(nx), *dw = tl_alloc(nw), *db = tl_alloc(nk);
        double *y = malloc(ndy * sizeof(double));
        bt_fill_random(x, nx, 100 + si);
        bt_fill_random(w, nw, 200 + si);
        bt_fill_random(b, nk, 300 + si);
        bt_fill_random(dy, ndy, 400 + si);
        bt_ref_bwd_data(&s, w, dy, dx);
        bt_ref_bwd_weights(&s, x, dy, dw, db);
        check_fd("dx", text, &s, x, nx, dx, x, w, b, dy, y);
        check_fd("dw", text, &s, w, nw, dw, x, w, b, dy, y);
        check_fd("db", text, &s, b, nk, db, x, w, b, dy, y);
        free(x), free(w), free(b), free(dy), free(dx), free(dw), free(db), free(y);
    }
}

/* Inputs of one adjoint case and the forward side of the identity. */
typedef struct adjoint_data {
    bt_shape s;
    size_t nx, nw, ndy, nk;
    float *x, *w, *b, *dy;
    double forward;   /* <conv(x, w) (+ b for bwd_weights), dy> */
    double magnitude; /* the same with every input replaced by its absolute value */
    double reduction; /* longest reduction of an output */
} adjoint_data;

static void absolute(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = fabsf(src[i]);
}

static void adjoint_prepare(const bt_problem *p, bt_check_mode mode, uint64_t seed,
                            adjoint_data *a) {
    a->s = shape_of(p);
    const bt_shape *s = &a->s;
    a->nx = bt_shape_x_elems(s), a->nw = bt_shape_w_elems(s), a->ndy = bt_shape_dy_elems(s);
    a->nk = (size_t)s->k;
    a->x = tl_alloc(a->nx), a->w = tl_alloc(a->nw), a->b = tl_alloc(a->nk);
    a->dy = tl_alloc(a->ndy);
    float *fills[4] = {a->x, a->w, a->b, a->dy};
    size_t counts[4] = {a->nx, a->nw, a->nk, a->ndy};
    for (int i = 0; i < 4; i++)
        if (mode == BT_CHECK_EXACT)
            bt_fill_exact(fills[i], counts[i], seed + (uint64_t)i, 2);
        else
            bt_fill_random(fills[i], counts[i], seed + (uint64_t)i);
    int data = tl_op_is_data(s->op);
    const float *bias = data ? NULL : a->b;
    double *y = malloc(a->ndy * sizeof(double));
    a->forward = loss(s, a->x, a->w, bias, a->dy, y);
    float *ax = tl_alloc(a->nx), *aw = tl_alloc(a->nw), *ab = tl_alloc(a->nk),
          *ady = tl_alloc(a->ndy);
    absolute(ax, a->x, a->nx), absolute(aw, a->w, a->nw), absolute(ab, a->b, a->nk);
    absolute(ady, a->dy, a->ndy);
    a->magnitude = loss(s, ax, aw, data ? NULL : ab, ady, y);
    a->reduction = data ? (double)(s->kg * s->r * s->s) : (double)(s->n * s->p * s->q);
    free(ax), free(aw), free(ab), free(ady), free(y);
}

static void adjoint_free(adjoint_data *a) {
    free(a->x), free(a->w), free(a->b), free(a->dy);
}

/* One variant on one case: the backward side of the identity against the forward side. */
static void adjoint_case(int vi, const tl_case *c, const adjoint_data *a) {
    const char *variant = bt_variant_name(vi);
    const char *mode = c->mode == BT_CHECK_EXACT ? "exact" : "random";
    char label[400], params[32];
    snprintf(label, sizeof label, "adjoint t%d %-6s '%s'", c->threads, mode, c->text);
    snprintf(params, sizeof params, "threads=%d", c->threads);
    bt_plan *plan;
    if (tl_plan(&plan, &c->problem, variant, params, label) <= 0) return;
    int data = tl_op_is_data(c->problem.op);
    size_t nout = data ? a->nx : a->nw;
    float *out = tl_alloc(nout), *db = tl_alloc(a->nk);
    for (size_t i = 0; i < nout; i++) out[i] = NAN; /* garbage that must be overwritten */
    for (size_t i = 0; i < a->nk; i++) db[i] = NAN;
    bt_tensors t = {.x = a->x,
                    .w = a->w,
                    .dy = a->dy,
                    .dx = data ? out : NULL,
                    .dw = data ? NULL : out,
                    .db = data ? NULL : db};
    bt_status st = bt_plan_execute(plan, &t);
    if (st != BT_OK) {
        tl_fail("%s %s: execute returned %s: %s", variant, label, bt_strerror(st), bt_last_error());
    } else {
        double backward =
            data ? dot_f(a->x, out, a->nx) : dot_f(a->w, out, a->nw) + dot_f(a->b, db, a->nk);
        /* Approximate algorithms: exact sums do not apply; their bound in both modes. */
        double factor = bt_plan_error_factor(plan);
        double tol = c->mode == BT_CHECK_EXACT && !factor ? 0.0
                                                          : (factor ? factor : 1.0) * FLT_EPSILON *
                                                                (a->reduction + 2.0) * a->magnitude;
        double err = fabs(backward - a->forward);
        if (isnan(err)) err = INFINITY;
        if (!tl_expect(err <= tol, "%s %s |<conv,dy> - <%s>| = %.3g (tolerance %.3g%s)", variant,
                       label, data ? "x,dx" : "w,dw> - <b,db", err, tol,
                       factor ? ", an approximate algorithm's bound: exact mode does not apply"
                              : ""))
            tl_note("<conv(x,w)%s, dy> = %.17g, backward side = %.17g", data ? "" : " + b",
                    a->forward, backward);
    }
    free(out), free(db);
    bt_plan_destroy(plan);
}

static void adjoint_identity(void) {
    for (int op = BT_FC_BWD_DATA; op <= BT_CONV_BWD_WEIGHTS; op++) {
        int runnable[1024], nrun = 0;
        for (int vi = 0; vi < bt_variant_count() && nrun < 1024; vi++)
            if (tl_variant_selected(vi, (bt_op)op) && tl_variant_runnable(vi, "adjoint identity"))
                runnable[nrun++] = vi;
        for (int si = 0; si < tl_shape_count((bt_op)op); si++)
            for (int m = 0; m < 2; m++) {
                tl_case c;
                tl_case_rotated((bt_op)op, si, m, 3, &c);
                c.mode = m ? BT_CHECK_RANDOM : BT_CHECK_EXACT;
                c.problem.accumulate = 0; /* the identity is about the gradients alone */
                bt_problem_format(&c.problem, c.text, sizeof c.text);
                adjoint_data a;
                adjoint_prepare(&c.problem, c.mode, c.seed, &a);
                for (int r = 0; r < nrun; r++) adjoint_case(runnable[r], &c, &a);
                adjoint_free(&a);
            }
    }
}

int main(void) {
    finite_differences();
    adjoint_identity();
    return tl_finish();
}

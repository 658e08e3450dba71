/* Plan checking against the reference: see check.h for the rules. */
#include "check.h"

#include "ref/ref.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Inputs, the output's prior contents and the reference results of one shape: everything a
 * check needs except the variant's run, so one case can check many plans. */
struct bt_check_case {
    bt_shape shape;
    bt_check_mode mode;
    int data, bias;
    size_t nin, ndy, nout, nk;
    double reduction; /* summands per output (the tolerance's L) */
    float *in;        /* w (bwd_data) or x (bwd_weights) */
    float *dy, *init, *init_db;
    float *ref, *ref_db, *abs_ref, *abs_db;
    double abs_max[2]; /* the largest sum|terms| of the output and of db */
};

static double max_of(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static float *alloc_floats(size_t n) {
    /* Exact size (no rounding up), so AddressSanitizer sees any write past the end. */
    return malloc((n ? n : 1) * sizeof(float));
}

/* A buffer of the variant's run. Outside sanitizer builds it ends at a page boundary before
 * an inaccessible page, so any read or write past a tensor's end faults at once, including a
 * load the compiler adds that the source never made (invisible to AddressSanitizer, and
 * harmless in a malloc'd block unless the block ends the heap). Sanitizer builds use malloc,
 * whose redzones catch accesses before the start as well. */
typedef struct run_buffer {
    float *p;
    void *map;
    size_t map_bytes;
} run_buffer;

#if defined(__SANITIZE_ADDRESS__)
#define CHECK_GUARD_PAGES 0
#else
#define CHECK_GUARD_PAGES 1
#endif

static float *run_buffer_alloc(run_buffer *b, size_t n) {
    b->map = NULL;
    if (!CHECK_GUARD_PAGES) return b->p = alloc_floats(n);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (n ? n : 1) * sizeof(float);
    const size_t data_pages = (bytes + page - 1) / page;
    b->map_bytes = (data_pages + 1) * page;
    void *map =
        mmap(NULL, b->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return b->p = NULL;
    char *guard = (char *)map + data_pages * page;
    if (mprotect(guard, page, PROT_NONE) != 0) {
        munmap(map, b->map_bytes);
        return b->p = NULL;
    }
    b->map = map;
    return b->p = (float *)(guard - bytes);
}

static void run_buffer_free(run_buffer *b) {
    if (b->map)
        munmap(b->map, b->map_bytes);
    else
        free(b->p);
    b->p = NULL, b->map = NULL;
}

void bt_check_case_free(bt_check_case *c) {
    if (!c) return;
    float *all[] = {c->in, c->dy, c->init, c->init_db, c->ref, c->ref_db, c->abs_ref, c->abs_db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    free(c);
}

/* Largest integer magnitude of the exact fill that keeps sums of L products below 2^24. */
static int exact_magnitude(double reduction) {
    if (reduction * 4.0 + 4.0 < 0x1p24) return 2;
    return 1;
}

static void absolute(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = fabsf(src[i]);
}

static int same_shape(const bt_shape *a, const bt_shape *b) {
    return a->op == b->op && a->layout == b->layout && a->accumulate == b->accumulate &&
           a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->k == b->k &&
           a->r == b->r && a->s == b->s && a->p == b->p && a->q == b->q && a->sh == b->sh &&
           a->sw == b->sw && a->ph == b->ph && a->pw == b->pw && a->dh == b->dh && a->dw == b->dw &&
           a->g == b->g && a->cg == b->cg && a->kg == b->kg;
}

bt_status bt_check_case_create(const bt_plan *plan, const bt_check_options *opt,
                               bt_check_case **out) {
    if (!plan || !opt || !out) return bt_fail(BT_EINVAL, "bt_check_case_create: NULL argument");
    *out = NULL;
    bt_check_case *c = calloc(1, sizeof *c);
    if (!c) return bt_fail(BT_ENOMEM, "bt_check_case_create: out of memory");
    const bt_shape *s = &plan->shape;
    c->shape = *s;
    c->mode = opt->mode;
    c->data = s->op == BT_FC_BWD_DATA || s->op == BT_CONV_BWD_DATA;
    size_t nx = bt_shape_x_elems(s), nw = bt_shape_w_elems(s);
    c->nin = c->data ? nw : nx;
    c->ndy = bt_shape_dy_elems(s);
    c->nout = c->data ? nx : nw;
    c->nk = (size_t)s->k;
    c->bias = !c->data && opt->with_bias;
    /* Reduction length of an output: bwd_data sums over kg*r*s (at most), bwd_weights over
     * n*p*q (db too). */
    c->reduction = c->data ? (double)(s->kg * s->r * s->s) : (double)(s->n * s->p * s->q);
    c->in = alloc_floats(c->nin);
    c->dy = alloc_floats(c->ndy);
    c->init = alloc_floats(c->nout);
    c->ref = alloc_floats(c->nout);
    c->abs_ref = alloc_floats(c->nout);
    float *scratch_in = alloc_floats(c->nin), *scratch_dy = alloc_floats(c->ndy);
    if (c->bias)
        c->init_db = alloc_floats(c->nk), c->ref_db = alloc_floats(c->nk),
        c->abs_db = alloc_floats(c->nk);
    if (!c->in || !c->dy || !c->init || !c->ref || !c->abs_ref || !scratch_in || !scratch_dy ||
        (c->bias && (!c->init_db || !c->ref_db || !c->abs_db))) {
        free(scratch_in), free(scratch_dy);
        bt_check_case_free(c);
        return bt_fail(BT_ENOMEM, "bt_check_plan: out of memory for the check's buffers");
    }
    uint64_t seed = opt->seed;
    if (opt->mode == BT_CHECK_EXACT) {
        int m = exact_magnitude(c->reduction);
        bt_fill_exact(c->dy, c->ndy, seed + 1, m);
        bt_fill_exact(c->in, c->nin, seed + 2, m);
        bt_fill_exact(c->init, c->nout, seed + 3, m);
        if (c->bias) bt_fill_exact(c->init_db, c->nk, seed + 4, m);
    } else {
        bt_fill_random(c->dy, c->ndy, seed + 1);
        bt_fill_random(c->in, c->nin, seed + 2);
        bt_fill_random(c->init, c->nout, seed + 3);
        if (c->bias) bt_fill_random(c->init_db, c->nk, seed + 4);
    }
    if (!s->accumulate) { /* garbage the variant must overwrite, never read */
        for (size_t i = 0; i < c->nout; i++) c->init[i] = (i & 1) ? NAN : 1e30f;
        if (c->bias)
            for (size_t i = 0; i < c->nk; i++) c->init_db[i] = NAN;
    }
    memcpy(c->ref, c->init, c->nout * sizeof(float));
    if (c->bias) memcpy(c->ref_db, c->init_db, c->nk * sizeof(float));
    if (c->data)
        bt_ref_bwd_data(s, c->in, c->dy, c->ref);
    else
        bt_ref_bwd_weights(s, c->in, c->dy, c->ref, c->bias ? c->ref_db : NULL);
    if (opt->mode == BT_CHECK_EXACT && !(bt_plan_error_factor(plan) > 0)) {
        /* Only approximate plans use it in exact mode: the largest sum|terms| bounded by
         * the reduction's length times the largest product, rather than another reference
         * run (db: the largest |dy| times its reduction). */
        double dy_max = max_of(c->dy, c->ndy);
        c->abs_max[0] = c->reduction * max_of(c->in, c->nin) * dy_max;
        c->abs_max[1] = c->reduction * dy_max;
    } else { /* sum|terms| per output: the reference on |inputs| */
        bt_shape plain = *s;
        plain.accumulate = 0;
        absolute(scratch_dy, c->dy, c->ndy);
        absolute(scratch_in, c->in, c->nin);
        if (c->data)
            bt_ref_bwd_data(&plain, scratch_in, scratch_dy, c->abs_ref);
        else
            bt_ref_bwd_weights(&plain, scratch_in, scratch_dy, c->abs_ref,
                               c->bias ? c->abs_db : NULL);
        c->abs_max[0] = max_of(c->abs_ref, c->nout);
        c->abs_max[1] = c->bias ? max_of(c->abs_db, c->nk) : 0;
    }
    free(scratch_in), free(scratch_dy);
    *out = c;
    return BT_OK;
}

bt_status bt_check_plan_case(bt_plan *plan, const bt_check_case *c, bt_check_result *res) {
    if (!plan || !c || !res) return bt_fail(BT_EINVAL, "bt_check_plan_case: NULL argument");
    memset(res, 0, sizeof *res);
    if (!same_shape(&plan->shape, &c->shape))
        return bt_fail(BT_EINVAL, "bt_check_plan_case: the plan's problem is not the case's");
    /* The run gets copies of the inputs: the case serves more plans, and a variant that
     * writes to an input is wrong. */
    run_buffer bufs[4] = {{0}};
    float *in = run_buffer_alloc(&bufs[0], c->nin), *dy = run_buffer_alloc(&bufs[1], c->ndy);
    float *out = run_buffer_alloc(&bufs[2], c->nout);
    float *out_db = c->bias ? run_buffer_alloc(&bufs[3], c->nk) : NULL;
    if (!in || !dy || !out || (c->bias && !out_db)) {
        for (int i = 0; i < 4; i++) run_buffer_free(&bufs[i]);
        return bt_fail(BT_ENOMEM, "bt_check_plan: out of memory for the check's buffers");
    }
    memcpy(in, c->in, c->nin * sizeof(float));
    memcpy(dy, c->dy, c->ndy * sizeof(float));
    memcpy(out, c->init, c->nout * sizeof(float));
    if (c->bias) memcpy(out_db, c->init_db, c->nk * sizeof(float));
    bt_tensors t = {.x = c->data ? NULL : in,
                    .w = c->data ? in : NULL,
                    .dy = dy,
                    .dx = c->data ? out : NULL,
                    .dw = c->data ? NULL : out,
                    .db = out_db};
    bt_status st = bt_plan_execute(plan, &t);
    int inputs_kept = memcmp(in, c->in, c->nin * sizeof(float)) == 0 &&
                      memcmp(dy, c->dy, c->ndy * sizeof(float)) == 0;
    run_buffer_free(&bufs[0]), run_buffer_free(&bufs[1]);
    if (st != BT_OK) {
        run_buffer_free(&bufs[2]), run_buffer_free(&bufs[3]);
        return st;
    }
    if (!inputs_kept) {
        run_buffer_free(&bufs[2]), run_buffer_free(&bufs[3]);
        res->pass = 0;
        res->bad_count = 1;
        snprintf(res->detail, sizeof res->detail, "the variant wrote to an input tensor");
        return BT_OK;
    }
    double factor = bt_plan_error_factor(plan);
    res->approximate = factor > 0;
    res->error_factor = res->approximate ? factor : 1.0;
    int bounded = c->mode == BT_CHECK_RANDOM || res->approximate;
    double unit =
        res->error_factor * BT_CHECK_RANDOM_ULPS_PER_TERM * FLT_EPSILON * (c->reduction + 1.0);
    res->pass = 1;
    const float *got[2] = {out, out_db}, *want[2] = {c->ref, c->ref_db},
                *mag[2] = {c->abs_ref, c->abs_db};
    size_t count[2] = {c->nout, c->bias ? c->nk : 0};
    const char *what[2] = {c->data ? "dx" : "dw", "db"};
    for (int o = 0; o < 2; o++)
        for (size_t i = 0; i < count[o]; i++) {
            double g = got[o][i], r = want[o][i];
            double err = fabs(g - r);
            if (isnan(err)) err = INFINITY;
            double tol = 0;
            if (fabs(r) > res->max_abs_ref) res->max_abs_ref = fabs(r);
            if (bounded) {
                double prior = c->shape.accumulate ? fabs(r) : 0;
                double terms = res->approximate ? c->abs_max[o] : (double)mag[o][i];
                tol = unit * (terms + prior) + FLT_MIN;
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
    run_buffer_free(&bufs[2]), run_buffer_free(&bufs[3]);
    return BT_OK;
}

bt_status bt_check_plan(bt_plan *plan, const bt_check_options *opt, bt_check_result *res) {
    if (!plan || !opt || !res) return bt_fail(BT_EINVAL, "bt_check_plan: NULL argument");
    bt_check_case *c;
    bt_status st = bt_check_case_create(plan, opt, &c);
    if (st != BT_OK) return st;
    st = bt_check_plan_case(plan, c, res);
    bt_check_case_free(c);
    return st;
}

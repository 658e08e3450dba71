/* peer:openblas_sgemm — the classic BLAS formulation of the same work, on OpenBLAS.
 *
 * FC: bwd_data dX = dY.W and bwd_weights dW = dY^T.X are one sgemm each, db = dY^T.1 one
 * sgemv. Convolution, per image and group: im2col then sgemm (bwd_weights), or sgemm then
 * col2im (bwd_data), as frameworks without a direct kernel do; a 1x1, stride-1, unpadded
 * convolution needs no im2col and multiplies the activations in place. im2col/col2im run on
 * the calling thread; the sgemm on OpenBLAS's threads.
 *
 * OpenBLAS is opened at run time (dlopen), after OPENBLAS_CORETYPE is cleared: the
 * environment may force Haswell kernels on an AVX-512 CPU, which would
 * understate the peer. The core it runs with and the variable's original value go into the
 * report's context. Debian's OpenBLAS keeps its own pthread pool next to OpenMP's (set to
 * the benchmark's thread count at create). BACKTUNE_OPENBLAS names another library file. */
#include "bench_impl.h"

#include "bench_util.h"
#include "bt_gbench.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CBLAS ABI: these enumerator values are fixed by the CBLAS standard. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
typedef void (*sgemm_fn)(int order, int transa, int transb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);
typedef void (*sgemv_fn)(int order, int trans, int m, int n, float alpha, const float *a, int lda,
                         const float *x, int incx, float beta, float *y, int incy);

static struct {
    void *handle;
    sgemm_fn sgemm;
    sgemv_fn sgemv;
    void (*set_num_threads)(int);
    char *(*get_corename)(void);
} blas;

static bt_status openblas_setup(const bt_bench_impl *impl) {
    (void)impl;
    if (blas.handle) return BT_OK;
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    bt_gbench_add_context("peer_openblas_coretype_env", coretype ? coretype : "(unset)");
    unsetenv("OPENBLAS_CORETYPE");
    const char *names[] = {getenv("BACKTUNE_OPENBLAS"), "libopenblas.so.0", "libopenblas.so"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !blas.handle; i++)
        if (names[i]) blas.handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!blas.handle) return bt_fail(BT_EUNSUPPORTED, "OpenBLAS not found (%s)", dlerror());
    /* POSIX guarantees that a data pointer from dlsym converts to a function pointer. */
    *(void **)&blas.sgemm = dlsym(blas.handle, "cblas_sgemm");
    *(void **)&blas.sgemv = dlsym(blas.handle, "cblas_sgemv");
    *(void **)&blas.set_num_threads = dlsym(blas.handle, "openblas_set_num_threads");
    *(void **)&blas.get_corename = dlsym(blas.handle, "openblas_get_corename");
    if (!blas.sgemm || !blas.sgemv || !blas.set_num_threads || !blas.get_corename) {
        dlclose(blas.handle);
        blas.handle = NULL;
        return bt_fail(BT_EUNSUPPORTED, "the BLAS library found is not OpenBLAS (no "
                                        "cblas_sgemm/openblas_get_corename)");
    }
    bt_gbench_add_context("peer_openblas_core", blas.get_corename());
    return BT_OK;
}

static bt_status openblas_supports(const bt_bench_impl *impl, const bt_problem *p) {
    (void)impl;
    bt_problem q;
    if (bt_problem_normalize(p, &q) != BT_OK) return BT_EINVAL;
    int64_t big = (int64_t)1 << 31;
    if (q.n * q.c * q.h * q.w >= big || q.n * q.k * q.h * q.w >= big ||
        q.k * q.c * q.r * q.s >= big)
        return bt_fail(BT_EUNSUPPORTED, "peer:openblas_sgemm: a matrix is too big for int");
    return BT_OK;
}

typedef struct openblas_state {
    bt_shape s;
    int threads;
    int direct;  /* 1x1, stride 1, no padding: no im2col */
    float *col;  /* the im2col matrix of one image and group */
    float *ones; /* for db = dY^T.1 */
    char describe[96];
} openblas_state;

static void openblas_destroy(void *state) {
    openblas_state *st = state;
    if (!st) return;
    free(st->col);
    free(st->ones);
    free(st);
}

static bt_status openblas_create(const bt_bench_impl *impl, const bt_problem *p, int threads,
                                 void **state) {
    (void)impl;
    *state = NULL;
    bt_problem q;
    if (bt_problem_normalize(p, &q) != BT_OK) return BT_EINVAL;
    openblas_state *st = calloc(1, sizeof *st);
    if (!st) return bt_fail(BT_ENOMEM, "out of memory");
    bt_shape_from_problem(&q, &st->s);
    const bt_shape *s = &st->s;
    st->threads = threads;
    st->direct = s->r == 1 && s->s == 1 && s->sh == 1 && s->sw == 1 && bt_shape_unpadded(s);
    int fc = s->op == BT_FC_BWD_DATA || s->op == BT_FC_BWD_WEIGHTS;
    size_t col_elems = (size_t)(s->cg * s->r * s->s * s->p * s->q);
    size_t ones_elems = (size_t)bt_max64(s->n, s->p * s->q);
    if (!fc && !st->direct) st->col = bt_bench_alloc_zero(col_elems * sizeof(float));
    st->ones = bt_bench_alloc(ones_elems * sizeof(float));
    if ((!fc && !st->direct && !st->col) || !st->ones) {
        openblas_destroy(st);
        return bt_fail(BT_ENOMEM, "out of memory for peer:openblas_sgemm");
    }
    for (size_t i = 0; i < ones_elems; i++) st->ones[i] = 1.0f;
    blas.set_num_threads(threads);
    snprintf(st->describe, sizeof st->describe, "threads=%d,core=%s,%s", threads,
             blas.get_corename(),
             fc           ? "gemm"
             : st->direct ? "gemm_1x1"
                          : "im2col_gemm");
    *state = st;
    return BT_OK;
}

/* Gathers image n, group g of x into col (x != NULL), or adds col into dx (x == NULL): col is
 * [C/G*R*S x P*Q] for NCHW, [P*Q x C/G*R*S] for NHWC (row-major), zero where padding. */
static void im2col_or_col2im(const bt_shape *s, int64_t n, int64_t g, float *col, const float *x,
                             float *dx) {
    int64_t pq = s->p * s->q, crs_count = s->cg * s->r * s->s;
    int nchw = s->layout == BT_NCHW;
    for (int64_t c = 0; c < s->cg; c++)
        for (int64_t r = 0; r < s->r; r++)
            for (int64_t ss = 0; ss < s->s; ss++) {
                int64_t crs = (c * s->r + r) * s->s + ss;
                for (int64_t p = 0; p < s->p; p++) {
                    int64_t i = p * s->sh - s->ph + r * s->dh;
                    for (int64_t q = 0; q < s->q; q++) {
                        int64_t j = q * s->sw - s->pw + ss * s->dw;
                        int inside = i >= 0 && i < s->h && j >= 0 && j < s->w;
                        float *e =
                            &col[nchw ? crs * pq + p * s->q + q : (p * s->q + q) * crs_count + crs];
                        int64_t off = inside ? bt_x_off(s, n, g * s->cg + c, i, j) : 0;
                        if (x)
                            *e = inside ? x[off] : 0.0f;
                        else if (inside)
                            dx[off] += *e;
                    }
                }
            }
}

static void fc_execute(const openblas_state *st, const bt_tensors *t) {
    const bt_shape *s = &st->s;
    int n = (int)s->n, c = (int)s->c, k = (int)s->k;
    float beta = s->accumulate ? 1.0f : 0.0f;
    if (s->op == BT_FC_BWD_DATA) {
        blas.sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, c, k, 1.0f, t->dy, k, t->w, c, beta, t->dx, c);
        return;
    }
    blas.sgemm(ROW_MAJOR, TRANS, NO_TRANS, k, c, n, 1.0f, t->dy, k, t->x, c, beta, t->dw, c);
    if (t->db) blas.sgemv(ROW_MAJOR, TRANS, n, k, 1.0f, t->dy, k, st->ones, 1, beta, t->db, 1);
}

static void conv_execute(const openblas_state *st, const bt_tensors *t) {
    const bt_shape *s = &st->s;
    int nchw = s->layout == BT_NCHW, bwd_data = s->op == BT_CONV_BWD_DATA;
    int pq = (int)(s->p * s->q), crs = (int)(s->cg * s->r * s->s), kg = (int)s->kg;
    int k = (int)s->k, c = (int)s->c, hw = (int)(s->h * s->w);
    size_t x_image = (size_t)s->c * s->h * s->w, dy_image = (size_t)s->k * pq;
    for (int64_t n = 0; n < s->n; n++) {
        const float *dy_n = t->dy + n * dy_image;
        float beta = s->accumulate || n > 0 ? 1.0f : 0.0f; /* dW, db sum over the batch */
        if (bwd_data && !s->accumulate && !st->direct)
            memset(t->dx + n * x_image, 0, x_image * sizeof(float));
        for (int64_t g = 0; g < s->g; g++) {
            /* dY of this image and group: [K/G x PQ] rows of PQ (NCHW) or [PQ x K/G] rows of K. */
            const float *dy_g = dy_n + (nchw ? g * kg * pq : g * kg);
            int ld_dy = nchw ? pq : k;
            /* The im2col matrix, or the activations themselves for a direct 1x1. */
            size_t group_off = nchw ? (size_t)(g * s->cg) * hw : (size_t)(g * s->cg);
            float *col =
                st->direct ? (bwd_data ? t->dx : (float *)t->x) + n * x_image + group_off : st->col;
            int ld_col = st->direct ? (nchw ? hw : c) : (nchw ? pq : crs);
            const size_t w_off = (size_t)g * kg * crs;
            if (bwd_data) {
                float beta_col = st->direct && s->accumulate ? 1.0f : 0.0f;
                if (nchw)
                    blas.sgemm(ROW_MAJOR, TRANS, NO_TRANS, crs, pq, kg, 1.0f, t->w + w_off, crs,
                               dy_g, ld_dy, beta_col, col, ld_col);
                else
                    blas.sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, pq, crs, kg, 1.0f, dy_g, ld_dy,
                               t->w + w_off, crs, beta_col, col, ld_col);
                if (!st->direct) im2col_or_col2im(s, n, g, st->col, NULL, t->dx);
            } else {
                if (!st->direct) im2col_or_col2im(s, n, g, st->col, t->x, NULL);
                blas.sgemm(ROW_MAJOR, nchw ? NO_TRANS : TRANS, nchw ? TRANS : NO_TRANS, kg, crs, pq,
                           1.0f, dy_g, ld_dy, col, ld_col, beta, t->dw + w_off, crs);
            }
        }
        if (!bwd_data && t->db) {
            if (nchw)
                blas.sgemv(ROW_MAJOR, NO_TRANS, k, pq, 1.0f, dy_n, pq, st->ones, 1, beta, t->db, 1);
            else
                blas.sgemv(ROW_MAJOR, TRANS, pq, k, 1.0f, dy_n, k, st->ones, 1, beta, t->db, 1);
        }
    }
}

static bt_status openblas_execute(void *state, const bt_tensors *t) {
    const openblas_state *st = state;
    if (st->s.op == BT_FC_BWD_DATA || st->s.op == BT_FC_BWD_WEIGHTS)
        fc_execute(st, t);
    else
        conv_execute(st, t);
    return BT_OK;
}

static const char *openblas_describe(void *state) {
    return ((const openblas_state *)state)->describe;
}

const bt_bench_impl bt_peer_openblas_sgemm = {.name = "peer:openblas_sgemm",
                                              .peer = 1,
                                              .variant = -1,
                                              .setup = openblas_setup,
                                              .supports = openblas_supports,
                                              .create = openblas_create,
                                              .execute = openblas_execute,
                                              .describe = openblas_describe,
                                              .destroy = openblas_destroy};

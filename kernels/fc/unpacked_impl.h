/* FC backward on unpacked operands, for problems small enough that packing costs more than
 * it saves: a template instantiated per ISA by unpacked_{avx512,avx2,scalar}.c (see
 * common/simd.h). The same GEMMs as the packed family (gemm_fc_impl.h):
 *
 *     bwd_data:    dX[N x C] = dY[N x K] W[K x C]       (beta = accumulate)
 *     bwd_weights: dW[K x C] = dY^T[K x N] X[N x C],  db[K] = column sums of dY
 *
 * read in place: a tile of UNPACKED_MR rows x UNPACKED_NV vectors of C accumulates in registers
 * over the sum, each step one broadcast element of A per row and UNPACKED_NV vector loads of a row
 * of B. A strip of B's columns is read once from memory and reread from the cache by each row
 * tile; A is reread once per strip, from the cache when it fits there, which is where this
 * family is meant to run (the heuristic's rule). Threads split C in whole tiles; no scratch,
 * no barrier.
 */
#include "common/simd.h"
#include "fc/gemm_common.h"
#include "fc/gemm_sums_impl.h"

#if defined(BT_SIMD_AVX512)
#define UNPACKED_MR 4
#define UNPACKED_NV 4
#elif defined(BT_SIMD_AVX2)
#define UNPACKED_MR 4
#define UNPACKED_NV 2
#else
#define UNPACKED_MR 4
#define UNPACKED_NV 4
#endif
#define UNPACKED_INLINE static inline __attribute__((always_inline))

/* C (m x n, row stride ldc) (+)= op(A) (m x k) B (k x n, row stride ldb); op(A)(i, p) is
 * a[i * lda + p], or a[p * lda + i] when trans_a. */
typedef struct unpacked_gemm {
    int trans_a;
    int64_t m, n, k, lda, ldb, ldc;
    const float *a, *b;
    float *c;
} unpacked_gemm;

/* Rows [i0, i0 + mr) x columns [j, j + nv vectors), the last vector masked by `last`. */
UNPACKED_INLINE void unp_tile(const unpacked_gemm *g, int64_t i0, int mr, int64_t j, int nv,
                              bt_vmask_t last, int accumulate) {
    bt_vf acc[UNPACKED_MR][UNPACKED_NV];
    for (int r = 0; r < mr; r++)
        for (int u = 0; u < nv; u++) {
            const float *cp = g->c + (i0 + r) * g->ldc + j + u * BT_VLEN;
            acc[r][u] = !accumulate   ? bt_vzero()
                        : u == nv - 1 ? bt_vload_mask(cp, last)
                                      : bt_vload(cp);
        }
    int64_t a_row = g->trans_a ? 1 : g->lda, a_step = g->trans_a ? g->lda : 1;
    const float *a = g->a + i0 * a_row, *b = g->b + j;
    for (int64_t p = 0; p < g->k; p++, a += a_step, b += g->ldb) {
        bt_vf bv[UNPACKED_NV];
        for (int u = 0; u < nv; u++)
            bv[u] = u == nv - 1 ? bt_vload_mask(b + u * BT_VLEN, last) : bt_vload(b + u * BT_VLEN);
        for (int r = 0; r < mr; r++) {
            bt_vf av = bt_vbcast(a + r * a_row);
            for (int u = 0; u < nv; u++) acc[r][u] = bt_vfmadd(av, bv[u], acc[r][u]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int u = 0; u < nv; u++) {
            float *cp = g->c + (i0 + r) * g->ldc + j + u * BT_VLEN;
            if (u == nv - 1)
                bt_vstore_mask(cp, last, acc[r][u]);
            else
                bt_vstore(cp, acc[r][u]);
        }
}

/* Rows [i0, i1) of the columns [j, j + nv vectors), a row tile at a time; nv is a constant
 * at each call. */
UNPACKED_INLINE void unp_strip(const unpacked_gemm *g, int64_t i0, int64_t i1, int64_t j, int nv,
                               bt_vmask_t last, int accumulate) {
    int64_t i = i0;
    for (; i + UNPACKED_MR <= i1; i += UNPACKED_MR)
        unp_tile(g, i, UNPACKED_MR, j, nv, last, accumulate);
    switch (i1 - i) {
    case 3:
        unp_tile(g, i, 3, j, nv, last, accumulate);
        break;
    case 2:
        unp_tile(g, i, 2, j, nv, last, accumulate);
        break;
    case 1:
        unp_tile(g, i, 1, j, nv, last, accumulate);
        break;
    default:
        break;
    }
}

/* The block rows [i0, i1) x columns [j0, j1) of C, a strip of UNPACKED_NV vectors of columns
 * at a time: the strip of B (k x the strip's width) is read from memory once and from the
 * cache by the strip's other row tiles, while A, m x k, is the smaller operand on the shapes
 * this family runs (few rows: the batch of bwd_data, or a short sum: bwd_weights). */
UNPACKED_INLINE void unp_block(const unpacked_gemm *g, int64_t i0, int64_t i1, int64_t j0,
                               int64_t j1, int accumulate) {
    int64_t j = j0, width = UNPACKED_NV * BT_VLEN;
    for (; j + width <= j1; j += width)
        unp_strip(g, i0, i1, j, UNPACKED_NV, bt_vmask(BT_VLEN), accumulate);
    int64_t left = j1 - j;
    if (left <= 0) return;
    int nv = (int)bt_div_up(left, BT_VLEN);
    bt_vmask_t last = bt_vmask((int)(left - (nv - 1) * BT_VLEN));
    switch (nv) {
#if UNPACKED_NV > 3
    case 3:
        unp_strip(g, i0, i1, j, 3, last, accumulate);
        break;
#endif
#if UNPACKED_NV > 2
    case 2:
        unp_strip(g, i0, i1, j, 2, last, accumulate);
        break;
#endif
    default:
        unp_strip(g, i0, i1, j, nv, last, accumulate);
        break;
    }
}

static void BT_SIMD_NAME(unpacked_run)(const bt_plan *plan, const bt_tensors *t, int tid,
                                       int nthr) {
    const bt_shape *s = &plan->shape;
    int data = s->op == BT_FC_BWD_DATA;
    unpacked_gemm g = {.trans_a = !data, .a = t->dy, .lda = s->k, .ldb = s->c, .ldc = s->c};
    g.m = data ? s->n : s->k, g.n = s->c, g.k = data ? s->k : s->n;
    g.b = data ? t->w : t->x;
    g.c = data ? t->dx : t->dw;
    /* Threads own blocks of C on whole tiles, in the grid that reads the least of A and B
     * per thread: by columns where C has few rows (bwd_data at a small batch), so that each
     * thread reads its part of W once rather than all of it. */
    bt_gemm_block b = {0, g.m, 0, g.n};
    if (nthr > 1) { /* one thread, on problems of a few KFLOP: no grid arithmetic */
        int tr, tc;
        bt_gemm_grid(g.m, g.n, nthr, &tr, &tc);
        bt_gemm_grid_block(g.m, g.n, UNPACKED_MR, UNPACKED_NV * BT_VLEN, tr, tc, tid, &b);
    }
    if (b.m1 > b.m0 && b.n1 > b.n0) unp_block(&g, b.m0, b.m1, b.n0, b.n1, s->accumulate);
    if (!data && t->db) {
        int64_t k0, k1;
        bt_split(s->k, tid, nthr, &k0, &k1);
        gemm_sums_columns(t->dy, s->n, s->k, k0, k1, s->accumulate, t->db);
    }
}

BT_DEFINE_SIMD_VARIANT(fc_bwd_d, unpacked, .layouts = BT_TAKES_ANY,
                       .run = BT_SIMD_NAME(unpacked_run));
BT_DEFINE_SIMD_VARIANT(fc_bwd_w, unpacked, .layouts = BT_TAKES_ANY,
                       .run = BT_SIMD_NAME(unpacked_run));

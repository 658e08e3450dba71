/* FC backward on unpacked operands, for problems small enough that packing costs more than
 * it saves: a template instantiated per ISA by unpacked_{avx512,avx2,scalar}.c (see
 * common/simd.h). The same GEMMs as the packed family (gemm_fc_impl.h):
 *
 *     bwd_data:    dX[N x C] = dY[N x K] W[K x C]       (beta = accumulate)
 *     bwd_weights: dW[K x C] = dY^T[K x N] X[N x C],  db[K] = column sums of dY
 *
 * read in place: a tile of UNP_MR rows x UNP_NV vectors of C accumulates in registers over
 * the sum, each step one broadcast element of A per row and UNP_NV vector loads of a row of
 * B. B is reread once per row tile, from the cache when it fits there, which is where this
 * family is meant to run (the heuristic's rule). Threads split the rows of C in whole tiles;
 * no scratch, no barrier.
 */
#include "common/simd.h"
#include "fc/gemm_sums_impl.h"

#if defined(BT_SIMD_AVX512)
#define UNP_MR 4
#define UNP_NV 4
#elif defined(BT_SIMD_AVX2)
#define UNP_MR 4
#define UNP_NV 2
#else
#define UNP_MR 4
#define UNP_NV 4
#endif
#define UNP_INLINE static inline __attribute__((always_inline))

/* C (m x n, row stride ldc) (+)= op(A) (m x k) B (k x n, row stride ldb); op(A)(i, p) is
 * a[i * lda + p], or a[p * lda + i] when trans_a. */
typedef struct unp_gemm {
    int trans_a;
    int64_t m, n, k, lda, ldb, ldc;
    const float *a, *b;
    float *c;
} unp_gemm;

/* Rows [i0, i0 + mr) x columns [j, j + nv vectors), the last vector masked by `last`. */
UNP_INLINE void unp_tile(const unp_gemm *g, int64_t i0, int mr, int64_t j, int nv, bt_vmask_t last,
                         int accumulate) {
    bt_vf acc[UNP_MR][UNP_NV];
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
        bt_vf bv[UNP_NV];
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

/* One row tile of mr rows across all columns; mr and nv are constants at each call. */
UNP_INLINE void unp_rows(const unp_gemm *g, int64_t i0, int mr, int accumulate) {
    int64_t j = 0, width = UNP_NV * BT_VLEN;
    for (; j + width <= g->n; j += width)
        unp_tile(g, i0, mr, j, UNP_NV, bt_vmask(BT_VLEN), accumulate);
    int64_t left = g->n - j;
    if (left <= 0) return;
    int nv = (int)bt_div_up(left, BT_VLEN);
    bt_vmask_t last = bt_vmask((int)(left - (nv - 1) * BT_VLEN));
    switch (nv) {
#if UNP_NV > 3
    case 3:
        unp_tile(g, i0, mr, j, 3, last, accumulate);
        break;
#endif
#if UNP_NV > 2
    case 2:
        unp_tile(g, i0, mr, j, 2, last, accumulate);
        break;
#endif
    default:
        unp_tile(g, i0, mr, j, nv, last, accumulate);
        break;
    }
}

static void BT_SIMD_NAME(unp_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    int data = s->op == BT_FC_BWD_DATA;
    unp_gemm g = {.trans_a = !data, .a = t->dy, .lda = s->k, .ldb = s->c, .ldc = s->c};
    g.m = data ? s->n : s->k, g.n = s->c, g.k = data ? s->k : s->n;
    g.b = data ? t->w : t->x;
    g.c = data ? t->dx : t->dw;
    int64_t tiles = bt_div_up(g.m, UNP_MR), t0, t1;
    bt_split(tiles, tid, nthr, &t0, &t1);
    for (int64_t tile = t0; tile < t1; tile++) {
        int64_t i0 = tile * UNP_MR;
        switch (bt_min64(UNP_MR, g.m - i0)) {
        case UNP_MR:
            unp_rows(&g, i0, UNP_MR, s->accumulate);
            break;
        case 3:
            unp_rows(&g, i0, 3, s->accumulate);
            break;
        case 2:
            unp_rows(&g, i0, 2, s->accumulate);
            break;
        default:
            unp_rows(&g, i0, 1, s->accumulate);
            break;
        }
    }
    if (!data && t->db) {
        int64_t k0, k1;
        bt_split(s->k, tid, nthr, &k0, &k1);
        sums_columns(t->dy, s->n, s->k, k0, k1, s->accumulate, t->db);
    }
}

BT_DEFINE_SIMD_VARIANT(fc_bwd_d, unpacked, .layouts = BT_TAKES_ANY, .run = BT_SIMD_NAME(unp_run));
BT_DEFINE_SIMD_VARIANT(fc_bwd_w, unpacked, .layouts = BT_TAKES_ANY, .run = BT_SIMD_NAME(unp_run));

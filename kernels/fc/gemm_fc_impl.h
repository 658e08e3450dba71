/* FC backward on the packed GEMM (common/gemm.h), a template instantiated per ISA by
 * gemm_fc_{avx512,avx2,scalar}.c (see common/simd.h):
 *
 *     bwd_data:    dX[N x C] = dY[N x K] W[K x C]       (beta = accumulate)
 *     bwd_weights: dW[K x C] = dY^T[K x N] X[N x C]     (dY read transposed by the packing)
 *                  db[K]     = column sums of dY
 *
 * par splits the output by rows (mb for dX, k for dW), by columns (c) or as a 2-D grid of
 * blocks: each thread owns its block, no reduction. For dW, par=mb splits the sum over the
 * batch instead: thread 0 computes into dW, the others into partial slots in scratch, and
 * after a barrier each thread adds the slots into its rows of dW in slot order. db is split
 * by columns among the threads in every case.
 */
#include "common/gemm.h"
#include "common/simd.h"
#include "fc/gemm_common.h"
#include "fc/gemm_sums_impl.h"

/* One FC GEMM: op(A) is m x k, op(B) k x n, C m x n, all row-major (see common/gemm.h). */
typedef struct gemm_fc_matrices {
    int trans_a;
    int64_t m, n, k;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
} gemm_fc_matrices;

static gemm_fc_matrices gemm_fc_describe(const bt_shape *s, const bt_tensors *t) {
    int data = s->op == BT_FC_BWD_DATA;
    gemm_fc_matrices g = {.trans_a = !data, .a = t->dy, .lda = s->k, .ldb = s->c, .ldc = s->c};
    g.m = data ? s->n : s->k, g.n = s->c, g.k = data ? s->k : s->n;
    g.b = data ? t->w : t->x;
    g.c = data ? t->dx : t->dw;
    return g;
}

/* C'[rows m0.., columns n0..] = beta * C' + the block's product over the sum [p0, p1), where
 * C' is `c` (same leading dimension as g->c). */
static void gemm_fc_gemm_block(const bt_fc_gemm_plan *fp, const gemm_fc_matrices *g, int64_t m0,
                               int64_t m1, int64_t n0, int64_t n1, int64_t p0, int64_t p1,
                               float beta, float *c, float *pack) {
    const float *a = g->trans_a ? g->a + p0 * g->lda + m0 : g->a + m0 * g->lda + p0;
    BT_SIMD_NAME(bt_sgemm)
    (g->trans_a, 0, m1 - m0, n1 - n0, p1 - p0, a, g->lda, g->b + p0 * g->ldb + n0, g->ldb, beta,
     c + m0 * g->ldc + n0, g->ldc, &fp->blk, pack, pack + fp->pack_a);
}

static void gemm_fc_run(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const bt_fc_gemm_plan *fp = plan->priv;
    const gemm_fc_matrices g = gemm_fc_describe(s, t);
    float *scratch = plan->scratch;
    float *pack = scratch + tid * fp->per_thread;
    float beta = s->accumulate ? 1.0f : 0.0f;

    if (fp->split == BT_SPLIT_SUM) {
        int64_t p0, p1;
        bt_split(g.k, tid, nthr, &p0, &p1);
        float *partial = scratch + fp->slots;
        if (p1 > p0)
            gemm_fc_gemm_block(fp, &g, 0, g.m, 0, g.n, p0, p1, tid ? 0.0f : beta,
                               tid ? partial + (tid - 1) * fp->slot : g.c, pack);
#pragma omp barrier
        int parts = (int)bt_min64(nthr, g.k); /* threads past the sum's length had nothing */
        int64_t r0, r1;
        bt_split(g.m, tid, nthr, &r0, &r1);
        if (parts > 1 && r1 > r0)
            gemm_sums_add_slots(g.c + r0 * g.ldc, partial + r0 * g.ldc, fp->slot, parts - 1,
                                (r1 - r0) * g.ldc);
    } else {
        int tr, tc;
        bt_gemm_split_grid(fp->split, g.m, g.n, nthr, &tr, &tc);
        bt_gemm_block b;
        bt_gemm_grid_block(g.m, g.n, fp->mr, fp->nr, tr, tc, tid, &b);
        if (b.m1 > b.m0 && b.n1 > b.n0)
            gemm_fc_gemm_block(fp, &g, b.m0, b.m1, b.n0, b.n1, 0, g.k, beta, g.c, pack);
    }

    if (s->op == BT_FC_BWD_WEIGHTS && t->db) {
        int64_t k0, k1;
        bt_split(s->k, tid, nthr, &k0, &k1);
        gemm_sums_columns(t->dy, s->n, s->k, k0, k1, s->accumulate, t->db);
    }
}

BT_DEFINE_SIMD_VARIANT(fc_bwd_d, gemm, .layouts = BT_TAKES_ANY, .params = bt_fc_gemm_bwd_d_params,
                       .prepare = bt_fc_gemm_prepare, .run = gemm_fc_run);

BT_DEFINE_SIMD_VARIANT(fc_bwd_w, gemm, .layouts = BT_TAKES_ANY, .params = bt_fc_gemm_bwd_w_params,
                       .prepare = bt_fc_gemm_prepare, .run = gemm_fc_run);

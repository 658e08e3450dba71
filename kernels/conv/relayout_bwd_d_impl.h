/* Conv bwd_data of an NCHW problem on an NHWC plan (relayout_common.h): a template
 * instantiated per ISA by relayout_bwd_d_{avx512,avx2,scalar}.c (no include guard). dy is
 * transposed to NHWC, the inner plan computes dx in NHWC, and dx is transposed back (added to
 * the caller's dx when accumulating). */
#include "common/simd.h"
#include "conv/relayout_common.h"

static bt_status BT_SIMD_NAME(relayout_bwd_d_prepare)(bt_plan *plan) {
    return bt_relayout_prepare(plan, BT_ISA_THIS);
}

static void BT_SIMD_NAME(relayout_bwd_d_run)(const bt_plan *plan, const bt_tensors *t, int tid,
                                             int nthr) {
    const bt_shape *s = &plan->shape;
    const relayout_state *st = plan->priv;
    float *dy_nhwc = plan->scratch, *dx_nhwc = dy_nhwc + st->first_elems;
    bt_relayout(t->dy, dy_nhwc, s->n, s->k, s->p * s->q, RELAYOUT_TO_NHWC, tid, nthr);
#pragma omp barrier
    bt_tensors inner = {.w = t->w, .dy = dy_nhwc, .dx = dx_nhwc};
    st->inner->variant->run(st->inner, &inner, tid, nthr);
#pragma omp barrier
    bt_relayout(dx_nhwc, t->dx, s->n, s->c, s->h * s->w,
                s->accumulate ? RELAYOUT_ADD_TO_NCHW : RELAYOUT_TO_NCHW, tid, nthr);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, relayout_nhwc, .layouts = BT_TAKES_NCHW,
                       .supports = bt_relayout_supports,
                       .prepare = BT_SIMD_NAME(relayout_bwd_d_prepare),
                       .run = BT_SIMD_NAME(relayout_bwd_d_run), .release = bt_relayout_release,
                       .inner_plan = bt_relayout_inner);

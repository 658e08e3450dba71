/* Conv bwd_weights of an NCHW problem on an NHWC plan (relayout_common.h): a template
 * instantiated per ISA by relayout_bwd_w_{avx512,avx2,scalar}.c (no include guard). x and
 * dy are transposed to NHWC; the inner plan writes dW and db (their layout does not depend
 * on the activations'), accumulating when the problem does. */
#include "common/simd.h"
#include "conv/relayout_common.h"

static bt_status BT_SIMD_NAME(relayout_bwd_w_prepare)(bt_plan *plan) {
    return bt_relayout_prepare(plan, BT_ISA_THIS);
}

static void BT_SIMD_NAME(relayout_bwd_w_run)(const bt_plan *plan, const bt_tensors *t, int tid,
                                             int nthr) {
    const bt_shape *s = &plan->shape;
    const relayout_state *st = plan->priv;
    float *x_nhwc = plan->scratch, *dy_nhwc = x_nhwc + st->first_elems;
    bt_relayout(t->x, x_nhwc, s->n, s->c, s->h * s->w, RELAYOUT_TO_NHWC, tid, nthr);
    bt_relayout(t->dy, dy_nhwc, s->n, s->k, s->p * s->q, RELAYOUT_TO_NHWC, tid, nthr);
#pragma omp barrier
    bt_tensors inner = {.x = x_nhwc, .dy = dy_nhwc, .dw = t->dw, .db = t->db};
    st->inner->variant->run(st->inner, &inner, tid, nthr);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, relayout_nhwc, .layouts = BT_TAKES_NCHW,
                       .supports = bt_relayout_supports,
                       .prepare = BT_SIMD_NAME(relayout_bwd_w_prepare),
                       .run = BT_SIMD_NAME(relayout_bwd_w_run), .release = bt_relayout_release,
                       .inner_plan = bt_relayout_inner);

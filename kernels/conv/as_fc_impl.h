/* Convolutions that are FC layers, on the FC plan for them (as_fc_common.h): a template
 * instantiated per ISA by as_fc_{avx512,avx2,scalar}.c (no include guard); the ISA is the
 * inner FC plan's. */
#include "common/simd.h"
#include "conv/as_fc_common.h"
#include "conv/relayout_common.h"

static bt_status BT_SIMD_NAME(as_fc_prepare)(bt_plan *plan) {
    return bt_as_fc_prepare(plan, BT_ISA_THIS);
}

/* In the transposing form, x (bwd_weights) goes to NCHW in scratch before the FC, or the FC
 * writes dx in NCHW to scratch and it goes back to NHWC (added when accumulating) after. */
static void BT_SIMD_NAME(as_fc_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_plan *inner = plan->priv;
    const bt_shape *s = &plan->shape;
    if (!plan->scratch_bytes) { /* only the transposing form has scratch: its NCHW copy */
        inner->variant->run(inner, t, tid, nthr);
        return;
    }
    float *nchw = plan->scratch;
    int64_t pixels = s->h * s->w;
    bt_tensors fc = *t;
    if (s->op == BT_CONV_BWD_WEIGHTS) {
        bt_relayout(t->x, nchw, s->n, s->c, pixels, RELAYOUT_TO_NCHW, tid, nthr);
        fc.x = nchw;
#pragma omp barrier
        inner->variant->run(inner, &fc, tid, nthr);
    } else {
        fc.dx = nchw;
        inner->variant->run(inner, &fc, tid, nthr);
#pragma omp barrier
        bt_relayout(nchw, t->dx, s->n, s->c, pixels,
                    s->accumulate ? RELAYOUT_ADD_TO_NHWC : RELAYOUT_TO_NHWC, tid, nthr);
    }
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, as_fc, .layouts = BT_TAKES_ANY, .supports = bt_as_fc_supports,
                       .prepare = BT_SIMD_NAME(as_fc_prepare), .run = BT_SIMD_NAME(as_fc_run),
                       .release = bt_as_fc_release);
BT_DEFINE_SIMD_VARIANT(conv_bwd_w, as_fc, .layouts = BT_TAKES_ANY, .supports = bt_as_fc_supports,
                       .prepare = BT_SIMD_NAME(as_fc_prepare), .run = BT_SIMD_NAME(as_fc_run),
                       .release = bt_as_fc_release);

/* Convolutions that are FC layers, on the FC plan for them (as_fc_common.h): a template
 * instantiated per ISA by as_fc_{avx512,avx2,scalar}.c (no include guard); the ISA is the
 * inner FC plan's. */
#include "common/simd.h"
#include "conv/as_fc_common.h"

static bt_status BT_SIMD_NAME(as_fc_prepare)(bt_plan *plan) {
    return bt_as_fc_prepare(plan, BT_ISA_THIS);
}

static void BT_SIMD_NAME(as_fc_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_plan *inner = plan->priv;
    inner->variant->run(inner, t, tid, nthr);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, as_fc, .layouts = BT_TAKES_ANY, .supports = bt_as_fc_supports,
                       .prepare = BT_SIMD_NAME(as_fc_prepare), .run = BT_SIMD_NAME(as_fc_run),
                       .release = bt_as_fc_release);
BT_DEFINE_SIMD_VARIANT(conv_bwd_w, as_fc, .layouts = BT_TAKES_ANY, .supports = bt_as_fc_supports,
                       .prepare = BT_SIMD_NAME(as_fc_prepare), .run = BT_SIMD_NAME(as_fc_run),
                       .release = bt_as_fc_release);

/* The reference as registered variants (priority 0: the last resort of dispatch). Threads
 * split the output elements, each computed whole, so results do not depend on threads. */
#include "ref.h"

static void run_bwd_data(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    int64_t b, e;
    bt_split(s->n * s->c, tid, nthr, &b, &e);
    bt_ref_bwd_data_range(s, t->w, t->dy, t->dx, b, e);
}

static void run_bwd_weights(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    int64_t b, e;
    bt_split(s->k * s->cg, tid, nthr, &b, &e);
    bt_ref_bwd_weights_range(s, t->x, t->dy, t->dw, t->db, b, e);
}

#define REF_VARIANT(id, op_, fn)                                                                   \
    const bt_variant bt_variant_##id = {                                                           \
        .name = #id, .op = op_, .isa = BT_ISA_SCALAR, .priority = 0, .run = fn};
REF_VARIANT(fc_bwd_d__ref, BT_FC_BWD_DATA, run_bwd_data)
REF_VARIANT(fc_bwd_w__ref, BT_FC_BWD_WEIGHTS, run_bwd_weights)
REF_VARIANT(conv_bwd_d__ref, BT_CONV_BWD_DATA, run_bwd_data)
REF_VARIANT(conv_bwd_w__ref, BT_CONV_BWD_WEIGHTS, run_bwd_weights)

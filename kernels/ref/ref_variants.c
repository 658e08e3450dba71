/* The reference as registered variants (is_reference: the last resort of dispatch). Threads
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

#define REF_VARIANT(op_id, fn)                                                                     \
    BT_DEFINE_VARIANT(op_id, ref, .layouts = BT_TAKES_ANY, .is_reference = 1, .run = fn);
REF_VARIANT(fc_bwd_d, run_bwd_data)
REF_VARIANT(fc_bwd_w, run_bwd_weights)
REF_VARIANT(conv_bwd_d, run_bwd_data)
REF_VARIANT(conv_bwd_w, run_bwd_weights)

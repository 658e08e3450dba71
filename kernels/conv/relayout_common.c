/* The relayout families' plan-time part (see relayout_common.h). */
#include "conv/relayout_common.h"

#include <stdio.h>
#include <stdlib.h>

int bt_relayout_supports(const bt_shape *s, char *why, size_t size) {
    if (s->layout != BT_NCHW) {
        snprintf(why, size, "takes NCHW only (an NHWC problem runs on the NHWC variants)");
        return 0;
    }
    return 1;
}

static int64_t rounded(int64_t floats) {
    return bt_div_up(floats, 16) * 16;
}

bt_status bt_relayout_prepare(bt_plan *plan, bt_isa isa) {
    const bt_shape *s = &plan->shape;
    relayout_state *st = calloc(1, sizeof *st);
    if (!st) return bt_fail(BT_ENOMEM, "relayout: out of memory");
    plan->priv = st;
    bt_problem inner = plan->problem;
    inner.layout = BT_NHWC;
    if (s->op == BT_CONV_BWD_DATA) inner.accumulate = 0;
    char params[64]; /* this plan's threads and its algorithms setting */
    snprintf(params, sizeof params, "threads=%d%s", plan->threads,
             plan->direct_only ? ",algorithms=direct" : "");
    bt_status status = bt_plan_create_on_isa(&st->inner, &inner, isa, params);
    if (status != BT_OK)
        return bt_fail(status == BT_ENOMEM ? BT_ENOMEM : BT_EUNSUPPORTED,
                       "relayout: no NHWC plan of ISA %s: %s", bt_isa_name(isa), bt_last_error());
    if (bt_plan_threads(st->inner) != plan->threads)
        return bt_fail(BT_EUNSUPPORTED, "relayout: the NHWC plan runs %d threads, not %d",
                       bt_plan_threads(st->inner), plan->threads);
    int64_t dy = rounded((int64_t)bt_shape_dy_elems(s)), x = rounded((int64_t)bt_shape_x_elems(s));
    /* bwd_data: dy in, dx out; bwd_weights: x and dy in. */
    st->first_elems = s->op == BT_CONV_BWD_DATA ? dy : x;
    st->second_elems = s->op == BT_CONV_BWD_DATA ? x : dy;
    plan->scratch_bytes = (size_t)(st->first_elems + st->second_elems) * sizeof(float);
    return BT_OK;
}

const bt_plan *bt_relayout_inner(const bt_plan *plan) {
    const relayout_state *st = plan->priv;
    return st ? st->inner : NULL;
}

void bt_relayout_release(bt_plan *plan) {
    relayout_state *st = plan->priv;
    if (st) bt_plan_destroy(st->inner);
}

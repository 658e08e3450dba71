/* The as_fc families' plan-time part (see as_fc_common.h). */
#include "conv/as_fc_common.h"

#include <stdio.h>

int bt_conv_kernel_covers_image(const bt_shape *s) {
    return s->g == 1 && s->r == s->h && s->s == s->w && s->p == 1 && s->q == 1 &&
           bt_shape_unpadded(s) && s->dh == 1 && s->dw == 1;
}

int bt_as_fc_transposes(const bt_shape *s) {
    return bt_conv_kernel_covers_image(s) && s->layout == BT_NHWC && s->h * s->w > 1 && s->c > 1;
}

int bt_conv_pointwise_nhwc(const bt_shape *s) {
    return s->g == 1 && s->layout == BT_NHWC && s->r == 1 && s->s == 1 && s->sh == 1 &&
           s->sw == 1 && s->p == s->h && s->q == s->w && bt_shape_unpadded(s);
}

int bt_conv_fc_form(const bt_problem *conv, bt_problem *fc) {
    bt_shape s;
    bt_shape_from_problem(conv, &s);
    int covers = bt_conv_kernel_covers_image(&s);
    if (!covers && !bt_conv_pointwise_nhwc(&s)) return 0;
    bt_problem f = {.op = s.op == BT_CONV_BWD_DATA ? BT_FC_BWD_DATA : BT_FC_BWD_WEIGHTS,
                    .n = covers ? s.n : s.n * s.h * s.w,
                    .c = covers ? s.c * s.h * s.w : s.c,
                    .k = s.k,
                    .accumulate =
                        s.accumulate && !(bt_as_fc_transposes(&s) && s.op == BT_CONV_BWD_DATA)};
    return bt_problem_normalize(&f, fc) == BT_OK;
}

int bt_as_fc_supports(const bt_shape *s, char *why, size_t size) {
    if (bt_conv_kernel_covers_image(s) || bt_conv_pointwise_nhwc(s)) return 1;
    snprintf(why, size,
             "is not an FC: takes a kernel over the whole unpadded image or an unpadded "
             "stride-1 1x1 NHWC convolution, no groups");
    return 0;
}

bt_status bt_as_fc_prepare(bt_plan *plan, bt_isa isa) {
    bt_problem fc;
    if (!bt_conv_fc_form(&plan->problem, &fc))
        return bt_fail(BT_EUNSUPPORTED, "as_fc: the problem is not an FC");
    char params[64];
    snprintf(params, sizeof params, "threads=%d", plan->threads);
    bt_plan *inner = NULL;
    bt_status st = bt_plan_create_on_isa(&inner, &fc, isa, params);
    if (st != BT_OK)
        return bt_fail(st == BT_ENOMEM ? BT_ENOMEM : BT_EUNSUPPORTED,
                       "as_fc: no FC plan of ISA %s: %s", bt_isa_name(isa), bt_last_error());
    plan->priv = inner;
    if (bt_plan_threads(inner) != plan->threads)
        return bt_fail(BT_EUNSUPPORTED, "as_fc: the FC plan runs %d threads, not %d",
                       bt_plan_threads(inner), plan->threads);
    if (bt_as_fc_transposes(&plan->shape)) /* the NCHW copy of x or dx */
        plan->scratch_bytes = bt_shape_x_elems(&plan->shape) * sizeof(float);
    return BT_OK;
}

void bt_as_fc_release(bt_plan *plan) {
    bt_plan_destroy(plan->priv);
    plan->priv = NULL; /* a plan, not a malloc'd block: bt_plan_destroy must not free() it */
}

/* The as_fc families: a convolution that is an FC layer in disguise runs on the FC plan
 * dispatch makes for that FC (tuning table, then heuristic, among one ISA's variants), on
 * the caller's tensors as they are:
 *   - a kernel covering the whole unpadded image (one output position): x is N x (C*H*W)
 *     and w is K x (C*R*S) in the same order, in NCHW or for a 1x1 image in any layout;
 *   - NHWC, 1x1 kernel, stride 1, unpadded: x is (N*H*W) x C, dy (N*H*W) x K, w K x C.
 * No groups in either. */
#ifndef BT_AS_FC_COMMON_H
#define BT_AS_FC_COMMON_H

#include "internal.h"

/* Whether the normalized conv problem is one of the FC forms above, its FC in *fc. */
int bt_conv_fc_form(const bt_problem *conv, bt_problem *fc);
/* The first form only: the kernel covers the image (where the heuristic always takes it). */
int bt_conv_kernel_covers_image(const bt_shape *s);
/* The second form only: NHWC, 1x1, stride 1, unpadded, no groups. */
int bt_conv_pointwise_nhwc(const bt_shape *s);

int bt_as_fc_supports(const bt_shape *s, char *why, size_t size);
bt_status bt_as_fc_prepare(bt_plan *plan, bt_isa isa);
void bt_as_fc_release(bt_plan *plan);

#endif

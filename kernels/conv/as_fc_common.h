/* The as_fc families: a convolution that is an FC layer in disguise runs on the FC plan
 * dispatch makes for that FC (tuning table, then heuristic, among one ISA's variants):
 *   - a kernel covering the whole unpadded image (one output position): x is N x (C*H*W)
 *     and w is K x (C*R*S). In NCHW (or on a 1x1 image) x's columns are in w's order and the
 *     FC runs on the caller's tensors; in NHWC they are in (H, W, C) order, so x (bwd_weights)
 *     or dx (bwd_data) passes through an NCHW copy in scratch, transposed inside the call. The
 *     weights, K times larger than one sample, are read and written in place: no re-layout of
 *     them, whose values change every step;
 *   - NHWC, 1x1 kernel, stride 1, unpadded: x is (N*H*W) x C, dy (N*H*W) x K, w K x C.
 * No groups in either. */
#ifndef BT_AS_FC_COMMON_H
#define BT_AS_FC_COMMON_H

#include "internal.h"

/* Whether the normalized conv problem is one of the FC forms above, its FC in *fc (for the
 * transposing form of bwd_data without accumulation: dx is added to the caller's on the way
 * back). */
int bt_conv_fc_form(const bt_problem *conv, bt_problem *fc);
/* The first form only: the kernel covers the image (where the heuristic always takes it). */
int bt_conv_kernel_covers_image(const bt_shape *s);
/* The second form only: NHWC, 1x1, stride 1, unpadded, no groups. */
int bt_conv_pointwise_nhwc(const bt_shape *s);
/* The first form in NHWC on more than one pixel and channel: x or dx goes through an NCHW
 * copy. */
int bt_as_fc_transposes(const bt_shape *s);

int bt_as_fc_supports(const bt_shape *s, char *why, size_t size);
bt_status bt_as_fc_prepare(bt_plan *plan, bt_isa isa);
void bt_as_fc_release(bt_plan *plan);

#endif

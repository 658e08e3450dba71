/* Plan set-up and geometry of the conv GEMM variants (conv/im2col_gemm_impl.h), independent
 * of the ISA.
 *
 * Output positions are numbered m = (n * P + p) * Q + q over the batch. A column block is a
 * run of `cols` consecutive positions; in NCHW a block never crosses a sample (a sample's
 * dy rows are contiguous only within it), in NHWC it may (dy, x and dx are then
 * (positions x channels) matrices across the batch).
 *
 * Column matrices of group g: NCHW col[(c, r, s) x positions], NHWC col[positions x (r, s, c)]
 * (runs of channels are contiguous in NHWC). The GEMM's columns for dW (and its rows of the
 * weights for dx) therefore come in (r, s, c) order in NHWC, while the weights are stored
 * K x C/G x R x S: when both R*S > 1 and C/G > 1 the two orders differ ("permuted") and
 * bwd_weights reorders its result into dW, bwd_data reorders the weights first. A 1x1,
 * stride-1, unpadded convolution is "direct": x (or dx) already is the column matrix.
 *
 * An unpadded 1x1 NCHW convolution of any stride is "batched": the GEMM reads x or dy and
 * writes dx through a bt_gemm_map (common/gemm.h), so a column block spans samples (one GEMM
 * sums over, or has as columns, a thread's whole share of the batch; per sample, 7x7 or
 * 14x14 positions leave packing and tiling overhead dominant), and strided x / dx are
 * gathered / scattered by the GEMM's packing and tile stores instead of im2col / col2im.
 * bwd_w on a direct NCHW convolution that is not batched (512 positions a sample or more) is
 * "dot": no GEMM, dW's elements are dot products along the positions of dy's and x's rows,
 * read in place across the samples of a column block.
 */
#ifndef BT_IM2COL_COMMON_H
#define BT_IM2COL_COMMON_H

#include "fc/gemm_common.h"

/* Parameters: par, cols (positions per column block), the GEMM blocking, and for bwd_d
 * chb (channels per column block). par=mb splits output positions (bwd_w, with per-thread
 * partial dW) or samples (bwd_d); par=k (bwd_w) splits the filters and par=c (bwd_d) the
 * input channels, with no reduction. */
enum { BT_CONVG_PAR, BT_CONVG_COLS, BT_CONVG_MC, BT_CONVG_NC, BT_CONVG_KC, BT_CONVG_CHB };
enum { BT_CONVG_PAR_MB, BT_CONVG_PAR_CH };
extern const bt_param_spec bt_conv_gemm_bwd_w_params[];
extern const bt_param_spec bt_conv_gemm_bwd_d_params[];

/* What a plan keeps in plan->priv. Sizes in floats. Scratch: per thread [col | pack A |
 * pack B | permuted weights (bwd_d)], then `nslots` shared slots of one dW each (bwd_w). */
typedef struct bt_conv_gemm_plan {
    bt_gemm_blocking blk;
    int par, direct, permuted, batched, dot;
    int64_t cols, chb;                       /* positions and (bwd_d) channels per column block */
    int64_t col, pack_a, pack_b, wperm;      /* one thread's buffers */
    int64_t per_thread, slots, slot, nslots; /* area per thread, slots' offset and size */
} bt_conv_gemm_plan;

bt_status bt_conv_gemm_prepare(bt_plan *plan);

/* The dot kernel's register tile (im2col_gemm_impl.h): DOT_RK rows of one operand by DOT_RC
 * of the other, as many accumulators as the ISA's vector registers leave room for. */
#define BT_DOT_RK_AVX512 4
#define BT_DOT_RC_AVX512 6
#define BT_DOT_RK_AVX2 3
#define BT_DOT_RC_AVX2 4

/* Whether the heuristic puts this family ahead of the direct one (core/heuristic.c): on unpadded
 * 1x1 convolutions without groups (one GEMM over the batch), for bwd_d in NCHW only, for bwd_w
 * in both layouts. */
int bt_conv_gemm_leads(const bt_shape *s);

/* The output positions t in [0, count) with 0 <= t * stride + base < extent: [*lo, *hi). */
static inline void bt_conv_valid_range(int64_t base, int64_t stride, int64_t extent, int64_t count,
                                       int64_t *lo, int64_t *hi) {
    int64_t l = base >= 0 ? 0 : (-base + stride - 1) / stride;
    int64_t h = extent - base <= 0 ? 0 : (extent - 1 - base) / stride + 1;
    *hi = bt_min64(h, count);
    *lo = bt_min64(l, *hi);
}

#endif

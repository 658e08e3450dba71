/* The heuristic: the order in which dispatch (no table entry, no forced variant) tries the
 * variants that take a shape. One list per op, read top to bottom as oneDNN's implementation
 * list: the widest ISA first, and within an ISA the first family whose entry applies; then
 * the naive loops, then the double reference. A family may stand twice, the first time with
 * a predicate (where it was measured ahead of the families below it). */
#include "internal.h"

#include "common/gemm.h"
#include "conv/as_fc_common.h"
#include "conv/im2col_common.h"

#include <string.h>

typedef struct heuristic_entry {
    const char *family;
    int (*applies)(const bt_shape *s); /* NULL: always */
} heuristic_entry;

/* Dense 3x3 stride-1 layers with 64 input channels or more and 32 filters or more run faster
 * as Winograd F(4x4, 3x3) (winograd, an approximate algorithm: BACKTUNE_ALGORITHMS=direct
 * turns it off): at its default parameters bwd_data 2.0-3.3x the direct families on
 * ResNet-50's 3x3 layers and bwd_weights 1.8-2.9x, both layouts
 * (results/amd-epyc-zen4-2c-avx512/winograd.txt); on DenseNet-121's 128->32 layers from 56x56
 * down to 7x7, 1.1-3.1x the direct dispatch, all four op/layouts. */
static int winograd_shape(const bt_shape *s) {
    return s->g == 1 && s->r == 3 && s->s == 3 && s->sh == 1 && s->sw == 1 && s->dh == 1 &&
           s->dw == 1 && s->c >= 64 && s->k >= 32;
}

/* NCHW layers with a kernel larger than 1x1 on a small output (14x14 or less), without
 * groups, run faster on the NHWC kernels with their activations transposed in the call
 * (relayout_nhwc): 1.05-1.42x the NCHW families on ResNet-50's 3x3 layers at 14x14 and 7x7
 * (results/amd-epyc-zen4-2c-avx512/relayout.txt); on 1x1 layers and larger images the
 * transposes cost more than the layout saves. Factorised 1xk and kx1 kernels lead up to
 * 17x17: in development timings relayout_nhwc ran ahead of direct_nchw on each of Inception-v3's
 * 1x7 and 7x1 layers at 17x17, both ops (kx1 bwd_weights the most: direct_nchw's vec=q mode
 * sums horizontally, and 1xk bwd_data's flat windows compute the pad columns). */
static int relayout_leads(const bt_shape *s) {
    const int factorised = s->p > 1 && s->q > 1 && (s->r == 1) != (s->s == 1);
    return s->layout == BT_NCHW && s->g == 1 && s->r * s->s > 1 &&
           s->p * s->q <= (factorised ? 17 * 17 : 196) && s->c >= 64 && s->k >= 64;
}

/* FC GEMMs up to 2^25 FLOP run faster on unpacked operands than packed (unpacked): 1.0-1.8x
 * the packed GEMM, 1 and 2 threads (results/amd-epyc-zen4-2c-avx512/unpacked_fc.txt). */
static int fc_unpacked_leads(const bt_shape *s) {
    return 2.0 * (double)s->n * (double)s->c * (double)s->k <= (double)(1 << 25);
}

/* NHWC 1x1 bwd_weights on images of 28x28 or more is one GEMM dW (K x C) = dy^T x whose sum
 * runs over the batch's positions. The measure here is how full the packed GEMM's AVX-512
 * register tiles would be, counted as 14 filters x whole 32-channel panels (16 channels when
 * C <= 16); it overstates the waste at C = 33-48 (the GEMM computes such a last panel at half
 * width) and ignores the unpacked FC path small ones take, and the 3/4 threshold was fitted
 * with it as it is. Below 3/4 the direct NHWC family's default ran ahead: on MobileNet-v2 /
 * MnasNet / MobileNet-v3 layers at batch 8 (C 16-72 with K 16-240) 1.04-2.05x the GEMM; where
 * the rule keeps the GEMM (C 16 with K 48-96, C 96-144 with K 24, ResNet-50's 56x56 layers at
 * batch 32) 0.72-1.14x (results/amd-epyc-zen4-2c-avx512/pointwise_bwd_w_nhwc.txt). AVX2
 * machines follow the same choice, unmeasured there. */
#define FILL_MIN_POSITIONS (28 * 28)
static int gemm_fills_tiles(const bt_shape *s) {
    if (s->op != BT_CONV_BWD_WEIGHTS || !bt_conv_pointwise_nhwc(s) ||
        s->p * s->q < FILL_MIN_POSITIONS)
        return 1;
    int64_t rows = bt_div_up(s->k, BT_GEMM_MR_AVX512) * BT_GEMM_MR_AVX512;
    int64_t cols = s->c <= BT_GEMM_NR_AVX512 / 2
                       ? BT_GEMM_NR_AVX512 / 2
                       : bt_div_up(s->c, BT_GEMM_NR_AVX512) * BT_GEMM_NR_AVX512;
    return 4 * s->k * s->c >= 3 * rows * cols;
}

/* A convolution whose kernel covers its whole unpadded image is the FC of its flattened
 * input, and runs as one (as_fc): the conv families would spend their setup on one output
 * position (Inception-v3's aux head, mb8ic128ih5oc768kh5, NHWC on direct_nhwc: 0.21x
 * LIBXSMM in both ops; as_fc transposes x or dx, 100 KB, and runs the FC NCHW runs).
 * So does an unpadded stride-1 1x1 NHWC convolution (x and dx are (N*H*W) x C
 * matrices): one GEMM over the whole batch, whose skinny path (few channels: A read in
 * place, the sum in one slice) was ahead of the direct NHWC family on the 1x1 layers of
 * MobileNet-v2 and ResNet-50 for bwd_data, and level with im2col_gemm for bwd_weights. The GEMM
 * families lead on unpadded 1x1 convolutions without groups where measured ahead
 * (bt_conv_gemm_leads); depthwise takes g = C only; the direct families take their layout. */
static int as_fc_leads(const bt_shape *s) {
    return bt_conv_kernel_covers_image(s) || (bt_conv_pointwise_nhwc(s) && gemm_fills_tiles(s));
}
static int gemm_leads(const bt_shape *s) {
    return bt_conv_gemm_leads(s) && gemm_fills_tiles(s);
}
/* bwd_data's depthwise with groups: one group of one input channel (U-Net's first layer,
 * mb1ic1ih572oc64kh3) is an ordinary convolution with a channel multiplier of K, which
 * direct_nchw, vectorised over K, ran 3.2x depthwise_nchw (10.2 -> 32.3 GFLOP/s, oneDNN 40.5).
 * bwd_weights stays depthwise there: 90 GFLOP/s, direct_nchw 60. */
static int depthwise_bwd_data_leads(const bt_shape *s) {
    return s->g > 1 || s->kg == 1;
}
static const heuristic_entry conv_bwd_data[] = {
    {"as_fc", as_fc_leads},
    {"winograd", winograd_shape},
    {"relayout_nhwc", relayout_leads},
    {"gemm_col2im", bt_conv_gemm_leads},
    {"depthwise_nhwc", depthwise_bwd_data_leads},
    {"depthwise_nchw", depthwise_bwd_data_leads},
    {"direct_nhwc", NULL},
    {"direct_nchw", NULL},
    {"gemm_col2im", NULL},
    {NULL, NULL},
};
static const heuristic_entry conv_bwd_weights[] = {
    {"as_fc", as_fc_leads},
    {"winograd", winograd_shape},
    {"relayout_nhwc", relayout_leads},
    {"im2col_gemm", gemm_leads},
    {"depthwise_nhwc", NULL},
    {"depthwise_nchw", NULL},
    {"direct_nhwc", NULL},
    {"direct_nchw", NULL},
    {"im2col_gemm", NULL},
    {NULL, NULL},
};
static const heuristic_entry fc[] = {
    {"unpacked", fc_unpacked_leads},
    {"gemm", NULL},
    {NULL, NULL},
};

static const heuristic_entry *order_of(bt_op op) {
    switch (op) {
    case BT_FC_BWD_DATA:
    case BT_FC_BWD_WEIGHTS:
        return fc;
    case BT_CONV_BWD_DATA:
        return conv_bwd_data;
    case BT_CONV_BWD_WEIGHTS:
        return conv_bwd_weights;
    }
    return fc;
}

enum { ENTRIES_MAX = 100 }; /* rank room per ISA: more than any list's entries */

int bt_variant_priority(const bt_variant *v, const bt_shape *s) {
    if (v->is_reference) return 0;
    const heuristic_entry *list = order_of(v->op);
    for (int i = 0; list[i].family && i < ENTRIES_MAX; i++)
        if (!strcmp(list[i].family, v->family) && (!list[i].applies || list[i].applies(s)))
            return 2 + ENTRIES_MAX * ((int)v->isa + 1) - i;
    return 1; /* the naive loops, and any family not listed */
}

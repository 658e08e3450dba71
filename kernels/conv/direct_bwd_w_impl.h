/* Direct conv bwd_weights (dW and db) from x and dy, no im2col: a template instantiated once
 * per ISA (see common/simd.h) by direct_bwd_w_{avx512,avx2,scalar}.c, each defining
 * conv_bwd_w__direct_nhwc_<isa> and conv_bwd_w__direct_nchw_<isa>.
 *
 * For each kernel tap (r, s), dW_rs[K x C/G] += dY^T[K x pos] X_rs[pos x C/G]: a GEMM whose
 * reduction runs over output positions. A register tile holds kt rows x cw column units of
 * dW_rs in vector accumulators, summed over a block of output rows:
 *   NHWC: both operands are contiguous along channels, so either dimension can be the
 *         vector one (`vec`): c: rows are filters (dy[n,p,q,k] broadcast), columns vectors
 *         of input channels (x[n,i,j,c..]); k: rows are channels (x broadcast), columns
 *         vectors of filters, for few channels per group (C = 3 first layers). The last
 *         vector of a group is masked.
 *   NCHW: vectors over output width (dy[n,k,p,q..] contiguous), cw counts channels, and
 *         each accumulator is summed horizontally once per block. Three ways to read x:
 *         flat  (stride 1 and W == Q, the "same" convolutions): x[n,c] is contiguous along
 *               the flattened position p*Q+q too, so a whole block is one run and padding
 *               columns become lane masks looked up by q phase;
 *         rows  (stride 1 otherwise): row by row, q clipped per tap, masked tail;
 *         split (sw > 1): each block's x rows are first split by column phase into scratch
 *               (x[.., m*sw+phi] -> buf[phi][m]) so the kernel reads them contiguously.
 *   ks (either layout; groups 1, no column dilation): vectors over filters, and the tile
 *         rows are the S x C (tap column, channel) pairs of a tap row, contiguous in a
 *         zero-padded NHWC copy of the block's x rows; NCHW dy is transposed to
 *         [position][filter] per block. Every dy vector then feeds S*C/kt tiles in L1 and no
 *         horizontal sums are needed; the default for C <= 4 and for NCHW with S >= 3.
 * Padding is handled by clipping p and q ranges per tap (or by the flat masks, or the ks
 * copy's zeros), never by tests in the inner loops. Tiles at the edge of K or C use smaller
 * register tiles chosen greedily from the grid (direct_bwd_w_tiles.h).
 *
 * Partials live in scratch as [group][tile row][tap][tile column] (K x RS x C/G, or
 * C/G x RS x K/G per group for vec=k, RS x C x K for ks), so tiles load and store them
 * contiguously; after a barrier, all threads sum the partials (in a fixed order: bit-identical
 * reruns) and transpose them into dw (K x C/G x R x S), adding to it when accumulating. db is
 * summed alongside into per-row-group partials and reduced the same way.
 *
 * Parallel strategies (`par`): mb splits output rows (n, p) over threads, each with its own
 * partial; k and c split filter and channel tiles over one shared partial (no summation);
 * 2d splits rows x filters, factoring the thread count to balance the two.
 */
#include "common/simd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parts, in the order they build on each other. */
#include "conv/direct_bwd_w_simd.h"
#include "conv/direct_bwd_w_tiles.h"
#include "conv/direct_bwd_w_params.h"
#include "conv/direct_bwd_w_geometry.h"
#include "conv/direct_bwd_w_ks.h"
#include "conv/direct_bwd_w_threads.h"
#include "conv/direct_bwd_w_prepare.h"

static int direct_bwd_w_supports_nhwc(const bt_shape *s, char *why, size_t size) {
    if (s->layout == BT_NHWC) return 1;
    snprintf(why, size, "NHWC only (the NCHW twin is conv_bwd_w__direct_nchw)");
    return 0;
}

static int direct_bwd_w_supports_nchw(const bt_shape *s, char *why, size_t size) {
    if (s->layout == BT_NCHW) return 1;
    snprintf(why, size, "NCHW only (the NHWC twin is conv_bwd_w__direct_nhwc)");
    return 0;
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, direct_nhwc, .layouts = BT_TAKES_NHWC,
                       .params = direct_bwd_w_nhwc_params, .supports = direct_bwd_w_supports_nhwc,
                       .prepare = direct_bwd_w_prepare, .run = direct_bwd_w_run);

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, direct_nchw, .layouts = BT_TAKES_NCHW,
                       .params = direct_bwd_w_nchw_params, .supports = direct_bwd_w_supports_nchw,
                       .prepare = direct_bwd_w_prepare, .run = direct_bwd_w_run);

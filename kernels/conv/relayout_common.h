/* The relayout families: an NCHW convolution run by the NHWC variant dispatch picks for the
 * same problem in NHWC, the activations transposed inside the timed call. On small images
 * the NHWC kernels vectorise over channels, where an NCHW kernel has only a few pixels per
 * row to fill its vectors with; the transposes cost a pass over dy and dx (or x) against a
 * layer's hundreds of FLOPs per element.
 *
 * The inner plan is made at plan time (bt_plan_create_on_isa: tuning table, then heuristic,
 * among the variants of the relayout build's ISA) with the outer plan's threads, and runs
 * inside the outer plan's team. Its scratch is its own, bounded as any plan's; the outer
 * scratch holds the NHWC copies (bwd_data: dy and dx; bwd_weights: x and dy).
 */
#ifndef BT_RELAYOUT_COMMON_H
#define BT_RELAYOUT_COMMON_H

#include "internal.h"

/* NCHW shapes of any group count; the inner dispatch decides what runs them. */
int bt_relayout_supports(const bt_shape *s, char *why, size_t size);
/* Makes the inner plan (the NHWC problem, accumulate off for bwd_data, whose dx is added to
 * the caller's on the way back) and sizes the scratch: two NHWC tensors. */
bt_status bt_relayout_prepare(bt_plan *plan, bt_isa isa);
void bt_relayout_release(bt_plan *plan);
/* The inner plan (bt_variant.inner_plan: its numerics are the relayout plan's). */
const bt_plan *bt_relayout_inner(const bt_plan *plan);

typedef struct relayout_state {
    bt_plan *inner;
    int64_t first_elems, second_elems; /* floats of the two NHWC copies, 16-float rounded */
} relayout_state;

/* Pixels per transpose block: a block of one image's pixels x all channels is one thread's
 * work item; 32 keeps the source rows of a channel tile within a few cache lines. */
#define RELAYOUT_PIXELS 32
#define RELAYOUT_CHANNELS 32

enum { RELAYOUT_TO_NHWC, RELAYOUT_ADD_TO_NHWC, RELAYOUT_TO_NCHW, RELAYOUT_ADD_TO_NCHW };

/* One tile, pixels [j0, j1) x channels [c0, c1), of one image from src to dst: from the
 * NCHW form (channels x pixels) to the NHWC form (pixels x channels), or back (= or +=).
 * In an ISA build (common/simd.h included first) by register transposes of up to
 * BT_VLEN x BT_VLEN; else the loops walk the destination contiguously. */
static inline void bt_relayout_tile(const float *restrict src, float *restrict dst,
                                    int64_t channels, int64_t pixels, int64_t j0, int64_t j1,
                                    int64_t c0, int64_t c1, int to) {
#if defined(BT_VLEN) && BT_VLEN > 1
    for (int64_t c = c0; c < c1; c += BT_VLEN)
        for (int64_t j = j0; j < j1; j += BT_VLEN) {
            const int nc = (int)bt_min64(BT_VLEN, c1 - c), nj = (int)bt_min64(BT_VLEN, j1 - j);
            if (to == RELAYOUT_TO_NHWC || to == RELAYOUT_ADD_TO_NHWC)
                bt_vtranspose(src + c * pixels + j, pixels, dst + j * channels + c, channels, nc,
                              nj, to == RELAYOUT_ADD_TO_NHWC);
            else
                bt_vtranspose(src + j * channels + c, channels, dst + c * pixels + j, pixels, nj,
                              nc, to == RELAYOUT_ADD_TO_NCHW);
        }
#else
    if (to == RELAYOUT_TO_NHWC)
        for (int64_t j = j0; j < j1; j++)
            for (int64_t c = c0; c < c1; c++) dst[j * channels + c] = src[c * pixels + j];
    else if (to == RELAYOUT_ADD_TO_NHWC)
        for (int64_t j = j0; j < j1; j++)
            for (int64_t c = c0; c < c1; c++) dst[j * channels + c] += src[c * pixels + j];
    else if (to == RELAYOUT_TO_NCHW)
        for (int64_t c = c0; c < c1; c++)
            for (int64_t j = j0; j < j1; j++) dst[c * pixels + j] = src[j * channels + c];
    else
        for (int64_t c = c0; c < c1; c++)
            for (int64_t j = j0; j < j1; j++) dst[c * pixels + j] += src[j * channels + c];
#endif
}

/* src to dst, tensors of `images` x `channels` x `pixels`, in direction `to`: this thread's
 * share of (image, pixel block) items. */
static inline void bt_relayout(const float *src, float *dst, int64_t images, int64_t channels,
                               int64_t pixels, int to, int tid, int nthr) {
    int64_t blocks = bt_div_up(pixels, RELAYOUT_PIXELS), begin, end;
    bt_split(images * blocks, tid, nthr, &begin, &end);
    for (int64_t item = begin; item < end; item++) {
        int64_t img = item / blocks, j0 = (item % blocks) * RELAYOUT_PIXELS;
        int64_t j1 = bt_min64(j0 + RELAYOUT_PIXELS, pixels), offset = img * channels * pixels;
        for (int64_t c0 = 0; c0 < channels; c0 += RELAYOUT_CHANNELS)
            bt_relayout_tile(src + offset, dst + offset, channels, pixels, j0, j1, c0,
                             bt_min64(c0 + RELAYOUT_CHANNELS, channels), to);
    }
}

#endif

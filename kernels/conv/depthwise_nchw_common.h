/* Depthwise convolution backward in NCHW, the part its two op templates share
 * (depthwise_bwd_d_nchw_impl.h, depthwise_bwd_w_nchw_impl.h): per-ISA settings, the shape
 * check, the padded row copy and the flat case. Included once per ISA build after
 * common/simd.h, so it has no include guard. Takes one input channel per group with any
 * channel multiplier kg = K/C, any stride, padding and dilation. Each plane is copied once into
 * a per-thread buffer laid out so that every tap becomes a contiguous, unconditional vector
 * load. Threads form a grid over samples x channels (par). */
#include "common/simd.h"
#include "conv/depthwise_common.h"

#include <stdio.h>
#include <string.h>

#if defined(BT_SIMD_AVX512)
#define DEPTHWISE_NCHW_NREG 32
#define DEPTHWISE_NCHW_CB_TUNE "2|4|6"
#define DEPTHWISE_NCHW_STREAM 1
#define depthwise_nchw_vstream(p, v) _mm512_stream_ps((p), (v))
/* Stride 1 in width: taps read dy in place with lane masks at the row ends (no U copy). */
#define DEPTHWISE_NCHW_DIRECT 1
#elif defined(BT_SIMD_AVX2)
#define DEPTHWISE_NCHW_NREG 16
#define DEPTHWISE_NCHW_CB_TUNE "2|3"
#define DEPTHWISE_NCHW_STREAM 1
#define depthwise_nchw_vstream(p, v) _mm256_stream_ps((p), (v))
#else
#define DEPTHWISE_NCHW_NREG 16
#define DEPTHWISE_NCHW_CB_TUNE "2|3"
#define DEPTHWISE_NCHW_STREAM 0
#define depthwise_nchw_vstream(p, v) bt_vstore((p), (v))
#endif
#ifndef DEPTHWISE_NCHW_DIRECT
#define DEPTHWISE_NCHW_DIRECT 0
#endif

#define DEPTHWISE_NCHW_V BT_VLEN
#define DEPTHWISE_NCHW_JB_MAX 4
#define DEPTHWISE_NCHW_CB_MAX 8
#define DEPTHWISE_NCHW_ACC_MAX (DEPTHWISE_NCHW_NREG * 3 / 4)
#define DEPTHWISE_NCHW_TMAX 9
#define DEPTHWISE_NCHW_INLINE static inline __attribute__((always_inline))

static inline int BT_SIMD_NAME(depthwise_nchw_supports)(const bt_shape *s, char *why, size_t size) {
    return depthwise_supports(s, BT_NCHW, 1, why, size);
}

/* row[0, width) = zero except row[lead, lead + copy) = src: vector stores, as memset/memcpy
 * calls on rows this short (tens of floats) cost more than the copy. */
DEPTHWISE_NCHW_INLINE void depthwise_nchw_fill_row(float *row, int64_t width, int64_t lead,
                                                   const float *src, int64_t copy) {
    int64_t i = 0;
    for (; i + DEPTHWISE_NCHW_V <= lead; i += DEPTHWISE_NCHW_V) bt_vstore(row + i, bt_vzero());
    if (i < lead) bt_vstore_mask(row + i, bt_vmask((int)(lead - i)), bt_vzero());
    for (i = 0; i + DEPTHWISE_NCHW_V <= copy; i += DEPTHWISE_NCHW_V)
        bt_vstore(row + lead + i, bt_vload(src + i));
    if (i < copy) {
        bt_vmask_t m = bt_vmask((int)(copy - i));
        bt_vstore_mask(row + lead + i, m, bt_vload_mask(src + i, m));
    }
    for (i = lead + copy; i + DEPTHWISE_NCHW_V <= width; i += DEPTHWISE_NCHW_V)
        bt_vstore(row + i, bt_vzero());
    if (i < width) bt_vstore_mask(row + i, bt_vmask((int)(width - i)), bt_vzero());
}

/* Flat: stride 1, output as large as the input, one dy plane per channel: a dx plane and its
 * dy plane have the same shape, so tap (r, s) is one flat shift of the whole plane, valid
 * where a per-(vector, tap) lane mask says. Vectors run over the flattened plane (no lanes
 * wasted on row tails) and are aligned with the plane, so dx can be streamed in place. */
static inline int depthwise_nchw_flat(const bt_shape *s) {
    return DEPTHWISE_NCHW_DIRECT && s->sh == 1 && s->sw == 1 && s->p == s->h && s->q == s->w &&
           s->kg == 1;
}

/* Lane masks of the window kernels (depthwise_bwd_{d,w}_nchw_window.h): the lanes of the
 * vector at flat position b inside [0, hw); those of the vector at f0 whose column j (in rows
 * of w) has j + shift inside the row. */
static inline uint16_t depthwise_nchw_lanes_inside(int64_t b, int64_t hw) {
    const int64_t lo = bt_max64(0, -b), hi = bt_min64(DEPTHWISE_NCHW_V, hw - b);
    return hi <= lo ? 0 : (uint16_t)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

static inline uint16_t depthwise_nchw_lanes_in_row(int64_t f0, int64_t w, int64_t shift) {
    uint16_t bits = 0;
    for (int64_t l = 0, j = f0 % w; l < DEPTHWISE_NCHW_V; l++, j = j + 1 == w ? 0 : j + 1)
        if (j + shift >= 0 && j + shift < w) bits |= (uint16_t)(1u << l);
    return bits;
}

static inline int64_t depthwise_nchw_flat_masks(const bt_shape *s) {
    return depthwise_nchw_flat(s) ? bt_div_up(s->h * s->w, DEPTHWISE_NCHW_V) * s->r * s->s : 0;
}

/* Whether a thread's spread copy of one channel's planes (U, X), of `floats` floats, stays
 * within half the scratch bound's share of the tensors (it is a copy of the problem's data,
 * not a cache-sized block): not when the shape is mostly padding or stride gaps. The sizes
 * are in double, as their int64 products can overflow on such shapes. */
static inline int BT_SIMD_NAME(depthwise_nchw_copy_fits)(const bt_shape *s, double floats,
                                                         char *why, size_t size) {
    if (floats <= BT_SCRATCH_FACTOR / 2 * (double)bt_shape_tensor_elems(s) +
                      (double)(BT_SCRATCH_CONST / sizeof(float)))
        return 1;
    snprintf(why, size,
             "its padded copy of a plane (%.3g floats) would exceed the scratch bound (padding "
             "or stride much larger than the image)",
             floats);
    return 0;
}

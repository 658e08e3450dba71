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

/* The window kernels' lane operations (depthwise_bwd_{d,w}_nchw_window.h) on lane masks kept
 * as bits in memory (uint16_t, lane l = bit l): AVX-512 applies them as mask registers, AVX2
 * expands them into vector masks (vmaskmovps loads, and-masks), loading a whole vector
 * plainly where every lane is inside (the planes' interior). Shifts of a sliding window of
 * three vectors by o lanes (-2..2): valignd on AVX-512, a lane-crossing permute and a
 * byte align on AVX2. */
#if defined(BT_SIMD_AVX512) || defined(BT_SIMD_AVX2)
#define DEPTHWISE_NCHW_WINDOW 1
#define DEPTHWISE_NCHW_ALL_LANES ((uint16_t)((1u << DEPTHWISE_NCHW_V) - 1u))
#if defined(BT_SIMD_AVX512)
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_load(const uint16_t *bits, const float *p) {
    return _mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)bits), p);
}
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_add(bt_vf acc, const uint16_t *bits, bt_vf v) {
    return _mm512_mask_add_ps(acc, _load_mask16((__mmask16 *)bits), acc, v);
}
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_shift(bt_vf prev, bt_vf cur, bt_vf next, const int o) {
    const __m512i p = _mm512_castps_si512(prev), c = _mm512_castps_si512(cur),
                  n = _mm512_castps_si512(next);
    switch (o) {
    case -2:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(c, p, 14));
    case -1:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(c, p, 15));
    case 1:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(n, c, 1));
    case 2:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(n, c, 2));
    default:
        return cur;
    }
}
/* The shift by +1 or -1 with the lanes outside `bits` zeroed, in one instruction. */
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_shift_z(const uint16_t *bits, bt_vf prev, bt_vf cur,
                                                    bt_vf next, const int o) {
    const __mmask16 m = _load_mask16((__mmask16 *)bits);
    const __m512i p = _mm512_castps_si512(prev), c = _mm512_castps_si512(cur),
                  n = _mm512_castps_si512(next);
    return _mm512_castsi512_ps(o > 0 ? _mm512_maskz_alignr_epi32(m, n, c, 1)
                                     : _mm512_maskz_alignr_epi32(m, c, p, 15));
}
DEPTHWISE_NCHW_INLINE void depthwise_lanes_store(float *p, uint16_t bits, bt_vf v) {
    _mm512_mask_storeu_ps(p, (__mmask16)bits, v);
}
#else
DEPTHWISE_NCHW_INLINE __m256i depthwise_lanes_vmask(unsigned bits) {
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane);
}
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_load(const uint16_t *bits, const float *p) {
    const unsigned b = *bits;
    if (b == DEPTHWISE_NCHW_ALL_LANES) return _mm256_loadu_ps(p);
    return b ? _mm256_maskload_ps(p, depthwise_lanes_vmask(b)) : _mm256_setzero_ps();
}
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_add(bt_vf acc, const uint16_t *bits, bt_vf v) {
    return _mm256_add_ps(acc, _mm256_and_ps(v, _mm256_castsi256_ps(depthwise_lanes_vmask(*bits))));
}
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_shift(bt_vf prev, bt_vf cur, bt_vf next, const int o) {
    const __m256i c = _mm256_castps_si256(cur);
    if (o > 0) { /* [c_o .. c_7, n_0 .. n_(o-1)] */
        const __m256i mid = _mm256_castps_si256(_mm256_permute2f128_ps(cur, next, 0x21));
        return _mm256_castsi256_ps(o == 1 ? _mm256_alignr_epi8(mid, c, 4)
                                          : _mm256_alignr_epi8(mid, c, 8));
    }
    if (o < 0) { /* [p_(8+o) .. p_7, c_0 .. c_(7+o)] */
        const __m256i mid = _mm256_castps_si256(_mm256_permute2f128_ps(prev, cur, 0x21));
        return _mm256_castsi256_ps(o == -1 ? _mm256_alignr_epi8(c, mid, 12)
                                           : _mm256_alignr_epi8(c, mid, 8));
    }
    return cur;
}
DEPTHWISE_NCHW_INLINE bt_vf depthwise_lanes_shift_z(const uint16_t *bits, bt_vf prev, bt_vf cur,
                                                    bt_vf next, const int o) {
    return _mm256_and_ps(depthwise_lanes_shift(prev, cur, next, o),
                         _mm256_castsi256_ps(depthwise_lanes_vmask(*bits)));
}
DEPTHWISE_NCHW_INLINE void depthwise_lanes_store(float *p, uint16_t bits, bt_vf v) {
    _mm256_maskstore_ps(p, depthwise_lanes_vmask(bits), v);
}
#endif
#else
#define DEPTHWISE_NCHW_WINDOW 0
#endif

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
static inline int depthwise_nchw_flat_shape(const bt_shape *s) {
    return s->sh == 1 && s->sw == 1 && s->p == s->h && s->q == s->w && s->kg == 1;
}
static inline int depthwise_nchw_flat(const bt_shape *s) {
    return DEPTHWISE_NCHW_DIRECT && depthwise_nchw_flat_shape(s);
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

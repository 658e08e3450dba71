/* Direct conv bwd_weights (direct_bwd_w_impl.h): the ISA details the shared vector layer
 * (common/simd.h) does not offer: mask bits, four horizontal sums at once.
 * Part of the template, included once per ISA build; no include guard. */

#if defined(BT_SIMD_AVX512)
static inline bt_vmask_t direct_bwd_w_mask_and(bt_vmask_t a, bt_vmask_t b) {
    return (bt_vmask_t)(a & b);
}
/* A mask from a lane bit set (bit l = lane l). */
static inline bt_vmask_t direct_bwd_w_mask_bits(uint32_t bits) {
    return (bt_vmask_t)bits;
}
/* out[j] = horizontal sum of vj: four reductions sharing their shuffles. */
static inline void direct_bwd_w_hsum4(bt_vf v0, bt_vf v1, bt_vf v2, bt_vf v3, float out[4]) {
    /* 128-bit lanes: a = [v0 l0+l2, v0 l1+l3, v1 l0+l2, v1 l1+l3], b likewise for v2, v3. */
    __m512 a =
        _mm512_add_ps(_mm512_shuffle_f32x4(v0, v1, 0x44), _mm512_shuffle_f32x4(v0, v1, 0xEE));
    __m512 b =
        _mm512_add_ps(_mm512_shuffle_f32x4(v2, v3, 0x44), _mm512_shuffle_f32x4(v2, v3, 0xEE));
    /* Lane j now holds four partial sums of vj; then sum within lanes. */
    __m512 c = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
    c = _mm512_add_ps(c, _mm512_permute_ps(c, 0x4E));
    c = _mm512_add_ps(c, _mm512_permute_ps(c, 0xB1));
    const __m512i lane_firsts = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm_storeu_ps(out, _mm512_castps512_ps128(_mm512_permutexvar_ps(lane_firsts, c)));
}
#elif defined(BT_SIMD_AVX2)
static inline bt_vmask_t direct_bwd_w_mask_and(bt_vmask_t a, bt_vmask_t b) {
    return _mm256_and_si256(a, b);
}
static inline bt_vmask_t direct_bwd_w_mask_bits(uint32_t bits) {
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i set = _mm256_and_si256(_mm256_set1_epi32((int)bits), lane_bit);
    return _mm256_cmpeq_epi32(set, lane_bit);
}
static inline void direct_bwd_w_hsum4(bt_vf v0, bt_vf v1, bt_vf v2, bt_vf v3, float out[4]) {
    /* [v0 0123, v1 0123, v2 0123, v3 0123 | the same of lanes 4567] */
    __m256 c = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1)));
}
#else
static inline bt_vmask_t direct_bwd_w_mask_and(bt_vmask_t a, bt_vmask_t b) {
    return a & b;
}
static inline bt_vmask_t direct_bwd_w_mask_bits(uint32_t bits) {
    return (bt_vmask_t)(bits & 1u);
}
static inline void direct_bwd_w_hsum4(bt_vf v0, bt_vf v1, bt_vf v2, bt_vf v3, float out[4]) {
    out[0] = v0, out[1] = v1, out[2] = v2, out[3] = v3;
}
#endif

#define DIRECT_BWD_W_UNROLL _Pragma("GCC unroll 16")
#define DIRECT_BWD_W_INLINE static inline __attribute__((always_inline))

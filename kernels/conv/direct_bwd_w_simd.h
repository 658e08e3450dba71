/* Direct conv bwd_weights (direct_bwd_w_impl.h): the ISA details the shared vector layer
 * (common/simd.h) does not offer: mask bits, four horizontal sums at once, a register transpose.
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
/* dst[j * ds + i] = src[i * ss + j] for a 16 x 16 block, columns j < n. */
static inline void direct_bwd_w_transpose(const float *src, int64_t ss, float *dst, int64_t ds,
                                          int n) {
    __m512 r[16], t[16];
    const __mmask16 m = (__mmask16)((1u << n) - 1);
    for (int i = 0; i < 16; i++) r[i] = _mm512_maskz_loadu_ps(m, src + i * ss);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* r[4a + b] holds rows 4a..4a+3 at column b + 4m of each 128-bit lane m. */
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
        r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);
    }
    for (int j = 0; j < n; j++) _mm512_storeu_ps(dst + j * ds, r[j]);
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
/* dst[j * ds + i] = src[i * ss + j] for an 8 x 8 block, columns j < n. */
static inline void direct_bwd_w_transpose(const float *src, int64_t ss, float *dst, int64_t ds,
                                          int n) {
    __m256 r[8], t[8];
    const __m256i m =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int i = 0; i < 8; i++) r[i] = _mm256_maskload_ps(src + i * ss, m);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm256_permute2f128_ps(r[i], r[4 + i], 0x20);
        t[4 + i] = _mm256_permute2f128_ps(r[i], r[4 + i], 0x31);
    }
    for (int j = 0; j < n; j++) _mm256_storeu_ps(dst + j * ds, t[j]);
}
#else
static inline bt_vmask_t direct_bwd_w_mask_and(bt_vmask_t a, bt_vmask_t b) {
    return a & b;
}
static inline void direct_bwd_w_transpose(const float *src, int64_t ss, float *dst, int64_t ds,
                                          int n) {
    (void)ss, (void)ds, (void)n;
    *dst = *src;
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

/* A thin vector abstraction so each SIMD algorithm is written once and instantiated per ISA.
 *
 * A kernel template (a header with no include guard, e.g. conv/direct_bwd_w_impl.h) uses
 * bt_vf, BT_VLEN and the bt_v* operations below, and names its symbols with BT_SIMD_NAME().
 * Each ISA gets a two-line source file whose name selects the compile flags:
 *
 *     // conv/direct_bwd_w_avx512.c
 *     #define BT_SIMD_AVX512
 *     #include "conv/direct_bwd_w_impl.h"
 *
 * BT_SIMD_AVX512:     __m512 (16 floats), masks in k-registers.
 * BT_SIMD_AVX512_YMM: __m256 (8 floats) with AVX-512VL: k-register masks and 32 registers at
 *                     half the width (fewer lanes wasted on narrow channel counts; no 512-bit
 *                     frequency licence); ISA avx512, name suffix avx512_ymm.
 * BT_SIMD_AVX2:       __m256 (8 floats), masks as integer vectors (vmaskmov).
 * BT_SIMD_SCALAR:     one float (BT_VLEN 1), for the portable blocked variants.
 * Besides the vector type each build says BT_VREGS (vector registers: 32 or 16) and whether
 * it has streaming stores (BT_VSTREAM, bt_vstream(p, v): p aligned to the vector), so that
 * templates size their register tiles from these rather than from the ISA's name, and a new
 * build of a family is one file. Its source file's name ends in _<suffix>.c, which selects the
 * compile flags (bt_set_isa_flags in CMakeLists.txt: _avx512*.c AVX-512, _avx2.c AVX2+FMA).
 * Tails: bt_vmask(n) selects the first n lanes (0 <= n <= BT_VLEN); masked loads read and
 * masked stores write nothing outside those lanes, so tails never touch memory past the end.
 */
#ifndef BT_SIMD_H
#define BT_SIMD_H

#include "internal.h"

#if defined(BT_SIMD_AVX512)
#include <immintrin.h>
#define BT_VLEN 16
#define BT_ISA_THIS BT_ISA_AVX512
#define BT_SIMD_SUFFIX avx512
#define BT_VREGS 32
#define BT_VSTREAM 1
typedef __m512 bt_vf;
typedef __mmask16 bt_vmask_t;
static inline bt_vmask_t bt_vmask(int n) {
    return (bt_vmask_t)((1u << n) - 1u);
}
#define bt_vzero() _mm512_setzero_ps()
#define bt_vset1(x) _mm512_set1_ps(x)
#define bt_vbcast(p) _mm512_set1_ps(*(p))
#define bt_vload(p) _mm512_loadu_ps(p)
#define bt_vstore(p, v) _mm512_storeu_ps((p), (v))
#define bt_vload_mask(p, m) _mm512_maskz_loadu_ps((m), (p))
#define bt_vstore_mask(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define bt_vfmadd(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define bt_vadd(a, b) _mm512_add_ps((a), (b))
#define bt_vsub(a, b) _mm512_sub_ps((a), (b))
#define bt_vmul(a, b) _mm512_mul_ps((a), (b))
#define bt_vhsum(v) _mm512_reduce_add_ps(v)
#define bt_vstream(p, v) _mm512_stream_ps((p), (v))

#elif defined(BT_SIMD_AVX512_YMM)
#include <immintrin.h>
#define BT_VLEN 8
#define BT_ISA_THIS BT_ISA_AVX512
#define BT_SIMD_SUFFIX avx512_ymm
#define BT_VREGS 32
#define BT_VSTREAM 1
typedef __m256 bt_vf;
typedef __mmask8 bt_vmask_t;
static inline bt_vmask_t bt_vmask(int n) {
    return (bt_vmask_t)((1u << n) - 1u);
}
#define bt_vzero() _mm256_setzero_ps()
#define bt_vset1(x) _mm256_set1_ps(x)
#define bt_vbcast(p) _mm256_broadcast_ss(p)
#define bt_vload(p) _mm256_loadu_ps(p)
#define bt_vstore(p, v) _mm256_storeu_ps((p), (v))
#define bt_vload_mask(p, m) _mm256_maskz_loadu_ps((m), (p))
#define bt_vstore_mask(p, m, v) _mm256_mask_storeu_ps((p), (m), (v))
#define bt_vfmadd(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define bt_vadd(a, b) _mm256_add_ps((a), (b))
#define bt_vsub(a, b) _mm256_sub_ps((a), (b))
#define bt_vmul(a, b) _mm256_mul_ps((a), (b))
#define bt_vstream(p, v) _mm256_stream_ps((p), (v))

#elif defined(BT_SIMD_AVX2)
#include <immintrin.h>
#define BT_VLEN 8
#define BT_ISA_THIS BT_ISA_AVX2
#define BT_SIMD_SUFFIX avx2
#define BT_VREGS 16
#define BT_VSTREAM 1
typedef __m256 bt_vf;
typedef __m256i bt_vmask_t;
static inline bt_vmask_t bt_vmask(int n) {
    static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(table + 8 - n));
}
#define bt_vzero() _mm256_setzero_ps()
#define bt_vset1(x) _mm256_set1_ps(x)
#define bt_vbcast(p) _mm256_broadcast_ss(p)
#define bt_vload(p) _mm256_loadu_ps(p)
#define bt_vstore(p, v) _mm256_storeu_ps((p), (v))
#define bt_vload_mask(p, m) _mm256_maskload_ps((p), (m))
#define bt_vstore_mask(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define bt_vfmadd(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define bt_vadd(a, b) _mm256_add_ps((a), (b))
#define bt_vsub(a, b) _mm256_sub_ps((a), (b))
#define bt_vmul(a, b) _mm256_mul_ps((a), (b))
#define bt_vstream(p, v) _mm256_stream_ps((p), (v))

#elif defined(BT_SIMD_SCALAR)
#define BT_VLEN 1
#define BT_ISA_THIS BT_ISA_SCALAR
#define BT_SIMD_SUFFIX scalar
#define BT_VREGS 16 /* the SSE registers scalar code runs in */
#define BT_VSTREAM 0
typedef float bt_vf;
typedef int bt_vmask_t;
static inline bt_vmask_t bt_vmask(int n) {
    return n;
}
#define bt_vzero() 0.0f
#define bt_vset1(x) (x)
#define bt_vbcast(p) (*(p))
#define bt_vload(p) (*(p))
#define bt_vstore(p, v) (*(p) = (v))
#define bt_vload_mask(p, m) ((m) ? *(p) : 0.0f)
#define bt_vstore_mask(p, m, v) ((m) ? (void)(*(p) = (v)) : (void)0)
#define bt_vfmadd(a, b, c) ((a) * (b) + (c))
#define bt_vadd(a, b) ((a) + (b))
#define bt_vsub(a, b) ((a) - (b))
#define bt_vmul(a, b) ((a) * (b))
#define bt_vhsum(v) (v)
#define bt_vstream(p, v) bt_vstore((p), (v))

#else
#error                                                                                             \
    "define BT_SIMD_AVX512, BT_SIMD_AVX512_YMM, BT_SIMD_AVX2 or BT_SIMD_SCALAR before including simd.h"
#endif

#if BT_VLEN == 8 /* AVX2 and AVX512_YMM */
static inline float bt_vhsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/* Transposes the registers of a BT_VLEN x BT_VLEN block: r[j] lane i <- r[i] lane j. */
#if BT_VLEN == 16
static inline void bt_vtranspose_regs(bt_vf r[16]) {
    bt_vf t[16];
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
}
#elif BT_VLEN == 8
static inline void bt_vtranspose_regs(bt_vf r[8]) {
    bt_vf t[8];
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
    for (int i = 0; i < 8; i++) r[i] = t[i];
}
#endif

/* dst[j * ds + i] = src[i * ss + j] (or += when add) for i < rows, j < cols, rows and cols
 * in [0, BT_VLEN]: one register transpose; nothing else is read or written. */
static inline void bt_vtranspose(const float *src, int64_t ss, float *dst, int64_t ds, int rows,
                                 int cols, int add) {
#if BT_VLEN == 1
    (void)ss, (void)ds;
    if (rows > 0 && cols > 0) *dst = add ? *dst + *src : *src;
#else
    bt_vf r[BT_VLEN];
    const bt_vmask_t col_mask = bt_vmask(cols), row_mask = bt_vmask(rows);
#pragma GCC unroll 16
    for (int i = 0; i < BT_VLEN; i++)
        r[i] = i >= rows         ? bt_vzero()
               : cols == BT_VLEN ? bt_vload(src + i * ss)
                                 : bt_vload_mask(src + i * ss, col_mask);
    bt_vtranspose_regs(r);
#pragma GCC unroll 16
    for (int j = 0; j < BT_VLEN; j++) {
        if (j >= cols) break;
        float *d = dst + j * ds;
        if (rows == BT_VLEN) {
            bt_vstore(d, add ? bt_vadd(bt_vload(d), r[j]) : r[j]);
        } else {
            bt_vstore_mask(d, row_mask, add ? bt_vadd(bt_vload_mask(d, row_mask), r[j]) : r[j]);
        }
    }
#endif
}

#define BT_SIMD_CAT_(a, b) a##_##b
#define BT_SIMD_CAT(a, b) BT_SIMD_CAT_(a, b)
/* name -> name_avx512 (or _avx2, _scalar) */
#define BT_SIMD_NAME(name) BT_SIMD_CAT(name, BT_SIMD_SUFFIX)
#define BT_SIMD_STR_(x) #x
#define BT_SIMD_STR(x) BT_SIMD_STR_(x)

/* Defines this ISA's build of variant family <op>__<family> (see BT_DEFINE_VARIANT): symbol
 * bt_variant_<op>__<family>_<isa> and name "<op>__<family>_<isa>" from the same tokens. */
#define BT_DEFINE_SIMD_VARIANT(op_id, family_id, ...)                                              \
    const bt_variant BT_SIMD_NAME(bt_variant_##op_id##__##family_id) = {                           \
        .name = #op_id "__" #family_id "_" BT_SIMD_STR(BT_SIMD_SUFFIX),                            \
        .family = #family_id,                                                                      \
        .op = BT_OP_##op_id,                                                                       \
        .isa = BT_ISA_THIS,                                                                        \
        __VA_ARGS__}

#endif

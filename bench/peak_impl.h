/* The FMA-throughput loop of the peak probe, written once and instantiated per ISA by
 * peak_avx512.c, peak_avx2.c and peak_sse2.c (no include guard: one instance per file).
 *
 * Each iteration updates PEAK_CHAINS independent vector accumulators, enough to keep every
 * FMA pipe busy despite the FMA latency (2 pipes x 4 cycles = 8 chains on Zen 4/5 and recent
 * Intel cores; we run 12-16, as many as fit in registers with the two operands). The
 * operands come in as arguments so the compiler cannot fold anything; the driver passes
 * a = 1 and a tiny b, which keeps the accumulators near 1, far from denormals and overflow.
 *
 * The baseline instance (SSE2, for the "scalar" variants, which are compiled without ISA
 * flags and may be auto-vectorised to SSE2 at best) has no FMA: half the chains multiply,
 * half add, one flop per lane each, which is what separate multiply and add pipes allow. */
#if defined(BT_PEAK_AVX512)
#include <immintrin.h>
typedef __m512 peak_vf;
#define PEAK_LANES 16
#define PEAK_CHAINS 16
#define PEAK_SUFFIX avx512
#define peak_set1(x) _mm512_set1_ps(x)
#define peak_step(i, acc, a, b) _mm512_fmadd_ps((acc), (a), (b))
#define PEAK_FLOPS_PER_STEP 2
#define peak_hsum(v) _mm512_reduce_add_ps(v)
#elif defined(BT_PEAK_AVX2)
#include <immintrin.h>
typedef __m256 peak_vf;
#define PEAK_LANES 8
#define PEAK_CHAINS 12
#define PEAK_SUFFIX avx2
#define peak_set1(x) _mm256_set1_ps(x)
#define peak_step(i, acc, a, b) _mm256_fmadd_ps((acc), (a), (b))
#define PEAK_FLOPS_PER_STEP 2
static inline float peak_hsum(__m256 v) {
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#elif defined(BT_PEAK_SSE2)
#include <emmintrin.h>
typedef __m128 peak_vf;
#define PEAK_LANES 4
#define PEAK_CHAINS 14
#define PEAK_SUFFIX sse2
#define peak_set1(x) _mm_set1_ps(x)
#define peak_step(i, acc, a, b) ((i) % 2 ? _mm_add_ps((acc), (b)) : _mm_mul_ps((acc), (a)))
#define PEAK_FLOPS_PER_STEP 1
static inline float peak_hsum(__m128 v) {
    float lanes[4];
    _mm_storeu_ps(lanes, v);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#else
#error "define BT_PEAK_AVX512, BT_PEAK_AVX2 or BT_PEAK_SSE2 before including peak_impl.h"
#endif

#include "peak.h"

#define PEAK_CAT_(a, b) a##_##b
#define PEAK_CAT(a, b) PEAK_CAT_(a, b)

/* Runs `iters` iterations; returns a checksum so the work cannot be optimised away. */
__attribute__((noinline)) static double peak_loop(int64_t iters, float a_value, float b_value) {
    peak_vf acc[PEAK_CHAINS];
    const peak_vf a = peak_set1(a_value), b = peak_set1(b_value);
    for (int i = 0; i < PEAK_CHAINS; i++) acc[i] = peak_set1(1.0f + (float)i * 1e-3f);
    for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < PEAK_CHAINS; i++) acc[i] = peak_step(i, acc[i], a, b);
    }
    double sum = 0;
    for (int i = 0; i < PEAK_CHAINS; i++) sum += peak_hsum(acc[i]);
    return sum;
}

const bt_peak_kernel PEAK_CAT(bt_peak_kernel, PEAK_SUFFIX) = {
    .loop = peak_loop,
    .flops_per_iter = PEAK_CHAINS * PEAK_LANES * PEAK_FLOPS_PER_STEP,
};

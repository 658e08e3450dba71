/* Packed SGEMM (interface and algorithm in common/gemm.h): a template instantiated once per
 * ISA (see common/simd.h) by gemm_{avx512,avx2,scalar}.c, each defining BT_GEMM_MR and
 * BT_GEMM_NR (a multiple of BT_VLEN) before including it.
 *
 * Packed layouts, tile-major so the micro-kernel reads both operands sequentially:
 *   A block (mc x kc): panels of MR rows; panel t holds pa[t*kc*MR + p*MR + r] = op(A)(r, p).
 *   B block (kc x nc): panels of NR columns; panel t holds pb[t*kc*NR + p*NR + j] = op(B)(p, j).
 * The micro-kernel keeps an MR x NR tile of C in MR * NR / VLEN vector accumulators; each
 * step p loads NR / VLEN vectors of B and broadcasts MR values of A into MR * NR / VLEN FMAs.
 */
#include "common/gemm.h"
#include "common/simd.h"

#if !defined(BT_GEMM_MR) || !defined(BT_GEMM_NR) || BT_GEMM_NR % BT_VLEN != 0
#error "define BT_GEMM_MR and BT_GEMM_NR (a multiple of BT_VLEN) before including gemm_impl.h"
#endif

#define GEMM_NV (BT_GEMM_NR / BT_VLEN) /* vectors per row of the register tile */

#define GEMM_ALWAYS_INLINE static inline __attribute__((always_inline))

/* Pack `count` lines of a strided matrix into panels of W lines each (W = MR for A, NR for
 * B): element p of line l is src[l * line_stride + p * step_stride], and goes to
 * dst[(l / W) * kc * W + p * W + l % W]. Lines past count in the last panel are zeros: their
 * results are never stored, but garbage there (NaN, denormals) could slow the arithmetic. */
GEMM_ALWAYS_INLINE void gemm_pack_panels(const float *src, int64_t line_stride, int64_t step_stride,
                                         int64_t count, int64_t kc, const int W, float *dst) {
    for (int64_t l0 = 0; l0 < count; l0 += W, dst += kc * W) {
        const float *s = src + l0 * line_stride;
        int64_t lines = bt_min64(W, count - l0);
        if (lines == W && line_stride == 1) {
            /* The W values of a step are contiguous: a vector copy. */
            for (int64_t p = 0; p < kc; p++)
#pragma GCC unroll 32
                for (int l = 0; l < W; l++) dst[p * W + l] = s[p * step_stride + l];
        } else if (lines == W) {
            /* One value from each of W lines per step; each line is read sequentially. */
            for (int64_t p = 0; p < kc; p++)
#pragma GCC unroll 32
                for (int l = 0; l < W; l++) dst[p * W + l] = s[l * line_stride + p * step_stride];
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int l = 0; l < W; l++)
                    dst[p * W + l] = l < lines ? s[l * line_stride + p * step_stride] : 0.0f;
        }
    }
}

/* Rows [i0, i0 + mc) x columns [p0, p0 + kc) of op(A) into MR-row panels. */
static void gemm_pack_a(int trans_a, const float *a, int64_t lda, int64_t i0, int64_t mc,
                        int64_t p0, int64_t kc, float *pack) {
    if (trans_a) /* a is k x m: op(A)(i, p) = a[p * lda + i] */
        gemm_pack_panels(a + p0 * lda + i0, 1, lda, mc, kc, BT_GEMM_MR, pack);
    else
        gemm_pack_panels(a + i0 * lda + p0, lda, 1, mc, kc, BT_GEMM_MR, pack);
}

/* Rows [p0, p0 + kc) x columns [j0, j0 + nc) of op(B) into NR-column panels. */
static void gemm_pack_b(int trans_b, const float *b, int64_t ldb, int64_t j0, int64_t nc,
                        int64_t p0, int64_t kc, float *pack) {
    if (trans_b) /* b is n x k: op(B)(p, j) = b[j * ldb + p] */
        gemm_pack_panels(b + j0 * ldb + p0, ldb, 1, nc, kc, BT_GEMM_NR, pack);
    else
        gemm_pack_panels(b + p0 * ldb + j0, 1, ldb, nc, kc, BT_GEMM_NR, pack);
}

/* C tile (mr x nr valid of MR x NR) = beta * C + packed A panel x packed B panel.
 * Not inlined: allocated on its own, the tile's 28 accumulators (avx512) stay in registers;
 * inlined into the loop nest, gcc 12 spills one inside the k loop. A call per tile is
 * nothing next to its MR x NR x kc FMAs. */
static __attribute__((noinline)) void gemm_micro_tile(int64_t kc, const float *pa, const float *pb,
                                                      float beta, float *c, int64_t ldc, int64_t mr,
                                                      int64_t nr) {
    bt_vf acc[BT_GEMM_MR][GEMM_NV];
#pragma GCC unroll 32
    for (int i = 0; i < BT_GEMM_MR; i++)
#pragma GCC unroll 8
        for (int v = 0; v < GEMM_NV; v++) acc[i][v] = bt_vzero();

            /* Start fetching the C tile now so its (read or write) misses overlap the sum. */
#pragma GCC unroll 32
    for (int i = 0; i < BT_GEMM_MR; i++)
        if (i < mr) {
            __builtin_prefetch(c + i * ldc, 1);
            __builtin_prefetch(c + i * ldc + nr - 1, 1);
        }

    for (int64_t p = 0; p < kc; p++, pa += BT_GEMM_MR, pb += BT_GEMM_NR) {
        bt_vf bv[GEMM_NV];
#pragma GCC unroll 8
        for (int v = 0; v < GEMM_NV; v++) bv[v] = bt_vload(pb + v * BT_VLEN);
#pragma GCC unroll 32
        for (int i = 0; i < BT_GEMM_MR; i++) {
            bt_vf av = bt_vbcast(pa + i);
#pragma GCC unroll 8
            for (int v = 0; v < GEMM_NV; v++) acc[i][v] = bt_vfmadd(av, bv[v], acc[i][v]);
        }
    }

    const bt_vf beta_v = bt_vset1(beta);
#pragma GCC unroll 32
    for (int i = 0; i < BT_GEMM_MR; i++) {
        if (i >= mr) break;
        float *crow = c + i * ldc;
#pragma GCC unroll 8
        for (int v = 0; v < GEMM_NV; v++) {
            int64_t left = nr - v * BT_VLEN; /* valid columns from this vector on */
            bt_vf r = acc[i][v];
            if (left >= BT_VLEN) {
                if (beta != 0.0f) r = bt_vfmadd(beta_v, bt_vload(crow + v * BT_VLEN), r);
                bt_vstore(crow + v * BT_VLEN, r);
            } else if (left > 0) {
                bt_vmask_t mask = bt_vmask((int)left);
                if (beta != 0.0f) r = bt_vfmadd(beta_v, bt_vload_mask(crow + v * BT_VLEN, mask), r);
                bt_vstore_mask(crow + v * BT_VLEN, mask, r);
            }
        }
    }
}

void BT_SIMD_NAME(bt_sgemm)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                            float *c, int64_t ldc, const bt_gemm_blocking *blk, float *pack_a,
                            float *pack_b) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        bt_gemm_scale_c(m, n, beta, c, ldc);
        return;
    }
    for (int64_t jc = 0; jc < n; jc += blk->nc) {
        int64_t nc = bt_min64(blk->nc, n - jc);
        for (int64_t pc = 0; pc < k; pc += blk->kc) {
            int64_t kc = bt_min64(blk->kc, k - pc);
            float beta_slice = pc == 0 ? beta : 1.0f; /* later slices add to the first */
            gemm_pack_b(trans_b, b, ldb, jc, nc, pc, kc, pack_b);
            for (int64_t ic = 0; ic < m; ic += blk->mc) {
                int64_t mc = bt_min64(blk->mc, m - ic);
                gemm_pack_a(trans_a, a, lda, ic, mc, pc, kc, pack_a);
                /* The B panel of the outer loop stays in L1 while A panels stream from L2. */
                for (int64_t jr = 0; jr < nc; jr += BT_GEMM_NR)
                    for (int64_t ir = 0; ir < mc; ir += BT_GEMM_MR)
                        gemm_micro_tile(kc, pack_a + ir * kc, pack_b + jr * kc, beta_slice,
                                        c + (ic + ir) * ldc + jc + jr, ldc,
                                        bt_min64(BT_GEMM_MR, mc - ir),
                                        bt_min64(BT_GEMM_NR, nc - jr));
            }
        }
    }
}

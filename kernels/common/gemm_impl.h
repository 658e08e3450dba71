/* Packed SGEMM (interface and algorithm in common/gemm.h): a template instantiated once per
 * ISA (see common/simd.h) by gemm_{avx512,avx2,scalar}.c; the register tile MR x NR (NR a
 * multiple of BT_VLEN) is the build's, from gemm.h.
 *
 * Packed layouts, tile-major so the micro-kernel reads both operands sequentially:
 *   A block (mc x kc): panels of MR rows; panel t holds pa[t*kc*MR + p*MR + r] = op(A)(r, p).
 *   B block (kc x nc): panels of NR columns; panel t holds pb[t*kc*NR + p*NR + j] = op(B)(p, j).
 * The micro-kernel keeps an MR x NR tile of C in MR * NR / VLEN vector accumulators; each
 * step p loads NR / VLEN vectors of B and broadcasts MR values of A into MR * NR / VLEN FMAs.
 */
#include "common/gemm.h"
#include "common/simd.h"

#include <string.h>

#if defined(BT_SIMD_AVX512)
#define BT_GEMM_MR BT_GEMM_MR_AVX512
#define BT_GEMM_NR BT_GEMM_NR_AVX512
#elif defined(BT_SIMD_AVX2)
#define BT_GEMM_MR BT_GEMM_MR_AVX2
#define BT_GEMM_NR BT_GEMM_NR_AVX2
#elif defined(BT_SIMD_SCALAR)
#define BT_GEMM_MR BT_GEMM_MR_SCALAR
#define BT_GEMM_NR BT_GEMM_NR_SCALAR
#endif
#if !defined(BT_GEMM_MR) || BT_GEMM_NR % BT_VLEN != 0
#error "gemm_impl.h: no register tile for this build (gemm.h), or NR not a multiple of BT_VLEN"
#endif

#define GEMM_NV (BT_GEMM_NR / BT_VLEN) /* vectors per row of the register tile */

#define GEMM_ALWAYS_INLINE static inline __attribute__((always_inline))

#if BT_VLEN > 1
/* One panel of gemm_pack_steps from lines that are contiguous along the steps: element p of
 * line l at src[l * line_stride + p], to dst[p * W + l]; lines [lines, W) are zeros. Blocks of
 * BT_VLEN lines x BT_VLEN steps go through register transposes (bt_vtranspose). */
GEMM_ALWAYS_INLINE void gemm_pack_transposed(const float *src, int64_t line_stride, int64_t lines,
                                             int64_t steps, const int W, float *dst) {
    for (int64_t p0 = 0; p0 < steps; p0 += BT_VLEN) {
        int cols = (int)bt_min64(BT_VLEN, steps - p0);
        for (int h = 0; h < W; h += BT_VLEN) {
            int width = W - h < BT_VLEN ? W - h : BT_VLEN; /* lanes of the panel */
            int valid = (int)bt_min64(bt_max64(lines - h, 0), width);
            float *d = dst + p0 * W + h;
            if (valid > 0)
                bt_vtranspose(src + h * line_stride + p0, line_stride, d, W, valid, cols, 0);
            if (valid < width)
                for (int j = 0; j < cols; j++)
                    memset(d + j * W + valid, 0, (size_t)(width - valid) * sizeof(float));
        }
    }
}
#endif

/* Pack steps [0, steps) of `count` lines of a strided matrix into panels of W lines each
 * (W = MR for A, NR for B), panels kc steps apart: element p of line l is
 * src[l * line_stride + p * step_stride], and goes to dst[(l / W) * kc * W + p * W + l % W].
 * Lines past count in the last panel are zeros: their results are never stored, but
 * garbage there (NaN, denormals) could slow the arithmetic. */
GEMM_ALWAYS_INLINE void gemm_pack_steps(const float *src, int64_t line_stride, int64_t step_stride,
                                        int64_t count, int64_t steps, int64_t kc, const int W,
                                        float *dst) {
    for (int64_t l0 = 0; l0 < count; l0 += W, dst += kc * W) {
        const float *s = src + l0 * line_stride;
        int64_t lines = bt_min64(W, count - l0);
        if (lines == W && line_stride == 1) {
            /* The W values of a step are contiguous: a vector copy. */
            for (int64_t p = 0; p < steps; p++)
#pragma GCC unroll 32
                for (int l = 0; l < W; l++) dst[p * W + l] = s[p * step_stride + l];
        }
#if BT_VLEN > 1
        else if (step_stride == 1) {
            /* Lines contiguous along the steps (a transposed operand: the rows of A, or of b
             * with trans_b, run along the sum): BT_VLEN x BT_VLEN register transposes, where
             * a value at a time costs a load and a store per float, more than the FMAs a
             * packed float feeds in the NCHW bwd_w GEMMs (dy x^T, 32-160 filters). */
            gemm_pack_transposed(s, line_stride, lines, steps, W, dst);
        }
#endif
        else if (lines == W) {
            /* One value from each of W lines per step; each line is read sequentially. */
            for (int64_t p = 0; p < steps; p++)
#pragma GCC unroll 32
                for (int l = 0; l < W; l++) dst[p * W + l] = s[l * line_stride + p * step_stride];
        } else {
            for (int64_t p = 0; p < steps; p++)
                for (int l = 0; l < W; l++)
                    dst[p * W + l] = l < lines ? s[l * line_stride + p * step_stride] : 0.0f;
        }
    }
}

/* All kc steps of `count` lines (see gemm_pack_steps). */
GEMM_ALWAYS_INLINE void gemm_pack_panels(const float *src, int64_t line_stride, int64_t step_stride,
                                         int64_t count, int64_t kc, const int W, float *dst) {
    gemm_pack_steps(src, line_stride, step_stride, count, kc, kc, W, dst);
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

/* C tile (mr x nr valid of MR x NR) = beta * C + A panel x B panel, computing ROWS (>= mr,
 * <= MR) rows: a ragged last row panel costs only the rows it has, not MR (mb 32 on 14-row
 * tiles would otherwise compute 42 rows).
 * A_INPLACE == 0: the A panel is packed (row stride MR). A_INPLACE == 1 (ROWS == mr == MR):
 * it is read where it lies, element (i, p) at pa[i * a_row + p * a_step] (a_row, a_step =
 * lda, 1, or 1, lda transposed), for when few column panels share each A panel and packing A
 * would cost more than the arithmetic it feeds (1x1 convs: n = 64 channels); transposed, its
 * rows are software-prefetched GEMM_PF_ROWS ahead (MR floats of rows a whole row apart).
 * NV vectors of each row are computed (GEMM_NV, or half of them for a last column panel of
 * at most NR / 2 columns: C = 16 channels on 32-column tiles would otherwise cost double).
 * COPY_B == 0: the B panel is packed (row stride NR). COPY_B == 1: the panel is read straight
 * from op(B) (row stride ldb, nr == NR) and copied into pack for the row panels after this
 * one, so packing B overlaps the arithmetic instead of being a memory-bound pass of its own;
 * rows are software-prefetched GEMM_PF_ROWS ahead, running on into the panel at `next`
 * (the rows of B sit a whole row apart, too far apart for the hardware prefetchers). */
#define GEMM_PF_ROWS 32
#define GEMM_PF_AHEAD 64 /* floats ahead along a row of A read in place */
GEMM_ALWAYS_INLINE const float *gemm_row_at(const float *r0, const float *r7, int64_t l1,
                                            int64_t l3, int64_t l5, int i) {
    const float *base = i < 7 ? r0 : r7;
    switch (i % 7) {
    case 0:
        return base;
    case 1:
        return base + l1;
    case 2:
        return base + 2 * l1;
    case 3:
        return base + l3;
    case 4:
        return base + 4 * l1;
    case 5:
        return base + l5;
    default:
        return base + 2 * l3;
    }
}
GEMM_ALWAYS_INLINE void gemm_tile(const int ROWS, const int NV, const int A_INPLACE,
                                  const int COPY_B, int64_t kc, const float *pa, int64_t a_row,
                                  int64_t a_step, const float *pb, int64_t ldb, float *pack,
                                  const float *next, float beta, float *c, int64_t ldc, int64_t mr,
                                  int64_t nr) {
    bt_vf acc[BT_GEMM_MR][GEMM_NV];
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) acc[i][v] = bt_vzero();

    /* Start fetching the C tile now so its (read or write) misses overlap the sum. */
    /* A whole tile (every row and column valid) takes branch-free prologue and epilogue: with
     * a short sum (1x1 convs with 16-64 channels: kc = k) the per-row tests cost a tenth of the
     * tile's instructions. */
    const int whole = mr == ROWS && nr == NV * BT_VLEN;
    if (whole) {
#pragma GCC unroll 32
        for (int i = 0; i < ROWS; i++) {
            __builtin_prefetch(c + i * ldc, 1);
            __builtin_prefetch(c + i * ldc + NV * BT_VLEN - 1, 1);
        }
    } else {
#pragma GCC unroll 32
        for (int i = 0; i < ROWS; i++)
            if (i < mr) {
                __builtin_prefetch(c + i * ldc, 1);
                __builtin_prefetch(c + i * ldc + nr - 1, 1);
            }
    }

    /* In place, rows apart (not transposed): row i at base i / 7 (pa, pa + 7 rows) plus one of
     * l1 * {0, 1, 2, 4}, l3 * {1, 2} and l5, offsets x86 addressing takes with three index
     * registers; left to itself, gcc 12 keeps 14 row pointers and spills (avx512). */
    const float *pa7 = ROWS > 7 ? pa + 7 * a_row : pa;
    const int64_t l1 = a_row, l3 = 3 * a_row, l5 = 5 * a_row;
    for (int64_t p = 0; p < kc; p++, pa += A_INPLACE ? a_step : BT_GEMM_MR, pa7 += a_step) {
        bt_vf bv[GEMM_NV];
        if (A_INPLACE && a_row == 1) {
            const float *pf = pa + GEMM_PF_ROWS * a_step; /* may point past A: never faults */
            __builtin_prefetch(pf, 0, 3);
            __builtin_prefetch(pf + ROWS - 1, 0, 3);
        } else if (A_INPLACE) {
            /* Each row crosses a cache line every 16 steps: one row's line GEMM_PF_AHEAD
             * floats ahead per step (rows ROWS.. are the next panels'), too many streams for
             * the hardware. 14-row tiles (avx512) run on into the next row panel near the
             * end of the sum, as B's prefetch does: ahead of short sums (k = 64) they would
             * fetch past their slice; for 6-row tiles (avx2) that was slower on Zen 4. */
            int64_t r = p & 15, at = p + GEMM_PF_AHEAD;
            __builtin_prefetch(ROWS < 12 || at < kc ? pa + r * a_row + GEMM_PF_AHEAD
                                                    : pa - p + (ROWS + r) * a_row + (at - kc),
                               0, 3);
        }
        if (COPY_B) {
            const float *src = pb + p * ldb;
            const float *pf = p + GEMM_PF_ROWS < kc
                                  ? src + GEMM_PF_ROWS * ldb
                                  : next + bt_min64(p + GEMM_PF_ROWS - kc, kc - 1) * ldb;
            __builtin_prefetch(pf, 0, 2);
            __builtin_prefetch(pf + BT_GEMM_NR - 1, 0, 2);
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) {
                bv[v] = bt_vload(src + v * BT_VLEN);
                bt_vstore(pack + p * BT_GEMM_NR + v * BT_VLEN, bv[v]);
            }
        } else {
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) bv[v] = bt_vload(pb + p * BT_GEMM_NR + v * BT_VLEN);
        }
#pragma GCC unroll 32
        for (int i = 0; i < ROWS; i++) {
            bt_vf av = bt_vbcast(A_INPLACE ? gemm_row_at(pa, pa7, l1, l3, l5, i) : pa + i);
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) acc[i][v] = bt_vfmadd(av, bv[v], acc[i][v]);
        }
    }

    const bt_vf beta_v = bt_vset1(beta);
    if (whole && beta == 0.0f) {
#pragma GCC unroll 32
        for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) bt_vstore(c + i * ldc + v * BT_VLEN, acc[i][v]);
        return;
    }
    if (whole) {
#pragma GCC unroll 32
        for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) {
                float *o = c + i * ldc + v * BT_VLEN;
                bt_vstore(o, bt_vfmadd(beta_v, bt_vload(o), acc[i][v]));
            }
        return;
    }
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; i++) {
        if (i >= mr) break;
        float *crow = c + i * ldc;
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
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

/* One function per (ROWS, A_INPLACE, COPY_B) used, named gemm_tile_<ROWS>_<A_INPLACE>_<COPY_B>
 * (gemm_tile_<MR>_half: in place, packed B, half width). Not inlined: allocated on its own,
 * the tile's 28 accumulators (avx512) stay in registers; inlined into the loop nest, gcc 12
 * spills one inside the k loop. A call per tile is nothing next to its MR x NR x kc FMAs. */
typedef void gemm_tile_fn(int64_t kc, const float *pa, int64_t a_row, int64_t a_step,
                          const float *pb, int64_t ldb, float *pack, const float *next, float beta,
                          float *c, int64_t ldc, int64_t mr, int64_t nr);
#define GEMM_TILE_DEFINE(name, R, NV, A, C)                                                        \
    static __attribute__((noinline)) void name(int64_t kc, const float *pa, int64_t a_row,         \
                                               int64_t a_step, const float *pb, int64_t ldb,       \
                                               float *pack, const float *next, float beta,         \
                                               float *c, int64_t ldc, int64_t mr, int64_t nr) {    \
        gemm_tile(R, NV, A, C, kc, pa, a_row, a_step, pb, ldb, pack, next, beta, c, ldc, mr, nr);  \
    }
#define GEMM_TILE_FNS(R)                                                                           \
    GEMM_TILE_DEFINE(gemm_tile_##R##_0_0, R, GEMM_NV, 0, 0)                                        \
    GEMM_TILE_DEFINE(gemm_tile_##R##_0_1, R, GEMM_NV, 0, 1)                                        \
    GEMM_TILE_DEFINE(gemm_tile_##R##_half, R, GEMM_NV / 2, 0, 0)

/* Row counts with a kernel: every even count up to MR (MR is even). */
#if BT_GEMM_MR % 2 != 0 || BT_GEMM_MR > 14 || GEMM_NV % 2 != 0
#error "gemm_impl.h instantiates tiles of 2, 4, ..., 14 rows and half of an even NV"
#endif
GEMM_TILE_FNS(2)
#if BT_GEMM_MR >= 4
GEMM_TILE_FNS(4)
#endif
#if BT_GEMM_MR >= 6
GEMM_TILE_FNS(6)
#endif
#if BT_GEMM_MR >= 8
GEMM_TILE_FNS(8)
#endif
#if BT_GEMM_MR >= 10
GEMM_TILE_FNS(10)
#endif
#if BT_GEMM_MR >= 12
GEMM_TILE_FNS(12)
#endif
#if BT_GEMM_MR >= 14
GEMM_TILE_FNS(14)
#endif
/* A in place: full row panels only. */
GEMM_TILE_DEFINE(gemm_tile_inplace, BT_GEMM_MR, GEMM_NV, 1, 0)
GEMM_TILE_DEFINE(gemm_tile_inplace_copy_b, BT_GEMM_MR, GEMM_NV, 1, 1)
GEMM_TILE_DEFINE(gemm_tile_inplace_half, BT_GEMM_MR, GEMM_NV / 2, 1, 0)

/* The kernel for mr rows (1 <= mr <= MR) of a packed A panel: the fewest even rows >= mr,
 * and half the vectors of a row for a last column panel of at most NR / 2 columns (nr; B
 * packed): 196 positions of a 7x7 batch on 32-column tiles would otherwise compute 224. */
static gemm_tile_fn *gemm_tile_for(int64_t mr, int copy_b, int64_t nr) {
    int half = !copy_b && 2 * nr <= BT_GEMM_NR;
#define GEMM_TILE_CASE(R)                                                                          \
    case R / 2:                                                                                    \
        return half ? gemm_tile_##R##_half : copy_b ? gemm_tile_##R##_0_1 : gemm_tile_##R##_0_0;
    switch ((mr + 1) / 2) {
        GEMM_TILE_CASE(2)
#if BT_GEMM_MR >= 4
        GEMM_TILE_CASE(4)
#endif
#if BT_GEMM_MR >= 6
        GEMM_TILE_CASE(6)
#endif
#if BT_GEMM_MR >= 8
        GEMM_TILE_CASE(8)
#endif
#if BT_GEMM_MR >= 10
        GEMM_TILE_CASE(10)
#endif
#if BT_GEMM_MR >= 12
        GEMM_TILE_CASE(12)
#endif
#if BT_GEMM_MR >= 14
        GEMM_TILE_CASE(14)
#endif
    default:
        break;
    }
#undef GEMM_TILE_CASE
    return NULL; /* mr > MR: not reached */
}

/* Few column panels (n <= BT_GEMM_SKINNY_PANELS NR): the loop over one block position (jc,
 * pc, ic), row panels outer and column panels inner, each full row panel of A read in place
 * (no packing) and serving all column panels in turn while the B block (kc x n) stays in
 * cache. The first row panel of the first A block packs B as it streams it (fused_b). */
static void gemm_skinny_block(int trans_a, int fused_b, const float *a, int64_t lda, const float *b,
                              int64_t ldb, int64_t ic, int64_t mc, int64_t jc, int64_t nc,
                              int64_t pc, int64_t kc, float beta, float *c, int64_t ldc,
                              float *pack_a, float *pack_b) {
    int64_t a_row = trans_a ? 1 : lda, a_step = trans_a ? lda : 1;
    for (int64_t ir = 0; ir < mc; ir += BT_GEMM_MR) {
        int64_t mr = bt_min64(BT_GEMM_MR, mc - ir);
        const float *asrc = a + (ic + ir) * a_row + pc * a_step;
        /* A ragged last row panel is packed: in place, its even row count could read past A. */
        if (mr < BT_GEMM_MR) gemm_pack_a(trans_a, a, lda, ic + ir, mr, pc, kc, pack_a);
        for (int64_t jr = 0; jr < nc; jr += BT_GEMM_NR) {
            int64_t nr = bt_min64(BT_GEMM_NR, nc - jr);
            float *pb = pack_b + jr * kc, *cc = c + (ic + ir) * ldc + jc + jr;
            int copy = fused_b && ic == 0 && ir == 0 && nr == BT_GEMM_NR;
            const float *src = copy ? b + pc * ldb + jc + jr : pb;
            /* Prefetch runs on into the next panel, or back to this one's start. */
            const float *next = copy && jr + 2 * BT_GEMM_NR <= nc ? src + BT_GEMM_NR : src;
            if (fused_b && ic == 0 && ir == 0 && !copy) /* ragged last panel: pack it */
                gemm_pack_b(0, b, ldb, jc + jr, nr, pc, kc, pb);
            int64_t stride = copy ? ldb : BT_GEMM_NR;
            if (mr == BT_GEMM_MR) {
                gemm_tile_fn *fn = copy                   ? gemm_tile_inplace_copy_b
                                   : 2 * nr <= BT_GEMM_NR ? gemm_tile_inplace_half
                                                          : gemm_tile_inplace;
                fn(kc, asrc, a_row, a_step, src, stride, pb, next, beta, cc, ldc, mr, nr);
            } else
                gemm_tile_for(mr, copy, nr)(kc, pack_a, 0, 0, src, stride, pb, next, beta, cc, ldc,
                                            mr, nr);
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
    /* Without trans_b the rows of op(B) are rows of b: the first A block packs each B panel
     * as its first row panel streams it (gemm_tile COPY_B); with trans_b, panels are packed
     * first (each reads NR rows of b sequentially). With few column panels A is not packed
     * at all (gemm_skinny_block). */
    int fused_b = !trans_b, skinny = n <= BT_GEMM_SKINNY_PANELS * BT_GEMM_NR;
    for (int64_t jc = 0; jc < n; jc += blk->nc) {
        int64_t nc = bt_min64(blk->nc, n - jc);
        for (int64_t pc = 0; pc < k; pc += blk->kc) {
            int64_t kc = bt_min64(blk->kc, k - pc);
            float beta_slice = pc == 0 ? beta : 1.0f; /* later slices add to the first */
            if (!fused_b) gemm_pack_b(trans_b, b, ldb, jc, nc, pc, kc, pack_b);
            for (int64_t ic = 0; ic < m; ic += blk->mc) {
                int64_t mc = bt_min64(blk->mc, m - ic);
                if (skinny) {
                    gemm_skinny_block(trans_a, fused_b, a, lda, b, ldb, ic, mc, jc, nc, pc, kc,
                                      beta_slice, c, ldc, pack_a, pack_b);
                    continue;
                }
                gemm_pack_a(trans_a, a, lda, ic, mc, pc, kc, pack_a);
                /* The B panel of the outer loop stays in L1 while A panels stream from L2. */
                for (int64_t jr = 0; jr < nc; jr += BT_GEMM_NR) {
                    int64_t nr = bt_min64(BT_GEMM_NR, nc - jr);
                    float *pb = pack_b + jr * kc, *cc = c + ic * ldc + jc + jr;
                    int64_t ir = 0;
                    if (fused_b && ic == 0 && nr == BT_GEMM_NR) {
                        const float *src = b + pc * ldb + jc + jr;
                        /* Prefetch runs on into the next panel, or back to this one's start. */
                        const float *next = jr + 2 * BT_GEMM_NR <= nc ? src + BT_GEMM_NR : src;
                        int64_t mr = bt_min64(BT_GEMM_MR, mc);
                        gemm_tile_for(mr, 1, nr)(kc, pack_a, 0, 0, src, ldb, pb, next, beta_slice,
                                                 cc, ldc, mr, nr);
                        ir = BT_GEMM_MR;
                    } else if (fused_b && ic == 0) { /* ragged last panel: pack it, zero-padded */
                        gemm_pack_b(0, b, ldb, jc + jr, nr, pc, kc, pb);
                    }
                    for (; ir < mc; ir += BT_GEMM_MR) {
                        int64_t mr = bt_min64(BT_GEMM_MR, mc - ir);
                        gemm_tile_for(mr, 0, nr)(kc, pack_a + ir * kc, 0, 0, pb, BT_GEMM_NR, NULL,
                                                 NULL, beta_slice, cc + ir * ldc, ldc, mr, nr);
                    }
                }
            }
        }
    }
}

/* ---- Batched operands (bt_sgemm_map; see bt_gemm_map in common/gemm.h) ---- */

/* The run of indices [j, j + returned length) (at most limit) inside one row of one sample,
 * and the offset of its first element: runs are strided, so they pack and store as blocks. */
static inline int64_t gemm_map_run(const bt_gemm_map *mp, int64_t j, int64_t limit, int64_t *at) {
    int64_t x = j + mp->off, r = x % mp->pq, w = r % mp->q;
    *at = x / mp->pq * mp->ns + r / mp->q * mp->hs + w * mp->ws;
    /* Rows that follow on from each other make the whole sample one run. */
    return bt_min64(limit, mp->hs == mp->q * mp->ws ? mp->pq - r : mp->q - w);
}

/* Steps [p0, p0 + kc) mapped by mp of `count` lines line_stride apart, into W-line panels. */
GEMM_ALWAYS_INLINE void gemm_pack_mapped_steps(const float *src, int64_t line_stride,
                                               const bt_gemm_map *mp, int64_t count, int64_t p0,
                                               int64_t kc, const int W, float *dst) {
    for (int64_t p = 0; p < kc;) {
        int64_t at, len = gemm_map_run(mp, p0 + p, kc - p, &at);
        gemm_pack_steps(src + at, line_stride, mp->ws, count, len, kc, W, dst + p * W);
        p += len;
    }
}

/* Lines [j0, j0 + count) mapped by mp, kc steps step_stride apart, into W-line panels; runs
 * are cut at panel edges, and lines past count in the last panel are zeros. */
GEMM_ALWAYS_INLINE void gemm_pack_mapped_lines(const float *src, int64_t step_stride,
                                               const bt_gemm_map *mp, int64_t j0, int64_t count,
                                               int64_t kc, const int W, float *dst) {
    for (int64_t l = 0; l < count;) {
        int64_t at, len = gemm_map_run(mp, j0 + l, bt_min64(count - l, W - l % W), &at);
        float *d = dst + l / W * kc * W + l % W;
        const float *s = src + at;
        if (mp->ws == 1)
            for (int64_t p = 0; p < kc; p++)
                for (int64_t t = 0; t < len; t++) d[p * W + t] = s[p * step_stride + t];
        else
            for (int64_t p = 0; p < kc; p++)
                for (int64_t t = 0; t < len; t++) d[p * W + t] = s[p * step_stride + t * mp->ws];
        l += len;
    }
    if (count % W) {
        float *d = dst + count / W * kc * W;
        for (int64_t p = 0; p < kc; p++)
            for (int64_t t = count % W; t < W; t++) d[p * W + t] = 0.0f;
    }
}

/* C rows [0, mr) x mapped columns [j0, j0 + nr) = beta * C + tile (row stride ldt); beta == 0
 * does not read C. */
static void gemm_store_mapped(const float *tile, int64_t ldt, int64_t mr, int64_t nr, float beta,
                              float *c, int64_t ldc, const bt_gemm_map *mp, int64_t j0) {
    const bt_vf beta_v = bt_vset1(beta);
    for (int64_t j = 0; j < nr;) {
        int64_t at, len = gemm_map_run(mp, j0 + j, nr - j, &at);
        for (int64_t i = 0; i < mr; i++) {
            float *row = c + i * ldc + at;
            const float *t = tile + i * ldt + j;
#ifdef BT_SIMD_AVX512
            if (mp->ws == 2) {
                /* Stride 2 (strided dx): 8 values spread over every other lane of a vector,
                 * a masked vector update instead of a float at a time. */
                const __m512i spread =
                    _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
                for (int64_t u = 0; u < len; u += 8) {
                    int cnt = (int)bt_min64(8, len - u);
                    __mmask16 mk = (__mmask16)(0x5555u & ((1u << (2 * cnt)) - 1u));
                    __m256 v8 = _mm256_maskz_loadu_ps((__mmask8)((1u << cnt) - 1u), t + u);
                    __m512 r = _mm512_permutexvar_ps(spread, _mm512_castps256_ps512(v8));
                    float *d = row + 2 * u;
                    if (beta != 0.0f) r = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(mk, d), r);
                    _mm512_mask_storeu_ps(d, mk, r);
                }
                continue;
            }
#endif
            if (mp->ws != 1) {
                for (int64_t u = 0; u < len; u++)
                    row[u * mp->ws] = beta == 0.0f ? t[u] : beta * row[u * mp->ws] + t[u];
                continue;
            }
            int64_t u = 0;
            for (; u + BT_VLEN <= len; u += BT_VLEN) {
                bt_vf r = bt_vload(t + u);
                if (beta != 0.0f) r = bt_vfmadd(beta_v, bt_vload(row + u), r);
                bt_vstore(row + u, r);
            }
            if (u < len) {
                bt_vmask_t mask = bt_vmask((int)(len - u));
                bt_vf r = bt_vload_mask(t + u, mask);
                if (beta != 0.0f) r = bt_vfmadd(beta_v, bt_vload_mask(row + u, mask), r);
                bt_vstore_mask(row + u, mask, r);
            }
        }
        j += len;
    }
}

void BT_SIMD_NAME(bt_gemm_store_map)(const float *src, int64_t lds, int64_t m, int64_t n,
                                     float beta, float *c, int64_t ldc, const bt_gemm_map *mp) {
    gemm_store_mapped(src, lds, m, n, beta, c, ldc, mp, 0);
}

void BT_SIMD_NAME(bt_sgemm_map)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                const float *a, int64_t lda, const float *b, int64_t ldb,
                                float beta, float *c, int64_t ldc, const bt_gemm_blocking *blk,
                                float *pack_a, float *pack_b, const bt_gemm_maps *maps) {
    if (!maps || !(maps->a_k || maps->b_k || maps->b_n || maps->c_n)) {
        BT_SIMD_NAME(bt_sgemm)
        (trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, blk, pack_a, pack_b);
        return;
    }
    if (m <= 0 || n <= 0) return;
    const bt_gemm_map *cm = maps->c_n;
    float tile[BT_GEMM_MR * BT_GEMM_NR] __attribute__((aligned(64)));
    if (k <= 0) { /* C = beta * C: the mapped store of a zero tile, tile by tile */
        if (!cm) {
            bt_gemm_scale_c(m, n, beta, c, ldc);
            return;
        }
        memset(tile, 0, sizeof tile);
        if (beta != 1.0f)
            for (int64_t i = 0; i < m; i += BT_GEMM_MR)
                for (int64_t j = 0; j < n; j += BT_GEMM_NR)
                    gemm_store_mapped(tile, BT_GEMM_NR, bt_min64(BT_GEMM_MR, m - i),
                                      bt_min64(BT_GEMM_NR, n - j), beta, c + i * ldc, ldc, cm, j);
        return;
    }
    int64_t a_line = trans_a ? 1 : lda, b_line = trans_b ? ldb : 1, b_step = trans_b ? 1 : ldb;
    for (int64_t jc = 0; jc < n; jc += blk->nc) {
        int64_t nc = bt_min64(blk->nc, n - jc);
        for (int64_t pc = 0; pc < k; pc += blk->kc) {
            int64_t kc = bt_min64(blk->kc, k - pc);
            float beta_slice = pc == 0 ? beta : 1.0f; /* later slices add to the first */
            if (maps->b_k)
                gemm_pack_mapped_steps(b + jc * b_line, b_line, maps->b_k, nc, pc, kc, BT_GEMM_NR,
                                       pack_b);
            else if (maps->b_n)
                gemm_pack_mapped_lines(b + pc * b_step, b_step, maps->b_n, jc, nc, kc, BT_GEMM_NR,
                                       pack_b);
            else
                gemm_pack_b(trans_b, b, ldb, jc, nc, pc, kc, pack_b);
            for (int64_t ic = 0; ic < m; ic += blk->mc) {
                int64_t mc = bt_min64(blk->mc, m - ic);
                if (maps->a_k)
                    gemm_pack_mapped_steps(a + ic * a_line, a_line, maps->a_k, mc, pc, kc,
                                           BT_GEMM_MR, pack_a);
                else
                    gemm_pack_a(trans_a, a, lda, ic, mc, pc, kc, pack_a);
                for (int64_t jr = 0; jr < nc; jr += BT_GEMM_NR) {
                    int64_t nr = bt_min64(BT_GEMM_NR, nc - jr);
                    const float *pb = pack_b + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += BT_GEMM_MR) {
                        int64_t mr = bt_min64(BT_GEMM_MR, mc - ir);
                        gemm_tile_fn *fn = gemm_tile_for(mr, 0, nr);
                        if (!cm) {
                            fn(kc, pack_a + ir * kc, 0, 0, pb, BT_GEMM_NR, NULL, NULL, beta_slice,
                               c + (ic + ir) * ldc + jc + jr, ldc, mr, nr);
                            continue;
                        }
                        fn(kc, pack_a + ir * kc, 0, 0, pb, BT_GEMM_NR, NULL, NULL, 0.0f, tile,
                           BT_GEMM_NR, mr, nr);
                        gemm_store_mapped(tile, BT_GEMM_NR, mr, nr, beta_slice, c + (ic + ir) * ldc,
                                          ldc, cm, jc + jr);
                    }
                }
            }
        }
    }
}

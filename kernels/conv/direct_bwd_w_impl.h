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
 * register tiles chosen greedily from the grid below.
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

/* ---- ISA details the shared vector layer does not offer -------------------------------- */

#if defined(BT_SIMD_AVX512)
static inline bt_vmask_t dwk_mask_and(bt_vmask_t a, bt_vmask_t b) {
    return (bt_vmask_t)(a & b);
}
/* A mask from a lane bit set (bit l = lane l). */
static inline bt_vmask_t dwk_mask_bits(uint32_t bits) {
    return (bt_vmask_t)bits;
}
/* out[j] = horizontal sum of vj: four reductions sharing their shuffles. */
static inline void dwk_hsum4(bt_vf v0, bt_vf v1, bt_vf v2, bt_vf v3, float out[4]) {
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
static inline void dwk_transpose(const float *src, int64_t ss, float *dst, int64_t ds, int n) {
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
static inline bt_vmask_t dwk_mask_and(bt_vmask_t a, bt_vmask_t b) {
    return _mm256_and_si256(a, b);
}
static inline bt_vmask_t dwk_mask_bits(uint32_t bits) {
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i set = _mm256_and_si256(_mm256_set1_epi32((int)bits), lane_bit);
    return _mm256_cmpeq_epi32(set, lane_bit);
}
static inline void dwk_hsum4(bt_vf v0, bt_vf v1, bt_vf v2, bt_vf v3, float out[4]) {
    /* [v0 0123, v1 0123, v2 0123, v3 0123 | the same of lanes 4567] */
    __m256 c = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1)));
}
/* dst[j * ds + i] = src[i * ss + j] for an 8 x 8 block, columns j < n. */
static inline void dwk_transpose(const float *src, int64_t ss, float *dst, int64_t ds, int n) {
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
static inline bt_vmask_t dwk_mask_and(bt_vmask_t a, bt_vmask_t b) {
    return a & b;
}
static inline void dwk_transpose(const float *src, int64_t ss, float *dst, int64_t ds, int n) {
    (void)ss, (void)ds, (void)n;
    *dst = *src;
}
static inline bt_vmask_t dwk_mask_bits(uint32_t bits) {
    return (bt_vmask_t)(bits & 1u);
}
static inline void dwk_hsum4(bt_vf v0, bt_vf v1, bt_vf v2, bt_vf v3, float out[4]) {
    out[0] = v0, out[1] = v1, out[2] = v2, out[3] = v3;
}
#endif

#define DWK_UNROLL _Pragma("GCC unroll 16")
#define DWK_INLINE static inline __attribute__((always_inline))

/* ---- Register tiles --------------------------------------------------------------------- */

/* The grid of register tiles (rows kt x column units cw) that exist as functions: every
 * kt of dwk_kt_sizes with cw <= 4 and at most 24 accumulators. Smaller tiles of the grid
 * cover the edges of the rows and columns (greedy), so it is closed under shrinking. */
#define DWK_KT_MAX 12
#define DWK_CW_MAX 4
#define DWK_KT_COUNT 7
/* clang-format off */
#define DWK_TILE_GRID(X)                                                                           \
    X(1, 1)  X(1, 2)  X(1, 3)  X(1, 4)                                                             \
    X(2, 1)  X(2, 2)  X(2, 3)  X(2, 4)                                                             \
    X(4, 1)  X(4, 2)  X(4, 3)  X(4, 4)                                                             \
    X(6, 1)  X(6, 2)  X(6, 3)  X(6, 4)                                                             \
    X(7, 1)  X(7, 2)  X(7, 3)                                                                      \
    X(8, 1)  X(8, 2)  X(8, 3)                                                                      \
    X(12, 1) X(12, 2)
/* clang-format on */
static const int dwk_kt_sizes[DWK_KT_COUNT] = {12, 8, 7, 6, 4, 2, 1};
/* Index of a grid kt in the function table. */
#define DWK_KT_INDEX(kt)                                                                           \
    ((kt) == 1   ? 0                                                                               \
     : (kt) == 2 ? 1                                                                               \
     : (kt) == 4 ? 2                                                                               \
     : (kt) == 6 ? 3                                                                               \
     : (kt) == 7 ? 4                                                                               \
     : (kt) == 8 ? 5                                                                               \
                 : 6)

static int dwk_in_grid(int kt, int cw) {
    for (int i = 0; i < DWK_KT_COUNT; i++)
        if (dwk_kt_sizes[i] == kt) return cw >= 1 && cw <= DWK_CW_MAX && kt * cw <= 24;
    return 0;
}

/* Filters in the next tile: the main size while it fits, then the largest grid size left. */
static int dwk_next_kt(int64_t remaining, int main_kt) {
    if (remaining >= main_kt) return main_kt;
    for (int i = 0; i < DWK_KT_COUNT; i++)
        if (dwk_kt_sizes[i] <= remaining) return dwk_kt_sizes[i];
    return 1;
}

/* One kernel call: a tile of dW_rs summed over a block of output positions, images x rows x
 * positions per row (NCHW flat: one run per image). The tile's row operand `a` (kt rows) and
 * column operand `b` (cw units) are dy and x, or x and dy for NHWC vec=k. */
typedef struct dwk_call {
    const float *a, *b;           /* at the block's first position, first row / column */
    int64_t images, rows, len;    /* block extent: images x rows x positions (or lanes) per row */
    int64_t a_img, a_row, a_step; /* a's steps per image, per row, and NHWC: per position, */
    int64_t b_img, b_row, b_step; /* NCHW: per tile row (a) / tile column (b); same for b */
    float *out;                   /* partial at (first row, tap, first column) */
    int64_t out_row;              /* its tile-row stride */
    int fresh;                    /* 1: overwrite out, 0: add to it */
    bt_vmask_t tail;              /* NHWC: lanes of the last column vector */
    const bt_vmask_t *phase_mask; /* NCHW flat: x lane masks by q phase of a vector's lane 0 */
    int64_t q, v_mod_q;           /* NCHW flat: Q and BT_VLEN mod Q */
} dwk_call;

typedef void (*dwk_tile_fn)(const dwk_call *);

/* NHWC: acc[i][v] += a[pos, i] * b[pos, v*VLEN ..] over the block: a broadcast, b loaded. */
DWK_INLINE void nhwc_tile(const int kt, const int cw, const int masked, const dwk_call *call) {
    bt_vf acc[DWK_KT_MAX][DWK_CW_MAX];
    const bt_vmask_t tail = call->tail;
#define NHWC_LAST(v) (masked && (v) == cw - 1)
    if (call->fresh) {
        DWK_UNROLL for (int i = 0; i < kt; i++) DWK_UNROLL for (int v = 0; v < cw; v++) acc[i][v] =
            bt_vzero();
    } else {
        DWK_UNROLL for (int i = 0; i < kt; i++) DWK_UNROLL for (int v = 0; v < cw; v++) {
            const float *o = call->out + i * call->out_row + v * BT_VLEN;
            acc[i][v] = NHWC_LAST(v) ? bt_vload_mask(o, tail) : bt_vload(o);
        }
    }
    for (int64_t img = 0; img < call->images; img++) {
        const float *a_row = call->a + img * call->a_img, *b_row = call->b + img * call->b_img;
        for (int64_t row = 0; row < call->rows; row++, a_row += call->a_row, b_row += call->b_row) {
            const float *pa = a_row, *pb = b_row;
            for (int64_t q = 0; q < call->len; q++, pa += call->a_step, pb += call->b_step) {
                bt_vf bv[DWK_CW_MAX];
                DWK_UNROLL for (int v = 0; v < cw; v++) bv[v] =
                    NHWC_LAST(v) ? bt_vload_mask(pb + v * BT_VLEN, tail)
                                 : bt_vload(pb + v * BT_VLEN);
                DWK_UNROLL for (int i = 0; i < kt; i++) {
                    const bt_vf av = bt_vbcast(pa + i);
                    DWK_UNROLL for (int v = 0; v < cw; v++) acc[i][v] =
                        bt_vfmadd(av, bv[v], acc[i][v]);
                }
            }
        }
    }
    DWK_UNROLL for (int i = 0; i < kt; i++) DWK_UNROLL for (int v = 0; v < cw; v++) {
        float *o = call->out + i * call->out_row + v * BT_VLEN;
        if (NHWC_LAST(v))
            bt_vstore_mask(o, tail, acc[i][v]);
        else
            bt_vstore(o, acc[i][v]);
    }
#undef NHWC_LAST
}

/* NCHW: one vector step of a tile; a (dy) and b (x) lanes masked when asked. */
DWK_INLINE void nchw_step(const int kt, const int ct, bt_vf acc[DWK_KT_MAX][DWK_CW_MAX],
                          const float *pa, int64_t a_step, const float *pb, int64_t b_step,
                          const int a_masked, bt_vmask_t a_mask, const int b_masked,
                          bt_vmask_t b_mask) {
    bt_vf bv[DWK_CW_MAX];
    DWK_UNROLL for (int c = 0; c < ct; c++) bv[c] =
        b_masked ? bt_vload_mask(pb + c * b_step, b_mask) : bt_vload(pb + c * b_step);
    DWK_UNROLL for (int i = 0; i < kt; i++) {
        const bt_vf av =
            a_masked ? bt_vload_mask(pa + i * a_step, a_mask) : bt_vload(pa + i * a_step);
        DWK_UNROLL for (int c = 0; c < ct; c++) acc[i][c] = bt_vfmadd(av, bv[c], acc[i][c]);
    }
}

/* NCHW: acc[i][c] += dy[n, k0+i, pos..] * x[n, c0+c, pos'..], vectors along positions,
 * summed horizontally into the partial at the end. */
DWK_INLINE void nchw_tile(const int kt, const int ct, const int flat, const dwk_call *call) {
    bt_vf acc[DWK_KT_MAX][DWK_CW_MAX];
    DWK_UNROLL for (int i = 0; i < kt; i++) DWK_UNROLL for (int c = 0; c < ct; c++) acc[i][c] =
        bt_vzero();
    const int64_t a_step = call->a_step, b_step = call->b_step;
    for (int64_t img = 0; img < call->images; img++) {
        const float *a_row = call->a + img * call->a_img, *b_row = call->b + img * call->b_img;
        for (int64_t row = 0; row < call->rows; row++, a_row += call->a_row, b_row += call->b_row) {
            const float *pa = a_row, *pb = b_row;
            int64_t q = 0, phase = 0;
            for (; q + BT_VLEN <= call->len; q += BT_VLEN, pa += BT_VLEN, pb += BT_VLEN) {
                if (flat) {
                    nchw_step(kt, ct, acc, pa, a_step, pb, b_step, 0, call->tail, 1,
                              call->phase_mask[phase]);
                    phase += call->v_mod_q;
                    if (phase >= call->q) phase -= call->q;
                } else {
                    nchw_step(kt, ct, acc, pa, a_step, pb, b_step, 0, call->tail, 0, call->tail);
                }
            }
            if (q < call->len) {
                const bt_vmask_t t = bt_vmask((int)(call->len - q));
                const bt_vmask_t bm = flat ? dwk_mask_and(call->phase_mask[phase], t) : t;
                nchw_step(kt, ct, acc, pa, a_step, pb, b_step, 1, t, 1, bm);
            }
        }
    }
    const bt_vf zero = bt_vzero();
    DWK_UNROLL for (int i = 0; i < kt; i++) {
        float sums[DWK_CW_MAX];
        dwk_hsum4(acc[i][0], ct > 1 ? acc[i][1] : zero, ct > 2 ? acc[i][2] : zero,
                  ct > 3 ? acc[i][3] : zero, sums);
        float *o = call->out + i * call->out_row;
        DWK_UNROLL for (int c = 0; c < ct; c++) o[c] = call->fresh ? sums[c] : o[c] + sums[c];
    }
}

/* Kinds of tile function, the last index of dwk_tiles. */
enum { DWK_NHWC, DWK_NHWC_MASKED, DWK_NCHW_ROWS, DWK_NCHW_FLAT, DWK_KINDS };

#define DWK_DEFINE(kt, cw)                                                                         \
    static void nhwc_##kt##x##cw(const dwk_call *call) {                                           \
        nhwc_tile(kt, cw, 0, call);                                                                \
    }                                                                                              \
    static void nhwc_##kt##x##cw##_masked(const dwk_call *call) {                                  \
        nhwc_tile(kt, cw, 1, call);                                                                \
    }                                                                                              \
    static void nchw_##kt##x##cw(const dwk_call *call) {                                           \
        nchw_tile(kt, cw, 0, call);                                                                \
    }                                                                                              \
    static void nchw_##kt##x##cw##_flat(const dwk_call *call) {                                    \
        nchw_tile(kt, cw, 1, call);                                                                \
    }
DWK_TILE_GRID(DWK_DEFINE)
#undef DWK_DEFINE

#define DWK_ENTRY(kt, cw)                                                                          \
    [DWK_KT_INDEX(kt)][(cw)-1] = {nhwc_##kt##x##cw, nhwc_##kt##x##cw##_masked, nchw_##kt##x##cw,   \
                                  nchw_##kt##x##cw##_flat},
static const dwk_tile_fn dwk_tiles[DWK_KT_COUNT][DWK_CW_MAX][DWK_KINDS] = {
    DWK_TILE_GRID(DWK_ENTRY)};
#undef DWK_ENTRY

/* ---- Parameters ----------------------------------------------------------------------- */

enum { P_PAR, P_TILE, P_KB, P_CB, P_PB, P_VEC /* NHWC only */ };
enum { PAR_MB, PAR_K, PAR_C, PAR_2D };
static const char *const dwk_par_names[] = {"mb", "k", "c", "2d", NULL};
/* NHWC: c, k (see the top of the file), ks: vectors of filters, tile rows (tap column,
 * channel) pairs; NCHW: q (vectors along output width) or ks. */
static const char *const dwk_nhwc_vec_names[] = {"c", "k", "ks", NULL};
static const char *const dwk_nchw_vec_names[] = {"q", "ks", NULL};
enum { VEC_C = 0, VEC_K = 1, VEC_KS_NHWC = 2, VEC_Q = 0, VEC_KS_NCHW = 1 };

/* Register tiles offered per ISA, "rows x column units" (filters x channel vectors, NHWC
 * vec=k: channels x filter vectors, NCHW: filters x channels), best first for ties. Each
 * needs kt*cw accumulators + cw loaded vectors + 1 broadcast/loaded vector in registers:
 * 32 zmm, 16 ymm (scalar: 16 xmm). */
#if BT_VLEN == 16
static const char *const dwk_nhwc_tiles[] = {"6x4", "12x2", "8x3", "4x4", "8x2", "6x2",
                                             "4x2", "12x1", "8x1", "7x3", "7x2", NULL};
static const char *const dwk_nchw_tiles[] = {"6x4", "8x3",  "4x4", "12x2", "4x3", "8x2",
                                             "4x2", "12x1", "8x1", "7x3",  "7x2", NULL};
#define DWK_TILE_TUNE "6x4|12x2|8x3|4x4|7x3|7x2"
#else
static const char *const dwk_nhwc_tiles[] = {"6x2", "4x3", "2x4", "4x2", "8x1", "4x1", NULL};
static const char *const dwk_nchw_tiles[] = {"4x3", "6x2", "2x4", "4x2", "8x1", "4x1", NULL};
#define DWK_TILE_TUNE "6x2|4x3|2x4|4x2"
#endif

#define DWK_BLOCK_MAX ((int64_t)1 << 24)
static const bt_param_spec dwk_nhwc_params[] = {
    {.key = "par", .choices = dwk_par_names},
    {.key = "tile", .choices = dwk_nhwc_tiles, .tune = DWK_TILE_TUNE},
    {.key = "kb", .min = 1, .max = DWK_BLOCK_MAX, .tune = "32|64|128|256"},
    {.key = "cb", .min = 1, .max = DWK_BLOCK_MAX, .tune = "32|64|128|256"},
    {.key = "pb", .min = 1, .max = DWK_BLOCK_MAX, .tune = "1|2|4|8|16"},
    {.key = "vec", .choices = dwk_nhwc_vec_names},
    {.key = NULL}};
static const bt_param_spec dwk_nchw_params[] = {
    {.key = "par", .choices = dwk_par_names},
    {.key = "tile", .choices = dwk_nchw_tiles, .tune = DWK_TILE_TUNE},
    {.key = "kb", .min = 1, .max = DWK_BLOCK_MAX, .tune = "32|64|128|256"},
    {.key = "cb", .min = 1, .max = DWK_BLOCK_MAX, .tune = "32|64|128|256"},
    {.key = "pb", .min = 1, .max = DWK_BLOCK_MAX, .tune = "4|8|16|32|64"},
    {.key = "vec", .choices = dwk_nchw_vec_names},
    {.key = NULL}};

/* How x is read (see the top of the file). */
enum { XMODE_NHWC, XMODE_ROWS, XMODE_FLAT, XMODE_SPLIT, XMODE_KS };

/* plan->priv: the parameters in effect and the scratch layout (offsets in floats). */
typedef struct dwk_info {
    int kt, cw, par, xmode;
    int vec_k;              /* NHWC vec=k: tile rows are channels, columns filter vectors */
    int64_t k_unit, c_unit; /* filters and channels per tile */
    int64_t kb, cb, pb;     /* block: filters, channels, output rows (whole images if >= P) */
    size_t part_floats;     /* one partial dW, padded */
    size_t db_off, db_floats, split_off, split_floats;
    int64_t split_width;     /* XMODE_SPLIT: a phase row, ceil(W / sw) */
    int64_t split_row;       /* XMODE_SPLIT: an x row's phases (the first min(sw, W)) */
    int64_t ks_width;        /* XMODE_KS: padded x row, (Q - 1) * sw + S positions */
    int64_t ks_rows;         /* XMODE_KS: output rows per kernel call */
    size_t ks_x_floats;      /* XMODE_KS: padded x block, then (NCHW) transposed dy */
    int64_t v_mod_q;         /* XMODE_FLAT: BT_VLEN mod Q */
    bt_vmask_t phase_mask[]; /* XMODE_FLAT: S x Q lane masks of x, by tap column and q phase */
} dwk_info;

/* ---- Geometry ------------------------------------------------------------------------- */

/* [lo, hi) of t in [0, count) with 0 <= t*stride + off < extent. */
static void dwk_valid(int64_t off, int64_t stride, int64_t extent, int64_t count, int64_t *lo,
                      int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = extent - 1 - off >= 0 ? (extent - 1 - off) / stride + 1 : 0;
    *lo = bt_min64(a, count);
    *hi = bt_max64(*lo, bt_min64(b, count));
}

static int64_t dwk_mod(int64_t a, int64_t m) {
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

/* A block of work: filters [k0, k1) and channels [c0, c1) of group g (group-local), output
 * rows [p0, p1) of images [n0, n1). */
typedef struct dwk_block {
    int64_t g, k0, k1, c0, c1, n0, n1, p0, p1;
    int fresh;
    float *part;
} dwk_block;

typedef struct dwk_ctx {
    const bt_shape *s;
    const dwk_info *in;
    const bt_tensors *t;
    float *split; /* this thread's phase-split x rows (XMODE_SPLIT), x and dy copies (KS) */
    float *db;    /* XMODE_KS: this row group's db partial, summed with the blocks (or NULL) */
} dwk_ctx;

/* Fills the operands and extents of the call for the tile at filter k, channel c (group-
 * local) and tap (r, ss) of the block. */
typedef void (*dwk_tap_fn)(const dwk_ctx *cx, const dwk_block *b, int64_t k, int64_t c, int64_t r,
                           int64_t ss, dwk_call *call);

/* Rows [pa, pb) of the block valid for tap row r; empty when the tap only sees padding. */
static void dwk_tap_rows(const bt_shape *s, const dwk_block *b, int64_t r, int64_t *pa,
                         int64_t *pb) {
    int64_t lo, hi;
    dwk_valid(r * s->dh - s->ph, s->sh, s->h, s->p, &lo, &hi);
    *pa = bt_max64(lo, b->p0);
    *pb = bt_max64(*pa, bt_min64(hi, b->p1));
}

/* A call with nothing to sum: the tile still stores (zeros when fresh). */
static void dwk_empty(const dwk_ctx *cx, dwk_call *call) {
    call->rows = 0;
    call->a = cx->t->dy;
    call->b = cx->t->x;
}

static void nhwc_at_tap(const dwk_ctx *cx, const dwk_block *b, int64_t k, int64_t c, int64_t r,
                        int64_t ss, dwk_call *call) {
    const bt_shape *s = cx->s;
    int64_t pa, pb, qa, qb;
    dwk_tap_rows(s, b, r, &pa, &pb);
    dwk_valid(ss * s->dw - s->pw, s->sw, s->w, s->q, &qa, &qb);
    call->images = b->n1 - b->n0;
    call->rows = pb - pa;
    call->len = qb - qa;
    if (call->rows == 0 || call->len == 0) {
        dwk_empty(cx, call);
        return;
    }
    const float *dy = cx->t->dy + bt_dy_off(s, b->n0, b->g * s->kg + k, pa, qa);
    const float *x = cx->t->x + bt_x_off(s, b->n0, b->g * s->cg + c, pa * s->sh - s->ph + r * s->dh,
                                         qa * s->sw - s->pw + ss * s->dw);
    const int64_t dy_img = s->p * s->q * s->k, dy_row = s->q * s->k, dy_pos = s->k;
    const int64_t x_img = s->h * s->w * s->c, x_row = s->sh * s->w * s->c, x_pos = s->sw * s->c;
    const int vec_k = cx->in->vec_k;
    call->a = vec_k ? x : dy;
    call->a_img = vec_k ? x_img : dy_img;
    call->a_row = vec_k ? x_row : dy_row;
    call->a_step = vec_k ? x_pos : dy_pos;
    call->b = vec_k ? dy : x;
    call->b_img = vec_k ? dy_img : x_img;
    call->b_row = vec_k ? dy_row : x_row;
    call->b_step = vec_k ? dy_pos : x_pos;
}

/* XMODE_SPLIT: x rows [i_lo, i_hi] that the block's taps read; returns how many per image
 * (<= 0: none). A superset when the first rows only see padding. */
static int64_t dwk_split_rows(const bt_shape *s, const dwk_block *b, int64_t *i_lo, int64_t *i_hi) {
    *i_lo = bt_max64(0, b->p0 * s->sh - s->ph);
    *i_hi = bt_min64(s->h - 1, (b->p1 - 1) * s->sh - s->ph + (s->r - 1) * s->dh);
    return *i_hi - *i_lo + 1;
}

/* XMODE_SPLIT: copies the block's x rows into this thread's buffer, laid out
 * [channel][image][row][phase phi][m] = x[n, c, i, m*sw + phi], so that the columns a tap
 * reads at stride sw are contiguous. Each phase row is split_width long. */
static void nchw_split_fill(const dwk_ctx *cx, const dwk_block *b) {
    const bt_shape *s = cx->s;
    int64_t i_lo, i_hi;
    if (dwk_split_rows(s, b, &i_lo, &i_hi) <= 0) return;
    const int64_t width = cx->in->split_width;
    float *dst = cx->split;
    for (int64_t c = b->c0; c < b->c1; c++)
        for (int64_t n = b->n0; n < b->n1; n++)
            for (int64_t i = i_lo; i <= i_hi; i++, dst += cx->in->split_row) {
                const float *src = cx->t->x + bt_x_off(s, n, b->g * s->cg + c, i, 0);
                for (int64_t phi = 0; phi < bt_min64(s->sw, s->w); phi++)
                    for (int64_t m = 0, j = phi; j < s->w; m++, j += s->sw)
                        dst[phi * width + m] = src[j];
            }
}

static void nchw_at_tap(const dwk_ctx *cx, const dwk_block *b, int64_t k, int64_t c, int64_t r,
                        int64_t ss, dwk_call *call) {
    const bt_shape *s = cx->s;
    const dwk_info *in = cx->in;
    const int64_t plane = s->h * s->w;
    int64_t pa, pb, qa, qb;
    dwk_tap_rows(s, b, r, &pa, &pb);
    call->images = b->n1 - b->n0;
    call->a_img = s->k * s->p * s->q;
    call->a_step = s->p * s->q;
    call->a_row = s->q;
    const int64_t i = pa * s->sh - s->ph + r * s->dh, o = ss * s->dw - s->pw;
    if (in->xmode == XMODE_FLAT) { /* one run per image, padding columns masked */
        call->rows = 1;
        call->len = (pb - pa) * s->q;
        if (call->len == 0) {
            dwk_empty(cx, call);
            return;
        }
        call->a = cx->t->dy + bt_dy_off(s, b->n0, b->g * s->kg + k, pa, 0);
        /* Lane 0 may be a masked padding column just before x[n, c]: address by offset. */
        call->b = cx->t->x + (((b->n0 * s->c + b->g * s->cg + c) * s->h + i) * s->w + o);
        call->b_img = s->c * plane;
        call->b_step = plane;
        call->phase_mask = in->phase_mask + ss * s->q;
        call->q = s->q;
        call->v_mod_q = in->v_mod_q;
        return;
    }
    dwk_valid(o, s->sw, s->w, s->q, &qa, &qb);
    call->rows = pb - pa;
    call->len = qb - qa;
    if (call->rows == 0 || call->len == 0) {
        dwk_empty(cx, call);
        return;
    }
    call->a = cx->t->dy + bt_dy_off(s, b->n0, b->g * s->kg + k, pa, qa);
    if (in->xmode == XMODE_ROWS) {
        call->b = cx->t->x + bt_x_off(s, b->n0, b->g * s->cg + c, i, qa * s->sw + o);
        call->b_img = s->c * plane;
        call->b_row = s->sh * s->w;
        call->b_step = plane;
        return;
    }
    /* XMODE_SPLIT: the block's copy, [channel][image][row i - i_lo][phase][m]. */
    int64_t i_lo, i_hi;
    const int64_t rows_img = dwk_split_rows(s, b, &i_lo, &i_hi);
    /* Phases from W on hold no column: their taps were empty above. */
    const int64_t width = in->split_width, row_len = in->split_row, phi = dwk_mod(o, s->sw);
    call->b = cx->split + ((c - b->c0) * call->images * rows_img + (i - i_lo)) * row_len +
              phi * width + (o - phi) / s->sw + qa;
    call->b_img = rows_img * row_len;
    call->b_row = s->sh * row_len;
    call->b_step = call->images * rows_img * row_len;
}

/* Every tile and tap of the block. Tile rows are filters and columns channels (NHWC vec=k:
 * the other way round); partials are [group][row][tap][column]. */
static void dwk_block_tiles(const dwk_ctx *cx, const dwk_block *b) {
    const bt_shape *s = cx->s;
    const dwk_info *in = cx->in;
    const dwk_tap_fn at_tap = in->xmode == XMODE_NHWC ? nhwc_at_tap : nchw_at_tap;
    const int vec_k = in->vec_k, col_vectors = in->xmode == XMODE_NHWC;
    const int64_t row0 = vec_k ? b->c0 : b->k0, row1 = vec_k ? b->c1 : b->k1;
    const int64_t col0 = vec_k ? b->k0 : b->c0, col1 = vec_k ? b->k1 : b->c1;
    const int64_t rs_n = s->r * s->s, cols = vec_k ? s->kg : s->cg;
    float *const group_part = b->part + b->g * s->kg * s->cg * rs_n;
    const int kind_nchw = in->xmode == XMODE_FLAT ? DWK_NCHW_FLAT : DWK_NCHW_ROWS;
    dwk_call call = {.out_row = rs_n * cols, .fresh = b->fresh, .tail = bt_vmask(BT_VLEN)};
    int kt, cw;
    for (int64_t row = row0; row < row1; row += kt) {
        kt = dwk_next_kt(row1 - row, in->kt);
        for (int64_t col = col0; col < col1; col += col_vectors ? cw * BT_VLEN : cw) {
            int kind = kind_nchw;
            if (col_vectors) {
                cw = (int)bt_min64(bt_div_up(col1 - col, BT_VLEN), in->cw);
                const int64_t last = col1 - col - (int64_t)(cw - 1) * BT_VLEN;
                kind = last < BT_VLEN ? DWK_NHWC_MASKED : DWK_NHWC;
                call.tail = bt_vmask((int)bt_min64(last, BT_VLEN));
            } else {
                cw = (int)bt_min64(col1 - col, in->cw);
            }
            const dwk_tile_fn fn = dwk_tiles[DWK_KT_INDEX(kt)][cw - 1][kind];
            const int64_t k = vec_k ? col : row, c = vec_k ? row : col;
            for (int64_t r = 0; r < s->r; r++)
                for (int64_t ss = 0; ss < s->s; ss++) {
                    at_tap(cx, b, k, c, r, ss, &call);
                    call.out = group_part + (row * rs_n + r * s->s + ss) * cols + col;
                    fn(&call);
                }
        }
    }
}

/* XMODE_KS (groups 1, dense columns; for few channels, the first layers): vectors over
 * filters, and tile rows are the S x C (tap column, channel) pairs of one tap row, which
 * sit side by side in a zero-padded NHWC copy of x, so one broadcast run covers a whole
 * tap row and every dy vector loaded feeds S x C accumulators instead of C. The copy
 * ([image][row][Wp][C], Wp = ks_width) makes every tap valid at every position; NCHW dy is
 * transposed into [image][row][q][filter] after it. Partials are [tap][channel][filter]. */
/* dst[j * ds + i] = src[i * ss + j] for i < rows, j < cols: vector blocks, then the edges. */
static void dwk_transpose_any(const float *src, int64_t ss, float *dst, int64_t ds, int64_t rows,
                              int64_t cols) {
    int64_t i = 0;
    for (; i + BT_VLEN <= rows; i += BT_VLEN) {
        int64_t j = 0;
        for (; j + BT_VLEN <= cols; j += BT_VLEN)
            dwk_transpose(src + i * ss + j, ss, dst + j * ds + i, ds, BT_VLEN);
        if (j < cols) dwk_transpose(src + i * ss + j, ss, dst + j * ds + i, ds, (int)(cols - j));
    }
    for (; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * ds + i] = src[i * ss + j];
}

static void ks_block(const dwk_ctx *cx, const dwk_block *b) {
    const bt_shape *s = cx->s;
    const dwk_info *in = cx->in;
    const int64_t C = s->c, wp = in->ks_width, nimg = b->n1 - b->n0, prow = b->p1 - b->p0;
    const int64_t xrows = (prow - 1) * s->sh + (s->r - 1) * s->dh + 1, i0 = b->p0 * s->sh - s->ph;
    const int nchw = s->layout == BT_NCHW;
    float *xp = cx->split;
    for (int64_t img = 0; img < nimg; img++)
        for (int64_t ii = 0; ii < xrows; ii++) {
            float *dst = xp + (img * xrows + ii) * wp * C;
            const int64_t i = i0 + ii, n = b->n0 + img;
            if (i < 0 || i >= s->h) {
                memset(dst, 0, (size_t)(wp * C) * sizeof(float));
                continue;
            }
            int64_t ja, jb; /* padded columns [ja, jb) hold x */
            dwk_valid(-s->pw, 1, s->w, wp, &ja, &jb);
            memset(dst, 0, (size_t)(ja * C) * sizeof(float));
            memset(dst + jb * C, 0, (size_t)((wp - jb) * C) * sizeof(float));
            if (!nchw) {
                memcpy(dst + ja * C, cx->t->x + bt_x_off(s, n, 0, i, ja - s->pw),
                       (size_t)((jb - ja) * C) * sizeof(float));
                continue;
            }
            const float *src = cx->t->x + bt_x_off(s, n, 0, i, ja - s->pw);
            const int64_t plane = s->h * s->w;
            float *d = dst + ja * C;
            if (C == 3) /* RGB first layers: a fixed interleave the compiler vectorises */
                for (int64_t j = 0; j < jb - ja; j++) {
                    d[3 * j] = src[j];
                    d[3 * j + 1] = src[plane + j];
                    d[3 * j + 2] = src[2 * plane + j];
                }
            else
                dwk_transpose_any(src, plane, d, C, C, jb - ja);
        }
    /* dy as [image][row][q][filter]: in place for NHWC, else transposed after the x copy. */
    const float *dy;
    int64_t dy_img, dy_row, dy_pos;
    if (nchw) {
        const int64_t kb = b->k1 - b->k0, npos = prow * s->q;
        float *dt = cx->split + in->ks_x_floats;
        const int64_t plane = s->p * s->q;
        for (int64_t img = 0; img < nimg; img++) {
            float *d = dt + img * npos * kb;
            dwk_transpose_any(cx->t->dy + bt_dy_off(s, b->n0 + img, b->k0, b->p0, 0), plane, d, kb,
                              kb, npos);
        }
        dy = dt, dy_img = npos * kb, dy_row = s->q * kb, dy_pos = kb;
    } else {
        dy = cx->t->dy + bt_dy_off(s, b->n0, b->k0, b->p0, 0);
        dy_img = s->p * s->q * s->k, dy_row = s->q * s->k, dy_pos = s->k;
    }
    const int64_t units = s->s * C, kg = s->kg;
    /* Calls cover chunks of ks_rows output rows of one image, so that the dy vectors of a
     * tile column stay in L1 across the S*C/kt tile rows and R tap rows that reread them. */
    const int64_t chunk = bt_min64(in->ks_rows, prow);
    dwk_call call = {.images = 1,
                     .len = s->q,
                     .a_img = xrows * wp * C,
                     .a_row = s->sh * wp * C,
                     .a_step = s->sw * C,
                     .b_img = dy_img,
                     .b_row = dy_row,
                     .b_step = dy_pos,
                     .out_row = kg,
                     .fresh = b->fresh};
    int kt, cw;
    for (int64_t k = b->k0; k < b->k1; k += cw * BT_VLEN) {
        cw = (int)bt_min64(bt_div_up(b->k1 - k, BT_VLEN), in->cw);
        const int64_t last = b->k1 - k - (int64_t)(cw - 1) * BT_VLEN;
        const int kind = last < BT_VLEN ? DWK_NHWC_MASKED : DWK_NHWC;
        call.tail = bt_vmask((int)bt_min64(last, BT_VLEN));
        for (int64_t img = 0; img < nimg; img++)
            for (int64_t p = 0; p < prow; p += chunk) {
                call.rows = bt_min64(chunk, prow - p);
                call.b = dy + img * dy_img + p * dy_row + (k - b->k0);
                call.fresh = b->fresh && img == 0 && p == 0;
                const float *xa = xp + img * call.a_img + p * call.a_row;
                for (int64_t r = 0; r < s->r; r++)
                    for (int64_t u = 0; u < units; u += kt) {
                        kt = dwk_next_kt(units - u, in->kt);
                        call.a = xa + r * s->dh * wp * C + u;
                        call.out = b->part + (r * units + u) * kg + k;
                        dwk_tiles[DWK_KT_INDEX(kt)][cw - 1][kind](&call);
                    }
            }
    }
    /* db from the block's dy while it is still in cache, rather than in a pass of its own. */
    if (!cx->db) return;
    for (int64_t k = b->k0; k < b->k1; k += BT_VLEN) {
        const bt_vmask_t m = bt_vmask((int)bt_min64(BT_VLEN, b->k1 - k));
        bt_vf acc0 = bt_vzero(), acc1 = bt_vzero();
        for (int64_t img = 0; img < nimg; img++)
            for (int64_t p = 0; p < prow; p++) {
                const float *d = dy + img * dy_img + p * dy_row + (k - b->k0);
                int64_t q = 0;
                for (; q + 2 <= s->q; q += 2, d += 2 * dy_pos) {
                    acc0 = bt_vadd(acc0, bt_vload_mask(d, m));
                    acc1 = bt_vadd(acc1, bt_vload_mask(d + dy_pos, m));
                }
                if (q < s->q) acc0 = bt_vadd(acc0, bt_vload_mask(d, m));
            }
        bt_vf sum = bt_vadd(acc0, acc1);
        if (!b->fresh) sum = bt_vadd(sum, bt_vload_mask(cx->db + k, m));
        bt_vstore_mask(cx->db + k, m, sum);
    }
}

/* ---- One thread's share ----------------------------------------------------------------- */

/* Filters [k0, k1) x channels [c0, c1) of group g over output rows [row0, row1) (row =
 * n*P + p), block by block, into `part`. Blocks of rows stay within one image, or hold
 * whole images when pb >= P (small images). */
static void dwk_thread_blocks(const dwk_ctx *cx, int64_t g, int64_t k0, int64_t k1, int64_t c0,
                              int64_t c1, int64_t row0, int64_t row1, float *part) {
    const bt_shape *s = cx->s;
    const dwk_info *in = cx->in;
    dwk_block b = {.g = g, .part = part};
    for (b.k0 = k0; b.k0 < k1; b.k0 = b.k1) {
        b.k1 = bt_min64(k1, b.k0 + in->kb);
        for (b.c0 = c0; b.c0 < c1; b.c0 = b.c1) {
            b.c1 = bt_min64(c1, b.c0 + in->cb);
            b.fresh = 1;
            for (int64_t row = row0; row < row1; row += (b.n1 - b.n0) * (b.p1 - b.p0)) {
                b.n0 = row / s->p;
                b.p0 = row % s->p;
                if (b.p0 == 0 && in->pb >= s->p && row1 - row >= s->p) {
                    b.n1 = b.n0 + bt_min64((row1 - row) / s->p, in->pb / s->p);
                    b.p1 = s->p;
                } else {
                    b.n1 = b.n0 + 1;
                    b.p1 = bt_min64(s->p, b.p0 + bt_min64(in->pb, row1 - row));
                }
                if (in->xmode == XMODE_KS) {
                    ks_block(cx, &b);
                } else {
                    if (in->xmode == XMODE_SPLIT) nchw_split_fill(cx, &b);
                    dwk_block_tiles(cx, &b);
                }
                b.fresh = 0;
            }
        }
    }
}

/* db partial: out[k] = sum of dy[n, k, p, q] over rows [row0, row1), k in [k0, k1). */
static void nhwc_db(const dwk_ctx *cx, int64_t row0, int64_t row1, int64_t k0, int64_t k1,
                    float *out) {
    const bt_shape *s = cx->s;
    const int64_t npos = (row1 - row0) * s->q, K = s->k;
    for (int64_t k = k0; k < k1; k += BT_VLEN) {
        const bt_vmask_t m = bt_vmask((int)bt_min64(BT_VLEN, k1 - k));
        const float *d = cx->t->dy + row0 * s->q * K + k;
        bt_vf acc[4] = {bt_vzero(), bt_vzero(), bt_vzero(), bt_vzero()};
        int64_t pos = 0;
        for (; pos + 4 <= npos; pos += 4, d += 4 * K)
            DWK_UNROLL for (int u = 0; u < 4; u++) acc[u] =
                bt_vadd(acc[u], bt_vload_mask(d + u * K, m));
        for (; pos < npos; pos++, d += K) acc[0] = bt_vadd(acc[0], bt_vload_mask(d, m));
        bt_vstore_mask(out + k, m, bt_vadd(bt_vadd(acc[0], acc[1]), bt_vadd(acc[2], acc[3])));
    }
}

/* Sum of len contiguous floats, in a fixed order. */
static float dwk_sum(const float *p, int64_t len) {
    bt_vf acc[4] = {bt_vzero(), bt_vzero(), bt_vzero(), bt_vzero()};
    int64_t i = 0;
    for (; i + 4 * BT_VLEN <= len; i += 4 * BT_VLEN)
        DWK_UNROLL for (int u = 0; u < 4; u++) acc[u] =
            bt_vadd(acc[u], bt_vload(p + i + u * BT_VLEN));
    for (; i + BT_VLEN <= len; i += BT_VLEN) acc[0] = bt_vadd(acc[0], bt_vload(p + i));
    if (i < len) acc[1] = bt_vadd(acc[1], bt_vload_mask(p + i, bt_vmask((int)(len - i))));
    return bt_vhsum(bt_vadd(bt_vadd(acc[0], acc[1]), bt_vadd(acc[2], acc[3])));
}

static void nchw_db(const dwk_ctx *cx, int64_t row0, int64_t row1, int64_t k0, int64_t k1,
                    float *out) {
    const bt_shape *s = cx->s;
    for (int64_t k = k0; k < k1; k++) {
        float sum = 0;
        for (int64_t row = row0, p1; row < row1; row += p1 - row % s->p) {
            const int64_t n = row / s->p, p0 = row % s->p;
            p1 = bt_min64(s->p, p0 + row1 - row);
            sum += dwk_sum(cx->t->dy + bt_dy_off(s, n, k, p0, 0), (p1 - p0) * s->q);
        }
        out[k] = sum;
    }
}

/* Threads as rows x filters x channels (tr * tk * tc == nthr). */
static void dwk_factor(const bt_shape *s, const dwk_info *in, int nthr, int *tr, int *tk, int *tc) {
    *tr = *tk = *tc = 1;
    if (in->par == PAR_MB) *tr = nthr;
    if (in->par == PAR_K) *tk = nthr;
    if (in->par == PAR_C) *tc = nthr;
    if (in->par != PAR_2D) return;
    /* The divisor split that gives the busiest thread the fewest rows x filter units. */
    const int64_t rows = s->n * s->p, units = s->g * bt_div_up(s->kg, in->k_unit);
    int64_t best = -1;
    for (int d = 1; d <= nthr; d++) {
        if (nthr % d) continue;
        const int64_t load = bt_div_up(rows, nthr / d) * bt_div_up(units, d);
        if (best < 0 || load < best) best = load, *tk = d, *tr = nthr / d;
    }
}

/* After the barrier: dw (and db) = sum of the `partials` row-group partials, transposed
 * from [group][row][tap][column] to K x C/G x RS; threads split the filters. */
static void dwk_reduce(const bt_plan *plan, const bt_tensors *t, int tid, int nthr,
                       int64_t partials) {
    const bt_shape *s = &plan->shape;
    const dwk_info *in = plan->priv;
    const float *scratch = plan->scratch;
    const int64_t rs_n = s->r * s->s, cg = s->cg, kg = s->kg;
    /* Strides of filter, channel and tap within a group's partial. */
    const int ks = in->xmode == XMODE_KS;
    const int64_t stride_k = in->vec_k || ks ? 1 : rs_n * cg;
    const int64_t stride_c = ks ? kg : in->vec_k ? rs_n * kg : 1;
    const int64_t stride_rs = ks ? cg * kg : in->vec_k ? kg : cg;
    int64_t k0, k1;
    bt_split(s->k, tid, nthr, &k0, &k1);
    for (int64_t k = k0; k < k1; k++) {
        const float *pk = scratch + k / kg * kg * cg * rs_n + k % kg * stride_k;
        for (int64_t c = 0; c < cg; c++)
            for (int64_t rs = 0; rs < rs_n; rs++) {
                const float *p = pk + c * stride_c + rs * stride_rs;
                float sum = p[0];
                for (int64_t j = 1; j < partials; j++) sum += p[j * (int64_t)in->part_floats];
                float *o = t->dw + (k * cg + c) * rs_n + rs;
                *o = s->accumulate ? *o + sum : sum;
            }
    }
    if (!t->db) return;
    for (int64_t k = k0; k < k1; k++) {
        const float *p = scratch + in->db_off + k;
        float sum = p[0];
        for (int64_t j = 1; j < partials; j++) sum += p[j * (int64_t)in->db_floats];
        t->db[k] = s->accumulate ? t->db[k] + sum : sum;
    }
}

static void dwk_run(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const dwk_info *in = plan->priv;
    float *scratch = plan->scratch;
    int tr, tk, tc;
    dwk_factor(s, in, nthr, &tr, &tk, &tc);
    const int ir = tid / (tk * tc), ik = tid / tc % tk, ic = tid % tc;
    const int64_t rows = s->n * s->p, units_per_group = bt_div_up(s->kg, in->k_unit);
    int64_t row0, row1, u0, u1, cu0, cu1;
    bt_split(rows, ir, tr, &row0, &row1);
    bt_split(s->g * units_per_group, ik, tk, &u0, &u1);
    bt_split(bt_div_up(s->cg, in->c_unit), ic, tc, &cu0, &cu1);
    const int64_t c0 = cu0 * in->c_unit, c1 = bt_min64(s->cg, cu1 * in->c_unit);
    float *db_part = scratch + in->db_off + (size_t)ir * in->db_floats;
    const int ks_db = t->db && in->xmode == XMODE_KS;
    const dwk_ctx cx = {s, in, t, scratch + in->split_off + (size_t)tid * in->split_floats,
                        ks_db ? db_part : NULL};
    float *part = scratch + (size_t)ir * in->part_floats;
    if (row1 > row0 && c1 > c0)
        for (int64_t u = u0; u < u1;) {
            const int64_t g = u / units_per_group, ua = u % units_per_group;
            const int64_t ub = bt_min64(units_per_group, ua + (u1 - u));
            dwk_thread_blocks(&cx, g, ua * in->k_unit, bt_min64(s->kg, ub * in->k_unit), c0, c1,
                              row0, row1, part);
            u += ub - ua;
        }
    if (t->db && !ks_db && row1 > row0) {
        /* This thread's filter units as a range of K, shared out among its channel peers. */
        const int64_t ka = u0 / units_per_group * s->kg + u0 % units_per_group * in->k_unit;
        const int64_t kz = u1 / units_per_group * s->kg + u1 % units_per_group * in->k_unit;
        int64_t a, z;
        bt_split(kz - ka, ic, tc, &a, &z);
        if (s->layout == BT_NHWC)
            nhwc_db(&cx, row0, row1, ka + a, ka + z, db_part);
        else
            nchw_db(&cx, row0, row1, ka + a, ka + z, db_part);
    }
#pragma omp barrier
    dwk_reduce(plan, t, tid, nthr, bt_min64(tr, rows));
}

/* ---- Planning ------------------------------------------------------------------------- */

/* Relative cost of covering `rows` x `units` (column units) with tiles of kt x cw (smaller
 * grid tiles at the edges): per position, the larger of FMA and load throughput (2 each per
 * cycle), plus a little per load. col_load: cost of a column vector load relative to a row
 * one (ks streams its dy block from L2, once per tile row: narrow tiles pay for it). */
static double dwk_tile_cost(int64_t rows, int64_t units, int kt, int cw, int col_load) {
    double cost = 0;
    for (int64_t k = 0, kk; k < rows; k += kk) {
        kk = dwk_next_kt(rows - k, kt);
        for (int64_t c = 0, cc; c < units; c += cc) {
            cc = bt_min64(units - c, cw);
            const double fma = (double)(kk * cc) / 2, loads = (double)(kk + col_load * cc) / 2;
            cost += (fma > loads ? fma : loads) + 0.05 * (double)(kk + cc);
        }
    }
    return cost;
}

static int dwk_parse_tile(const char *name, int *kt, int *cw) {
    return sscanf(name, "%dx%d", kt, cw) == 2 && dwk_in_grid(*kt, *cw);
}

static int64_t dwk_round_up(int64_t a, int64_t m) {
    return bt_div_up(a, m) * m;
}

/* XMODE_KS: floats of a thread's padded x rows (and NCHW transposed dy) for blocks of pb
 * output rows, in double (stride and dilation gaps make the int64 product overflow). */
static double dwk_ks_floats(const bt_shape *s, int64_t pb, int64_t kb) {
    const double imgs = (double)bt_max64(1, pb / s->p), prow = (double)bt_min64(pb, s->p);
    const double xrows = (prow - 1) * (double)s->sh + (double)((s->r - 1) * s->dh + 1);
    const double width = (double)(s->q - 1) * (double)s->sw + (double)s->s;
    return imgs * xrows * width * (double)s->c +
           (s->layout == BT_NCHW ? imgs * prow * (double)(s->q * kb) : 0);
}

static bt_status dwk_prepare(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    const bt_machine *mach = bt_machine_get();
    int64_t *prm = plan->param;
    const int *given = plan->param_given;
    const int nhwc = s->layout == BT_NHWC;
    const char *const *tiles = nhwc ? dwk_nhwc_tiles : dwk_nchw_tiles;
    const int64_t rs_n = s->r * s->s;

    /* vec=ks where it applies (groups 1, dense columns) and pays: few channels, whose
     * other modes leave the tile rows or columns mostly empty, and NCHW kernels of 3+
     * columns, where vectors along short output rows waste lanes and horizontal sums
     * (measured 1.3-1.5x on ResNet 3x3 layers; 1x1 layers keep vec=q). */
    const int ks_vec = nhwc ? VEC_KS_NHWC : VEC_KS_NCHW;
    const int ks_ok = s->g == 1 && s->dw == 1;
    /* Its padded x rows, one output row at a time, within the scratch bound (not when the
     * shape is mostly stride gaps or padding). */
    const double block_floats = (double)bt_scratch_block_floats(s);
    const int ks_fits = dwk_ks_floats(s, 1, s->kg) <= block_floats;
    const int ks = given[P_VEC] ? prm[P_VEC] == ks_vec
                                : ks_ok && ks_fits && (s->c <= 4 || (!nhwc && s->s >= 3));
    if (ks && !ks_ok)
        return bt_fail(BT_EUNSUPPORTED, "params: vec=ks needs groups 1 and no column dilation");
    if (ks && !ks_fits)
        return bt_fail(BT_EUNSUPPORTED,
                       "params: vec=ks would copy %.3g floats of padded x rows per thread, past "
                       "the scratch bound",
                       dwk_ks_floats(s, 1, s->kg));

    /* Register tile (and NHWC vectorisation): the cheapest for K/G x C/G (ks: S*C x K). */
    double best = -1;
    int64_t tile = prm[P_TILE], vec_k = ks || (nhwc && prm[P_VEC] == VEC_K);
    for (int vk = ks; vk <= (ks || nhwc); vk++) {
        if (!ks && nhwc && given[P_VEC] && vk != prm[P_VEC]) continue;
        for (int i = 0; tiles[i]; i++) {
            int kt, cw;
            if ((given[P_TILE] && i != prm[P_TILE]) || !dwk_parse_tile(tiles[i], &kt, &cw))
                continue;
            const int64_t rows = ks ? s->s * s->cg : vk ? s->cg : s->kg, cols = vk ? s->kg : s->cg;
            const double cost =
                dwk_tile_cost(rows, nhwc || ks ? bt_div_up(cols, BT_VLEN) : cols, kt, cw, 1 + ks);
            if (best < 0 || cost < best) best = cost, tile = i, vec_k = vk;
        }
    }
    int kt, cw;
    if (best < 0 || !dwk_parse_tile(tiles[tile], &kt, &cw))
        return bt_fail(BT_EINVAL, "params: tile=%s is not in the kernel grid", tiles[tile]);
    prm[P_TILE] = tile;
    prm[P_VEC] = ks ? ks_vec : nhwc ? vec_k : VEC_Q;
    const int64_t col_unit = nhwc || ks ? (int64_t)cw * BT_VLEN : cw;
    /* ks: tiles span every channel, so a channel block is all of them. */
    const int64_t k_unit = vec_k ? col_unit : kt, c_unit = ks ? s->cg : vec_k ? kt : col_unit;

    /* Blocks: the dW block (kb x cb x RS) within half of L2, filters and channels halved in
     * turn; rows so that one tile call's operands stay in L1, and NCHW calls are long
     * enough to amortise their horizontal sums. */
    const int64_t l1 = mach->l1d_bytes > 0 ? mach->l1d_bytes : 32 << 10;
    const int64_t l2 = bt_min64(mach->l2_bytes > 0 ? mach->l2_bytes : 512 << 10, 8 << 20);
    int64_t kb = given[P_KB] ? prm[P_KB] : s->kg, cb = given[P_CB] ? prm[P_CB] : s->cg;
    while (rs_n * kb * cb * (int64_t)sizeof(float) > l2 / 2) {
        if (!given[P_KB] && (kb >= cb || given[P_CB]) && kb > k_unit)
            kb = dwk_round_up(kb / 2, k_unit);
        else if (!given[P_CB] && cb > c_unit)
            cb = dwk_round_up(cb / 2, c_unit);
        else
            break;
    }
    /* Blocks are whole tiles, or all of the group's filters / channels. */
    kb = dwk_round_up(kb, k_unit), cb = dwk_round_up(cb, c_unit);
    prm[P_KB] = kb >= s->kg ? s->kg : kb;
    prm[P_CB] = cb >= s->cg ? s->cg : cb;
    if (!given[P_PB] && ks) {
        /* ks: a quarter of L2 of dy (it is read S*C/kt times per tap row, x much less), and
         * at most half of L2 of padded x rows (sh per output row) for wide layers. */
        const int64_t x_row = ((s->q - 1) * s->sw + s->s) * s->c * (int64_t)sizeof(float);
        const int64_t pb =
            bt_max64(1, bt_min64(bt_div_up(l2 / 4 / (prm[P_KB] * (int64_t)sizeof(float)), s->q),
                                 l2 / 2 / (s->sh * x_row)));
        prm[P_PB] = pb >= s->p ? pb / s->p * s->p : bt_div_up(s->p, bt_div_up(s->p, pb));
    } else if (!given[P_PB]) {
        const int64_t target = nhwc ? l1 / (64 + col_unit * (int64_t)sizeof(float))
                                    : bt_max64(l1 / (8 * (kt + cw)), 32 * BT_VLEN);
        const int64_t pb = bt_max64(1, bt_div_up(target, s->q));
        /* Whole images when they are small, else equal shares of an image's rows. */
        prm[P_PB] = pb >= s->p ? pb / s->p * s->p : bt_div_up(s->p, bt_div_up(s->p, pb));
    }
    /* No more rows than the batch has; ks: no more than its copy fits the bound. */
    prm[P_PB] = bt_min64(prm[P_PB], s->n * s->p);
    while (ks && prm[P_PB] > 1 && dwk_ks_floats(s, prm[P_PB], prm[P_KB]) > block_floats)
        prm[P_PB] = prm[P_PB] > s->p ? bt_max64(s->p, prm[P_PB] / 2 / s->p * s->p) : prm[P_PB] / 2;

    /* Threads: split the rows when there are enough of them, else the filters, else the
     * channels. */
    const int threads = plan->threads;
    const int64_t rows = s->n * s->p;
    const int64_t k_units = s->g * bt_div_up(s->kg, k_unit), c_units = bt_div_up(s->cg, c_unit);
    if (!given[P_PAR])
        prm[P_PAR] = threads == 1 || rows >= 4 * threads || (k_units < threads && c_units < threads)
                         ? PAR_MB
                     : k_units >= threads ? PAR_K
                                          : PAR_C;
    const int par = (int)prm[P_PAR];
    const int64_t partials = par == PAR_MB || par == PAR_2D ? threads : 1;

    const int xmode = ks                           ? XMODE_KS
                      : nhwc                       ? XMODE_NHWC
                      : s->sw > 1                  ? XMODE_SPLIT
                      : s->sh == 1 && s->w == s->q ? XMODE_FLAT
                                                   : XMODE_ROWS;
    const size_t masks = xmode == XMODE_FLAT ? (size_t)(s->s * s->q) : 0;
    const size_t info_bytes =
        (size_t)dwk_round_up((int64_t)(sizeof(dwk_info) + masks * sizeof(bt_vmask_t)), BT_ALIGN);
    dwk_info *in = aligned_alloc(BT_ALIGN, info_bytes);
    if (!in) return bt_fail(BT_ENOMEM, "%s: out of memory", plan->variant->name);
    memset(in, 0, sizeof *in);
    in->kt = kt;
    in->cw = cw;
    in->par = par;
    in->xmode = xmode;
    in->vec_k = (int)vec_k;
    in->k_unit = k_unit;
    in->c_unit = c_unit;
    in->kb = prm[P_KB];
    in->cb = prm[P_CB];
    in->pb = prm[P_PB];
    if (xmode == XMODE_FLAT) {
        in->v_mod_q = BT_VLEN % s->q;
        for (int64_t ss = 0; ss < s->s; ss++)
            for (int64_t phase = 0; phase < s->q; phase++) {
                uint32_t bits = 0;
                for (int lane = 0; lane < BT_VLEN; lane++) {
                    const int64_t j = (phase + lane) % s->q + ss * s->dw - s->pw;
                    if (j >= 0 && j < s->w) bits |= 1u << lane;
                }
                in->phase_mask[ss * s->q + phase] = dwk_mask_bits(bits);
            }
    }

    /* Scratch, in floats: partial dW per row group, partial db per row group, phase-split x
     * rows per thread. */
    in->part_floats = (size_t)dwk_round_up((int64_t)bt_shape_w_elems(s), 16);
    in->db_floats = (size_t)dwk_round_up(s->k, 16);
    in->db_off = (size_t)partials * in->part_floats;
    in->split_off = in->db_off + (size_t)partials * in->db_floats;
    if (xmode == XMODE_SPLIT) {
        in->split_width = bt_div_up(s->w, s->sw);
        in->split_row = bt_min64(s->sw, s->w) * in->split_width;
        const int64_t rows_max =
            in->pb >= s->p ? in->pb / s->p * s->h
                           : bt_min64(s->h, (in->pb - 1) * s->sh + (s->r - 1) * s->dh + 1);
        in->split_floats =
            (size_t)dwk_round_up(bt_min64(in->cb, s->cg) * rows_max * in->split_row, 16);
    }
    if (xmode == XMODE_KS) {
        const int64_t imgs = bt_max64(1, in->pb / s->p), prow = bt_min64(in->pb, s->p);
        const int64_t xrows = (prow - 1) * s->sh + (s->r - 1) * s->dh + 1;
        in->ks_width = (s->q - 1) * s->sw + s->s;
        /* dy of a tile column within half of L1. */
        in->ks_rows = bt_max64(1, l1 / 2 / (s->q * col_unit * (int64_t)sizeof(float)));
        in->ks_x_floats = (size_t)dwk_round_up(imgs * xrows * in->ks_width * s->c, 16);
        in->split_floats = in->ks_x_floats;
        if (!nhwc) in->split_floats += (size_t)dwk_round_up(imgs * prow * s->q * in->kb, 16);
    }
    plan->scratch_bytes = (in->split_off + (size_t)threads * in->split_floats) * sizeof(float);
    plan->priv = in;
    return BT_OK;
}

static int dwk_supports_nhwc(const bt_shape *s, char *why, size_t size) {
    if (s->layout == BT_NHWC) return 1;
    snprintf(why, size, "NHWC only (the NCHW twin is conv_bwd_w__direct_nchw)");
    return 0;
}

static int dwk_supports_nchw(const bt_shape *s, char *why, size_t size) {
    if (s->layout == BT_NCHW) return 1;
    snprintf(why, size, "NCHW only (the NHWC twin is conv_bwd_w__direct_nhwc)");
    return 0;
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, direct_nhwc, .layouts = BT_TAKES_NHWC, .params = dwk_nhwc_params,
                       .supports = dwk_supports_nhwc, .prepare = dwk_prepare, .run = dwk_run);

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, direct_nchw, .layouts = BT_TAKES_NCHW, .params = dwk_nchw_params,
                       .supports = dwk_supports_nchw, .prepare = dwk_prepare, .run = dwk_run);

/* Winograd F(m x m, 3 x 3) conv bwd_data and bwd_weights: a template instantiated once per ISA
 * (see common/simd.h) by winograd_{avx512,avx2,scalar}.c; the algorithm, the matrices and
 * the numerics are described in winograd_common.h, the user's view in docs/winograd.md.
 *
 * bwd_data, inside the call: (1) the weights of every group are transformed,
 * U[xi,nu][k][c] = (G g G^T)[xi,nu] of the turned kernel, threads splitting the filters,
 * then a barrier; (2) the batch's dx tiles (m x m, flattened over samples) are taken in
 * blocks of `tb` tiles: the block's dy tiles are transformed, V[xi,nu][k][t] = (B^T d B),
 * vectorised over k; for each block of `cbk` output channels, alpha^2 products
 * M[xi,nu][t][c] = sum_k V[xi,nu][k][t] U[xi,nu][k][c] on a register tile of WINOGRAD_TT
 * tiles x WINOGRAD_CB vectors of channels; then the inverse transform A^T M A, vectorised
 * over c, is stored (or added) into dx. Every dx element belongs to exactly one tile and
 * channel, so no work split needs a reduction. `par`: tiles (each thread its share of the
 * tiles, in blocks, all channels) or c (each block in turn: its dy transform and its
 * channel blocks split between threads).
 *
 * bwd_weights: the x tiles (B^T x B, over c) and dy tiles (A dy A^T, over k) of a block of
 * dy tiles are transformed and W[xi,nu][k][c] += sum_t D[xi,nu][t][k] X[xi,nu][t][c] is
 * accumulated (register tile of WINOGRAD_TT filters x WINOGRAD_CB vectors of channels, summed
 * over the block's tiles). `par`: tiles (each thread its share of the tiles, in blocks, into
 * a private W) or xi (every block in turn, its transforms split by runs and channel vectors,
 * a barrier, its products by transform points into one shared W). After a barrier the
 * copies are summed in thread order (bit-identical reruns) and dw = G^T W G, filters split
 * between threads; db is summed from dy alongside.
 *
 * A block's tiles come in runs along a tile row; a run's activation rows are staged once as
 * vectors of channels (NCHW: register transposes of BT_VLEN channel rows), so the rows that
 * neighbouring tiles share are read once, and dx leaves through the same staging. The last
 * tiles (bwd_data) or filters (bwd_weights) of a block run on a shorter register tile.
 *
 * Buffers are padded to whole vectors and start on 64-byte lines; pads are zero (scratch is
 * zeroed at plan time and pads are never written) or hold rows the stores skip.
 */
#include "common/simd.h"
#include "conv/winograd_common.h"
#include "fc/gemm_sums_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Register tile: WINOGRAD_TT tiles (bwd_data) or filters (bwd_weights) x WINOGRAD_CB vectors of
 * channels; accumulators + WINOGRAD_CB vectors + one broadcast fit the vector registers. */
#if BT_VLEN == 16
#define WINOGRAD_TT 14
#define WINOGRAD_CB 2
#define WINOGRAD_TB_TUNE "28|56|112"
#elif BT_VLEN == 8
#define WINOGRAD_TT 6
#define WINOGRAD_CB 2
#define WINOGRAD_TB_TUNE "24|48|96"
#else
#define WINOGRAD_TT 4
#define WINOGRAD_CB 3
#define WINOGRAD_TB_TUNE "16|32|64"
#endif
#define WINOGRAD_CBV (WINOGRAD_CB * BT_VLEN)
#define WINOGRAD_UNROLL _Pragma("GCC unroll 8")
/* CASE(n) for every register tile height up to the largest WINOGRAD_TT: the micro-kernels
 * are unrolled for each height, so the last tiles or filters of a block run on a shorter
 * tile instead of padding. */
/* clang-format off */
#define WINOGRAD_TT_CASES(CASE) \
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) \
    CASE(8) CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14)
/* clang-format on */

enum { WINOGRAD_P_M, WINOGRAD_P_TB, WINOGRAD_P_CBK, WINOGRAD_P_PAR };
enum { WINOGRAD_P_WPAR = 2 }; /* bwd_weights: m, tb, par */
#define WINOGRAD_M_SPEC                                                                            \
    {                                                                                              \
        .key = "m", .choices = bt_wino_m_choices,                                                  \
        .doc = "output tile m x m of F(m x m, 3 x 3): larger m, fewer products, larger error"      \
    }
#define WINOGRAD_TB_SPEC                                                                           \
    {                                                                                              \
        .key = "tb", .min = 1, .max = 1 << 16, .tune = WINOGRAD_TB_TUNE,                           \
        .doc = "tiles per block: the transforms of a block are made, then its products"            \
    }
static const bt_param_spec BT_SIMD_NAME(winograd_d_params)[] = {
    WINOGRAD_M_SPEC,
    WINOGRAD_TB_SPEC,
    {.key = "cbk",
     .min = 1,
     .max = 1 << 16,
     .tune = "64|128|256",
     .doc = "output channels per block of the products (their U stays in cache)"},
    {.key = "par",
     .choices = bt_wino_par_choices,
     .doc = "threads split the tiles (tiles) or each block's channel blocks (c)"},
    {.key = NULL},
};
static const bt_param_spec BT_SIMD_NAME(winograd_w_params)[] = {
    WINOGRAD_M_SPEC,
    WINOGRAD_TB_SPEC,
    {.key = "par",
     .choices = bt_wino_w_par_choices,
     .doc = "threads split the tiles into private W copies (tiles), or each block's "
            "transforms and its products by transform points into one W (xi)"},
    {.key = NULL},
};

/* acc + c x, or c x for the first term: +-1 as an addition (on the adders, not the FMA
 * units the products need), as exact as the FMA. */
static inline __attribute__((always_inline)) bt_vf tf_term(bt_vf acc, int first, float c, bt_vf x) {
    if (first) return c == 1 ? x : c == -1 ? bt_vsub(bt_vzero(), x) : bt_vmul(bt_vset1(c), x);
    return c == 1 ? bt_vadd(acc, x) : c == -1 ? bt_vsub(acc, x) : bt_vfmadd(bt_vset1(c), x, acc);
}

/* out(i, j) = sum_{a,b} L(i, a) in(a, b) L(j, b) for i, j < R and a, b < C, where
 * L(i, a) = l[i * li + a * la] is a compile-time table (zero terms fold away) and in(a, b),
 * out(i, j) are vectors at in + a*ir + b*ic, out + i*orow + j*ocol (streamed past the caches
 * with `stream`). */
static inline __attribute__((always_inline)) void
tf2(const float *l, const int li, const int la, const int R, const int C, const float *in,
    int64_t ir, int64_t ic, float *out, int64_t orow, int64_t ocol, const int stream) {
    bt_vf t[WINO_ALPHA_MAX][WINO_ALPHA_MAX];
    WINOGRAD_UNROLL for (int i = 0; i < R; i++) WINOGRAD_UNROLL for (int b = 0; b < C; b++) {
        bt_vf acc = bt_vzero();
        int first = 1;
        WINOGRAD_UNROLL for (int a = 0; a < C; a++) {
            float c = l[i * li + a * la];
            if (c != 0) acc = tf_term(acc, first, c, bt_vload(in + a * ir + b * ic)), first = 0;
        }
        t[i][b] = acc;
    }
    WINOGRAD_UNROLL for (int i = 0; i < R; i++) WINOGRAD_UNROLL for (int j = 0; j < R; j++) {
        bt_vf acc = bt_vzero();
        int first = 1;
        WINOGRAD_UNROLL for (int b = 0; b < C; b++) {
            float c = l[j * li + b * la];
            if (c != 0) acc = tf_term(acc, first, c, t[i][b]), first = 0;
        }
        if (stream) /* out aligned to the vector */
            bt_vstream(out + i * orow + j * ocol, acc);
        else
            bt_vstore(out + i * orow + j * ocol, acc);
    }
}

/* The four transforms per m: a function per (transform, m), chosen once per call. */
typedef void (*winograd_tf)(const float *in, int64_t ir, int64_t ic, float *out, int64_t orow,
                            int64_t ocol);
#define WINOGRAD_DEFINE_TF(M)                                                                      \
    /* B^T d B: alpha x alpha -> alpha x alpha. */                                                 \
    static void BT_SIMD_NAME(tf_in_##M)(const float *in, int64_t ir, int64_t ic, float *out,       \
                                        int64_t orow, int64_t ocol) {                              \
        tf2(&wino_bt##M[0][0], WINO_ALPHA_MAX, 1, M + 2, M + 2, in, ir, ic, out, orow, ocol, 0);   \
    }                                                                                              \
    /* A^T Y A: alpha x alpha -> m x m. */                                                         \
    static void BT_SIMD_NAME(tf_out_##M)(const float *in, int64_t ir, int64_t ic, float *out,      \
                                         int64_t orow, int64_t ocol) {                             \
        tf2(&wino_at##M[0][0], WINO_ALPHA_MAX, 1, M, M + 2, in, ir, ic, out, orow, ocol, 0);       \
    }                                                                                              \
    /* G g G^T: 3 x 3 -> alpha x alpha. */                                                         \
    static void BT_SIMD_NAME(tf_w_##M)(const float *in, int64_t ir, int64_t ic, float *out,        \
                                       int64_t orow, int64_t ocol) {                               \
        tf2(&wino_g##M[0][0], 3, 1, M + 2, 3, in, ir, ic, out, orow, ocol, 0);                     \
    }                                                                                              \
    /* The same, streamed (U larger than the caches). */                                           \
    static void BT_SIMD_NAME(tf_w_stream_##M)(const float *in, int64_t ir, int64_t ic, float *out, \
                                              int64_t orow, int64_t ocol) {                        \
        tf2(&wino_g##M[0][0], 3, 1, M + 2, 3, in, ir, ic, out, orow, ocol, 1);                     \
    }                                                                                              \
    /* A dy A^T: m x m -> alpha x alpha. */                                                        \
    static void BT_SIMD_NAME(tf_dy_##M)(const float *in, int64_t ir, int64_t ic, float *out,       \
                                        int64_t orow, int64_t ocol) {                              \
        tf2(&wino_at##M[0][0], 1, WINO_ALPHA_MAX, M + 2, M, in, ir, ic, out, orow, ocol, 0);       \
    }                                                                                              \
    /* G^T W G: alpha x alpha -> 3 x 3. */                                                         \
    static void BT_SIMD_NAME(tf_dw_##M)(const float *in, int64_t ir, int64_t ic, float *out,       \
                                        int64_t orow, int64_t ocol) {                              \
        tf2(&wino_g##M[0][0], 1, 3, 3, M + 2, in, ir, ic, out, orow, ocol, 0);                     \
    }
WINOGRAD_DEFINE_TF(2)
WINOGRAD_DEFINE_TF(4)
WINOGRAD_DEFINE_TF(6)

typedef struct winograd_tfs {
    winograd_tf in, out, w, w_stream, dy, dw;
} winograd_tfs;
static winograd_tfs BT_SIMD_NAME(winograd_tfs_of)(int m) {
#define WINOGRAD_TFS(M)                                                                            \
    (winograd_tfs) {                                                                               \
        BT_SIMD_NAME(tf_in_##M), BT_SIMD_NAME(tf_out_##M), BT_SIMD_NAME(tf_w_##M),                 \
            BT_SIMD_NAME(tf_w_stream_##M), BT_SIMD_NAME(tf_dy_##M), BT_SIMD_NAME(tf_dw_##M)        \
    }
    return m == 2 ? WINOGRAD_TFS(2) : m == 4 ? WINOGRAD_TFS(4) : WINOGRAD_TFS(6);
#undef WINOGRAD_TFS
}

/* A run of a block's tiles along one tile row of one image: the block's tiles [tl, tl + len),
 * sample n, tile row ti, tile columns from tj. Transforms stage the run's rows once
 * (winograd_stage), so the rows shared by neighbouring tiles are read once. */
typedef struct winograd_run {
    int64_t tl, len, n, ti, tj;
} winograd_run;
/* The run starting at tile tl of the block of nt tiles from tile0. */
static winograd_run BT_SIMD_NAME(winograd_run_at)(const wino_geom *g, int64_t tile0, int64_t nt,
                                                  int64_t tl) {
    int64_t tile = tile0 + tl, per_img = g->th * g->tw;
    winograd_run run = {.tl = tl, .n = tile / per_img, .ti = tile % per_img / g->tw};
    run.tj = tile % g->tw;
    run.len = bt_min64(g->tw - run.tj, nt - tl);
    return run;
}
static int64_t BT_SIMD_NAME(winograd_runs)(const wino_geom *g, int64_t tile0, int64_t nt) {
    int64_t runs = 0;
    for (int64_t tl = 0; tl < nt; runs++) tl += BT_SIMD_NAME(winograd_run_at)(g, tile0, nt, tl).len;
    return runs;
}
/* The floats of a thread's staging area: alpha rows of a whole tile row (and 2 columns). */
static int64_t BT_SIMD_NAME(winograd_stage_floats)(const wino_geom *g) {
    return bt_div_up(g->alpha * (g->tw * g->m + 2) * BT_VLEN, 16) * 16;
}

/* rows x cols points of an activation tensor (channels nch, image hh x ww, the problem's
 * layout) from (r0, c0), channels [ch0, ch0 + lanes) of sample n, into st as vectors (point
 * (i, j) at st + (i*cols + j)*BT_VLEN); points outside the image and lanes past `lanes` are
 * zero. NCHW: register transposes of BT_VLEN channel rows. */
static void BT_SIMD_NAME(winograd_stage)(const bt_shape *s, const float *a, int64_t nch, int64_t hh,
                                         int64_t ww, int64_t n, int64_t ch0, int lanes, int64_t r0,
                                         int64_t rows, int64_t c0, int64_t cols, float *st) {
    int64_t cs = bt_max64(c0, 0), ce = bt_min64(c0 + cols, ww); /* the columns inside */
    bt_vmask_t mask = bt_vmask(lanes);
    for (int64_t i = 0; i < rows; i++) {
        int64_t r = r0 + i;
        float *dst = st + i * cols * BT_VLEN;
        int inside = r >= 0 && r < hh && cs < ce;
        /* zero outside the image, and where the transposes leave the lanes past `lanes` */
        int transposed = inside && s->layout == BT_NCHW && lanes < BT_VLEN;
        for (int64_t c = c0; c < c0 + cols; c++)
            if (!inside || transposed || c < cs || c >= ce)
                bt_vstore(dst + (c - c0) * BT_VLEN, bt_vzero());
        if (!inside) continue;
        if (s->layout == BT_NCHW) {
            const float *row = a + ((n * nch + ch0) * hh + r) * ww;
            for (int64_t c = cs; c < ce; c += BT_VLEN)
                bt_vtranspose(row + c, hh * ww, dst + (c - c0) * BT_VLEN, BT_VLEN, lanes,
                              (int)bt_min64(BT_VLEN, ce - c), 0);
        } else {
            const float *row = a + (n * hh + r) * ww * nch + ch0;
            for (int64_t c = cs; c < ce; c++)
                bt_vstore(dst + (c - c0) * BT_VLEN, lanes == BT_VLEN
                                                        ? bt_vload(row + c * nch)
                                                        : bt_vload_mask(row + c * nch, mask));
        }
    }
}

/* Stores (or adds, accumulating) rows x cols vectors of st (laid out as winograd_stage's) at
 * (r0, c0) >= 0 into channels [ch0, ch0 + lanes) of sample n of dx, clipped to the image. */
static void BT_SIMD_NAME(winograd_unstage)(const bt_shape *s, float *a, int64_t n, int64_t ch0,
                                           int lanes, int64_t r0, int64_t rows, int64_t c0,
                                           int64_t cols, const float *st) {
    int64_t nr = bt_min64(rows, s->h - r0), nc = bt_min64(cols, s->w - c0);
    bt_vmask_t mask = bt_vmask(lanes);
    for (int64_t i = 0; i < nr; i++) {
        const float *src = st + i * cols * BT_VLEN;
        if (s->layout == BT_NCHW) {
            float *row = a + ((n * s->c + ch0) * s->h + r0 + i) * s->w + c0;
            for (int64_t j = 0; j < nc; j += BT_VLEN)
                bt_vtranspose(src + j * BT_VLEN, BT_VLEN, row + j, s->h * s->w,
                              (int)bt_min64(BT_VLEN, nc - j), lanes, s->accumulate);
            continue;
        }
        float *row = a + ((n * s->h + r0 + i) * s->w + c0) * s->c + ch0;
        for (int64_t j = 0; j < nc; j++) {
            bt_vf v = bt_vload(src + j * BT_VLEN);
            float *dst = row + j * s->c;
            if (lanes == BT_VLEN) {
                if (s->accumulate) v = bt_vadd(bt_vload(dst), v);
                bt_vstore(dst, v);
            } else {
                if (s->accumulate) v = bt_vadd(bt_vload_mask(dst, mask), v);
                bt_vstore_mask(dst, mask, v);
            }
        }
    }
}

/* ---- bwd_data ---- */

/* M[t][c] = sum_k V[k][t] U[k][c] for tt <= WINOGRAD_TT tiles x WINOGRAD_CBV channels: v at
 * the first tile, k-blocks of BT_VLEN rows vkb floats apart (tiles BT_VLEN floats apart
 * inside); u: kpad rows of WINOGRAD_CBV floats; m: rows ldm floats apart. */
static inline __attribute__((always_inline)) void
BT_SIMD_NAME(winograd_gemm_d_tt)(const float *v, int64_t vkb, const float *u, int64_t kpad,
                                 float *mo, int64_t ldm, const int tt) {
    bt_vf acc[WINOGRAD_TT][WINOGRAD_CB];
#pragma GCC unroll 16
    for (int t = 0; t < tt; t++)
        for (int b = 0; b < WINOGRAD_CB; b++) acc[t][b] = bt_vzero();
    for (int64_t k0 = 0; k0 < kpad; k0 += BT_VLEN, v += vkb) {
        for (int kk = 0; kk < BT_VLEN; kk++, u += WINOGRAD_CBV) {
            bt_vf wv[WINOGRAD_CB];
            for (int b = 0; b < WINOGRAD_CB; b++) wv[b] = bt_vload(u + b * BT_VLEN);
#pragma GCC unroll 16
            for (int t = 0; t < tt; t++) {
                bt_vf y = bt_vbcast(v + t * BT_VLEN + kk);
                for (int b = 0; b < WINOGRAD_CB; b++) acc[t][b] = bt_vfmadd(y, wv[b], acc[t][b]);
            }
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < tt; t++)
        for (int b = 0; b < WINOGRAD_CB; b++) bt_vstore(mo + t * ldm + b * BT_VLEN, acc[t][b]);
}
/* The same for a whole register tile, or the last tiles of a block. */
static void BT_SIMD_NAME(winograd_gemm_d)(const float *v, int64_t vkb, const float *u, int64_t kpad,
                                          float *mo, int64_t ldm, int tt) {
    switch (tt) {
#define WINOGRAD_GEMM_D_CASE(n)                                                                    \
    case n:                                                                                        \
        if (n <= WINOGRAD_TT) BT_SIMD_NAME(winograd_gemm_d_tt)(v, vkb, u, kpad, mo, ldm, n);       \
        break;
        WINOGRAD_TT_CASES(WINOGRAD_GEMM_D_CASE)
#undef WINOGRAD_GEMM_D_CASE
    }
}

/* Transformed weights of filter k of group grp: U[grp][xi,nu][c / WINOGRAD_CBV][k][c %
 * WINOGRAD_CBV]. */
static void BT_SIMD_NAME(winograd_weights_d)(const bt_shape *s, const wino_geom *g,
                                             const winograd_tfs *tf, const float *w, float *u,
                                             int64_t grp, int64_t k, float *buf) {
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    float *ug = u + grp * a2 * g->cpad * g->kpad;
    for (int64_t c0 = 0; c0 < s->cg; c0 += BT_VLEN) {
        /* buf[tap][lane]: the 9 taps of BT_VLEN channels, transposed (lanes past cg zero) */
        const float *taps = w + bt_w_off(s, grp * s->kg + k, c0, 0, 0);
        int lanes = (int)bt_min64(BT_VLEN, s->cg - c0);
        if (lanes < BT_VLEN) memset(buf, 0, 9 * BT_VLEN * sizeof(float));
        for (int j = 0; j < 9; j += BT_VLEN)
            bt_vtranspose(taps + j, 9, buf + j * BT_VLEN, BT_VLEN, lanes,
                          (int)bt_min64(BT_VLEN, 9 - j), 0);
        float *dst = ug + (c0 / WINOGRAD_CBV * g->kpad + k) * WINOGRAD_CBV + c0 % WINOGRAD_CBV;
        /* the kernel turned by 180 degrees: tap (a, b) at buf[8 - 3a - b] */
        (g->stream_u ? tf->w_stream : tf->w)(buf + 8 * BT_VLEN, -3 * BT_VLEN, -BT_VLEN, dst,
                                             g->alpha * g->cpad * g->kpad, g->cpad * g->kpad);
    }
}

/* dy transforms of the block's tiles [tile0, tile0 + nt), group grp, into
 * V[xi,nu][k-vector][t][BT_VLEN]: items [i0, i1) of the (run, k-vector) pairs. */
static void BT_SIMD_NAME(winograd_transform_dy)(const bt_shape *s, const wino_geom *g,
                                                const winograd_tfs *tf, const float *dy, float *v,
                                                int64_t tile0, int64_t nt, int64_t grp, int64_t i0,
                                                int64_t i1, float *st) {
    int64_t nkv = g->kpad / BT_VLEN, item = 0, vstride = g->kpad * g->tb;
    for (int64_t tl = 0; tl < nt && item < i1;) {
        winograd_run run = BT_SIMD_NAME(winograd_run_at)(g, tile0, nt, tl);
        int64_t cols = run.len * g->m + 2;
        for (int64_t kv = 0; kv < nkv; kv++, item++) {
            if (item < i0 || item >= i1) continue;
            int64_t k0 = kv * BT_VLEN;
            BT_SIMD_NAME(winograd_stage)
            (s, dy, s->k, s->p, s->q, run.n, grp * s->kg + k0, (int)bt_min64(BT_VLEN, s->kg - k0),
             run.ti * g->m + s->ph - 2, g->alpha, run.tj * g->m + s->pw - 2, cols, st);
            for (int64_t u = 0; u < run.len; u++)
                tf->in(st + u * g->m * BT_VLEN, cols * BT_VLEN, BT_VLEN,
                       v + (kv * g->tb + tl + u) * BT_VLEN, g->alpha * vstride, vstride);
        }
        tl += run.len;
    }
}

/* Channel blocks [cb0, cb1) of the block: products, then the inverse transform into dx. */
static void BT_SIMD_NAME(winograd_channels_d)(const bt_shape *s, const wino_geom *g,
                                              const winograd_tfs *tf, const float *u,
                                              const float *v, float *mbuf, float *dx, int64_t tile0,
                                              int64_t nt, int64_t grp, int64_t cb0, int64_t cb1,
                                              float *st) {
    int64_t a2 = (int64_t)g->alpha * g->alpha, mstride = g->tb * g->cbk;
    const float *ug = u + grp * a2 * g->cpad * g->kpad;
    for (int64_t cb = cb0; cb < cb1; cb++) {
        int64_t c0 = cb * g->cbk, nc = bt_min64(g->cbk, g->cpad - c0);
        for (int64_t x = 0; x < a2; x++) {
            const float *vx = v + x * g->kpad * g->tb;
            const float *ux = ug + x * g->cpad * g->kpad;
            float *mx = mbuf + x * mstride;
            for (int64_t j = 0; j < nc; j += WINOGRAD_CBV)
                for (int64_t t0 = 0; t0 < nt; t0 += WINOGRAD_TT) BT_SIMD_NAME(winograd_gemm_d)
            (vx + t0 * BT_VLEN, g->tb * BT_VLEN, ux + (c0 + j) * g->kpad, g->kpad,
             mx + t0 * g->cbk + j, g->cbk, (int)bt_min64(WINOGRAD_TT, nt - t0));
        }
        for (int64_t tl = 0; tl < nt;) {
            winograd_run run = BT_SIMD_NAME(winograd_run_at)(g, tile0, nt, tl);
            int64_t cols = run.len * g->m;
            for (int64_t j = 0; j < nc && c0 + j < s->cg; j += BT_VLEN) {
                for (int64_t t = 0; t < run.len; t++)
                    tf->out(mbuf + (tl + t) * g->cbk + j, g->alpha * mstride, mstride,
                            st + t * g->m * BT_VLEN, cols * BT_VLEN, BT_VLEN);
                BT_SIMD_NAME(winograd_unstage)
                (s, dx, run.n, grp * s->cg + c0 + j, (int)bt_min64(BT_VLEN, s->cg - c0 - j),
                 run.ti * g->m, g->m, run.tj * g->m, cols, st);
            }
            tl += run.len;
        }
    }
}

static bt_status BT_SIMD_NAME(winograd_prepare_d)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    const bt_machine *mc = bt_machine_get();
    int64_t *prm = plan->param;
    const int *given = plan->param_given;
    wino_geom *g = bt_wino_geom_new(plan, s->h, s->w); /* tiles of dx */
    if (!g) return BT_ENOMEM;
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    g->kpad = bt_div_up(s->kg, BT_VLEN) * BT_VLEN;
    g->cpad = bt_div_up(s->cg, WINOGRAD_CBV) * WINOGRAD_CBV;
    int64_t tiles_up = bt_div_up(g->tiles, WINOGRAD_TT) * WINOGRAD_TT;
    g->u_floats = bt_div_up(s->g * a2 * g->cpad * g->kpad, 16) * 16;
    /* U beyond half of L3 would leave the caches before it is read: written past them. */
    g->stream_u = BT_VSTREAM && g->u_floats * (int64_t)sizeof(float) > mc->l3_bytes / 2;
    /* Each thread its share of the tiles while every share fills 4 register tiles; else
     * each block's channel blocks split between threads. */
    if (!given[WINOGRAD_P_PAR])
        prm[WINOGRAD_P_PAR] =
            g->tiles >= plan->threads * 4 * WINOGRAD_TT ? WINO_PAR_TILES : WINO_PAR_C;
    /* A block's dy transforms in half of L2, but at least 4 register tiles, so that each
     * slice of U read for the block feeds that many tiles; a U streamed from memory is read
     * once per thread (par=tiles) or once (par=c): one block. Its products of a channel
     * block in a quarter of L2. */
    int64_t share = bt_div_up(g->tiles, prm[WINOGRAD_P_PAR] == WINO_PAR_TILES ? plan->threads : 1);
    if (!given[WINOGRAD_P_TB])
        prm[WINOGRAD_P_TB] =
            g->stream_u ? share
                        : bt_max64(mc->l2_bytes / 2 / (a2 * g->kpad * (int64_t)sizeof(float)),
                                   4 * WINOGRAD_TT);
    g->tb =
        bt_min64(bt_div_up(bt_max64(prm[WINOGRAD_P_TB], 1), WINOGRAD_TT) * WINOGRAD_TT, tiles_up);
    prm[WINOGRAD_P_TB] = g->tb;
    g->nblocks = bt_div_up(g->tiles, g->tb);
    if (!given[WINOGRAD_P_CBK])
        prm[WINOGRAD_P_CBK] = mc->l2_bytes / 4 / (a2 * g->tb * (int64_t)sizeof(float));
    g->cbk =
        bt_min64(bt_div_up(bt_max64(prm[WINOGRAD_P_CBK], 1), WINOGRAD_CBV) * WINOGRAD_CBV, g->cpad);
    prm[WINOGRAD_P_CBK] = g->cbk;
    g->v_floats = bt_div_up(a2 * g->kpad * g->tb, 16) * 16;
    g->m_floats = bt_div_up(a2 * g->tb * g->cbk, 16) * 16;
    g->buf_floats = bt_max64(BT_SIMD_NAME(winograd_stage_floats)(g), 16 * BT_VLEN);
    int shared_v = prm[WINOGRAD_P_PAR] == WINO_PAR_C;
    g->per_thread = (shared_v ? 0 : g->v_floats) + g->m_floats + g->buf_floats;
    plan->priv = g;
    plan->scratch_bytes =
        (size_t)(g->u_floats + (shared_v ? g->v_floats : 0) + plan->threads * g->per_thread) *
        sizeof(float);
    return BT_OK;
}

static void BT_SIMD_NAME(winograd_run_d)(const bt_plan *plan, const bt_tensors *t, int tid,
                                         int nthr) {
    const bt_shape *s = &plan->shape;
    const wino_geom *g = plan->priv;
    winograd_tfs tf = BT_SIMD_NAME(winograd_tfs_of)(g->m);
    float *u = plan->scratch;
    int shared_v = plan->param[WINOGRAD_P_PAR] == WINO_PAR_C;
    float *area = u + g->u_floats + (shared_v ? g->v_floats : 0) + tid * g->per_thread;
    float *v = shared_v ? u + g->u_floats : area;
    float *mbuf = area + (shared_v ? 0 : g->v_floats), *buf = mbuf + g->m_floats;
    int64_t f0, f1;
    bt_split(s->g * s->kg, tid, nthr, &f0, &f1);
    for (int64_t f = f0; f < f1; f++)
        BT_SIMD_NAME(winograd_weights_d)(s, g, &tf, t->w, u, f / s->kg, f % s->kg, buf);
#if BT_VSTREAM
    if (g->stream_u) _mm_sfence();
#endif
#pragma omp barrier
    int64_t ncb = bt_div_up(g->cpad, g->cbk), nkv = g->kpad / BT_VLEN;
    if (!shared_v) { /* each thread its share of the tiles, in blocks */
        int64_t t0, t1;
        bt_split(g->tiles, tid, nthr, &t0, &t1);
        for (int64_t tile0 = t0; tile0 < t1; tile0 += g->tb) {
            int64_t nt = bt_min64(g->tb, t1 - tile0);
            for (int64_t grp = 0; grp < s->g; grp++) {
                BT_SIMD_NAME(winograd_transform_dy)
                (s, g, &tf, t->dy, v, tile0, nt, grp, 0, INT64_MAX, buf);
                BT_SIMD_NAME(winograd_channels_d)
                (s, g, &tf, u, v, mbuf, t->dx, tile0, nt, grp, 0, ncb, buf);
            }
        }
        return;
    }
    for (int64_t b = 0; b < g->nblocks; b++) {
        int64_t tile0 = b * g->tb, nt = bt_min64(g->tb, g->tiles - tile0);
        int64_t items = BT_SIMD_NAME(winograd_runs)(g, tile0, nt) * nkv;
        for (int64_t grp = 0; grp < s->g; grp++) {
            int64_t i0, i1, c0, c1;
            bt_split(items, tid, nthr, &i0, &i1);
            BT_SIMD_NAME(winograd_transform_dy)(s, g, &tf, t->dy, v, tile0, nt, grp, i0, i1, buf);
#pragma omp barrier
            bt_split(ncb, tid, nthr, &c0, &c1);
            BT_SIMD_NAME(winograd_channels_d)
            (s, g, &tf, u, v, mbuf, t->dx, tile0, nt, grp, c0, c1, buf);
#pragma omp barrier
        }
    }
}

/* ---- bwd_weights ---- */

/* W[k][c] += sum_t D[t][k] X[t][c] over nt tiles for tt <= WINOGRAD_TT filters x WINOGRAD_CBV
 * channels: d at the first filter (tiles ldd apart), x at the first channel (tiles ldx apart),
 * w rows ldw apart. */
static inline __attribute__((always_inline)) void
BT_SIMD_NAME(winograd_gemm_w_tt)(const float *d, int64_t ldd, const float *x, int64_t ldx,
                                 int64_t nt, float *w, int64_t ldw, int first, const int tt) {
    bt_vf acc[WINOGRAD_TT][WINOGRAD_CB];
#pragma GCC unroll 16
    for (int k = 0; k < tt; k++)
        for (int b = 0; b < WINOGRAD_CB; b++) acc[k][b] = bt_vzero();
    for (int64_t t = 0; t < nt; t++, d += ldd, x += ldx) {
        bt_vf xv[WINOGRAD_CB];
        for (int b = 0; b < WINOGRAD_CB; b++) xv[b] = bt_vload(x + b * BT_VLEN);
#pragma GCC unroll 16
        for (int k = 0; k < tt; k++) {
            bt_vf y = bt_vbcast(d + k);
            for (int b = 0; b < WINOGRAD_CB; b++) acc[k][b] = bt_vfmadd(y, xv[b], acc[k][b]);
        }
    }
#pragma GCC unroll 16
    for (int k = 0; k < tt; k++)
        for (int b = 0; b < WINOGRAD_CB; b++) {
            float *o = w + k * ldw + b * BT_VLEN;
            bt_vstore(o, first ? acc[k][b] : bt_vadd(bt_vload(o), acc[k][b]));
        }
}
/* The same for a whole register tile, or the last filters of a group. */
static void BT_SIMD_NAME(winograd_gemm_w)(const float *d, int64_t ldd, const float *x, int64_t ldx,
                                          int64_t nt, float *w, int64_t ldw, int first, int tt) {
    switch (tt) {
#define WINOGRAD_GEMM_W_CASE(n)                                                                    \
    case n:                                                                                        \
        if (n <= WINOGRAD_TT)                                                                      \
            BT_SIMD_NAME(winograd_gemm_w_tt)(d, ldd, x, ldx, nt, w, ldw, first, n);                \
        break;
        WINOGRAD_TT_CASES(WINOGRAD_GEMM_W_CASE)
#undef WINOGRAD_GEMM_W_CASE
    }
}

/* The x and dy transforms of the block's tiles [tile0, tile0 + nt), group grp, into
 * X[xi,nu][t][c] and D[xi,nu][t][k]: items [i0, i1) of the (run, channel vector of x, then
 * of dy) pairs. */
static void BT_SIMD_NAME(winograd_transform_w)(const bt_shape *s, const wino_geom *g,
                                               const winograd_tfs *tf, const bt_tensors *t,
                                               int64_t tile0, int64_t nt, int64_t grp, int64_t i0,
                                               int64_t i1, float *xt, float *dt, float *st) {
    int64_t ncv = bt_div_up(s->cg, BT_VLEN), nkv = bt_div_up(s->kg, BT_VLEN), item = 0;
    int64_t xstride = g->tb * g->cpad, dstride = g->tb * g->kpad;
    for (int64_t tl = 0; tl < nt && item < i1;) {
        winograd_run run = BT_SIMD_NAME(winograd_run_at)(g, tile0, nt, tl);
        int64_t cols = run.len * g->m;
        for (int64_t vec = 0; vec < ncv + nkv; vec++, item++) {
            if (item < i0 || item >= i1) continue;
            if (vec < ncv) {
                int64_t c0 = vec * BT_VLEN;
                BT_SIMD_NAME(winograd_stage)
                (s, t->x, s->c, s->h, s->w, run.n, grp * s->cg + c0,
                 (int)bt_min64(BT_VLEN, s->cg - c0), run.ti * g->m - s->ph, g->alpha,
                 run.tj * g->m - s->pw, cols + 2, st);
                for (int64_t u = 0; u < run.len; u++)
                    tf->in(st + u * g->m * BT_VLEN, (cols + 2) * BT_VLEN, BT_VLEN,
                           xt + (tl + u) * g->cpad + c0, g->alpha * xstride, xstride);
            } else {
                int64_t k0 = (vec - ncv) * BT_VLEN;
                BT_SIMD_NAME(winograd_stage)
                (s, t->dy, s->k, s->p, s->q, run.n, grp * s->kg + k0,
                 (int)bt_min64(BT_VLEN, s->kg - k0), run.ti * g->m, g->m, run.tj * g->m, cols, st);
                for (int64_t u = 0; u < run.len; u++)
                    tf->dy(st + u * g->m * BT_VLEN, cols * BT_VLEN, BT_VLEN,
                           dt + (tl + u) * g->kpad + k0, g->alpha * dstride, dstride);
            }
        }
        tl += run.len;
    }
}

/* W[xi,nu] (+)= D[xi,nu]^T X[xi,nu] over the block's nt tiles for the transform points
 * [x0, x1), group grp (wacc: the transform-domain dw of every group); the first block stores,
 * so W needs no zeroing. */
static void BT_SIMD_NAME(winograd_products_w)(const wino_geom *g, int64_t nt, int64_t grp,
                                              float *wacc, const float *xt, const float *dt,
                                              int64_t x0, int64_t x1, int first) {
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    float *wg = wacc + grp * a2 * g->kpad * g->cpad;
    for (int64_t x = x0; x < x1; x++) {
        const float *dx_ = dt + x * g->tb * g->kpad, *xx = xt + x * g->tb * g->cpad;
        float *wx = wg + x * g->kpad * g->cpad;
        for (int64_t k0 = 0; k0 < g->kpad; k0 += WINOGRAD_TT)
            for (int64_t c0 = 0; c0 < g->cpad; c0 += WINOGRAD_CBV) BT_SIMD_NAME(winograd_gemm_w)
        (dx_ + k0, g->kpad, xx + c0, g->cpad, nt, wx + k0 * g->cpad + c0, g->cpad, first,
         (int)bt_min64(WINOGRAD_TT, g->kpad - k0));
    }
}

static bt_status BT_SIMD_NAME(winograd_prepare_w)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    int64_t *prm = plan->param;
    wino_geom *g = bt_wino_geom_new(plan, s->p, s->q); /* tiles of dy */
    if (!g) return BT_ENOMEM;
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    /* Filters padded to whole vectors, which the dy transform writes. */
    g->kpad = bt_div_up(s->kg, BT_VLEN) * BT_VLEN;
    g->cpad = bt_div_up(s->cg, WINOGRAD_CBV) * WINOGRAD_CBV;
    g->acc_floats = bt_div_up(s->g * a2 * g->kpad * g->cpad, 16) * 16;
    /* A copy of W per thread while the copies fit in L3 (they are summed at the end), else
     * one shared by transform points. */
    const bt_machine *mc = bt_machine_get();
    if (!plan->param_given[WINOGRAD_P_WPAR])
        prm[WINOGRAD_P_WPAR] =
            plan->threads > 1 &&
                    plan->threads * g->acc_floats * (int64_t)sizeof(float) > mc->l3_bytes
                ? WINO_WPAR_XI
                : WINO_WPAR_TILES;
    int private_w = prm[WINOGRAD_P_WPAR] == WINO_WPAR_TILES;
    /* A block's x and dy transforms in half of L2, or more tiles, so that W (read and written
     * once per block) costs at most half the transforms' traffic per tile:
     * tb >= 2 kpad cpad / (kpad + cpad). */
    if (!plan->param_given[WINOGRAD_P_TB])
        prm[WINOGRAD_P_TB] =
            bt_max64(mc->l2_bytes / 2 / (a2 * (g->kpad + g->cpad) * (int64_t)sizeof(float)),
                     2 * g->kpad * g->cpad / (g->kpad + g->cpad));
    if (!plan->param_given[WINOGRAD_P_TB] && private_w) /* a block for every thread at least */
        prm[WINOGRAD_P_TB] = bt_min64(prm[WINOGRAD_P_TB], bt_div_up(g->tiles, plan->threads));
    g->tb = bt_min64(bt_max64(prm[WINOGRAD_P_TB], 1), g->tiles);
    prm[WINOGRAD_P_TB] = g->tb;
    g->nblocks = bt_div_up(g->tiles, g->tb);
    g->v_floats = bt_div_up(a2 * g->tb * (g->kpad + g->cpad), 16) * 16;
    /* the staging area, which the final G^T W G uses too (alpha^2 + 9 vectors) */
    g->buf_floats =
        bt_max64(BT_SIMD_NAME(winograd_stage_floats)(g), bt_div_up((a2 + 9) * BT_VLEN, 16) * 16);
    /* par=tiles: per thread W, the block's transforms and buffers; par=xi: W and the
     * transforms once, then per thread the buffers. */
    int64_t shared = private_w ? 0 : g->acc_floats + g->v_floats;
    g->per_thread = (private_w ? g->acc_floats + g->v_floats : 0) + g->buf_floats;
    plan->priv = g;
    plan->scratch_bytes = (size_t)(shared + plan->threads * g->per_thread) * sizeof(float);
    return BT_OK;
}

static void BT_SIMD_NAME(winograd_run_w)(const bt_plan *plan, const bt_tensors *t, int tid,
                                         int nthr) {
    const bt_shape *s = &plan->shape;
    const wino_geom *g = plan->priv;
    winograd_tfs tf = BT_SIMD_NAME(winograd_tfs_of)(g->m);
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    int private_w = plan->param[WINOGRAD_P_WPAR] == WINO_WPAR_TILES;
    float *scratch = plan->scratch;
    /* Copies of W: one per thread (copy_stride floats apart) or one shared. */
    int copies = private_w ? nthr : 1;
    int64_t copy_stride = g->per_thread;
    float *wacc = private_w ? scratch + tid * g->per_thread : scratch;
    float *xt = wacc + g->acc_floats, *dt = xt + g->tb * g->cpad * a2;
    /* A thread's buffers, per_thread floats apart in both modes. */
    float *buf = scratch + g->acc_floats + g->v_floats + tid * g->per_thread;
    if (private_w) {
        int64_t t0, t1; /* each thread its share of the tiles, in blocks */
        bt_split(g->tiles, tid, nthr, &t0, &t1);
        if (t0 == t1) memset(wacc, 0, (size_t)g->acc_floats * sizeof(float)); /* no block */
        for (int64_t tile0 = t0; tile0 < t1; tile0 += g->tb) {
            int64_t nt = bt_min64(g->tb, t1 - tile0);
            for (int64_t grp = 0; grp < s->g; grp++) {
                BT_SIMD_NAME(winograd_transform_w)
                (s, g, &tf, t, tile0, nt, grp, 0, INT64_MAX, xt, dt, buf);
                BT_SIMD_NAME(winograd_products_w)(g, nt, grp, wacc, xt, dt, 0, a2, tile0 == t0);
            }
        }
    } else { /* every block in turn: its tiles' transforms, then its transform points split */
        int64_t x0, x1;
        bt_split(a2, tid, nthr, &x0, &x1);
        for (int64_t b = 0; b < g->nblocks; b++) {
            int64_t tile0 = b * g->tb, nt = bt_min64(g->tb, g->tiles - tile0);
            int64_t items = BT_SIMD_NAME(winograd_runs)(g, tile0, nt) *
                            (bt_div_up(s->cg, BT_VLEN) + bt_div_up(s->kg, BT_VLEN));
            for (int64_t grp = 0; grp < s->g; grp++) {
                int64_t i0, i1;
                bt_split(items, tid, nthr, &i0, &i1);
                BT_SIMD_NAME(winograd_transform_w)
                (s, g, &tf, t, tile0, nt, grp, i0, i1, xt, dt, buf);
#pragma omp barrier
                BT_SIMD_NAME(winograd_products_w)(g, nt, grp, wacc, xt, dt, x0, x1, b == 0);
#pragma omp barrier
            }
        }
    }
#pragma omp barrier
    /* dw of filters [f0, f1): the copies of W summed in thread order, then G^T W G. */
    int64_t f0, f1;
    bt_split(s->g * s->kg, tid, nthr, &f0, &f1);
    float *sum = buf, *out = buf + a2 * BT_VLEN;
    for (int64_t f = f0; f < f1; f++) {
        int64_t grp = f / s->kg, k = f % s->kg;
        for (int64_t c0 = 0; c0 < s->cg; c0 += BT_VLEN) {
            int64_t off = ((grp * a2) * g->kpad + k) * g->cpad + c0;
            for (int64_t x = 0; x < a2; x++) {
                const float *p = scratch + off + x * g->kpad * g->cpad;
                bt_vf acc = bt_vload(p);
                for (int th = 1; th < copies; th++)
                    acc = bt_vadd(acc, bt_vload(p + th * copy_stride));
                bt_vstore(sum + x * BT_VLEN, acc);
            }
            tf.dw(sum, g->alpha * BT_VLEN, BT_VLEN, out, 3 * BT_VLEN, BT_VLEN);
            int lanes = (int)bt_min64(BT_VLEN, s->cg - c0);
            for (int i = 0; i < 9; i += BT_VLEN) /* out[tap][lane] to dw[f][c][tap] */
                bt_vtranspose(out + i * BT_VLEN, BT_VLEN, t->dw + bt_w_off(s, f, c0, 0, 0) + i, 9,
                              (int)bt_min64(BT_VLEN, 9 - i), lanes, s->accumulate);
        }
    }
    if (t->db) { /* each thread its filters' sums over the whole batch */
        int64_t k0, k1;
        bt_split(s->k, tid, nthr, &k0, &k1);
        gemm_sums_conv_bias(s, t->dy, k0, k1, t->db);
    }
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, winograd, .layouts = BT_TAKES_ANY,
                       .params = BT_SIMD_NAME(winograd_d_params), .supports = bt_wino_supports,
                       .prepare = BT_SIMD_NAME(winograd_prepare_d),
                       .run = BT_SIMD_NAME(winograd_run_d),
                       .error_factor = bt_winograd_error_factor, .numerics = BT_WINO_NUMERICS);
BT_DEFINE_SIMD_VARIANT(conv_bwd_w, winograd, .layouts = BT_TAKES_ANY,
                       .params = BT_SIMD_NAME(winograd_w_params), .supports = bt_wino_supports,
                       .prepare = BT_SIMD_NAME(winograd_prepare_w),
                       .run = BT_SIMD_NAME(winograd_run_w),
                       .error_factor = bt_winograd_error_factor, .numerics = BT_WINO_NUMERICS);

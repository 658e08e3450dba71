/* Winograd F(m x m, 3 x 3) conv bwd_data and bwd_weights: a template instantiated once per ISA
 * (see common/simd.h) by winograd_{avx512,avx2,scalar}.c; the algorithm, the matrices and
 * the numerics are described in winograd_common.h, the user's view in docs/winograd.md.
 *
 * bwd_data, inside the call: (1) the weights of every group are transformed,
 * U[xi,nu][k][c] = (G g G^T)[xi,nu] of the turned kernel, threads splitting the filters,
 * then a barrier; (2) the batch's dx tiles (m x m, flattened over samples) are taken in
 * blocks of `tb` tiles: the block's dy tiles are transformed, V[xi,nu][k][t] = (B^T d B),
 * vectorised over k; for each block of `cbk` output channels, alpha^2 products
 * M[xi,nu][t][c] = sum_k V[xi,nu][k][t] U[xi,nu][k][c] on a register tile of WINOGRAD_TT tiles
 * x WINOGRAD_CB vectors of channels; then the inverse transform A^T M A, vectorised over c, is
 * stored (or added) into dx. Every dx element belongs to exactly one tile and channel, so no
 * work split needs a reduction. `par`: tiles (each thread its blocks, all channels) or c
 * (each block in turn: its dy transform and its channel blocks split between threads).
 *
 * bwd_weights: the x tiles (B^T x B, over c) and dy tiles (A dy A^T, over k) of a block of
 * dy tiles are transformed and W[xi,nu][k][c] += sum_t D[xi,nu][t][k] X[xi,nu][t][c] is
 * accumulated (register tile of WINOGRAD_TT filters x WINOGRAD_CB vectors of channels, summed over
 * the block's tiles). `par`: tiles (each thread its share of the blocks into a private W)
 * or xi (every block in turn, its transforms split by tiles, a barrier, its products by
 * transform points into one shared W). After a barrier the copies are summed in thread
 * order (bit-identical reruns) and dw = G^T W G, filters split between threads; db is
 * summed from dy alongside.
 *
 * Buffers are padded to whole register tiles and vectors and start on 64-byte lines; pads
 * are zero (scratch is zeroed at plan time and pads are never written) or hold rows the
 * stores skip.
 */
#include "common/simd.h"
#include "conv/winograd_common.h"

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
     .doc = "threads split the tile blocks (tiles) or each block's channel blocks (c)"},
    {.key = NULL},
};
static const bt_param_spec BT_SIMD_NAME(winograd_w_params)[] = {
    WINOGRAD_M_SPEC,
    WINOGRAD_TB_SPEC,
    {.key = "par",
     .choices = bt_wino_w_par_choices,
     .doc = "threads split the tile blocks into private W copies (tiles), or each block's "
            "transforms by tiles and its products by transform points into one W (xi)"},
    {.key = NULL},
};

/* out(i, j) = sum_{a,b} L(i, a) in(a, b) L(j, b) for i, j < R and a, b < C, where
 * L(i, a) = l[i * li + a * la] is a compile-time table (zero terms fold away) and in(a, b),
 * out(i, j) are vectors at in + (a*C + b)*is, out + (i*R + j)*os. */
static inline __attribute__((always_inline)) void tf2(const float *l, const int li, const int la,
                                                      const int R, const int C, const float *in,
                                                      int64_t is, float *out, int64_t os) {
    bt_vf t[WINO_ALPHA_MAX][WINO_ALPHA_MAX];
    WINOGRAD_UNROLL for (int i = 0; i < R; i++) WINOGRAD_UNROLL for (int b = 0; b < C; b++) {
        bt_vf acc = bt_vzero();
        WINOGRAD_UNROLL for (int a = 0; a < C; a++) {
            float c = l[i * li + a * la];
            if (c != 0) acc = bt_vfmadd(bt_vset1(c), bt_vload(in + (a * C + b) * is), acc);
        }
        t[i][b] = acc;
    }
    WINOGRAD_UNROLL for (int i = 0; i < R; i++) WINOGRAD_UNROLL for (int j = 0; j < R; j++) {
        bt_vf acc = bt_vzero();
        WINOGRAD_UNROLL for (int b = 0; b < C; b++) {
            float c = l[j * li + b * la];
            if (c != 0) acc = bt_vfmadd(bt_vset1(c), t[i][b], acc);
        }
        bt_vstore(out + (i * R + j) * os, acc);
    }
}

/* The four transforms per m: a function per (transform, m), chosen once per call. */
typedef void (*winograd_tf)(const float *in, int64_t is, float *out, int64_t os);
#define WINOGRAD_DEFINE_TF(M)                                                                      \
    /* B^T d B: alpha x alpha -> alpha x alpha. */                                                 \
    static void BT_SIMD_NAME(tf_in_##M)(const float *in, int64_t is, float *out, int64_t os) {     \
        tf2(&wino_bt##M[0][0], WINO_ALPHA_MAX, 1, M + 2, M + 2, in, is, out, os);                  \
    }                                                                                              \
    /* A^T Y A: alpha x alpha -> m x m. */                                                         \
    static void BT_SIMD_NAME(tf_out_##M)(const float *in, int64_t is, float *out, int64_t os) {    \
        tf2(&wino_at##M[0][0], WINO_ALPHA_MAX, 1, M, M + 2, in, is, out, os);                      \
    }                                                                                              \
    /* G g G^T: 3 x 3 -> alpha x alpha. */                                                         \
    static void BT_SIMD_NAME(tf_w_##M)(const float *in, int64_t is, float *out, int64_t os) {      \
        tf2(&wino_g##M[0][0], 3, 1, M + 2, 3, in, is, out, os);                                    \
    }                                                                                              \
    /* A dy A^T: m x m -> alpha x alpha. */                                                        \
    static void BT_SIMD_NAME(tf_dy_##M)(const float *in, int64_t is, float *out, int64_t os) {     \
        tf2(&wino_at##M[0][0], 1, WINO_ALPHA_MAX, M + 2, M, in, is, out, os);                      \
    }                                                                                              \
    /* G^T W G: alpha x alpha -> 3 x 3. */                                                         \
    static void BT_SIMD_NAME(tf_dw_##M)(const float *in, int64_t is, float *out, int64_t os) {     \
        tf2(&wino_g##M[0][0], 1, 3, 3, M + 2, in, is, out, os);                                    \
    }
WINOGRAD_DEFINE_TF(2)
WINOGRAD_DEFINE_TF(4)
WINOGRAD_DEFINE_TF(6)

typedef struct winograd_tfs {
    winograd_tf in, out, w, dy, dw;
} winograd_tfs;
static winograd_tfs BT_SIMD_NAME(winograd_tfs_of)(int m) {
#define WINOGRAD_TFS(M)                                                                            \
    (winograd_tfs) {                                                                               \
        BT_SIMD_NAME(tf_in_##M), BT_SIMD_NAME(tf_out_##M), BT_SIMD_NAME(tf_w_##M),                 \
            BT_SIMD_NAME(tf_dy_##M), BT_SIMD_NAME(tf_dw_##M)                                       \
    }
    return m == 2 ? WINOGRAD_TFS(2) : m == 4 ? WINOGRAD_TFS(4) : WINOGRAD_TFS(6);
#undef WINOGRAD_TFS
}

/* rows x cols points of an activation tensor (channels nch, image hh x ww, the problem's
 * layout) from (r0, c0), channels [ch0, ch0 + lanes) of sample n, into buf as vectors
 * (point (a, b) at buf + (a*cols + b)*BT_VLEN); points outside the image and lanes past
 * `lanes` are zero. NCHW: channel by channel, each reading along its rows. */
static void BT_SIMD_NAME(winograd_load_tile)(const bt_shape *s, const float *a, int64_t nch,
                                             int64_t hh, int64_t ww, int64_t n, int64_t ch0,
                                             int64_t lanes, int64_t r0, int64_t c0, int rows,
                                             int cols, float *buf) {
    if (s->layout == BT_NCHW) {
        for (int l = 0; l < BT_VLEN; l++) {
            const float *plane = l < lanes ? a + (n * nch + ch0 + l) * hh * ww : a;
            for (int i = 0; i < rows; i++) {
                int64_t r = r0 + i;
                int inside = l < lanes && r >= 0 && r < hh;
                for (int j = 0; j < cols; j++) {
                    int64_t c = c0 + j;
                    buf[(i * cols + j) * BT_VLEN + l] =
                        inside && c >= 0 && c < ww ? plane[r * ww + c] : 0.0f;
                }
            }
        }
        return;
    }
    bt_vmask_t mask = bt_vmask((int)lanes);
    for (int i = 0; i < rows; i++) {
        int64_t r = r0 + i;
        for (int j = 0; j < cols; j++) {
            int64_t c = c0 + j;
            float *dst = buf + (i * cols + j) * BT_VLEN;
            if (r < 0 || r >= hh || c < 0 || c >= ww) {
                bt_vstore(dst, bt_vzero());
            } else {
                const float *src = a + ((n * hh + r) * ww + c) * nch + ch0;
                bt_vstore(dst, lanes == BT_VLEN ? bt_vload(src) : bt_vload_mask(src, mask));
            }
        }
    }
}

/* Stores (or adds, accumulating) the m x m tile of vectors in buf at (i0, j0) into channels
 * [ch0, ch0 + lanes) of sample n of an activation tensor, clipped to the image. NCHW:
 * channel by channel, along its rows. */
static void BT_SIMD_NAME(winograd_store_tile)(const bt_shape *s, float *a, int64_t n, int64_t ch0,
                                              int64_t lanes, int64_t i0, int64_t j0, int m,
                                              const float *buf) {
    int64_t rows = bt_min64(m, s->h - i0), cols = bt_min64(m, s->w - j0);
    if (s->layout == BT_NCHW) {
        for (int64_t l = 0; l < lanes; l++) {
            float *plane = a + (n * s->c + ch0 + l) * s->h * s->w;
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < cols; j++) {
                    float *o = plane + (i0 + i) * s->w + j0 + j;
                    float v = buf[(i * m + j) * BT_VLEN + l];
                    *o = s->accumulate ? *o + v : v;
                }
        }
        return;
    }
    bt_vmask_t mask = bt_vmask((int)lanes);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            bt_vf v = bt_vload(buf + (i * m + j) * BT_VLEN);
            float *dst = a + ((n * s->h + i0 + i) * s->w + j0 + j) * s->c + ch0;
            if (lanes == BT_VLEN) {
                if (s->accumulate) v = bt_vadd(bt_vload(dst), v);
                bt_vstore(dst, v);
            } else {
                if (s->accumulate) v = bt_vadd(bt_vload_mask(dst, mask), v);
                bt_vstore_mask(dst, mask, v);
            }
        }
}

/* ---- bwd_data ---- */

/* M[t][c] = sum_k V[k][t] U[k][c] for WINOGRAD_TT tiles x WINOGRAD_CBV channels: v at the first
 * tile, k-blocks of BT_VLEN rows vkb floats apart (tiles BT_VLEN floats apart inside);
 * u: kpad rows of WINOGRAD_CBV floats; m: rows ldm floats apart. */
static void BT_SIMD_NAME(winograd_gemm_d)(const float *v, int64_t vkb, const float *u, int64_t kpad,
                                          float *mo, int64_t ldm) {
    bt_vf acc[WINOGRAD_TT][WINOGRAD_CB];
    for (int t = 0; t < WINOGRAD_TT; t++)
        for (int b = 0; b < WINOGRAD_CB; b++) acc[t][b] = bt_vzero();
    for (int64_t k0 = 0; k0 < kpad; k0 += BT_VLEN, v += vkb) {
        for (int kk = 0; kk < BT_VLEN; kk++, u += WINOGRAD_CBV) {
            bt_vf wv[WINOGRAD_CB];
            for (int b = 0; b < WINOGRAD_CB; b++) wv[b] = bt_vload(u + b * BT_VLEN);
#pragma GCC unroll 16
            for (int t = 0; t < WINOGRAD_TT; t++) {
                bt_vf y = bt_vbcast(v + t * BT_VLEN + kk);
                for (int b = 0; b < WINOGRAD_CB; b++) acc[t][b] = bt_vfmadd(y, wv[b], acc[t][b]);
            }
        }
    }
    for (int t = 0; t < WINOGRAD_TT; t++)
        for (int b = 0; b < WINOGRAD_CB; b++) bt_vstore(mo + t * ldm + b * BT_VLEN, acc[t][b]);
}

/* Transformed weights of filter k of group grp: U[grp][xi,nu][c / WINOGRAD_CBV][k][c %
 * WINOGRAD_CBV]. */
static void BT_SIMD_NAME(winograd_weights_d)(const bt_shape *s, const wino_geom *g,
                                             const winograd_tfs *tf, const float *w, float *u,
                                             int64_t grp, int64_t k, float *buf) {
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    float *ug = u + grp * a2 * g->cpad * g->kpad;
    for (int64_t c0 = 0; c0 < s->cg; c0 += BT_VLEN) {
        int64_t lanes = bt_min64(BT_VLEN, s->cg - c0);
        for (int r = 0; r < 3; r++) /* the kernel turned by 180 degrees */
            for (int ss = 0; ss < 3; ss++)
                for (int l = 0; l < BT_VLEN; l++)
                    buf[(r * 3 + ss) * BT_VLEN + l] =
                        l < lanes ? w[bt_w_off(s, grp * s->kg + k, c0 + l, 2 - r, 2 - ss)] : 0.0f;
        float *dst = ug + (c0 / WINOGRAD_CBV * g->kpad + k) * WINOGRAD_CBV + c0 % WINOGRAD_CBV;
        tf->w(buf, BT_VLEN, dst, g->cpad * g->kpad);
    }
}

/* dy transforms of the block's tiles [tile0, tile0 + nt), group grp, items [i0, i1) of the
 * flattened (tile, k-vector) pairs, into V[xi,nu][k-vector][t][BT_VLEN]. */
static void BT_SIMD_NAME(winograd_transform_dy)(const bt_shape *s, const wino_geom *g,
                                                const winograd_tfs *tf, const float *dy, float *v,
                                                int64_t tile0, int64_t grp, int64_t i0, int64_t i1,
                                                float *buf) {
    int64_t nkv = g->kpad / BT_VLEN, per_img = g->th * g->tw;
    for (int64_t it = i0; it < i1; it++) {
        int64_t tl = it / nkv, kv = it % nkv, tile = tile0 + tl;
        int64_t n = tile / per_img, ti = tile % per_img / g->tw, tj = tile % g->tw;
        int64_t k0 = kv * BT_VLEN;
        BT_SIMD_NAME(winograd_load_tile)
        (s, dy, s->k, s->p, s->q, n, grp * s->kg + k0, bt_min64(BT_VLEN, s->kg - k0),
         ti * g->m + s->ph - 2, tj * g->m + s->pw - 2, g->alpha, g->alpha, buf);
        tf->in(buf, BT_VLEN, v + (kv * g->tb + tl) * BT_VLEN, g->kpad * g->tb);
    }
}

/* Channel blocks [cb0, cb1) of the block: products, then the inverse transform into dx. */
static void BT_SIMD_NAME(winograd_channels_d)(const bt_shape *s, const wino_geom *g,
                                              const winograd_tfs *tf, const float *u,
                                              const float *v, float *mbuf, float *dx, int64_t tile0,
                                              int64_t nt, int64_t grp, int64_t cb0, int64_t cb1,
                                              float *buf) {
    int64_t a2 = (int64_t)g->alpha * g->alpha, per_img = g->th * g->tw;
    int64_t ntp = bt_div_up(nt, WINOGRAD_TT) * WINOGRAD_TT;
    const float *ug = u + grp * a2 * g->cpad * g->kpad;
    for (int64_t cb = cb0; cb < cb1; cb++) {
        int64_t c0 = cb * g->cbk, nc = bt_min64(g->cbk, g->cpad - c0);
        for (int64_t x = 0; x < a2; x++) {
            const float *vx = v + x * g->kpad * g->tb;
            const float *ux = ug + x * g->cpad * g->kpad;
            float *mx = mbuf + x * g->tb * g->cbk;
            for (int64_t j = 0; j < nc; j += WINOGRAD_CBV)
                for (int64_t t0 = 0; t0 < ntp; t0 += WINOGRAD_TT) BT_SIMD_NAME(winograd_gemm_d)
            (vx + t0 * BT_VLEN, g->tb * BT_VLEN, ux + (c0 + j) * g->kpad, g->kpad,
             mx + t0 * g->cbk + j, g->cbk);
        }
        for (int64_t tl = 0; tl < nt; tl++) {
            int64_t tile = tile0 + tl;
            int64_t n = tile / per_img, ti = tile % per_img / g->tw, tj = tile % g->tw;
            for (int64_t j = 0; j < nc && c0 + j < s->cg; j += BT_VLEN) {
                tf->out(mbuf + tl * g->cbk + j, g->tb * g->cbk, buf, BT_VLEN);
                BT_SIMD_NAME(winograd_store_tile)
                (s, dx, n, grp * s->cg + c0 + j, bt_min64(BT_VLEN, s->cg - c0 - j), ti * g->m,
                 tj * g->m, g->m, buf);
            }
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
    /* A block's dy transforms in half of L2, but at least 4 register tiles, so that each
     * slice of U read for the block feeds that many tiles; its products of a channel block
     * in a quarter of L2. */
    if (!given[WINOGRAD_P_TB])
        prm[WINOGRAD_P_TB] =
            bt_max64(mc->l2_bytes / 2 / (a2 * g->kpad * (int64_t)sizeof(float)), 4 * WINOGRAD_TT);
    g->tb =
        bt_min64(bt_div_up(bt_max64(prm[WINOGRAD_P_TB], 1), WINOGRAD_TT) * WINOGRAD_TT, tiles_up);
    prm[WINOGRAD_P_TB] = g->tb;
    g->nblocks = bt_div_up(g->tiles, g->tb);
    if (!given[WINOGRAD_P_CBK])
        prm[WINOGRAD_P_CBK] = mc->l2_bytes / 4 / (a2 * g->tb * (int64_t)sizeof(float));
    g->cbk =
        bt_min64(bt_div_up(bt_max64(prm[WINOGRAD_P_CBK], 1), WINOGRAD_CBV) * WINOGRAD_CBV, g->cpad);
    prm[WINOGRAD_P_CBK] = g->cbk;
    /* Blocks split evenly, or many: tiles; else each block's channels. */
    if (!given[WINOGRAD_P_PAR])
        prm[WINOGRAD_P_PAR] = g->nblocks % plan->threads == 0 || g->nblocks >= 8 * plan->threads
                                  ? WINO_PAR_TILES
                                  : WINO_PAR_C;
    g->u_floats = bt_div_up(s->g * a2 * g->cpad * g->kpad, 16) * 16;
    g->v_floats = bt_div_up(a2 * g->kpad * g->tb, 16) * 16;
    g->m_floats = bt_div_up(a2 * g->tb * g->cbk, 16) * 16;
    g->buf_floats = 2 * a2 * BT_VLEN;
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
#pragma omp barrier
    int64_t ncb = bt_div_up(g->cpad, g->cbk), nkv = g->kpad / BT_VLEN;
    if (!shared_v) {
        int64_t b0, b1;
        bt_split(g->nblocks, tid, nthr, &b0, &b1);
        for (int64_t b = b0; b < b1; b++) {
            int64_t tile0 = b * g->tb, nt = bt_min64(g->tb, g->tiles - tile0);
            for (int64_t grp = 0; grp < s->g; grp++) {
                BT_SIMD_NAME(winograd_transform_dy)
                (s, g, &tf, t->dy, v, tile0, grp, 0, nt * nkv, buf);
                BT_SIMD_NAME(winograd_channels_d)
                (s, g, &tf, u, v, mbuf, t->dx, tile0, nt, grp, 0, ncb, buf);
            }
        }
        return;
    }
    for (int64_t b = 0; b < g->nblocks; b++) {
        int64_t tile0 = b * g->tb, nt = bt_min64(g->tb, g->tiles - tile0);
        for (int64_t grp = 0; grp < s->g; grp++) {
            int64_t i0, i1, c0, c1;
            bt_split(nt * nkv, tid, nthr, &i0, &i1);
            BT_SIMD_NAME(winograd_transform_dy)(s, g, &tf, t->dy, v, tile0, grp, i0, i1, buf);
#pragma omp barrier
            bt_split(ncb, tid, nthr, &c0, &c1);
            BT_SIMD_NAME(winograd_channels_d)
            (s, g, &tf, u, v, mbuf, t->dx, tile0, nt, grp, c0, c1, buf);
#pragma omp barrier
        }
    }
}

/* ---- bwd_weights ---- */

/* W[k][c] += sum_t D[t][k] X[t][c] over nt tiles for WINOGRAD_TT filters x WINOGRAD_CBV channels:
 * d at the first filter (tiles ldd apart), x at the first channel (tiles ldx apart), w rows
 * ldw apart. */
static void BT_SIMD_NAME(winograd_gemm_w)(const float *d, int64_t ldd, const float *x, int64_t ldx,
                                          int64_t nt, float *w, int64_t ldw) {
    bt_vf acc[WINOGRAD_TT][WINOGRAD_CB];
    for (int k = 0; k < WINOGRAD_TT; k++)
        for (int b = 0; b < WINOGRAD_CB; b++) acc[k][b] = bt_vzero();
    for (int64_t t = 0; t < nt; t++, d += ldd, x += ldx) {
        bt_vf xv[WINOGRAD_CB];
        for (int b = 0; b < WINOGRAD_CB; b++) xv[b] = bt_vload(x + b * BT_VLEN);
#pragma GCC unroll 16
        for (int k = 0; k < WINOGRAD_TT; k++) {
            bt_vf y = bt_vbcast(d + k);
            for (int b = 0; b < WINOGRAD_CB; b++) acc[k][b] = bt_vfmadd(y, xv[b], acc[k][b]);
        }
    }
    for (int k = 0; k < WINOGRAD_TT; k++)
        for (int b = 0; b < WINOGRAD_CB; b++) {
            float *o = w + k * ldw + b * BT_VLEN;
            bt_vstore(o, bt_vadd(bt_vload(o), acc[k][b]));
        }
}

/* The x and dy transforms of tiles [tl0, tl1) of the block starting at tile0, group grp:
 * X[xi,nu][t][c] and D[xi,nu][t][k]. */
static void BT_SIMD_NAME(winograd_transform_w)(const bt_shape *s, const wino_geom *g,
                                               const winograd_tfs *tf, const bt_tensors *t,
                                               int64_t tile0, int64_t tl0, int64_t tl1, int64_t grp,
                                               float *xt, float *dt, float *buf) {
    int64_t per_img = g->th * g->tw;
    for (int64_t tl = tl0; tl < tl1; tl++) {
        int64_t tile = tile0 + tl;
        int64_t n = tile / per_img, tp = tile % per_img / g->tw, tq = tile % g->tw;
        for (int64_t c0 = 0; c0 < s->cg; c0 += BT_VLEN) {
            BT_SIMD_NAME(winograd_load_tile)
            (s, t->x, s->c, s->h, s->w, n, grp * s->cg + c0, bt_min64(BT_VLEN, s->cg - c0),
             tp * g->m - s->ph, tq * g->m - s->pw, g->alpha, g->alpha, buf);
            tf->in(buf, BT_VLEN, xt + tl * g->cpad + c0, g->tb * g->cpad);
        }
        for (int64_t k0 = 0; k0 < s->kg; k0 += BT_VLEN) {
            BT_SIMD_NAME(winograd_load_tile)
            (s, t->dy, s->k, s->p, s->q, n, grp * s->kg + k0, bt_min64(BT_VLEN, s->kg - k0),
             tp * g->m, tq * g->m, g->m, g->m, buf);
            tf->dy(buf, BT_VLEN, dt + tl * g->kpad + k0, g->tb * g->kpad);
        }
    }
}

/* W[xi,nu] += D[xi,nu]^T X[xi,nu] over the block's nt tiles for the transform points
 * [x0, x1), group grp (wacc: the transform-domain dw of every group). */
static void BT_SIMD_NAME(winograd_products_w)(const wino_geom *g, int64_t nt, int64_t grp,
                                              float *wacc, const float *xt, const float *dt,
                                              int64_t x0, int64_t x1) {
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    float *wg = wacc + grp * a2 * g->kpad * g->cpad;
    for (int64_t x = x0; x < x1; x++) {
        const float *dx_ = dt + x * g->tb * g->kpad, *xx = xt + x * g->tb * g->cpad;
        float *wx = wg + x * g->kpad * g->cpad;
        for (int64_t k0 = 0; k0 < g->kpad; k0 += WINOGRAD_TT)
            for (int64_t c0 = 0; c0 < g->cpad; c0 += WINOGRAD_CBV) BT_SIMD_NAME(winograd_gemm_w)
        (dx_ + k0, g->kpad, xx + c0, g->cpad, nt, wx + k0 * g->cpad + c0, g->cpad);
    }
}

static bt_status BT_SIMD_NAME(winograd_prepare_w)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    int64_t *prm = plan->param;
    wino_geom *g = bt_wino_geom_new(plan, s->p, s->q); /* tiles of dy */
    if (!g) return BT_ENOMEM;
    int64_t a2 = (int64_t)g->alpha * g->alpha;
    /* Filters padded to whole register tiles (and vectors, which the dy transform writes). */
    g->kpad = bt_div_up(bt_div_up(s->kg, BT_VLEN) * BT_VLEN, WINOGRAD_TT) * WINOGRAD_TT;
    g->cpad = bt_div_up(s->cg, WINOGRAD_CBV) * WINOGRAD_CBV;
    g->acc_floats = bt_div_up(s->g * a2 * g->kpad * g->cpad, 16) * 16;
    /* A copy of W per thread while it fits in L2, else one shared by transform points. */
    if (!plan->param_given[WINOGRAD_P_WPAR])
        prm[WINOGRAD_P_WPAR] =
            plan->threads > 1 && g->acc_floats * (int64_t)sizeof(float) > bt_machine_get()->l2_bytes
                ? WINO_WPAR_XI
                : WINO_WPAR_TILES;
    int private_w = prm[WINOGRAD_P_WPAR] == WINO_WPAR_TILES;
    /* A block's x and dy transforms in half of L2; with many channels more tiles, so that
     * W (read and written once per block) feeds at least kpad * cpad / 2048 products per
     * element. */
    if (!plan->param_given[WINOGRAD_P_TB])
        prm[WINOGRAD_P_TB] = bt_max64(bt_machine_get()->l2_bytes / 2 /
                                          (a2 * (g->kpad + g->cpad) * (int64_t)sizeof(float)),
                                      g->kpad * g->cpad / 2048);
    if (!plan->param_given[WINOGRAD_P_TB] && private_w) /* a block for every thread at least */
        prm[WINOGRAD_P_TB] = bt_min64(prm[WINOGRAD_P_TB], bt_div_up(g->tiles, plan->threads));
    g->tb = bt_min64(bt_max64(prm[WINOGRAD_P_TB], 1), g->tiles);
    prm[WINOGRAD_P_TB] = g->tb;
    g->nblocks = bt_div_up(g->tiles, g->tb);
    g->v_floats = bt_div_up(a2 * g->tb * (g->kpad + g->cpad), 16) * 16;
    g->buf_floats = 2 * a2 * BT_VLEN + bt_div_up(s->k, 16) * 16; /* + a part of db */
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
    /* A thread's buffers (per_thread floats apart in both modes): the tile buffers, then
     * its part of db (NHWC). */
    float *buf0 = scratch + g->acc_floats + g->v_floats, *buf = buf0 + tid * g->per_thread;
    int64_t db_part = 2 * a2 * BT_VLEN;
    if (private_w) {
        memset(wacc, 0, (size_t)g->acc_floats * sizeof(float));
        int64_t b0, b1;
        bt_split(g->nblocks, tid, nthr, &b0, &b1);
        for (int64_t b = b0; b < b1; b++) {
            int64_t tile0 = b * g->tb, nt = bt_min64(g->tb, g->tiles - tile0);
            for (int64_t grp = 0; grp < s->g; grp++) {
                BT_SIMD_NAME(winograd_transform_w)(s, g, &tf, t, tile0, 0, nt, grp, xt, dt, buf);
                BT_SIMD_NAME(winograd_products_w)(g, nt, grp, wacc, xt, dt, 0, a2);
            }
        }
    } else { /* every block in turn: its tiles' transforms, then its transform points split */
        int64_t z0, z1, x0, x1;
        bt_split(g->acc_floats, tid, nthr, &z0, &z1);
        memset(wacc + z0, 0, (size_t)(z1 - z0) * sizeof(float));
        bt_split(a2, tid, nthr, &x0, &x1);
        for (int64_t b = 0; b < g->nblocks; b++) {
            int64_t tile0 = b * g->tb, nt = bt_min64(g->tb, g->tiles - tile0);
            for (int64_t grp = 0; grp < s->g; grp++) {
                int64_t t0, t1;
                bt_split(nt, tid, nthr, &t0, &t1);
                BT_SIMD_NAME(winograd_transform_w)(s, g, &tf, t, tile0, t0, t1, grp, xt, dt, buf);
#pragma omp barrier
                BT_SIMD_NAME(winograd_products_w)(g, nt, grp, wacc, xt, dt, x0, x1);
#pragma omp barrier
            }
        }
    }
    int nhwc_db = t->db && s->layout == BT_NHWC;
    if (nhwc_db) {
        int64_t r0, r1;
        bt_split(s->n * s->p * s->q, tid, nthr, &r0, &r1);
        bt_wino_bias_rows(s, t->dy, buf + db_part, r0, r1);
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
            tf.dw(sum, BT_VLEN, out, BT_VLEN);
            int64_t lanes = bt_min64(BT_VLEN, s->cg - c0);
            for (int64_t l = 0; l < lanes; l++)
                for (int rs = 0; rs < 9; rs++) {
                    float *o = t->dw + bt_w_off(s, f, c0 + l, rs / 3, rs % 3);
                    float val = out[rs * BT_VLEN + l];
                    *o = s->accumulate ? *o + val : val;
                }
        }
    }
    if (t->db) {
        int64_t k0, k1;
        bt_split(s->k, tid, nthr, &k0, &k1);
        if (!nhwc_db) bt_wino_bias_nchw(s, t->dy, t->db, k0, k1);
        for (int64_t k = k0; k < k1 && nhwc_db; k++) { /* the parts in thread order */
            float sum = 0;
            for (int th = 0; th < nthr; th++) sum += buf0[th * g->per_thread + db_part + k];
            t->db[k] = s->accumulate ? t->db[k] + sum : sum;
        }
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

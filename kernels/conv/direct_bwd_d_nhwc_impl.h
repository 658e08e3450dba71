/* Direct conv bwd_data, NHWC: a template instantiated once per ISA (see common/simd.h) by
 * direct_bwd_d_nhwc_{avx512,avx2,scalar}.c; geometry in direct_bwd_d_common.h.
 *
 * For each kernel tap (r, s), dx_rs[positions x C] += dy[positions' x K] W_rs[K x C], a GEMM
 * over K, all taps summed in registers (gather form: each dx element is stored once).
 * Two vectorisations (`vec`):
 *   c: vectors over input channels. Register tile: jt positions of one phase of a dx row x
 *      cb vectors of channels; broadcast dy[n, p, q, k], load the packed weights
 *      [group][c-tile][r][s][k][cb*VLEN] (channel tails zero-padded, stores masked).
 *   k: vectors over the reduction k, for few channels per group (C = 3 first layers): tile
 *      jt positions x cb channels, weights packed [..][r][s][c][k], horizontal sums at the
 *      end (once per dx element).
 * Weights are packed at the start of execute (they are only known then), in parallel, then
 * a barrier. dy rows are copied per (sample, row block, group) into a per-thread window
 * laid out [row][k-block][padded q][KB], KB = VLEN: positions of a k-block are KB floats
 * apart, so the kernels address a whole tile from one pointer with constant offsets, and
 * the zero columns stand in for the padding.
 */
#include "common/simd.h"
#include "conv/direct_bwd_d_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIRECT_BWD_D_NHWC_KB BT_VLEN
#define DIRECT_BWD_D_NHWC_JT_MAX 16
#define DIRECT_BWD_D_NHWC_CB_MAX 4

/* Register tiles (positions jt x cb): accumulators + cb weight vectors + one broadcast fit
 * the vector registers, 32 zmm or 16 ymm/xmm. */
#if BT_VLEN == 16
#define DIRECT_BWD_D_NHWC_C_TILES(M)                                                               \
    DIRECT_BWD_D_UPTO_16(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_14(M, 2) DIRECT_BWD_D_UPTO_9(M, 3) DIRECT_BWD_D_UPTO_6(M, 4)
#define DIRECT_BWD_D_NHWC_K_TILES(M)                                                               \
    DIRECT_BWD_D_UPTO_12(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_12(M, 2) DIRECT_BWD_D_UPTO_9(M, 3) DIRECT_BWD_D_UPTO_6(M, 4)
#define DIRECT_BWD_D_NHWC_JT_LIMIT 16 /* the largest jt of the tiles above */
#define DIRECT_BWD_D_NHWC_JT_TUNE "4|6|9|12"
#define DIRECT_BWD_D_NHWC_CB_DEFAULT 2
#define DIRECT_BWD_D_NHWC_REGS 32
#elif BT_VLEN == 8
#define DIRECT_BWD_D_NHWC_C_TILES(M)                                                               \
    DIRECT_BWD_D_UPTO_14(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_6(M, 2) DIRECT_BWD_D_UPTO_4(M, 3) DIRECT_BWD_D_UPTO_2(M, 4)
#define DIRECT_BWD_D_NHWC_K_TILES(M)                                                               \
    DIRECT_BWD_D_UPTO_12(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_6(M, 2) DIRECT_BWD_D_UPTO_4(M, 3) DIRECT_BWD_D_UPTO_2(M, 4)
#define DIRECT_BWD_D_NHWC_JT_LIMIT 14
#define DIRECT_BWD_D_NHWC_JT_TUNE "3|4|6|12"
#define DIRECT_BWD_D_NHWC_CB_DEFAULT 2
#define DIRECT_BWD_D_NHWC_REGS 16
#else /* scalar: without FMA each product needs one more register */
#define DIRECT_BWD_D_NHWC_C_TILES(M)                                                               \
    DIRECT_BWD_D_UPTO_12(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_6(M, 2) DIRECT_BWD_D_UPTO_3(M, 3) DIRECT_BWD_D_UPTO_2(M, 4)
#define DIRECT_BWD_D_NHWC_K_TILES(M)                                                               \
    DIRECT_BWD_D_UPTO_12(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_6(M, 2) DIRECT_BWD_D_UPTO_3(M, 3) DIRECT_BWD_D_UPTO_2(M, 4)
#define DIRECT_BWD_D_NHWC_JT_LIMIT 12
#define DIRECT_BWD_D_NHWC_JT_TUNE "2|3|6|12"
#define DIRECT_BWD_D_NHWC_CB_DEFAULT 2
#define DIRECT_BWD_D_NHWC_REGS 15
#endif

enum { DIRECT_BWD_D_NHWC_VEC_C, DIRECT_BWD_D_NHWC_VEC_K };
static const char *const direct_bwd_d_nhwc_vec_choices[] = {"c", "k", NULL};
enum {
    DIRECT_BWD_D_NHWC_P_PAR,
    DIRECT_BWD_D_NHWC_P_VEC,
    DIRECT_BWD_D_NHWC_P_JT,
    DIRECT_BWD_D_NHWC_P_CB,
    DIRECT_BWD_D_NHWC_P_RB
};
static const bt_param_spec direct_bwd_d_nhwc_params[] = {
    {.key = "par", .choices = bt_bwdd_par_choices, .doc = DIRECT_BWD_D_PAR_DOC},
    {.key = "vec",
     .choices = direct_bwd_d_nhwc_vec_choices,
     .doc = "vectors over input channels (c) or over the filters summed (k: few channels)"},
    {.key = "jt",
     .min = 1,
     .max = DIRECT_BWD_D_NHWC_JT_LIMIT,
     .tune = DIRECT_BWD_D_NHWC_JT_TUNE,
     .doc = "register tile: dx positions of one row phase"},
    {.key = "cb",
     .min = 1,
     .max = DIRECT_BWD_D_NHWC_CB_MAX,
     .tune = "1|2|3|4",
     .doc = "register tile: channel vectors (vec=c) or channels (vec=k)"},
    {.key = "rb", .min = 1, .max = 1 << 20, .tune = "1|4|16|64", .doc = DIRECT_BWD_D_RB_DOC},
    {.key = NULL},
};

/* One register tile's work. */
typedef struct direct_bwd_d_nhwc_tile {
    const direct_bwd_d_tap *taps;
    int ntaps;
    int tail; /* vec=c: valid lanes of the tile's last vector */
    int accumulate;
    const float *win; /* window at the tile's first position */
    const float *w;   /* packed weights of the (group, c-tile) block */
    int64_t nk;       /* vec=c: K/G; vec=k: k vectors */
    int64_t kblk;     /* floats between k-blocks of the window */
    int64_t wk;       /* floats between k rows (vec=c) or channel rows (vec=k) of packed w */
    float *dx;        /* dx at the first position and channel */
    int64_t dx_pos;   /* floats between the tile's positions in dx */
} direct_bwd_d_nhwc_tile;

static inline __attribute__((always_inline)) void tile_c(const direct_bwd_d_nhwc_tile *a,
                                                         const int JT, const int CB) {
    bt_vf acc[DIRECT_BWD_D_NHWC_JT_MAX][DIRECT_BWD_D_NHWC_CB_MAX];
#pragma GCC unroll 16
    for (int t = 0; t < JT; t++)
#pragma GCC unroll 4
        for (int b = 0; b < CB; b++) acc[t][b] = bt_vzero();
    for (int x = 0; x < a->ntaps; x++) {
        const float *d = a->win + a->taps[x].dy, *w = a->w + a->taps[x].w;
        for (int64_t k0 = 0; k0 < a->nk; k0 += DIRECT_BWD_D_NHWC_KB, d += a->kblk) {
            int64_t kn = bt_min64(DIRECT_BWD_D_NHWC_KB, a->nk - k0);
            for (int64_t kk = 0; kk < kn; kk++, w += a->wk) {
                bt_vf wv[DIRECT_BWD_D_NHWC_CB_MAX];
#pragma GCC unroll 4
                for (int b = 0; b < CB; b++) {
                    wv[b] = bt_vload(w + b * BT_VLEN);
                    DIRECT_BWD_D_PIN(wv[b]);
                }
#pragma GCC unroll 16
                for (int t = 0; t < JT; t++) {
                    bt_vf y = bt_vbcast(d + t * DIRECT_BWD_D_NHWC_KB + kk);
#pragma GCC unroll 4
                    for (int b = 0; b < CB; b++) acc[t][b] = bt_vfmadd(y, wv[b], acc[t][b]);
                }
            }
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < JT; t++) {
        float *o = a->dx + t * a->dx_pos;
#pragma GCC unroll 4
        for (int b = 0; b < CB; b++) {
            bt_vf v = acc[t][b];
            if (b < CB - 1 || a->tail == BT_VLEN) {
                if (a->accumulate) v = bt_vadd(bt_vload(o + b * BT_VLEN), v);
                bt_vstore(o + b * BT_VLEN, v);
            } else {
                bt_vmask_t m = bt_vmask(a->tail);
                if (a->accumulate) v = bt_vadd(bt_vload_mask(o + b * BT_VLEN, m), v);
                bt_vstore_mask(o + b * BT_VLEN, m, v);
            }
        }
    }
}

static inline __attribute__((always_inline)) void tile_k(const direct_bwd_d_nhwc_tile *a,
                                                         const int JT, const int CC) {
    bt_vf acc[DIRECT_BWD_D_NHWC_JT_MAX][DIRECT_BWD_D_NHWC_CB_MAX];
#pragma GCC unroll 16
    for (int t = 0; t < JT; t++)
#pragma GCC unroll 4
        for (int c = 0; c < CC; c++) acc[t][c] = bt_vzero();
    for (int x = 0; x < a->ntaps; x++) {
        const float *d = a->win + a->taps[x].dy, *w = a->w + a->taps[x].w;
        for (int64_t kv = 0; kv < a->nk; kv++, d += a->kblk, w += BT_VLEN) {
            bt_vf wv[DIRECT_BWD_D_NHWC_CB_MAX];
#pragma GCC unroll 4
            for (int c = 0; c < CC; c++) {
                wv[c] = bt_vload(w + c * a->wk);
                DIRECT_BWD_D_PIN(wv[c]);
            }
#pragma GCC unroll 16
            for (int t = 0; t < JT; t++) {
                bt_vf y = bt_vload(d + t * DIRECT_BWD_D_NHWC_KB);
                DIRECT_BWD_D_PIN(y);
#pragma GCC unroll 4
                for (int c = 0; c < CC; c++) acc[t][c] = bt_vfmadd(y, wv[c], acc[t][c]);
            }
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < JT; t++) {
        float *o = a->dx + t * a->dx_pos;
#pragma GCC unroll 4
        for (int c = 0; c < CC; c++) {
            float v = bt_vhsum(acc[t][c]);
            o[c] = a->accumulate ? o[c] + v : v;
        }
    }
}

typedef void (*direct_bwd_d_nhwc_kernel)(const direct_bwd_d_nhwc_tile *);
#define DIRECT_BWD_D_NHWC_DEFINE_TILE_C(JT, CB)                                                    \
    static void direct_bwd_d_nhwc_tile_c_##JT##x##CB(const direct_bwd_d_nhwc_tile *a) {            \
        tile_c(a, JT, CB);                                                                         \
    }
#define DIRECT_BWD_D_NHWC_DEFINE_TILE_K(JT, CC)                                                    \
    static void direct_bwd_d_nhwc_tile_k_##JT##x##CC(const direct_bwd_d_nhwc_tile *a) {            \
        tile_k(a, JT, CC);                                                                         \
    }
DIRECT_BWD_D_NHWC_C_TILES(DIRECT_BWD_D_NHWC_DEFINE_TILE_C)
DIRECT_BWD_D_NHWC_K_TILES(DIRECT_BWD_D_NHWC_DEFINE_TILE_K)
#define DIRECT_BWD_D_NHWC_ENTRY_C(JT, CB) [CB][JT] = direct_bwd_d_nhwc_tile_c_##JT##x##CB,
#define DIRECT_BWD_D_NHWC_ENTRY_K(JT, CC) [CC][JT] = direct_bwd_d_nhwc_tile_k_##JT##x##CC,
static const direct_bwd_d_nhwc_kernel
    direct_bwd_d_nhwc_kernels_c[DIRECT_BWD_D_NHWC_CB_MAX + 1][DIRECT_BWD_D_NHWC_JT_MAX + 1] = {
        DIRECT_BWD_D_NHWC_C_TILES(DIRECT_BWD_D_NHWC_ENTRY_C)};
static const direct_bwd_d_nhwc_kernel
    direct_bwd_d_nhwc_kernels_k[DIRECT_BWD_D_NHWC_CB_MAX + 1][DIRECT_BWD_D_NHWC_JT_MAX + 1] = {
        DIRECT_BWD_D_NHWC_K_TILES(DIRECT_BWD_D_NHWC_ENTRY_K)};

static const direct_bwd_d_nhwc_kernel (*kernel_table(int vec))[DIRECT_BWD_D_NHWC_JT_MAX + 1] {
    return vec == DIRECT_BWD_D_NHWC_VEC_K ? direct_bwd_d_nhwc_kernels_k
                                          : direct_bwd_d_nhwc_kernels_c;
}

/* Floats of packed weights per k row (vec=c) / channel row (vec=k), and per block. */
static int64_t direct_bwd_d_nhwc_packed_row(const bt_shape *s, int vec, int64_t cb) {
    return vec == DIRECT_BWD_D_NHWC_VEC_K ? direct_bwd_d_round_up(s->kg, BT_VLEN) : cb * BT_VLEN;
}
static int64_t direct_bwd_d_nhwc_packed_block(const bt_shape *s, int vec, int64_t cb) {
    return s->r * s->s * (vec == DIRECT_BWD_D_NHWC_VEC_K ? cb : s->kg) *
           direct_bwd_d_nhwc_packed_row(s, vec, cb);
}

/* The plan's state: the geometry, and the shape the kernels walk with the strides that
 * address its rows and positions in dy and dx (in floats). A 1xk kernel padded along the
 * width is walked with rows and columns swapped, as the kx1 kernel of the transposed image:
 * taps are clipped per dx row, so the taps whose dy lies wholly in the padding are left out
 * (rows and columns are not: a tile's positions share their taps). */
typedef struct direct_bwd_d_nhwc_state {
    direct_bwd_d_geom g; /* first: bt_bwdd_run_items reads plan->priv as the geometry */
    bt_shape ws;         /* the walked shape */
    int swapped;
    int64_t dy_row, dy_pos, dx_row, dx_pos;
} direct_bwd_d_nhwc_state;

static int direct_bwd_d_nhwc_swaps(const bt_shape *s) {
    return s->r == 1 && s->s > 1 && s->pw > 0 && s->p > 1 && s->p >= s->q;
}

static void direct_bwd_d_nhwc_walk(const bt_shape *s, direct_bwd_d_nhwc_state *st) {
    bt_shape t = *s;
    st->swapped = direct_bwd_d_nhwc_swaps(s);
    if (st->swapped) {
        t.h = s->w, t.w = s->h, t.r = s->s, t.s = s->r, t.p = s->q, t.q = s->p;
        t.sh = s->sw, t.sw = s->sh, t.ph = s->pw, t.pw = s->ph, t.dh = s->dw, t.dw = s->dh;
    }
    st->ws = t;
    st->dy_row = st->swapped ? s->k : s->q * s->k;
    st->dy_pos = st->swapped ? s->q * s->k : s->k;
    st->dx_row = st->swapped ? s->c : s->w * s->c;
    st->dx_pos = st->swapped ? s->w * s->c : s->c;
}

static int direct_bwd_d_nhwc_supports(const bt_shape *s, char *why, size_t size) {
    if (s->layout != BT_NHWC) {
        snprintf(why, size, "NHWC only");
        return 0;
    }
    return 1;
}

static bt_status direct_bwd_d_nhwc_prepare(bt_plan *plan) {
    direct_bwd_d_nhwc_state *st = calloc(1, sizeof *st);
    if (!st) return bt_fail(BT_ENOMEM, "out of memory");
    plan->priv = st; /* freed with the plan, also on failure */
    direct_bwd_d_nhwc_walk(&plan->shape, st);
    const bt_shape *s = &st->ws;
    direct_bwd_d_geom *g = &st->g;
    int64_t *prm = plan->param;
    const int *given = plan->param_given;
    if (!given[DIRECT_BWD_D_NHWC_P_PAR]) prm[DIRECT_BWD_D_NHWC_P_PAR] = DIRECT_BWD_D_PAR_2D;
    if (!given[DIRECT_BWD_D_NHWC_P_VEC]) /* vec=k, if it has a tile of the given jt */
        prm[DIRECT_BWD_D_NHWC_P_VEC] =
            BT_VLEN > 1 && 2 * s->cg <= BT_VLEN && s->kg >= BT_VLEN &&
                    (!given[DIRECT_BWD_D_NHWC_P_JT] ||
                     direct_bwd_d_nhwc_kernels_k[1][prm[DIRECT_BWD_D_NHWC_P_JT]])
                ? DIRECT_BWD_D_NHWC_VEC_K
                : DIRECT_BWD_D_NHWC_VEC_C;
    int vec = (int)prm[DIRECT_BWD_D_NHWC_P_VEC];
    const direct_bwd_d_nhwc_kernel(*table)[DIRECT_BWD_D_NHWC_JT_MAX + 1] = kernel_table(vec);
    /* cb's unit: vectors of channels (vec=c) or channels (vec=k); what a group needs. */
    int64_t cb_need = vec == DIRECT_BWD_D_NHWC_VEC_K ? s->cg : bt_div_up(s->cg, BT_VLEN);
    int64_t nt = direct_bwd_d_phase_len(s, 0); /* the longest phase */
    /* A given cb past what a group needs would only be padding. */
    if (given[DIRECT_BWD_D_NHWC_P_CB])
        prm[DIRECT_BWD_D_NHWC_P_CB] = bt_min64(prm[DIRECT_BWD_D_NHWC_P_CB], cb_need);
    if (!given[DIRECT_BWD_D_NHWC_P_CB]) {
        int64_t cb =
            bt_min64(cb_need, vec == DIRECT_BWD_D_NHWC_VEC_K ? DIRECT_BWD_D_NHWC_CB_MAX
                                                             : DIRECT_BWD_D_NHWC_CB_DEFAULT);
        if (given[DIRECT_BWD_D_NHWC_P_JT])
            while (cb > 1 && !table[cb][prm[DIRECT_BWD_D_NHWC_P_JT]]) cb--;
        prm[DIRECT_BWD_D_NHWC_P_CB] = bt_div_up(cb_need, bt_div_up(cb_need, cb)); /* even c-tiles */
    }
    if (!given[DIRECT_BWD_D_NHWC_P_JT]) {
        int64_t jt = DIRECT_BWD_D_NHWC_JT_MAX;
        while (jt > 1 && !table[prm[DIRECT_BWD_D_NHWC_P_CB]][jt]) jt--;
        prm[DIRECT_BWD_D_NHWC_P_JT] = bt_div_up(nt, bt_div_up(nt, jt)); /* even position tiles */
        if (prm[DIRECT_BWD_D_NHWC_P_JT] < 1) prm[DIRECT_BWD_D_NHWC_P_JT] = 1;
    }
    if (!table[prm[DIRECT_BWD_D_NHWC_P_CB]][prm[DIRECT_BWD_D_NHWC_P_JT]])
        return bt_fail(BT_EINVAL,
                       "params: a jt=%lld x cb=%lld tile does not fit the %d vector registers "
                       "(vec=%s)",
                       (long long)prm[DIRECT_BWD_D_NHWC_P_JT],
                       (long long)prm[DIRECT_BWD_D_NHWC_P_CB], DIRECT_BWD_D_NHWC_REGS,
                       direct_bwd_d_nhwc_vec_choices[vec]);
    int64_t cb = prm[DIRECT_BWD_D_NHWC_P_CB];
    int64_t floats_q = direct_bwd_d_round_up(s->kg, DIRECT_BWD_D_NHWC_KB);
    int64_t block = direct_bwd_d_nhwc_packed_block(s, vec, cb);
    if (!given[DIRECT_BWD_D_NHWC_P_RB])
        prm[DIRECT_BWD_D_NHWC_P_RB] =
            bt_bwdd_default_rb(s, 0, floats_q, block, s->g * bt_div_up(cb_need, cb), plan->threads);
    bt_bwdd_window_geom(s, bt_bwdd_fit_rb(s, 0, floats_q, prm[DIRECT_BWD_D_NHWC_P_RB]), g);
    prm[DIRECT_BWD_D_NHWC_P_RB] = g->rb;
    g->ctile = vec == DIRECT_BWD_D_NHWC_VEC_K ? cb : cb * BT_VLEN;
    g->nct = bt_div_up(s->cg, g->ctile);
    g->ngc = s->g * g->nct;
    g->block = block;
    g->packed = direct_bwd_d_round_up(g->ngc * block, 16);
    g->win = g->win_rows * g->qpad * floats_q;
    g->taps_off = direct_bwd_d_round_up(g->win, 16);
    int64_t tap_floats = (int64_t)((s->r * s->s * sizeof(direct_bwd_d_tap) +
                                    (size_t)(2 * (s->r + s->s)) * sizeof(int64_t)) /
                                   sizeof(float));
    g->pbuf_off = g->taps_off + tap_floats;
    g->per_thread = direct_bwd_d_round_up(g->pbuf_off, 16);
    plan->scratch_bytes = (size_t)(g->packed + plan->threads * g->per_thread) * sizeof(float);
    return BT_OK;
}

/* Packs the weights of (group, c-tile) blocks [b0, b1), in the walked tap order. */
static void direct_bwd_d_nhwc_pack(const bt_shape *o, const direct_bwd_d_nhwc_state *st, int vec,
                                   int64_t cb, const float *w, float *packed, int64_t b0,
                                   int64_t b1) {
    const bt_shape *s = &st->ws;
    const direct_bwd_d_geom *g = &st->g;
    int64_t row = direct_bwd_d_nhwc_packed_row(s, vec, cb);
    for (int64_t b = b0; b < b1; b++) {
        int64_t grp = b / g->nct, c0 = (b % g->nct) * g->ctile;
        int64_t nc = bt_min64(g->ctile, s->cg - c0);
        float *dst = packed + b * g->block;
        for (int64_t wr = 0; wr < s->r; wr++)
            for (int64_t ws = 0; ws < s->s; ws++) {
                const int64_t r = st->swapped ? ws : wr, ss = st->swapped ? wr : ws;
                if (vec == DIRECT_BWD_D_NHWC_VEC_C) {
                    for (int64_t k = 0; k < s->kg; k++, dst += row)
                        for (int64_t c = 0; c < row; c++)
                            dst[c] = c < nc ? w[bt_w_off(o, grp * s->kg + k, c0 + c, r, ss)] : 0;
                } else {
                    for (int64_t c = 0; c < cb; c++, dst += row)
                        for (int64_t k = 0; k < row; k++)
                            dst[k] = c < nc && k < s->kg
                                         ? w[bt_w_off(o, grp * s->kg + k, c0 + c, r, ss)]
                                         : 0;
                }
            }
    }
}

/* Copies dy rows [pmin, pmax] of sample n, group grp into the window, zero-padded. */
static void direct_bwd_d_nhwc_copy_window(const bt_plan *plan, const float *dy, int64_t n,
                                          int64_t grp, int64_t pmin, int64_t pmax, float *win) {
    const direct_bwd_d_nhwc_state *st = plan->priv;
    const bt_shape *s = &st->ws;
    const direct_bwd_d_geom *g = &st->g;
    int64_t nkb = bt_div_up(s->kg, DIRECT_BWD_D_NHWC_KB), kblk = g->qpad * DIRECT_BWD_D_NHWC_KB;
    for (int64_t p = pmin; p <= pmax; p++) {
        float *row = win + (p - pmin) * nkb * kblk;
        const float *src = dy + n * s->p * s->q * s->k + p * st->dy_row + grp * s->kg;
        for (int64_t kb = 0; kb < nkb; kb++) {
            float *blk = row + kb * kblk;
            memset(blk, 0, (size_t)(g->lp * DIRECT_BWD_D_NHWC_KB) * sizeof(float));
            memset(blk + (g->lp + s->q) * DIRECT_BWD_D_NHWC_KB, 0,
                   (size_t)(kblk - (g->lp + s->q) * DIRECT_BWD_D_NHWC_KB) * sizeof(float));
        }
        for (int64_t q = 0; q < s->q; q++, src += st->dy_pos) {
            float *dst = row + (g->lp + q) * DIRECT_BWD_D_NHWC_KB;
            for (int64_t kb = 0; kb < nkb; kb++, dst += kblk) {
                int64_t lanes = bt_min64(DIRECT_BWD_D_NHWC_KB, s->kg - kb * DIRECT_BWD_D_NHWC_KB);
                bt_vf v =
                    lanes == DIRECT_BWD_D_NHWC_KB
                        ? bt_vload(src + kb * DIRECT_BWD_D_NHWC_KB)
                        : bt_vload_mask(src + kb * DIRECT_BWD_D_NHWC_KB, bt_vmask((int)lanes));
                bt_vstore(dst, v);
            }
        }
    }
}

/* dx rows [i0, i1) of sample n, channels of c-tile ct of group grp, from the window whose
 * first row is dy row pbase. */
static void direct_bwd_d_nhwc_block(const bt_plan *plan, const bt_tensors *t, float *win, int64_t n,
                                    int64_t grp, int64_t ct, int64_t i0, int64_t i1,
                                    int64_t pbase) {
    const direct_bwd_d_nhwc_state *st = plan->priv;
    const bt_shape *s = &st->ws;
    const direct_bwd_d_geom *g = &st->g;
    const float *packed = plan->scratch;
    direct_bwd_d_tap *taps = (direct_bwd_d_tap *)(win + g->taps_off);
    int64_t *tap_scratch = (int64_t *)(taps + s->r * s->s);
    int vec = (int)plan->param[DIRECT_BWD_D_NHWC_P_VEC];
    int64_t jt = plan->param[DIRECT_BWD_D_NHWC_P_JT], cb = plan->param[DIRECT_BWD_D_NHWC_P_CB];
    int64_t c0 = ct * g->ctile, nc = bt_min64(g->ctile, s->cg - c0);
    int64_t nkb = bt_div_up(s->kg, DIRECT_BWD_D_NHWC_KB), kblk = g->qpad * DIRECT_BWD_D_NHWC_KB;
    int64_t cbt = vec == DIRECT_BWD_D_NHWC_VEC_K ? nc : bt_div_up(nc, BT_VLEN); /* this tile's cb */
    const direct_bwd_d_nhwc_kernel *kernels = kernel_table(vec)[cbt];
    direct_bwd_d_nhwc_tile tile = {
        .taps = taps,
        .tail = (int)(vec == DIRECT_BWD_D_NHWC_VEC_K ? 0 : nc - (cbt - 1) * BT_VLEN),
        .accumulate = s->accumulate,
        .w = packed + (grp * g->nct + ct) * g->block,
        .nk = vec == DIRECT_BWD_D_NHWC_VEC_K ? nkb : s->kg,
        .kblk = kblk,
        .wk = direct_bwd_d_nhwc_packed_row(s, vec, cb),
        .dx_pos = s->sw * st->dx_pos,
    };
    int64_t wtap = vec == DIRECT_BWD_D_NHWC_VEC_K
                       ? cb * direct_bwd_d_nhwc_packed_row(s, vec, cb)
                       : s->kg * direct_bwd_d_nhwc_packed_row(s, vec, cb);
    for (int64_t i = i0; i < i1; i++)
        for (int64_t jph = 0; jph < bt_min64(s->sw, s->w); jph++) {
            int64_t nt = direct_bwd_d_phase_len(s, jph);
            tile.ntaps = bt_bwdd_taps(s, i, 1, jph, pbase, g->lp, nkb * kblk, DIRECT_BWD_D_NHWC_KB,
                                      wtap, tap_scratch, taps);
            float *dx = t->dx + n * s->h * s->w * s->c + i * st->dx_row + jph * st->dx_pos +
                        grp * s->cg + c0;
            for (int64_t t0 = 0; t0 < nt; t0 += jt) {
                tile.win = win + t0 * DIRECT_BWD_D_NHWC_KB;
                tile.dx = dx + t0 * tile.dx_pos;
                kernels[bt_min64(jt, nt - t0)](&tile);
            }
        }
}

static void direct_bwd_d_nhwc_run(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const direct_bwd_d_nhwc_state *st = plan->priv;
    const direct_bwd_d_geom *g = &st->g;
    float *packed = plan->scratch;
    int64_t b0, b1;
    bt_split(g->ngc, tid, nthr, &b0, &b1);
    direct_bwd_d_nhwc_pack(&plan->shape, st, (int)plan->param[DIRECT_BWD_D_NHWC_P_VEC],
                           plan->param[DIRECT_BWD_D_NHWC_P_CB], t->w, packed, b0, b1);
#pragma omp barrier
    bt_bwdd_run_items(plan, &st->ws, t, (int)plan->param[DIRECT_BWD_D_NHWC_P_PAR], tid, nthr,
                      packed + g->packed + tid * g->per_thread, direct_bwd_d_nhwc_copy_window,
                      direct_bwd_d_nhwc_block);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, direct_nhwc, .layouts = BT_TAKES_NHWC,
                       .params = direct_bwd_d_nhwc_params, .supports = direct_bwd_d_nhwc_supports,
                       .prepare = direct_bwd_d_nhwc_prepare, .run = direct_bwd_d_nhwc_run);

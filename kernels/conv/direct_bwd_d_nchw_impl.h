/* Direct conv bwd_data, NCHW: a template instantiated once per ISA (see common/simd.h) by
 * direct_bwd_d_nchw_{avx512,avx2,scalar}.c; geometry in direct_bwd_d_common.h.
 *
 * Vectorised over the dx width. dy rows of a (sample, row block, group) are copied into a
 * per-thread window [k][row][padded q] with zero columns for the padding and zero rows for
 * dy rows outside the image. The dx rows of one row phase (i = i1 + m*sh) and one column
 * phase (j = jph + t*sw) of the block all share their taps, and for tap (r, s) position
 * (m, t) reads window row prow(r) + m, column lp + q0(s) + t: with the window's row pitch
 * qpad that is one flat index u = m*qpad + t plus a per-tap offset. So a whole phase of the
 * block is one flat span, cut into register tiles of ct input channels x jv vectors of u,
 * however narrow the image (the lanes of u that fall in the pad columns are computed and
 * dropped). For tap (r, s) and filter k a tile loads jv contiguous vectors of the window and
 * broadcasts w[k, c, r, s] from a packed [group][c-tile][r][s][k][ct] copy (made at the
 * start of execute, in parallel, then a barrier). The k loop is blocked (kb) so the dy
 * rows of a block stay in L1 across the taps that share them. Tiles store into a per-thread
 * phase buffer; each dx row is then written once, interleaving its sw phases.
 */
#include "common/simd.h"
#include "conv/direct_bwd_d_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIRECT_BWD_D_NCHW_CT_MAX 16
#define DIRECT_BWD_D_NCHW_JV_MAX 8

/* Register tiles ct x jv (listed per jv): accumulators + jv dy vectors + one broadcast fit
 * the vector registers, 32 zmm or 16 ymm/xmm. */
#if BT_VLEN == 16
#define DIRECT_BWD_D_NCHW_TILES(M)                                                                 \
    DIRECT_BWD_D_UPTO_16(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_14(M, 2)                                                                     \
    DIRECT_BWD_D_UPTO_9(M, 3)                                                                      \
    DIRECT_BWD_D_UPTO_6(M, 4)                                                                      \
    DIRECT_BWD_D_UPTO_5(M, 5)                                                                      \
    DIRECT_BWD_D_UPTO_4(M, 6) DIRECT_BWD_D_UPTO_3(M, 7) DIRECT_BWD_D_UPTO_2(M, 8)
#define DIRECT_BWD_D_NCHW_CT_LIMIT 16 /* the largest ct and jv of the tiles above */
#define DIRECT_BWD_D_NCHW_JV_LIMIT 8
#define DIRECT_BWD_D_NCHW_CT_TUNE "3|6|9|14"
#define DIRECT_BWD_D_NCHW_JV_TUNE "1|2|4|7"
#define DIRECT_BWD_D_NCHW_JV_DEFAULT 4
#define DIRECT_BWD_D_NCHW_JV_FEW_C 7 /* with at most 3 channels per group */
#define DIRECT_BWD_D_NCHW_REGS 32
#elif BT_VLEN == 8
#define DIRECT_BWD_D_NCHW_TILES(M)                                                                 \
    DIRECT_BWD_D_UPTO_14(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_6(M, 2)                                                                      \
    DIRECT_BWD_D_UPTO_4(M, 3)                                                                      \
    DIRECT_BWD_D_UPTO_2(M, 4)                                                                      \
    DIRECT_BWD_D_UPTO_2(M, 5) DIRECT_BWD_D_UPTO_1(M, 6) DIRECT_BWD_D_UPTO_1(M, 7)
#define DIRECT_BWD_D_NCHW_CT_LIMIT 14
#define DIRECT_BWD_D_NCHW_JV_LIMIT 7
#define DIRECT_BWD_D_NCHW_CT_TUNE "2|3|6|12"
#define DIRECT_BWD_D_NCHW_JV_TUNE "1|2|4"
#define DIRECT_BWD_D_NCHW_JV_DEFAULT 2
#define DIRECT_BWD_D_NCHW_JV_FEW_C 3
#define DIRECT_BWD_D_NCHW_REGS 16
#else /* scalar: without FMA each product needs one more register */
#define DIRECT_BWD_D_NCHW_TILES(M)                                                                 \
    DIRECT_BWD_D_UPTO_12(M, 1)                                                                     \
    DIRECT_BWD_D_UPTO_6(M, 2)                                                                      \
    DIRECT_BWD_D_UPTO_3(M, 3)                                                                      \
    DIRECT_BWD_D_UPTO_2(M, 4)                                                                      \
    DIRECT_BWD_D_UPTO_1(M, 5) DIRECT_BWD_D_UPTO_1(M, 6) DIRECT_BWD_D_UPTO_1(M, 7)
#define DIRECT_BWD_D_NCHW_CT_LIMIT 12
#define DIRECT_BWD_D_NCHW_JV_LIMIT 7
#define DIRECT_BWD_D_NCHW_CT_TUNE "2|3|6|12"
#define DIRECT_BWD_D_NCHW_JV_TUNE "1|2|4"
#define DIRECT_BWD_D_NCHW_JV_DEFAULT 2
#define DIRECT_BWD_D_NCHW_JV_FEW_C 3
#define DIRECT_BWD_D_NCHW_REGS 15
#endif

enum {
    DIRECT_BWD_D_NCHW_P_PAR,
    DIRECT_BWD_D_NCHW_P_CT,
    DIRECT_BWD_D_NCHW_P_JV,
    DIRECT_BWD_D_NCHW_P_KB,
    DIRECT_BWD_D_NCHW_P_RB
};
static const bt_param_spec direct_bwd_d_nchw_params[] = {
    {.key = "par", .choices = bt_bwdd_par_choices, .doc = DIRECT_BWD_D_PAR_DOC},
    {.key = "ct",
     .min = 1,
     .max = DIRECT_BWD_D_NCHW_CT_LIMIT,
     .tune = DIRECT_BWD_D_NCHW_CT_TUNE,
     .doc = "register tile: input channels"},
    {.key = "jv",
     .min = 1,
     .max = DIRECT_BWD_D_NCHW_JV_LIMIT,
     .tune = DIRECT_BWD_D_NCHW_JV_TUNE,
     .doc = "register tile: vectors along a dx row phase (flattened over the block's rows)"},
    {.key = "kb",
     .min = 1,
     .max = 1 << 20,
     .tune = "8|32|128",
     .doc = "filters per block of the sum, so their dy rows stay in L1 across the taps"},
    {.key = "rb", .min = 1, .max = 1 << 20, .tune = "1|4|16|64", .doc = DIRECT_BWD_D_RB_DOC},
    {.key = NULL},
};

/* One register tile's work. */
typedef struct direct_bwd_d_nchw_tile {
    const direct_bwd_d_tap *taps;
    int ntaps;
    const float *win; /* window at the tile's first position */
    const float *w;   /* packed weights of the (group, c-tile) block */
    int64_t nk, kb;   /* K/G, k block */
    int64_t kstride;  /* floats between the k planes of the window */
    int64_t wk;       /* floats between k rows of the packed weights */
    float *dst;       /* output of the first channel and position */
    int64_t dst_c;    /* floats between channels of the output */
    int64_t nvalid;   /* positions to store */
} direct_bwd_d_nchw_tile;

static inline __attribute__((always_inline)) void tile_body(const direct_bwd_d_nchw_tile *a,
                                                            const int CT, const int JV) {
    bt_vf acc[DIRECT_BWD_D_NCHW_CT_MAX][DIRECT_BWD_D_NCHW_JV_MAX];
#pragma GCC unroll 16
    for (int c = 0; c < CT; c++)
#pragma GCC unroll 8
        for (int v = 0; v < JV; v++) acc[c][v] = bt_vzero();
    for (int64_t k0 = 0; k0 < a->nk; k0 += a->kb) {
        int64_t kn = bt_min64(a->kb, a->nk - k0);
        for (int x = 0; x < a->ntaps; x++) {
            const float *d = a->win + a->taps[x].dy + k0 * a->kstride;
            const float *w = a->w + a->taps[x].w + k0 * a->wk;
            for (int64_t k = 0; k < kn; k++, d += a->kstride, w += a->wk) {
                bt_vf y[DIRECT_BWD_D_NCHW_JV_MAX];
#pragma GCC unroll 8
                for (int v = 0; v < JV; v++) {
                    y[v] = bt_vload(d + v * BT_VLEN);
                    DIRECT_BWD_D_PIN(y[v]);
                }
#pragma GCC unroll 16
                for (int c = 0; c < CT; c++) {
                    bt_vf b = bt_vbcast(w + c);
#pragma GCC unroll 8
                    for (int v = 0; v < JV; v++) acc[c][v] = bt_vfmadd(b, y[v], acc[c][v]);
                }
            }
        }
    }
#pragma GCC unroll 16
    for (int c = 0; c < CT; c++) {
        float *o = a->dst + c * a->dst_c;
#pragma GCC unroll 8
        for (int v = 0; v < JV; v++) {
            int64_t n = a->nvalid - v * BT_VLEN;
            bt_vf val = acc[c][v];
            if (n >= BT_VLEN)
                bt_vstore(o + v * BT_VLEN, val);
            else if (n > 0)
                bt_vstore_mask(o + v * BT_VLEN, bt_vmask((int)n), val);
        }
    }
}

typedef void (*direct_bwd_d_nchw_kernel)(const direct_bwd_d_nchw_tile *);
#define DIRECT_BWD_D_NCHW_DEFINE_TILE(CT, JV)                                                      \
    static void direct_bwd_d_nchw_tile_##CT##x##JV(const direct_bwd_d_nchw_tile *a) {              \
        tile_body(a, CT, JV);                                                                      \
    }
DIRECT_BWD_D_NCHW_TILES(DIRECT_BWD_D_NCHW_DEFINE_TILE)
#define DIRECT_BWD_D_NCHW_ENTRY(CT, JV) [JV][CT] = direct_bwd_d_nchw_tile_##CT##x##JV,
static const direct_bwd_d_nchw_kernel
    direct_bwd_d_nchw_kernels[DIRECT_BWD_D_NCHW_JV_MAX + 1][DIRECT_BWD_D_NCHW_CT_MAX + 1] = {
        DIRECT_BWD_D_NCHW_TILES(DIRECT_BWD_D_NCHW_ENTRY)};

/* dx[j] (+)= pb[(j % sw) * phase + j / sw] for j < w: a row's phases interleaved. */
static void direct_bwd_d_nchw_emit_row(const float *pb, int64_t phase, int64_t sw, int64_t w,
                                       float *dx, int accumulate) {
    int64_t j = 0;
    if (sw == 1)
        for (; j + BT_VLEN <= w; j += BT_VLEN) {
            bt_vf v = bt_vload(pb + j);
            if (accumulate) v = bt_vadd(bt_vload(dx + j), v);
            bt_vstore(dx + j, v);
        }
#if BT_VLEN > 1
    if (sw == 2) {
#if BT_VLEN == 16
        const __m512i lo_idx =
            _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const __m512i hi_idx =
            _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#endif
        for (; j + 2 * BT_VLEN <= w; j += 2 * BT_VLEN) {
            bt_vf even = bt_vload(pb + j / 2), odd = bt_vload(pb + phase + j / 2);
#if BT_VLEN == 16
            bt_vf lo = _mm512_permutex2var_ps(even, lo_idx, odd);
            bt_vf hi = _mm512_permutex2var_ps(even, hi_idx, odd);
#else
            bt_vf l = _mm256_unpacklo_ps(even, odd), h = _mm256_unpackhi_ps(even, odd);
            bt_vf lo = _mm256_permute2f128_ps(l, h, 0x20), hi = _mm256_permute2f128_ps(l, h, 0x31);
#endif
            if (accumulate) {
                lo = bt_vadd(bt_vload(dx + j), lo);
                hi = bt_vadd(bt_vload(dx + j + BT_VLEN), hi);
            }
            bt_vstore(dx + j, lo);
            bt_vstore(dx + j + BT_VLEN, hi);
        }
    }
#endif
    for (; j < w; j++) {
        float v = pb[(j % sw) * phase + j / sw];
        dx[j] = accumulate ? dx[j] + v : v;
    }
}

static int direct_bwd_d_nchw_supports(const bt_shape *s, char *why, size_t size) {
    if (s->layout != BT_NCHW) {
        snprintf(why, size, "NCHW only");
        return 0;
    }
    return 1;
}

/* Floats of a thread's phase buffer per channel: a row's phases (sw, or W if fewer) of
 * ceil(rb/sh) window rows. */
static int64_t direct_bwd_d_nchw_pbuf_channel(const bt_shape *s, const direct_bwd_d_geom *g) {
    return bt_min64(s->sw, s->w) * bt_div_up(g->rb, s->sh) * g->qpad;
}

static bt_status direct_bwd_d_nchw_prepare(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    const bt_machine *m = bt_machine_get();
    int64_t *prm = plan->param;
    const int *given = plan->param_given;
    direct_bwd_d_geom *g = calloc(1, sizeof *g);
    if (!g) return bt_fail(BT_ENOMEM, "out of memory");
    plan->priv = g; /* freed with the plan, also on failure */
    g->flat = 1;
    bt_bwdd_window_geom(s, s->h, g); /* qpad, whatever the block */
    if (!given[DIRECT_BWD_D_NCHW_P_PAR]) prm[DIRECT_BWD_D_NCHW_P_PAR] = DIRECT_BWD_D_PAR_2D;
    if (given[DIRECT_BWD_D_NCHW_P_CT])
        prm[DIRECT_BWD_D_NCHW_P_CT] =
            bt_min64(prm[DIRECT_BWD_D_NCHW_P_CT], s->cg); /* wider c-tiles are padding */
    /* Vectors of the longest flat span (a whole image's row phase). */
    int64_t nv =
        bt_div_up((bt_div_up(s->h, s->sh) - 1) * g->qpad + direct_bwd_d_phase_len(s, 0), BT_VLEN);
    if (!given[DIRECT_BWD_D_NCHW_P_JV]) {
        /* Few channels leave registers for more positions. */
        int64_t jv =
            bt_min64(nv, s->cg <= 3 ? DIRECT_BWD_D_NCHW_JV_FEW_C : DIRECT_BWD_D_NCHW_JV_DEFAULT);
        jv = bt_max64(1, bt_min64(jv, DIRECT_BWD_D_NCHW_JV_MAX));
        if (given[DIRECT_BWD_D_NCHW_P_CT])
            while (jv > 1 && !direct_bwd_d_nchw_kernels[jv][prm[DIRECT_BWD_D_NCHW_P_CT]]) jv--;
        prm[DIRECT_BWD_D_NCHW_P_JV] = jv;
    }
    if (!given[DIRECT_BWD_D_NCHW_P_CT]) {
        int64_t ct = DIRECT_BWD_D_NCHW_CT_MAX;
        while (ct > 1 && !direct_bwd_d_nchw_kernels[prm[DIRECT_BWD_D_NCHW_P_JV]][ct]) ct--;
        ct = bt_min64(ct, s->cg);
        prm[DIRECT_BWD_D_NCHW_P_CT] = bt_div_up(s->cg, bt_div_up(s->cg, ct)); /* even c-tiles */
    }
    if (!direct_bwd_d_nchw_kernels[prm[DIRECT_BWD_D_NCHW_P_JV]][prm[DIRECT_BWD_D_NCHW_P_CT]])
        return bt_fail(BT_EINVAL,
                       "params: a ct=%lld x jv=%lld tile does not fit the %d vector registers",
                       (long long)prm[DIRECT_BWD_D_NCHW_P_CT],
                       (long long)prm[DIRECT_BWD_D_NCHW_P_JV], DIRECT_BWD_D_NCHW_REGS);
    int64_t ct = prm[DIRECT_BWD_D_NCHW_P_CT], jv = prm[DIRECT_BWD_D_NCHW_P_JV];
    if (!given[DIRECT_BWD_D_NCHW_P_KB]) {
        /* One k block of a tap's dy vectors (and its weights) in half of L1. */
        int64_t l1 = m->l1d_bytes > 0 ? m->l1d_bytes : 32 << 10;
        int64_t kb = bt_max64(1, l1 / 2 / ((jv * BT_VLEN + ct) * (int64_t)sizeof(float)));
        kb = bt_min64(kb, s->kg);
        prm[DIRECT_BWD_D_NCHW_P_KB] = bt_div_up(s->kg, bt_div_up(s->kg, kb));
    }
    int64_t block = s->r * s->s * s->kg * ct;
    if (!given[DIRECT_BWD_D_NCHW_P_RB]) /* the phase buffer adds ~ct floats a position to the window
                                         */
        prm[DIRECT_BWD_D_NCHW_P_RB] =
            bt_bwdd_default_rb(s, 1, s->kg + ct, block, s->g * bt_div_up(s->cg, ct), plan->threads);
    bt_bwdd_window_geom(s, bt_bwdd_fit_rb(s, 1, s->kg + ct, prm[DIRECT_BWD_D_NCHW_P_RB]), g);
    prm[DIRECT_BWD_D_NCHW_P_RB] = g->rb;
    g->ctile = ct;
    g->nct = bt_div_up(s->cg, ct);
    g->ngc = s->g * g->nct;
    g->block = block;
    g->packed = direct_bwd_d_round_up(g->ngc * block, 16);
    /* The last vector of a span may read past the last row of the last k plane. */
    g->win = s->kg * g->win_rows * g->qpad + BT_VLEN;
    g->taps_off = direct_bwd_d_round_up(g->win, 16);
    int64_t tap_floats = (int64_t)((s->r * s->s * sizeof(direct_bwd_d_tap) +
                                    (size_t)(2 * (s->r + s->s)) * sizeof(int64_t)) /
                                   sizeof(float));
    g->pbuf_off = direct_bwd_d_round_up(g->taps_off + tap_floats, 16);
    g->per_thread =
        direct_bwd_d_round_up(g->pbuf_off + ct * direct_bwd_d_nchw_pbuf_channel(s, g), 16);
    plan->scratch_bytes = (size_t)(g->packed + plan->threads * g->per_thread) * sizeof(float);
    return BT_OK;
}

/* Packs the weights of (group, c-tile) blocks [b0, b1): [r][s][k][ct], channel tails zero. */
static void direct_bwd_d_nchw_pack(const bt_shape *s, const direct_bwd_d_geom *g, const float *w,
                                   float *packed, int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
        int64_t grp = b / g->nct, c0 = (b % g->nct) * g->ctile;
        int64_t nc = bt_min64(g->ctile, s->cg - c0);
        float *dst = packed + b * g->block;
        for (int64_t r = 0; r < s->r; r++)
            for (int64_t ss = 0; ss < s->s; ss++)
                for (int64_t k = 0; k < s->kg; k++, dst += g->ctile)
                    for (int64_t c = 0; c < g->ctile; c++)
                        dst[c] = c < nc ? w[bt_w_off(s, grp * s->kg + k, c0 + c, r, ss)] : 0;
    }
}

/* Copies dy rows [pmin, pmax] of every filter of group grp, sample n, into the window; rows
 * outside the image are zero. */
static void direct_bwd_d_nchw_copy_window(const bt_plan *plan, const float *dy, int64_t n,
                                          int64_t grp, int64_t pmin, int64_t pmax, float *win) {
    const bt_shape *s = &plan->shape;
    const direct_bwd_d_geom *g = plan->priv;
    size_t right = (size_t)(g->qpad - g->lp - s->q) * sizeof(float);
    for (int64_t k = 0; k < s->kg; k++) {
        float *row = win + k * g->win_rows * g->qpad;
        for (int64_t p = pmin; p <= pmax; p++, row += g->qpad) {
            if (p < 0 || p >= s->p) {
                memset(row, 0, (size_t)g->qpad * sizeof(float));
                continue;
            }
            memset(row, 0, (size_t)g->lp * sizeof(float));
            memcpy(row + g->lp, dy + bt_dy_off(s, n, grp * s->kg + k, p, 0),
                   (size_t)s->q * sizeof(float));
            memset(row + g->lp + s->q, 0, right);
        }
        memset(row, 0, (size_t)g->lp * sizeof(float)); /* the last row's right padding */
    }
}

/* dx rows [i0, i1) of sample n, channels of c-tile ct of group grp, from the window whose
 * first row is dy row pbase. */
static void direct_bwd_d_nchw_block(const bt_plan *plan, const bt_tensors *t, float *win, int64_t n,
                                    int64_t grp, int64_t ct, int64_t i0, int64_t i1,
                                    int64_t pbase) {
    const bt_shape *s = &plan->shape;
    const direct_bwd_d_geom *g = plan->priv;
    direct_bwd_d_tap *taps = (direct_bwd_d_tap *)(win + g->taps_off);
    int64_t *tap_scratch = (int64_t *)(taps + s->r * s->s);
    float *pbuf = win + g->pbuf_off;
    int64_t c0 = ct * g->ctile, nc = bt_min64(g->ctile, s->cg - c0);
    int64_t tw = plan->param[DIRECT_BWD_D_NCHW_P_JV] * BT_VLEN;
    int64_t phase = bt_div_up(g->rb, s->sh) * g->qpad; /* floats between the buffer's phases */
    direct_bwd_d_nchw_tile tile = {
        .taps = taps,
        .w = (const float *)plan->scratch + (grp * g->nct + ct) * g->block,
        .nk = s->kg,
        .kb = plan->param[DIRECT_BWD_D_NCHW_P_KB],
        .kstride = g->win_rows * g->qpad,
        .wk = g->ctile,
        .dst_c = direct_bwd_d_nchw_pbuf_channel(s, g),
    };
    for (int64_t first = i0; first < bt_min64(i1, i0 + s->sh); first++) { /* a row phase */
        int64_t rows = (i1 - 1 - first) / s->sh + 1;
        for (int64_t jph = 0; jph < bt_min64(s->sw, s->w); jph++) {
            int64_t span = (rows - 1) * g->qpad + direct_bwd_d_phase_len(s, jph);
            tile.ntaps = bt_bwdd_taps(s, first, rows, jph, pbase, g->lp, g->qpad, 1,
                                      s->kg * g->ctile, tap_scratch, taps);
            for (int64_t u0 = 0; u0 < span; u0 += tw) {
                tile.win = win + u0;
                tile.dst = pbuf + jph * phase + u0;
                tile.nvalid = span - u0;
                direct_bwd_d_nchw_kernels[bt_div_up(bt_min64(tw, span - u0), BT_VLEN)][nc](&tile);
            }
        }
        for (int64_t m = 0; m < rows; m++)
            for (int64_t c = 0; c < nc; c++)
                direct_bwd_d_nchw_emit_row(
                    pbuf + c * tile.dst_c + m * g->qpad, phase, s->sw, s->w,
                    t->dx + bt_x_off(s, n, grp * s->cg + c0 + c, first + m * s->sh, 0),
                    s->accumulate);
    }
}

static void direct_bwd_d_nchw_run(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const direct_bwd_d_geom *g = plan->priv;
    float *packed = plan->scratch;
    int64_t b0, b1;
    bt_split(g->ngc, tid, nthr, &b0, &b1);
    direct_bwd_d_nchw_pack(s, g, t->w, packed, b0, b1);
#pragma omp barrier
    bt_bwdd_run_items(plan, s, t, (int)plan->param[DIRECT_BWD_D_NCHW_P_PAR], tid, nthr,
                      packed + g->packed + tid * g->per_thread, direct_bwd_d_nchw_copy_window,
                      direct_bwd_d_nchw_block);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, direct_nchw, .layouts = BT_TAKES_NCHW,
                       .params = direct_bwd_d_nchw_params, .supports = direct_bwd_d_nchw_supports,
                       .prepare = direct_bwd_d_nchw_prepare, .run = direct_bwd_d_nchw_run);

/* Depthwise convolution backward data in NCHW, vectorised over width: a template instantiated
 * once per ISA by depthwise_bwd_d_nchw_{avx512,avx2,scalar}.c (see common/simd.h; no include
 * guard; what it shares with bwd_weights is in depthwise_nchw_common.h).
 *
 * The dy planes of cb channels (times kg) are spread into U, zero-padded and
 * zero-upsampled by the stride: U[p][L + q*sw] = dy[p][q], zero elsewhere. Then
 * dx[i][j..j+V) = sum over rows r with an exact p, and all s, of w[r,s] * U[p][j + pw + L -
 * s*dw ..], shifted loads with a broadcast weight (a stride > 1 multiplies some zeros in the
 * width direction). A tile of cb channels x jb vectors accumulates in registers over the tap
 * list. With AVX-512 masks, stride 1 and 2 in width read dy in place instead (no U): stride 1
 * with lane masks at the row ends, stride 2 per phase of the dx column
 * (depthwise_bwd_d_nchw_phase_tile), and a plane as large as its dy plane as one flat run.
 */
#include "conv/depthwise_nchw_common.h"

enum {
    DEPTHWISE_BWD_D_NCHW_PAR,
    DEPTHWISE_BWD_D_NCHW_JB,
    DEPTHWISE_BWD_D_NCHW_CB,
    DEPTHWISE_BWD_D_NCHW_NT,
    DEPTHWISE_BWD_D_NCHW_WINDOW
};

/* nt: rows go to a per-thread staging copy of the tile's dx planes (contiguous, like dx), which
 * is written out with streaming stores while the next tile computes (two stages, alternating):
 * dx rows are not vector-aligned but the planes are one contiguous run, streaming skips the
 * read-for-ownership of dx, and spreading the stores over the next tile's rows keeps the
 * write stream busy instead of stalling in a burst. */
static const bt_param_spec BT_SIMD_NAME(depthwise_bwd_d_nchw_params)[] = {
    {.key = "par", .choices = depthwise_par_choices, .doc = DEPTHWISE_PAR_DOC},
    {.key = "jb",
     .min = 1,
     .max = DEPTHWISE_NCHW_JB_MAX,
     .tune = "2|4",
     .doc = "register tile: vectors along the dx width"},
    {.key = "cb",
     .min = 1,
     .max = DEPTHWISE_NCHW_CB_MAX,
     .tune = DEPTHWISE_NCHW_CB_TUNE,
     .doc = "register tile: channels"},
#if DEPTHWISE_NCHW_STREAM
    {.key = "nt", .min = 0, .max = 1, .tune = "0|1", .doc = DEPTHWISE_NT_DOC},
#endif
#if DEPTHWISE_NCHW_WINDOW
    {.key = "window",
     .min = 0,
     .max = 1,
     .tune = "0|1",
     .doc = "3x3 and 5x5 flat planes (stride 1, 'same' padding, no dilation): 1 runs the "
            "window kernel "
            "(dy loaded once per tap row, sums shifted across lanes; jb and cb unused), 0 the "
            "masked-load one"},
#endif
    {0}};

/* Geometry of U: left pad L so that every read index is >= 0, width covering whole vectors. */
typedef struct depthwise_bwd_d_nchw_u_geom {
    int64_t lead, width, plane; /* L, UW, P * UW */
} depthwise_bwd_d_nchw_u_geom;

static depthwise_bwd_d_nchw_u_geom depthwise_bwd_d_nchw_u_geometry(const bt_shape *s) {
    depthwise_bwd_d_nchw_u_geom g;
    g.lead = bt_max64(0, (s->s - 1) * s->dw - s->pw);
    g.width = bt_div_up(s->w, DEPTHWISE_NCHW_V) * DEPTHWISE_NCHW_V + s->pw + g.lead;
    g.plane = s->p * g.width;
    return g;
}

/* Flat planes of whole vectors stream in place; other planes go through the stage. */
static int depthwise_bwd_d_nchw_staged(const bt_shape *s, int nt) {
    return nt && !(depthwise_nchw_flat(s) && (s->h * s->w) % DEPTHWISE_NCHW_V == 0);
}

/* The window kernel (depthwise_bwd_d_nchw_window.h): the flat case with 3x3 or 5x5 taps,
 * "same" padding, no dilation, channel multiplier 1; with nt, on planes of whole vectors only
 * (no stage). */
static inline int depthwise_bwd_d_window_fits(const bt_shape *s, int nt) {
    return DEPTHWISE_NCHW_WINDOW && depthwise_nchw_flat_shape(s) && s->r == s->s &&
           (s->r == 3 || s->r == 5) && s->ph == s->r / 2 && s->pw == s->s / 2 && s->dh == 1 &&
           s->dw == 1 && !(nt && (s->h * s->w) % DEPTHWISE_NCHW_V != 0);
}

/* The window kernel's lane masks, uint16 ((2K - 1) per vector and K more; see
 * depthwise_bwd_d_window_run), where the flat kernel's go. */
static inline int64_t depthwise_bwd_d_window_masks(const bt_shape *s) {
    return (2 * s->r - 1) * (bt_div_up(s->h * s->w, DEPTHWISE_NCHW_V) + 1);
}

static size_t depthwise_bwd_d_nchw_stage_bytes(const bt_shape *s, int64_t cb, int nt) {
    return depthwise_bwd_d_nchw_staged(s, nt)
               ? 2 * depthwise_align((size_t)(cb * s->h * s->w) * sizeof(float))
               : 0;
}

/* The rows' tap lists, made once per call: per row, kg*R*S slots each of the dy offset, the
 * weight offset and the mask row, then per row its tap count and phase-0 tap count. */
static size_t depthwise_bwd_d_nchw_list_floats(const bt_shape *s) {
    return (size_t)((3 * s->kg * s->r * s->s + 2) * s->h);
}

static size_t depthwise_bwd_d_nchw_thread_bytes(const bt_shape *s, int64_t cb, int nt) {
    depthwise_bwd_d_nchw_u_geom g = depthwise_bwd_d_nchw_u_geometry(s);
    return depthwise_align((size_t)(cb * s->kg * g.plane) * sizeof(float)) +
           depthwise_align((size_t)(cb * s->kg * s->r * s->s) * sizeof(float)) +
           depthwise_align(depthwise_bwd_d_nchw_list_floats(s) * sizeof(int64_t)) +
           depthwise_align((size_t)(s->s * bt_div_up(s->w, DEPTHWISE_NCHW_V)) * sizeof(uint32_t)) +
           depthwise_align(
               bt_max64(depthwise_nchw_flat_masks(s) * (int64_t)sizeof(uint32_t),
                        depthwise_bwd_d_window_fits(s, nt)
                            ? depthwise_bwd_d_window_masks(s) * (int64_t)sizeof(uint16_t)
                            : 0)) +
           depthwise_bwd_d_nchw_stage_bytes(s, cb, nt);
}

/* A stage waiting to be written out: dst[0, n) = src. */
typedef struct depthwise_bwd_d_nchw_pending {
    float *dst;
    const float *src;
    int64_t n;
} depthwise_bwd_d_nchw_pending;

/* Part `part` of `parts` of the copy: streaming stores where dst is vector-aligned, plain
 * stores at the unaligned ends (in the first and last part). */
static void BT_SIMD_NAME(depthwise_bwd_d_nchw_stream_part)(const depthwise_bwd_d_nchw_pending *w,
                                                           int64_t part, int64_t parts) {
    if (!w->dst) return;
    int64_t head = 0;
#if DEPTHWISE_NCHW_STREAM
    while (head < w->n && ((uintptr_t)(w->dst + head) % (DEPTHWISE_NCHW_V * sizeof(float))) != 0)
        head++;
    int64_t body = (w->n - head) / DEPTHWISE_NCHW_V;
    for (int64_t v = body * part / parts; v < body * (part + 1) / parts; v++)
        depthwise_nchw_vstream(w->dst + head + v * DEPTHWISE_NCHW_V,
                               bt_vload(w->src + head + v * DEPTHWISE_NCHW_V));
#else
    int64_t body = 0;
#endif
    if (part == 0)
        for (int64_t i = 0; i < head; i++) w->dst[i] = w->src[i];
    if (part == parts - 1)
        for (int64_t i = head + body * DEPTHWISE_NCHW_V; i < w->n; i++) w->dst[i] = w->src[i];
}

typedef struct depthwise_bwd_d_nchw_args {
    const float *u;             /* U (direct: dy) of the tile's first channel */
    int64_t u_chan;             /* floats between channels in U (direct: in dy): kg planes */
    const float *wg;            /* the tile's weights, [m][r][s][channel] */
    const int64_t *uoff, *woff; /* per tap: offset in a channel's U (dy), offset in wg */
    const int64_t *moff;        /* direct, per tap: its row of masks, s * nvec */
    const uint32_t *masks;      /* direct: [s][vector] lanes of dy inside the row */
    int ntaps, direct;
    int ntaps0;      /* phased: the taps of phase 0 (even dx columns) come first */
    int64_t width;   /* phased: W, the dx row's columns */
    float *dx;       /* dx row i of the tile's first channel */
    int64_t dx_chan; /* H * W */
    int64_t nvec;    /* vectors per row; the last is masked when W % V != 0 */
    bt_vmask_t mask;
    int partial, accumulate;
} depthwise_bwd_d_nchw_args;

/* dx[CB channels][JB vectors from vector j0] (+)= sum over taps of w * U. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_tile(const depthwise_bwd_d_nchw_args *a, int64_t j0,
                                                     const int CB, const int JB, const int DIRECT) {
    (void)DIRECT;                                 /* no direct path without AVX-512 masks */
    if (CB * JB > DEPTHWISE_NCHW_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf acc[DEPTHWISE_NCHW_CB_MAX][DEPTHWISE_NCHW_JB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) acc[c][j] = bt_vzero();
    const int64_t col = j0 * DEPTHWISE_NCHW_V;
    /* One base pointer per channel and the tap as an index: CB address registers, the
     * vector and the weight's channel are displacements. */
    const float *pos[DEPTHWISE_NCHW_CB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) pos[c] = a->u + c * a->u_chan + col;
    for (int tap = 0; tap < a->ntaps; tap++) {
        const int64_t uo = a->uoff[tap];
        const float *w = a->wg + a->woff[tap];
#if DEPTHWISE_NCHW_DIRECT
        __mmask16 m[DEPTHWISE_NCHW_JB_MAX];
        if (DIRECT)
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++) m[j] = (__mmask16)a->masks[a->moff[tap] + j0 + j];
#endif
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            bt_vf wv = bt_vbcast(w + c);
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++) {
                const float *src = pos[c] + uo + j * DEPTHWISE_NCHW_V;
#if DEPTHWISE_NCHW_DIRECT
                bt_vf v = DIRECT ? _mm512_maskz_loadu_ps(m[j], src) : bt_vload(src);
#else
                bt_vf v = bt_vload(src);
#endif
                acc[c][j] = bt_vfmadd(wv, v, acc[c][j]);
            }
        }
    }
    const int last_partial = a->partial && j0 + JB == a->nvec;
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) {
            float *dst = a->dx + c * a->dx_chan + col + j * DEPTHWISE_NCHW_V;
            if (j == JB - 1 && last_partial) {
                bt_vf r =
                    a->accumulate ? bt_vadd(bt_vload_mask(dst, a->mask), acc[c][j]) : acc[c][j];
                bt_vstore_mask(dst, a->mask, r);
            } else {
                bt_vstore(dst, a->accumulate ? bt_vadd(bt_vload(dst), acc[c][j]) : acc[c][j]);
            }
        }
}

DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_row_cb(const depthwise_bwd_d_nchw_args *a, int jb,
                                                       const int CB) {
    int64_t j = 0;
    for (; j < a->nvec; j += jb) {
        int n = (int)bt_min64(jb, a->nvec - j);
        switch (n) {
        case 1:
            if (DEPTHWISE_NCHW_DIRECT && a->direct)
                depthwise_bwd_d_nchw_tile(a, j, CB, 1, 1);
            else
                depthwise_bwd_d_nchw_tile(a, j, CB, 1, 0);
            break;
        case 2:
            if (DEPTHWISE_NCHW_DIRECT && a->direct)
                depthwise_bwd_d_nchw_tile(a, j, CB, 2, 1);
            else
                depthwise_bwd_d_nchw_tile(a, j, CB, 2, 0);
            break;
        case 3:
            if (DEPTHWISE_NCHW_DIRECT && a->direct)
                depthwise_bwd_d_nchw_tile(a, j, CB, 3, 1);
            else
                depthwise_bwd_d_nchw_tile(a, j, CB, 3, 0);
            break;
        default:
            if (DEPTHWISE_NCHW_DIRECT && a->direct)
                depthwise_bwd_d_nchw_tile(a, j, CB, 4, 1);
            else
                depthwise_bwd_d_nchw_tile(a, j, CB, 4, 0);
            break;
        }
    }
}

/* fn(a, jb, CB) with the run-time cb as the compile-time CB its tile code is made for. */
#define DEPTHWISE_BWD_D_NCHW_BY_CB(cb, fn, a, jb)                                                  \
    switch (cb) {                                                                                  \
    case 1:                                                                                        \
        fn(a, jb, 1);                                                                              \
        break;                                                                                     \
    case 2:                                                                                        \
        fn(a, jb, 2);                                                                              \
        break;                                                                                     \
    case 3:                                                                                        \
        fn(a, jb, 3);                                                                              \
        break;                                                                                     \
    case 4:                                                                                        \
        fn(a, jb, 4);                                                                              \
        break;                                                                                     \
    case 5:                                                                                        \
        fn(a, jb, 5);                                                                              \
        break;                                                                                     \
    case 6:                                                                                        \
        fn(a, jb, 6);                                                                              \
        break;                                                                                     \
    case 7:                                                                                        \
        fn(a, jb, 7);                                                                              \
        break;                                                                                     \
    default:                                                                                       \
        fn(a, jb, 8);                                                                              \
        break;                                                                                     \
    }

/* One dx row of cb channels. */
static void BT_SIMD_NAME(depthwise_bwd_d_nchw_row)(const depthwise_bwd_d_nchw_args *a, int jb,
                                                   int cb) {
    DEPTHWISE_BWD_D_NCHW_BY_CB(cb, depthwise_bwd_d_nchw_row_cb, a, jb);
}

#if DEPTHWISE_NCHW_DIRECT
/* acc[c][j] += the taps [t0, t1) over CB channels x JB vectors from vector j0, read in place
 * with each tap's lane masks. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_taps(const depthwise_bwd_d_nchw_args *a,
                                                     bt_vf acc[][DEPTHWISE_NCHW_JB_MAX],
                                                     const float *const *pos, int t0, int t1,
                                                     int64_t j0, const int CB, const int JB) {
    for (int tap = t0; tap < t1; tap++) {
        const int64_t uo = a->uoff[tap];
        const float *w = a->wg + a->woff[tap];
        __mmask16 m[DEPTHWISE_NCHW_JB_MAX];
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) m[j] = (__mmask16)a->masks[a->moff[tap] + j0 + j];
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            bt_vf wv = bt_vbcast(w + c);
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++)
                acc[c][j] = bt_vfmadd(
                    wv, _mm512_maskz_loadu_ps(m[j], pos[c] + uo + j * DEPTHWISE_NCHW_V), acc[c][j]);
        }
    }
}

/* dst[0, n) (+)= v, n clamped to [0, V]. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_store_n(float *dst, bt_vf v, int64_t n,
                                                        int accumulate) {
    if (n >= DEPTHWISE_NCHW_V) {
        bt_vstore(dst, accumulate ? bt_vadd(bt_vload(dst), v) : v);
    } else if (n > 0) {
        bt_vmask_t m = bt_vmask((int)n);
        bt_vstore_mask(dst, m, accumulate ? bt_vadd(bt_vload_mask(dst, m), v) : v);
    }
}

/* Stride 2 in width, phased: dx column j = 2t + phase gets the taps s whose s*dw - pw has the
 * parity of the phase, at dy column q = t + (phase + pw - s*dw) / 2. So each phase is a
 * stride-1 sum over vectors of t, read from dy in place with lane masks (no zero-upsampled
 * copy, no products with its zeros), and the two phases' accumulators are interleaved into
 * dx columns at the store. A tile of JB vectors of t covers 2 * JB dx vectors. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_phase_tile(const depthwise_bwd_d_nchw_args *a,
                                                           int64_t j0, const int CB, const int JB) {
    if (2 * CB * JB > DEPTHWISE_NCHW_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf even[DEPTHWISE_NCHW_CB_MAX][DEPTHWISE_NCHW_JB_MAX],
        odd[DEPTHWISE_NCHW_CB_MAX][DEPTHWISE_NCHW_JB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) even[c][j] = odd[c][j] = bt_vzero();
    const float *pos[DEPTHWISE_NCHW_CB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) pos[c] = a->u + c * a->u_chan + j0 * DEPTHWISE_NCHW_V;
    depthwise_bwd_d_nchw_taps(a, even, pos, 0, a->ntaps0, j0, CB, JB);
    depthwise_bwd_d_nchw_taps(a, odd, pos, a->ntaps0, a->ntaps, j0, CB, JB);
    const __m512i lo_idx =
        _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_idx =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) {
            int64_t col = (j0 + j) * 2 * DEPTHWISE_NCHW_V, left = a->width - col;
            float *dst = a->dx + c * a->dx_chan + col;
            depthwise_bwd_d_nchw_store_n(dst, _mm512_permutex2var_ps(even[c][j], lo_idx, odd[c][j]),
                                         left, a->accumulate);
            depthwise_bwd_d_nchw_store_n(dst + DEPTHWISE_NCHW_V,
                                         _mm512_permutex2var_ps(even[c][j], hi_idx, odd[c][j]),
                                         left - DEPTHWISE_NCHW_V, a->accumulate);
        }
}

DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_phase_row_cb(const depthwise_bwd_d_nchw_args *a,
                                                             int jb, const int CB) {
    for (int64_t j = 0; j < a->nvec; j += jb) {
        if (jb >= 2 && j + 2 <= a->nvec)
            depthwise_bwd_d_nchw_phase_tile(a, j, CB, 2);
        else
            depthwise_bwd_d_nchw_phase_tile(a, j, CB, 1);
    }
}

/* One dx row of cb channels, phased; jb vectors of dx are jb / 2 vectors of t. */
static void BT_SIMD_NAME(depthwise_bwd_d_nchw_phase_row)(const depthwise_bwd_d_nchw_args *a, int jb,
                                                         int cb) {
    jb = jb >= 4 ? 2 : 1;
    DEPTHWISE_BWD_D_NCHW_BY_CB(cb, depthwise_bwd_d_nchw_phase_row_cb, a, jb);
}

typedef struct depthwise_bwd_d_nchw_flat_args {
    const float *dy; /* dy plane of the tile's first channel */
    float *dx;       /* dx plane of the tile's first channel */
    int64_t chan;    /* H * W, in dy and dx */
    const float *wg; /* [tap][channel] */
    const int64_t *off;
    const uint32_t *masks; /* [vector][tap] */
    int64_t taps, nc, nvec;
    bt_vmask_t tail; /* lanes of the plane's last vector */
    int accumulate, stream;
    depthwise_pf pf;
    /* Staged (nt on planes not of whole vectors): dx is a stage and the previous tile's
     * stage is written out, a part per tile of vectors. */
    depthwise_bwd_d_nchw_pending pend;
} depthwise_bwd_d_nchw_flat_args;

/* dx[CB channels][JB flat vectors from v0] (+)= sum over taps of w * masked shifted dy. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_flat_tile(const depthwise_bwd_d_nchw_flat_args *a,
                                                          int64_t v0, const int CB, const int JB) {
    if (CB * JB > DEPTHWISE_NCHW_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf acc[DEPTHWISE_NCHW_CB_MAX][DEPTHWISE_NCHW_JB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) acc[c][j] = bt_vzero();
    const float *pos[DEPTHWISE_NCHW_CB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) pos[c] = a->dy + c * a->chan + v0 * DEPTHWISE_NCHW_V;
    const uint32_t *mk = a->masks + v0 * a->taps;
    for (int64_t tap = 0; tap < a->taps; tap++) {
        const int64_t o = a->off[tap];
        const float *w = a->wg + tap * a->nc;
        __mmask16 m[DEPTHWISE_NCHW_JB_MAX];
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) m[j] = (__mmask16)mk[j * a->taps + tap];
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            bt_vf wv = bt_vbcast(w + c);
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++)
                acc[c][j] = bt_vfmadd(
                    wv, _mm512_maskz_loadu_ps(m[j], pos[c] + o + j * DEPTHWISE_NCHW_V), acc[c][j]);
        }
    }
    const int last = v0 + JB == a->nvec;
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) {
            float *dst = a->dx + c * a->chan + (v0 + j) * DEPTHWISE_NCHW_V;
            if (j == JB - 1 && last) {
                bt_vf r =
                    a->accumulate ? bt_vadd(bt_vload_mask(dst, a->tail), acc[c][j]) : acc[c][j];
                bt_vstore_mask(dst, a->tail, r);
            } else if (a->accumulate) {
                bt_vstore(dst, bt_vadd(bt_vload(dst), acc[c][j]));
            } else if (a->stream) {
                depthwise_nchw_vstream(dst, acc[c][j]);
            } else {
                bt_vstore(dst, acc[c][j]);
            }
        }
}

DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_nchw_flat_cb(depthwise_bwd_d_nchw_flat_args *a, int jb,
                                                        const int CB) {
    for (int64_t v = 0; v < a->nvec; v += jb) {
        depthwise_pf_next(&a->pf);
        BT_SIMD_NAME(depthwise_bwd_d_nchw_stream_part)(&a->pend, v / jb, bt_div_up(a->nvec, jb));
        switch ((int)bt_min64(jb, a->nvec - v)) {
        case 1:
            depthwise_bwd_d_nchw_flat_tile(a, v, CB, 1);
            break;
        case 2:
            depthwise_bwd_d_nchw_flat_tile(a, v, CB, 2);
            break;
        case 3:
            depthwise_bwd_d_nchw_flat_tile(a, v, CB, 3);
            break;
        default:
            depthwise_bwd_d_nchw_flat_tile(a, v, CB, 4);
            break;
        }
    }
}

/* All planes of cb channels. */
static void BT_SIMD_NAME(depthwise_bwd_d_nchw_flat_planes)(depthwise_bwd_d_nchw_flat_args *a,
                                                           int jb, int cb) {
    DEPTHWISE_BWD_D_NCHW_BY_CB(cb, depthwise_bwd_d_nchw_flat_cb, a, jb);
}

static void BT_SIMD_NAME(depthwise_bwd_d_nchw_flat_run)(const bt_plan *plan, const bt_tensors *t,
                                                        float *wg, int64_t *off, uint32_t *masks,
                                                        float *stage, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, hw = s->h * s->w;
    const int jb = (int)plan->param[DEPTHWISE_BWD_D_NCHW_JB],
              cb = (int)plan->param[DEPTHWISE_BWD_D_NCHW_CB];
    depthwise_bwd_d_nchw_flat_args a = {
        .chan = hw, .wg = wg, .off = off, .masks = masks, .taps = taps};
    a.nvec = bt_div_up(hw, DEPTHWISE_NCHW_V);
    a.tail = bt_vmask((int)(hw - (a.nvec - 1) * DEPTHWISE_NCHW_V));
    a.accumulate = s->accumulate;
    const int nt = (int)plan->param[DEPTHWISE_BWD_D_NCHW_NT] && !s->accumulate,
              staged = depthwise_bwd_d_nchw_staged(s, nt);
    const size_t stage_floats = depthwise_bwd_d_nchw_stage_bytes(s, cb, nt) / 2 / sizeof(float);
    int which = 0;
    a.stream = nt && !staged && (uintptr_t)t->dx % (DEPTHWISE_NCHW_V * sizeof(float)) == 0;
    for (int64_t r = 0; r < s->r; r++)
        for (int64_t ks = 0; ks < s->s; ks++)
            off[r * s->s + ks] = (s->ph - r * s->dh) * s->w + s->pw - ks * s->dw;
    for (int64_t v = 0; v < a.nvec; v++)
        for (int64_t tap = 0; tap < taps; tap++) {
            int64_t r = tap / s->s, ks = tap % s->s;
            uint32_t bits = 0;
            for (int l = 0; l < DEPTHWISE_NCHW_V; l++) {
                int64_t f = v * DEPTHWISE_NCHW_V + l, i = f / s->w, j = f % s->w;
                int64_t p = i + s->ph - r * s->dh, q = j + s->pw - ks * s->dw;
                if (f < hw && p >= 0 && p < s->p && q >= 0 && q < s->q) bits |= 1u << l;
            }
            masks[v * taps + tap] = bits;
        }
    depthwise_range g =
        depthwise_thread_range((int)plan->param[DEPTHWISE_BWD_D_NCHW_PAR], tid, nthr, s->n, s->c);
    for (int64_t n = g.u0; n < g.u1; n++)
        for (int64_t c = g.c0; c < g.c1; c += cb) {
            int nc = (int)bt_min64(cb, g.c1 - c);
            for (int64_t tap = 0; tap < taps; tap++)
                for (int cl = 0; cl < nc; cl++) wg[tap * nc + cl] = t->w[(c + cl) * taps + tap];
            /* The next tile's dy planes, prefetched over this tile's vectors. */
            int64_t nn = c + cb < g.c1 ? n : n + 1, nxc = c + cb < g.c1 ? c + cb : g.c0;
            a.pf = depthwise_pf_make(nn < g.u1 ? t->dy + (nn * s->k + nxc) * hw : NULL,
                                     bt_min64(cb, g.c1 - nxc) * hw * (int64_t)sizeof(float),
                                     bt_div_up(a.nvec, jb));
            float *cur = stage + (size_t)which * stage_floats;
            a.dy = t->dy + (n * s->k + c) * hw;
            a.dx = staged ? cur : t->dx + (n * s->c + c) * hw;
            a.nc = nc;
            BT_SIMD_NAME(depthwise_bwd_d_nchw_flat_planes)(&a, jb, nc);
            if (staged) {
                a.pend = (depthwise_bwd_d_nchw_pending){t->dx + (n * s->c + c) * hw, cur, nc * hw};
                which ^= 1;
            }
        }
    BT_SIMD_NAME(depthwise_bwd_d_nchw_stream_part)(&a.pend, 0, 1);
    if (a.stream || staged) _mm_sfence();
}
#endif
#if DEPTHWISE_NCHW_WINDOW
#include "conv/depthwise_bwd_d_nchw_window.h"
#endif

/* Stride 2 in width runs phased (depthwise_bwd_d_nchw_phase_tile) where AVX-512 masks read
 * dy in place; elsewhere through U. */
static inline int depthwise_bwd_d_nchw_phased(const bt_shape *s) {
    return DEPTHWISE_NCHW_DIRECT && s->sw == 2;
}
/* Phased: the phase (0: even dx columns) tap s feeds, and its dy column offset q - t. */
static inline int64_t depthwise_bwd_d_nchw_phase(const bt_shape *s, int64_t ks) {
    return ((ks * s->dw - s->pw) % 2 + 2) % 2;
}
static inline int64_t depthwise_bwd_d_nchw_qoff(const bt_shape *s, int64_t ks, int64_t phase) {
    return (phase + s->pw - ks * s->dw) / 2; /* exact: the numerator is even */
}

static bt_status BT_SIMD_NAME(depthwise_bwd_d_nchw_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DEPTHWISE_BWD_D_NCHW_PAR])
        plan->param[DEPTHWISE_BWD_D_NCHW_PAR] = DEPTHWISE_PAR_2D;
    if (!plan->param_given[DEPTHWISE_BWD_D_NCHW_JB])
        plan->param[DEPTHWISE_BWD_D_NCHW_JB] =
            bt_min64(DEPTHWISE_NCHW_JB_MAX,
                     bt_div_up(depthwise_nchw_flat(s) ? s->h * s->w : s->w, DEPTHWISE_NCHW_V));
#if DEPTHWISE_NCHW_WINDOW
    /* The window kernel by default where it fits (AVX-512: 1.2-2.3x the masked-load kernel on
     * the model suites' 3x3 layers from 7x7 to 112x112, 1.05-1.5x on their 5x5 ones, Zen 4),
     * without streaming stores: on the 3x3 layers with whole-vector planes it wrote dx 0.6-1.1x
     * as fast with them (g192 28x28: 0.6x). AVX2 up to 28 wide for 3x3 and 14 for 5x5: there
     * 1.1-3.9x the U-copy kernel, on larger planes 0.8-1.15x (Zen 3); AVX-512 (DIRECT) on every
     * plane it fits. 2 threads, medians of 3 interleaved runs. */
    const int window = plan->param_given[DEPTHWISE_BWD_D_NCHW_WINDOW]
                           ? (int)plan->param[DEPTHWISE_BWD_D_NCHW_WINDOW]
                           : depthwise_bwd_d_window_fits(s, 0) &&
                                 (DEPTHWISE_NCHW_DIRECT || s->w <= (s->r == 3 ? 28 : 14));
#else
    const int window = 0;
#endif
#if DEPTHWISE_NCHW_STREAM
    /* Flat planes of whole vectors stream in place: on when dx cannot stay in cache.
     * Otherwise (a staging copy) off by default: on Zen 5 (g128mb32ic128ih56, 51 MB dx) the
     * copy cost more than the read-for-ownership it saves (~10% slower); left to the tuner. */
    if (!plan->param_given[DEPTHWISE_BWD_D_NCHW_NT])
        plan->param[DEPTHWISE_BWD_D_NCHW_NT] =
            !window && !depthwise_bwd_d_nchw_staged(s, 1) && depthwise_dx_streams(s, plan->threads);
    const int nt = (int)plan->param[DEPTHWISE_BWD_D_NCHW_NT] && !s->accumulate;
#else
    const int nt = 0;
#endif
#if DEPTHWISE_NCHW_WINDOW
    plan->param[DEPTHWISE_BWD_D_NCHW_WINDOW] = window;
    if (window && !depthwise_bwd_d_window_fits(s, nt))
        return bt_fail(BT_EUNSUPPORTED,
                       "window=1: 3x3 or 5x5 taps, stride 1, 'same' padding, no dilation, dx "
                       "as large as dy, one filter per channel%s",
                       nt ? "; with nt=1, planes of whole vectors" : "");
#else
    (void)window;
#endif
    if (!plan->param_given[DEPTHWISE_BWD_D_NCHW_CB]) {
        /* Fill the accumulator registers, keeping the tile's U planes within half of L2. */
        int64_t cb = bt_min64(DEPTHWISE_NCHW_CB_MAX,
                              DEPTHWISE_NCHW_ACC_MAX / plan->param[DEPTHWISE_BWD_D_NCHW_JB]);
        while (cb > 1 && (int64_t)depthwise_bwd_d_nchw_thread_bytes(s, cb, nt) >
                             bt_machine_get()->l2_bytes / 2)
            cb--;
        plan->param[DEPTHWISE_BWD_D_NCHW_CB] = cb;
    } else if (!plan->param_given[DEPTHWISE_BWD_D_NCHW_JB]) {
        /* The default jb fitted to the given cb's accumulators. */
        plan->param[DEPTHWISE_BWD_D_NCHW_JB] =
            bt_max64(1, bt_min64(plan->param[DEPTHWISE_BWD_D_NCHW_JB],
                                 DEPTHWISE_NCHW_ACC_MAX / plan->param[DEPTHWISE_BWD_D_NCHW_CB]));
    }
    /* No more channels than there are, nor U planes past the scratch bound. */
    int64_t cb = bt_max64(1, bt_min64(plan->param[DEPTHWISE_BWD_D_NCHW_CB], s->c));
    while (cb > 1 && (int64_t)(depthwise_bwd_d_nchw_thread_bytes(s, cb, nt) / sizeof(float)) >
                         bt_scratch_block_floats(s))
        cb--;
    plan->param[DEPTHWISE_BWD_D_NCHW_CB] = cb;
    if (plan->param[DEPTHWISE_BWD_D_NCHW_JB] * plan->param[DEPTHWISE_BWD_D_NCHW_CB] >
        DEPTHWISE_NCHW_ACC_MAX)
        return bt_fail(BT_EINVAL, "%s: jb*cb = %lld exceeds the %d accumulator registers",
                       plan->variant->name,
                       (long long)(plan->param[DEPTHWISE_BWD_D_NCHW_JB] *
                                   plan->param[DEPTHWISE_BWD_D_NCHW_CB]),
                       DEPTHWISE_NCHW_ACC_MAX);
    plan->scratch_bytes = (size_t)plan->threads * depthwise_bwd_d_nchw_thread_bytes(
                                                      s, plan->param[DEPTHWISE_BWD_D_NCHW_CB], nt);
    return BT_OK;
}

/* Spreads the dy planes of channels [c, c + nc) (kg planes each) of sample n into U. */
static void BT_SIMD_NAME(depthwise_bwd_d_nchw_fill_u)(const bt_shape *s,
                                                      const depthwise_bwd_d_nchw_u_geom *g,
                                                      const float *dy, float *u, int64_t n,
                                                      int64_t c, int64_t nc) {
    int64_t copy = bt_max64(0, bt_min64(s->q, g->width - g->lead)); /* sw == 1 */
    for (int64_t k = c * s->kg; k < (c + nc) * s->kg; k++)
        for (int64_t p = 0; p < s->p; p++) {
            const float *src = dy + ((n * s->k + k) * s->p + p) * s->q;
            float *row = u + (k - c * s->kg) * g->plane + p * g->width;
            if (s->sw == 1) {
                depthwise_nchw_fill_row(row, g->width, g->lead, src, copy);
            } else {
                memset(row, 0, (size_t)g->width * sizeof(float));
                for (int64_t q = 0; q < s->q && g->lead + q * s->sw < g->width; q++)
                    row[g->lead + q * s->sw] = src[q];
            }
        }
}

static void BT_SIMD_NAME(depthwise_bwd_d_nchw_run)(const bt_plan *plan, const bt_tensors *t,
                                                   int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s;
    const int jb = (int)plan->param[DEPTHWISE_BWD_D_NCHW_JB],
              cb = (int)plan->param[DEPTHWISE_BWD_D_NCHW_CB];
    const depthwise_bwd_d_nchw_u_geom g = depthwise_bwd_d_nchw_u_geometry(s);
#if DEPTHWISE_NCHW_STREAM
    const int nt = (int)plan->param[DEPTHWISE_BWD_D_NCHW_NT] && !s->accumulate;
#else
    const int nt = 0;
#endif
    char *mine = (char *)plan->scratch + (size_t)tid * depthwise_bwd_d_nchw_thread_bytes(s, cb, nt);
    float *u = (float *)mine;
    float *wg = (float *)(mine + depthwise_align((size_t)(cb * s->kg * g.plane) * sizeof(float)));
    int64_t *uoff =
        (int64_t *)((char *)wg + depthwise_align((size_t)(cb * s->kg * taps) * sizeof(float)));
    const int64_t slots = s->kg * taps; /* a row's list: at most every tap */
    int64_t *woff = uoff + s->h * slots, *moff = woff + s->h * slots, *counts = moff + s->h * slots;
    uint32_t *masks =
        (uint32_t *)((char *)uoff +
                     depthwise_align(depthwise_bwd_d_nchw_list_floats(s) * sizeof(int64_t)));
    float *stage = (float *)((char *)masks +
                             depthwise_align((size_t)(s->s * bt_div_up(s->w, DEPTHWISE_NCHW_V)) *
                                             sizeof(uint32_t)));
    const int direct = DEPTHWISE_NCHW_DIRECT && s->sw == 1, phased = depthwise_bwd_d_nchw_phased(s);
#if DEPTHWISE_NCHW_WINDOW
    if (plan->param[DEPTHWISE_BWD_D_NCHW_WINDOW]) {
        BT_SIMD_NAME(depthwise_bwd_d_window_run)
        (plan, t, nt && (uintptr_t)t->dx % (DEPTHWISE_NCHW_V * sizeof(float)) == 0,
         (uint16_t *)stage, tid, nthr);
        return;
    }
#endif
#if DEPTHWISE_NCHW_DIRECT
    if (depthwise_nchw_flat(s)) {
        uint32_t *fmasks = (uint32_t *)stage;
        float *fstage =
            (float *)((char *)stage +
                      depthwise_align((size_t)depthwise_nchw_flat_masks(s) * sizeof(uint32_t)));
        BT_SIMD_NAME(depthwise_bwd_d_nchw_flat_run)(plan, t, wg, uoff, fmasks, fstage, tid, nthr);
        return;
    }
#endif
    const int64_t hw = s->h * s->w, pq_bytes = s->p * s->q * (int64_t)sizeof(float);
    const size_t stage_floats = depthwise_bwd_d_nchw_stage_bytes(s, cb, nt) / 2 / sizeof(float);
    depthwise_bwd_d_nchw_pending pend = {NULL, NULL, 0};
    int which = 0;

    depthwise_bwd_d_nchw_args a = {.u = u,
                                   .u_chan = s->kg * g.plane,
                                   .wg = wg,
                                   .masks = masks,
                                   .direct = direct,
                                   .dx_chan = s->h * s->w,
                                   .nvec = bt_div_up(s->w, DEPTHWISE_NCHW_V),
                                   .accumulate = s->accumulate};
    a.partial = s->w % DEPTHWISE_NCHW_V != 0;
    a.mask = bt_vmask((int)(s->w - (a.nvec - 1) * DEPTHWISE_NCHW_V));
    if (phased) a.nvec = bt_div_up(bt_div_up(s->w, 2), DEPTHWISE_NCHW_V); /* vectors of t */
    a.width = s->w;
    if (direct || phased) {
        a.u_chan = s->kg * s->p * s->q;
        /* Tap s reads q = j + pw - s*dw for output column j (phased: q = t + qoff(s) for
         * column j = 2t + phase(s)): lanes with j < W and q in dy. */
        for (int64_t ks = 0; ks < s->s; ks++)
            for (int64_t v = 0; v < a.nvec; v++) {
                uint32_t bits = 0;
                for (int l = 0; l < DEPTHWISE_NCHW_V; l++) {
                    int64_t j = v * DEPTHWISE_NCHW_V + l, q = j + s->pw - ks * s->dw;
                    if (phased) {
                        int64_t phase = depthwise_bwd_d_nchw_phase(s, ks);
                        q = j + depthwise_bwd_d_nchw_qoff(s, ks, phase), j = 2 * j + phase;
                    }
                    if (j < s->w && q >= 0 && q < s->q) bits |= 1u << l;
                }
                masks[ks * a.nvec + v] = bits;
            }
    }
    /* Taps reaching row i: (m, r, s) with p = (i + ph - r*dh) / sh exact; phased: those of
     * phase 0 first. The weights of a tile are [m][r][s][channel], cb channels a tap. */
    for (int64_t i = 0; i < s->h; i++) {
        int64_t ntaps = 0, *uo = uoff + i * slots, *wo = woff + i * slots, *mo = moff + i * slots;
        for (int pass = 0; pass < 1 + phased; pass++) {
            for (int64_t m = 0; m < s->kg; m++)
                for (int64_t kr = 0; kr < s->r; kr++) {
                    int64_t num = i + s->ph - kr * s->dh;
                    if (num < 0 || num % s->sh || num / s->sh >= s->p) continue;
                    int64_t row = m * s->p + num / s->sh;
                    for (int64_t ks = 0; ks < s->s; ks++) {
                        int64_t phase = phased ? depthwise_bwd_d_nchw_phase(s, ks) : 0;
                        if (phase != pass) continue;
                        uo[ntaps] = phased   ? row * s->q + depthwise_bwd_d_nchw_qoff(s, ks, phase)
                                    : direct ? row * s->q + s->pw - ks * s->dw
                                             : row * g.width + s->pw + g.lead - ks * s->dw;
                        mo[ntaps] = ks * a.nvec;
                        wo[ntaps] = (m * taps + kr * s->s + ks) * cb;
                        ntaps++;
                    }
                }
            if (pass == 0) counts[2 * i + 1] = ntaps;
        }
        counts[2 * i] = ntaps;
    }
    depthwise_range r =
        depthwise_thread_range((int)plan->param[DEPTHWISE_BWD_D_NCHW_PAR], tid, nthr, s->n, s->c);
    for (int64_t n = r.u0; n < r.u1; n++)
        for (int64_t c = r.c0; c < r.c1; c += cb) {
            int nc = (int)bt_min64(cb, r.c1 - c);
            if (direct || phased)
                a.u = t->dy + (n * s->k + c * s->kg) * s->p * s->q;
            else
                BT_SIMD_NAME(depthwise_bwd_d_nchw_fill_u)(s, &g, t->dy, u, n, c, nc);
            /* The next tile's dy planes, prefetched over this tile's rows. */
            int64_t nn = c + cb < r.c1 ? n : n + 1, nxc = c + cb < r.c1 ? c + cb : r.c0;
            const float *next = nn < r.u1 ? t->dy + (nn * s->k + nxc * s->kg) * s->p * s->q : NULL;
            int64_t next_bytes = bt_min64(cb, r.c1 - nxc) * s->kg * pq_bytes;
            for (int64_t tap = 0; tap < slots; tap++)
                for (int cl = 0; cl < nc; cl++) wg[tap * cb + cl] = t->w[(c + cl) * slots + tap];
            for (int64_t i = 0; i < s->h; i++) {
                a.uoff = uoff + i * slots, a.woff = woff + i * slots, a.moff = moff + i * slots;
                a.ntaps = (int)counts[2 * i], a.ntaps0 = (int)counts[2 * i + 1];
                float *cur = stage + (size_t)which * stage_floats;
                a.dx = (nt ? cur : t->dx + (n * s->c + c) * hw) + i * s->w;
                depthwise_prefetch_slice(next, next_bytes, i, s->h);
#if DEPTHWISE_NCHW_DIRECT
                if (phased)
                    BT_SIMD_NAME(depthwise_bwd_d_nchw_phase_row)(&a, jb, nc);
                else
#endif
                    BT_SIMD_NAME(depthwise_bwd_d_nchw_row)(&a, jb, nc);
                BT_SIMD_NAME(depthwise_bwd_d_nchw_stream_part)(&pend, i, s->h);
            }
            if (nt) {
                pend.dst = t->dx + (n * s->c + c) * hw;
                pend.src = stage + (size_t)which * stage_floats;
                pend.n = nc * hw;
                which ^= 1;
            }
        }
    BT_SIMD_NAME(depthwise_bwd_d_nchw_stream_part)(&pend, 0, 1);
#if DEPTHWISE_NCHW_STREAM
    if (nt) _mm_sfence();
#endif
}

static int BT_SIMD_NAME(depthwise_bwd_d_nchw_supports)(const bt_shape *s, char *why, size_t size) {
    if (!BT_SIMD_NAME(depthwise_nchw_supports)(s, why, size)) return 0;
    double lead =
        (double)bt_max64(0, (s->s - 1) * s->dw - s->pw); /* depthwise_bwd_d_nchw_u_geometry */
    double width = (double)(bt_div_up(s->w, DEPTHWISE_NCHW_V) * DEPTHWISE_NCHW_V + s->pw) + lead;
    return BT_SIMD_NAME(depthwise_nchw_copy_fits)(s, (double)s->kg * (double)s->p * width, why,
                                                  size);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, depthwise_nchw, .layouts = BT_TAKES_NCHW,
                       .params = BT_SIMD_NAME(depthwise_bwd_d_nchw_params),
                       .supports = BT_SIMD_NAME(depthwise_bwd_d_nchw_supports),
                       .prepare = BT_SIMD_NAME(depthwise_bwd_d_nchw_prepare),
                       .run = BT_SIMD_NAME(depthwise_bwd_d_nchw_run));

/* Depthwise convolution backward in NCHW, vectorised over width: a template instantiated once
 * per ISA by depthwise_nchw_{avx512,avx2,scalar}.c (see common/simd.h; no include guard).
 * Takes one input channel per group with any channel multiplier kg = K/C, any stride,
 * padding and dilation. Each plane is copied once into a per-thread buffer laid out so that
 * every tap becomes a contiguous, unconditional vector load:
 *
 * bwd_data: the dy planes of cb channels (times kg) are spread into U, zero-padded and
 * zero-upsampled by the stride: U[p][L + q*sw] = dy[p][q], zero elsewhere. Then
 * dx[i][j..j+V) = sum over rows r with an exact p, and all s, of w[r,s] * U[p][j + pw + L -
 * s*dw ..], shifted loads with a broadcast weight (a stride > 1 multiplies some zeros in the
 * width direction: simpler than phase bookkeeping, and the stride-2 layers are few). A tile
 * of cb channels x jb vectors accumulates in registers over the tap list.
 *
 * bwd_weights: each x plane becomes X, zero-padded in both directions and split by column
 * phase (column m*sw + phase in plane `phase`), so tap (r,s) at output row p reads the
 * contiguous run X_phase(s)[p*sh + r*dh][q + (s*dw)/sw ..]. Chunks of up to 9 taps (+ db)
 * accumulate in registers over the plane, are summed across lanes, and added to this thread's
 * partial dW; after a barrier the partials are summed in thread order.
 *
 * Threads form a grid over samples x channels (par).
 */
#include "common/simd.h"
#include "conv/depthwise_common.h"

#include <string.h>

#if defined(BT_SIMD_AVX512)
#define DWC_NREG 32
#define DWC_CB_TUNE "2|4|6"
#define DWC_STREAM 1
#define dwc_vstream(p, v) _mm512_stream_ps((p), (v))
/* Stride 1 in width: taps read dy in place with lane masks at the row ends (no U copy). */
#define DWC_DIRECT 1
#elif defined(BT_SIMD_AVX2)
#define DWC_NREG 16
#define DWC_CB_TUNE "2|3"
#define DWC_STREAM 1
#define dwc_vstream(p, v) _mm256_stream_ps((p), (v))
#else
#define DWC_NREG 16
#define DWC_CB_TUNE "2|3"
#define DWC_STREAM 0
#define dwc_vstream(p, v) bt_vstore((p), (v))
#endif
#ifndef DWC_DIRECT
#define DWC_DIRECT 0
#endif

#define DWC_V BT_VLEN
#define DWC_JB_MAX 4
#define DWC_CB_MAX 8
#define DWC_ACC_MAX (DWC_NREG * 3 / 4)
#define DWC_TMAX 9
#define DWC_INLINE static inline __attribute__((always_inline))

static int BT_SIMD_NAME(dwc_supports)(const bt_shape *s, char *why, size_t size) {
    return dw_supports(s, BT_NCHW, 1, why, size);
}

/* row[0, width) = zero except row[lead, lead + copy) = src: vector stores, as memset/memcpy
 * calls on rows this short (tens of floats) cost more than the copy. */
DWC_INLINE void dwc_fill_row(float *row, int64_t width, int64_t lead, const float *src,
                             int64_t copy) {
    int64_t i = 0;
    for (; i + DWC_V <= lead; i += DWC_V) bt_vstore(row + i, bt_vzero());
    if (i < lead) bt_vstore_mask(row + i, bt_vmask((int)(lead - i)), bt_vzero());
    for (i = 0; i + DWC_V <= copy; i += DWC_V) bt_vstore(row + lead + i, bt_vload(src + i));
    if (i < copy) {
        bt_vmask_t m = bt_vmask((int)(copy - i));
        bt_vstore_mask(row + lead + i, m, bt_vload_mask(src + i, m));
    }
    for (i = lead + copy; i + DWC_V <= width; i += DWC_V) bt_vstore(row + i, bt_vzero());
    if (i < width) bt_vstore_mask(row + i, bt_vmask((int)(width - i)), bt_vzero());
}

/* ---------------------------------------------------------------------------------------- */
/* bwd_data                                                                                  */

enum { DWC_D_PAR, DWC_D_JB, DWC_D_CB, DWC_D_NT };

/* nt: rows go to a per-thread staging copy of the tile's dx planes (contiguous, like dx), which
 * is written out with streaming stores while the next tile computes (two stages, alternating):
 * dx rows are not vector-aligned but the planes are one contiguous run, streaming skips the
 * read-for-ownership of dx, and spreading the stores over the next tile's rows keeps the
 * write stream busy instead of stalling in a burst. */
static const bt_param_spec BT_SIMD_NAME(dwc_d_params)[] = {
    {.key = "par", .choices = dw_par_choices},
    {.key = "jb", .min = 1, .max = DWC_JB_MAX, .tune = "2|4"},
    {.key = "cb", .min = 1, .max = DWC_CB_MAX, .tune = DWC_CB_TUNE},
#if DWC_STREAM
    {.key = "nt", .min = 0, .max = 1, .tune = "0|1"},
#endif
    {0}};

/* Geometry of U: left pad L so that every read index is >= 0, width covering whole vectors. */
typedef struct dwc_u_geom {
    int64_t lead, width, plane; /* L, UW, P * UW */
} dwc_u_geom;

static dwc_u_geom dwc_u_geometry(const bt_shape *s) {
    dwc_u_geom g;
    g.lead = bt_max64(0, (s->s - 1) * s->dw - s->pw);
    g.width = bt_div_up(s->w, DWC_V) * DWC_V + s->pw + g.lead;
    g.plane = s->p * g.width;
    return g;
}

/* Flat: stride 1, output as large as the input, one dy plane per channel: a dx plane and its
 * dy plane have the same shape, so tap (r, s) is one flat shift of the whole plane, valid
 * where a per-(vector, tap) lane mask says. Vectors run over the flattened plane (no lanes
 * wasted on row tails) and are aligned with the plane, so dx can be streamed in place. */
static int dwc_d_flat(const bt_shape *s) {
    return DWC_DIRECT && s->sh == 1 && s->sw == 1 && s->p == s->h && s->q == s->w && s->kg == 1;
}

static int64_t dwc_d_flat_masks(const bt_shape *s) {
    return dwc_d_flat(s) ? bt_div_up(s->h * s->w, DWC_V) * s->r * s->s : 0;
}

static size_t dwc_d_stage_bytes(const bt_shape *s, int64_t cb, int nt) {
    return nt && !dwc_d_flat(s) ? 2 * dw_align((size_t)(cb * s->h * s->w) * sizeof(float)) : 0;
}

static size_t dwc_d_thread_bytes(const bt_shape *s, int64_t cb, int nt) {
    dwc_u_geom g = dwc_u_geometry(s);
    return dw_align((size_t)(cb * s->kg * g.plane) * sizeof(float)) +
           dw_align((size_t)(cb * s->kg * s->r * s->s) * sizeof(float)) +
           dw_align((size_t)(3 * s->kg * s->r * s->s) * sizeof(int64_t)) +
           dw_align((size_t)(s->s * bt_div_up(s->w, DWC_V)) * sizeof(uint32_t)) +
           dw_align((size_t)dwc_d_flat_masks(s) * sizeof(uint32_t)) + dwc_d_stage_bytes(s, cb, nt);
}

/* A stage waiting to be written out: dst[0, n) = src. */
typedef struct dwc_pending {
    float *dst;
    const float *src;
    int64_t n;
} dwc_pending;

/* Part `part` of `parts` of the copy: streaming stores where dst is vector-aligned, plain
 * stores at the unaligned ends (in the first and last part). */
static void BT_SIMD_NAME(dwc_stream_part)(const dwc_pending *w, int64_t part, int64_t parts) {
    if (!w->dst) return;
    int64_t head = 0;
#if DWC_STREAM
    while (head < w->n && ((uintptr_t)(w->dst + head) % (DWC_V * sizeof(float))) != 0) head++;
    int64_t body = (w->n - head) / DWC_V;
    for (int64_t v = body * part / parts; v < body * (part + 1) / parts; v++)
        dwc_vstream(w->dst + head + v * DWC_V, bt_vload(w->src + head + v * DWC_V));
#else
    int64_t body = 0;
#endif
    if (part == 0)
        for (int64_t i = 0; i < head; i++) w->dst[i] = w->src[i];
    if (part == parts - 1)
        for (int64_t i = head + body * DWC_V; i < w->n; i++) w->dst[i] = w->src[i];
}

typedef struct dwc_d_args {
    const float *u;             /* U (direct: dy) of the tile's first channel */
    int64_t u_chan;             /* floats between channels in U (direct: in dy): kg planes */
    const float *wg;            /* the tile's weights, [m][r][s][channel] */
    const int64_t *uoff, *woff; /* per tap: offset in a channel's U (dy), offset in wg */
    const int64_t *moff;        /* direct, per tap: its row of masks, s * nvec */
    const uint32_t *masks;      /* direct: [s][vector] lanes of dy inside the row */
    int ntaps, direct;
    float *dx;       /* dx row i of the tile's first channel */
    int64_t dx_chan; /* H * W */
    int64_t nvec;    /* vectors per row; the last is masked when W % V != 0 */
    bt_vmask_t mask;
    int partial, accumulate;
} dwc_d_args;

/* dx[CB channels][JB vectors from vector j0] (+)= sum over taps of w * U. */
DWC_INLINE void dwc_d_tile(const dwc_d_args *a, int64_t j0, const int CB, const int JB,
                           const int DIRECT) {
    (void)DIRECT;                      /* no direct path without AVX-512 masks */
    if (CB * JB > DWC_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf acc[DWC_CB_MAX][DWC_JB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) acc[c][j] = bt_vzero();
    const int64_t col = j0 * DWC_V;
    /* One base pointer per channel and the tap as an index: CB address registers, the
     * vector and the weight's channel are displacements. */
    const float *pos[DWC_CB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) pos[c] = a->u + c * a->u_chan + col;
    for (int tap = 0; tap < a->ntaps; tap++) {
        const int64_t uo = a->uoff[tap];
        const float *w = a->wg + a->woff[tap];
#if DWC_DIRECT
        __mmask16 m[DWC_JB_MAX];
        if (DIRECT)
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++) m[j] = (__mmask16)a->masks[a->moff[tap] + j0 + j];
#endif
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            bt_vf wv = bt_vbcast(w + c);
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++) {
                const float *src = pos[c] + uo + j * DWC_V;
#if DWC_DIRECT
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
            float *dst = a->dx + c * a->dx_chan + col + j * DWC_V;
            if (j == JB - 1 && last_partial) {
                bt_vf r =
                    a->accumulate ? bt_vadd(bt_vload_mask(dst, a->mask), acc[c][j]) : acc[c][j];
                bt_vstore_mask(dst, a->mask, r);
            } else {
                bt_vstore(dst, a->accumulate ? bt_vadd(bt_vload(dst), acc[c][j]) : acc[c][j]);
            }
        }
}

DWC_INLINE void dwc_d_row_cb(const dwc_d_args *a, int jb, const int CB) {
    int64_t j = 0;
    for (; j < a->nvec; j += jb) {
        int n = (int)bt_min64(jb, a->nvec - j);
        switch (n) {
        case 1:
            if (DWC_DIRECT && a->direct)
                dwc_d_tile(a, j, CB, 1, 1);
            else
                dwc_d_tile(a, j, CB, 1, 0);
            break;
        case 2:
            if (DWC_DIRECT && a->direct)
                dwc_d_tile(a, j, CB, 2, 1);
            else
                dwc_d_tile(a, j, CB, 2, 0);
            break;
        case 3:
            if (DWC_DIRECT && a->direct)
                dwc_d_tile(a, j, CB, 3, 1);
            else
                dwc_d_tile(a, j, CB, 3, 0);
            break;
        default:
            if (DWC_DIRECT && a->direct)
                dwc_d_tile(a, j, CB, 4, 1);
            else
                dwc_d_tile(a, j, CB, 4, 0);
            break;
        }
    }
}

/* One dx row of cb channels. */
static void BT_SIMD_NAME(dwc_d_row)(const dwc_d_args *a, int jb, int cb) {
    switch (cb) {
#define DWC_D_CASE(C)                                                                              \
    case C:                                                                                        \
        dwc_d_row_cb(a, jb, C);                                                                    \
        break;
        DWC_D_CASE(1)
        DWC_D_CASE(2)
        DWC_D_CASE(3)
        DWC_D_CASE(4)
        DWC_D_CASE(5)
        DWC_D_CASE(6)
        DWC_D_CASE(7)
        DWC_D_CASE(8)
#undef DWC_D_CASE
    }
}

#if DWC_DIRECT
typedef struct dwc_f_args {
    const float *dy; /* dy plane of the tile's first channel */
    float *dx;       /* dx plane of the tile's first channel */
    int64_t chan;    /* H * W, in dy and dx */
    const float *wg; /* [tap][channel] */
    const int64_t *off;
    const uint32_t *masks; /* [vector][tap] */
    int64_t taps, nc, nvec;
    bt_vmask_t tail; /* lanes of the plane's last vector */
    int accumulate, stream;
    dw_pf pf;
} dwc_f_args;

/* dx[CB channels][JB flat vectors from v0] (+)= sum over taps of w * masked shifted dy. */
DWC_INLINE void dwc_d_flat_tile(const dwc_f_args *a, int64_t v0, const int CB, const int JB) {
    if (CB * JB > DWC_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf acc[DWC_CB_MAX][DWC_JB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) acc[c][j] = bt_vzero();
    const float *pos[DWC_CB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) pos[c] = a->dy + c * a->chan + v0 * DWC_V;
    const uint32_t *mk = a->masks + v0 * a->taps;
    for (int64_t tap = 0; tap < a->taps; tap++) {
        const int64_t o = a->off[tap];
        const float *w = a->wg + tap * a->nc;
        __mmask16 m[DWC_JB_MAX];
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) m[j] = (__mmask16)mk[j * a->taps + tap];
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            bt_vf wv = bt_vbcast(w + c);
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++)
                acc[c][j] =
                    bt_vfmadd(wv, _mm512_maskz_loadu_ps(m[j], pos[c] + o + j * DWC_V), acc[c][j]);
        }
    }
    const int last = v0 + JB == a->nvec;
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) {
            float *dst = a->dx + c * a->chan + (v0 + j) * DWC_V;
            if (j == JB - 1 && last) {
                bt_vf r =
                    a->accumulate ? bt_vadd(bt_vload_mask(dst, a->tail), acc[c][j]) : acc[c][j];
                bt_vstore_mask(dst, a->tail, r);
            } else if (a->accumulate) {
                bt_vstore(dst, bt_vadd(bt_vload(dst), acc[c][j]));
            } else if (a->stream) {
                dwc_vstream(dst, acc[c][j]);
            } else {
                bt_vstore(dst, acc[c][j]);
            }
        }
}

DWC_INLINE void dwc_d_flat_cb(dwc_f_args *a, int jb, const int CB) {
    for (int64_t v = 0; v < a->nvec; v += jb) {
        dw_pf_next(&a->pf);
        switch ((int)bt_min64(jb, a->nvec - v)) {
        case 1:
            dwc_d_flat_tile(a, v, CB, 1);
            break;
        case 2:
            dwc_d_flat_tile(a, v, CB, 2);
            break;
        case 3:
            dwc_d_flat_tile(a, v, CB, 3);
            break;
        default:
            dwc_d_flat_tile(a, v, CB, 4);
            break;
        }
    }
}

/* All planes of cb channels. */
static void BT_SIMD_NAME(dwc_d_flat_planes)(dwc_f_args *a, int jb, int cb) {
    switch (cb) {
#define DWC_F_CASE(C)                                                                              \
    case C:                                                                                        \
        dwc_d_flat_cb(a, jb, C);                                                                   \
        break;
        DWC_F_CASE(1)
        DWC_F_CASE(2)
        DWC_F_CASE(3)
        DWC_F_CASE(4)
        DWC_F_CASE(5)
        DWC_F_CASE(6)
        DWC_F_CASE(7)
        DWC_F_CASE(8)
#undef DWC_F_CASE
    }
}

static void BT_SIMD_NAME(dwc_d_flat_run)(const bt_plan *plan, const bt_tensors *t, float *wg,
                                         int64_t *off, uint32_t *masks, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, hw = s->h * s->w;
    const int jb = (int)plan->param[DWC_D_JB], cb = (int)plan->param[DWC_D_CB];
    dwc_f_args a = {.chan = hw, .wg = wg, .off = off, .masks = masks, .taps = taps};
    a.nvec = bt_div_up(hw, DWC_V);
    a.tail = bt_vmask((int)(hw - (a.nvec - 1) * DWC_V));
    a.accumulate = s->accumulate;
    a.stream = plan->param[DWC_D_NT] && !s->accumulate && hw % DWC_V == 0 &&
               (uintptr_t)t->dx % (DWC_V * sizeof(float)) == 0;
    for (int64_t r = 0; r < s->r; r++)
        for (int64_t ks = 0; ks < s->s; ks++)
            off[r * s->s + ks] = (s->ph - r * s->dh) * s->w + s->pw - ks * s->dw;
    for (int64_t v = 0; v < a.nvec; v++)
        for (int64_t tap = 0; tap < taps; tap++) {
            int64_t r = tap / s->s, ks = tap % s->s;
            uint32_t bits = 0;
            for (int l = 0; l < DWC_V; l++) {
                int64_t f = v * DWC_V + l, i = f / s->w, j = f % s->w;
                int64_t p = i + s->ph - r * s->dh, q = j + s->pw - ks * s->dw;
                if (f < hw && p >= 0 && p < s->p && q >= 0 && q < s->q) bits |= 1u << l;
            }
            masks[v * taps + tap] = bits;
        }
    dw_range g = dw_thread_range((int)plan->param[DWC_D_PAR], tid, nthr, s->n, s->c);
    for (int64_t n = g.u0; n < g.u1; n++)
        for (int64_t c = g.c0; c < g.c1; c += cb) {
            int nc = (int)bt_min64(cb, g.c1 - c);
            for (int64_t tap = 0; tap < taps; tap++)
                for (int cl = 0; cl < nc; cl++) wg[tap * nc + cl] = t->w[(c + cl) * taps + tap];
            /* The next tile's dy planes, prefetched over this tile's vectors. */
            int64_t nn = c + cb < g.c1 ? n : n + 1, nxc = c + cb < g.c1 ? c + cb : g.c0;
            a.pf = dw_pf_make(nn < g.u1 ? t->dy + (nn * s->k + nxc) * hw : NULL,
                              bt_min64(cb, g.c1 - nxc) * hw * (int64_t)sizeof(float),
                              bt_div_up(a.nvec, jb));
            a.dy = t->dy + (n * s->k + c) * hw;
            a.dx = t->dx + (n * s->c + c) * hw;
            a.nc = nc;
            BT_SIMD_NAME(dwc_d_flat_planes)(&a, jb, nc);
        }
    if (a.stream) _mm_sfence();
}
#endif

static bt_status BT_SIMD_NAME(dwc_d_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DWC_D_PAR]) plan->param[DWC_D_PAR] = DW_PAR_2D;
    if (!plan->param_given[DWC_D_JB])
        plan->param[DWC_D_JB] =
            bt_min64(DWC_JB_MAX, bt_div_up(dwc_d_flat(s) ? s->h * s->w : s->w, DWC_V));
#if DWC_STREAM
    /* Flat planes stream in place: on when dx cannot stay in cache. Otherwise off by default:
     * on Zen 5 (g128mb32ic128ih56, 51 MB dx) the staging copy cost more than the
     * read-for-ownership it saves (~10% slower); left to the tuner. */
    if (!plan->param_given[DWC_D_NT])
        plan->param[DWC_D_NT] = dwc_d_flat(s) && !s->accumulate &&
                                (int64_t)(bt_shape_x_elems(s) * sizeof(float)) > dw_l3_bytes();
    const int nt = (int)plan->param[DWC_D_NT] && !s->accumulate;
#else
    const int nt = 0;
#endif
    if (!plan->param_given[DWC_D_CB]) {
        /* Fill the accumulator registers, keeping the tile's U planes within half of L2. */
        int64_t cb = bt_min64(DWC_CB_MAX, DWC_ACC_MAX / plan->param[DWC_D_JB]);
        while (cb > 1 && (int64_t)dwc_d_thread_bytes(s, cb, nt) > bt_machine_get()->l2_bytes / 2)
            cb--;
        plan->param[DWC_D_CB] = cb;
    } else if (!plan->param_given[DWC_D_JB]) {
        /* The default jb fitted to the given cb's accumulators. */
        plan->param[DWC_D_JB] =
            bt_max64(1, bt_min64(plan->param[DWC_D_JB], DWC_ACC_MAX / plan->param[DWC_D_CB]));
    }
    /* No more channels than there are, nor U planes past the scratch bound. */
    int64_t cb = bt_max64(1, bt_min64(plan->param[DWC_D_CB], s->c));
    while (cb > 1 &&
           (int64_t)(dwc_d_thread_bytes(s, cb, nt) / sizeof(float)) > bt_scratch_block_floats(s))
        cb--;
    plan->param[DWC_D_CB] = cb;
    if (plan->param[DWC_D_JB] * plan->param[DWC_D_CB] > DWC_ACC_MAX)
        return bt_fail(BT_EINVAL, "%s: jb*cb = %lld exceeds the %d accumulator registers",
                       plan->variant->name,
                       (long long)(plan->param[DWC_D_JB] * plan->param[DWC_D_CB]), DWC_ACC_MAX);
    plan->scratch_bytes = (size_t)plan->threads * dwc_d_thread_bytes(s, plan->param[DWC_D_CB], nt);
    return BT_OK;
}

/* Spreads the dy planes of channels [c, c + nc) (kg planes each) of sample n into U. */
static void BT_SIMD_NAME(dwc_d_fill_u)(const bt_shape *s, const dwc_u_geom *g, const float *dy,
                                       float *u, int64_t n, int64_t c, int64_t nc) {
    int64_t copy = bt_max64(0, bt_min64(s->q, g->width - g->lead)); /* sw == 1 */
    for (int64_t k = c * s->kg; k < (c + nc) * s->kg; k++)
        for (int64_t p = 0; p < s->p; p++) {
            const float *src = dy + ((n * s->k + k) * s->p + p) * s->q;
            float *row = u + (k - c * s->kg) * g->plane + p * g->width;
            if (s->sw == 1) {
                dwc_fill_row(row, g->width, g->lead, src, copy);
            } else {
                memset(row, 0, (size_t)g->width * sizeof(float));
                for (int64_t q = 0; q < s->q && g->lead + q * s->sw < g->width; q++)
                    row[g->lead + q * s->sw] = src[q];
            }
        }
}

static void BT_SIMD_NAME(dwc_d_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s;
    const int jb = (int)plan->param[DWC_D_JB], cb = (int)plan->param[DWC_D_CB];
    const dwc_u_geom g = dwc_u_geometry(s);
#if DWC_STREAM
    const int nt = (int)plan->param[DWC_D_NT] && !s->accumulate;
#else
    const int nt = 0;
#endif
    char *mine = (char *)plan->scratch + (size_t)tid * dwc_d_thread_bytes(s, cb, nt);
    float *u = (float *)mine;
    float *wg = (float *)(mine + dw_align((size_t)(cb * s->kg * g.plane) * sizeof(float)));
    int64_t *uoff = (int64_t *)((char *)wg + dw_align((size_t)(cb * s->kg * taps) * sizeof(float)));
    int64_t *woff = uoff + s->kg * taps, *moff = woff + s->kg * taps;
    uint32_t *masks =
        (uint32_t *)((char *)uoff + dw_align((size_t)(3 * s->kg * taps) * sizeof(int64_t)));
    float *stage = (float *)((char *)masks +
                             dw_align((size_t)(s->s * bt_div_up(s->w, DWC_V)) * sizeof(uint32_t)));
    const int direct = DWC_DIRECT && s->sw == 1;
#if DWC_DIRECT
    if (dwc_d_flat(s)) {
        uint32_t *fmasks =
            (uint32_t *)((char *)masks +
                         dw_align((size_t)(s->s * bt_div_up(s->w, DWC_V)) * sizeof(uint32_t)));
        BT_SIMD_NAME(dwc_d_flat_run)(plan, t, wg, uoff, fmasks, tid, nthr);
        return;
    }
#endif
    const int64_t hw = s->h * s->w, pq_bytes = s->p * s->q * (int64_t)sizeof(float);
    const size_t stage_floats = dwc_d_stage_bytes(s, cb, nt) / 2 / sizeof(float);
    dwc_pending pend = {NULL, NULL, 0};
    int which = 0;

    dwc_d_args a = {.u = u,
                    .u_chan = s->kg * g.plane,
                    .wg = wg,
                    .uoff = uoff,
                    .woff = woff,
                    .moff = moff,
                    .masks = masks,
                    .direct = direct,
                    .dx_chan = s->h * s->w,
                    .nvec = bt_div_up(s->w, DWC_V),
                    .accumulate = s->accumulate};
    a.partial = s->w % DWC_V != 0;
    a.mask = bt_vmask((int)(s->w - (a.nvec - 1) * DWC_V));
    if (direct) {
        a.u_chan = s->kg * s->p * s->q;
        /* Tap s reads q = j + pw - s*dw for output column j: lanes with j < W and q in dy. */
        for (int64_t ks = 0; ks < s->s; ks++)
            for (int64_t v = 0; v < a.nvec; v++) {
                uint32_t bits = 0;
                for (int l = 0; l < DWC_V; l++) {
                    int64_t j = v * DWC_V + l, q = j + s->pw - ks * s->dw;
                    if (j < s->w && q >= 0 && q < s->q) bits |= 1u << l;
                }
                masks[ks * a.nvec + v] = bits;
            }
    }
    dw_range r = dw_thread_range((int)plan->param[DWC_D_PAR], tid, nthr, s->n, s->c);
    for (int64_t n = r.u0; n < r.u1; n++)
        for (int64_t c = r.c0; c < r.c1; c += cb) {
            int nc = (int)bt_min64(cb, r.c1 - c);
            if (direct)
                a.u = t->dy + (n * s->k + c * s->kg) * s->p * s->q;
            else
                BT_SIMD_NAME(dwc_d_fill_u)(s, &g, t->dy, u, n, c, nc);
            /* The next tile's dy planes, prefetched over this tile's rows. */
            int64_t nn = c + cb < r.c1 ? n : n + 1, nxc = c + cb < r.c1 ? c + cb : r.c0;
            const float *next = nn < r.u1 ? t->dy + (nn * s->k + nxc * s->kg) * s->p * s->q : NULL;
            int64_t next_bytes = bt_min64(cb, r.c1 - nxc) * s->kg * pq_bytes;
            for (int64_t tap = 0; tap < s->kg * taps; tap++)
                for (int cl = 0; cl < nc; cl++)
                    wg[tap * nc + cl] = t->w[(c + cl) * s->kg * taps + tap];
            for (int64_t i = 0; i < s->h; i++) {
                /* Taps reaching row i: (m, r, s) with p = (i + ph - r*dh) / sh exact. */
                int ntaps = 0;
                for (int64_t m = 0; m < s->kg; m++)
                    for (int64_t kr = 0; kr < s->r; kr++) {
                        int64_t num = i + s->ph - kr * s->dh;
                        if (num < 0 || num % s->sh || num / s->sh >= s->p) continue;
                        for (int64_t ks = 0; ks < s->s; ks++) {
                            uoff[ntaps] = direct
                                              ? (m * s->p + num / s->sh) * s->q + s->pw - ks * s->dw
                                              : (m * s->p + num / s->sh) * g.width + s->pw +
                                                    g.lead - ks * s->dw;
                            moff[ntaps] = ks * a.nvec;
                            woff[ntaps] = (m * taps + kr * s->s + ks) * nc;
                            ntaps++;
                        }
                    }
                a.ntaps = ntaps;
                float *cur = stage + (size_t)which * stage_floats;
                a.dx = (nt ? cur : t->dx + (n * s->c + c) * hw) + i * s->w;
                dw_prefetch_slice(next, next_bytes, i, s->h);
                BT_SIMD_NAME(dwc_d_row)(&a, jb, nc);
                BT_SIMD_NAME(dwc_stream_part)(&pend, i, s->h);
            }
            if (nt) {
                pend.dst = t->dx + (n * s->c + c) * hw;
                pend.src = stage + (size_t)which * stage_floats;
                pend.n = nc * hw;
                which ^= 1;
            }
        }
    BT_SIMD_NAME(dwc_stream_part)(&pend, 0, 1);
#if DWC_STREAM
    if (nt) _mm_sfence();
#endif
}

/* ---------------------------------------------------------------------------------------- */
/* bwd_weights                                                                               */

enum { DWC_W_PAR };

static const bt_param_spec BT_SIMD_NAME(dwc_w_params)[] = {
    {.key = "par", .choices = dw_par_choices}, {0}};

/* Geometry of X: rows p*sh + r*dh (row i + ph of the padded plane), sw phase planes of
 * `width` columns each, wide enough for whole vectors of q. */
typedef struct dwc_x_geom {
    int64_t rows, width, plane; /* per phase */
} dwc_x_geom;

static dwc_x_geom dwc_x_geometry(const bt_shape *s) {
    dwc_x_geom g;
    int64_t qv = bt_div_up(s->q, DWC_V) * DWC_V;
    g.rows = (s->p - 1) * s->sh + (s->r - 1) * s->dh + 1;
    g.width = bt_div_up((qv - 1) * s->sw + (s->s - 1) * s->dw + 1, s->sw);
    g.plane = g.rows * g.width;
    return g;
}

static size_t dwc_w_part_floats(const bt_shape *s) {
    return dw_align((size_t)(s->k * (s->r * s->s + 1)) * sizeof(float)) / sizeof(float);
}

/* Flat (see dwc_d_flat): tap (r, s) reads x at one flat shift of the dy position, under a
 * per-(vector, tap) lane mask; no padded copy of x, no lanes wasted on row tails. */
static int dwc_w_flat(const bt_shape *s) {
    return dwc_d_flat(s) && s->r * s->s <= DWC_TMAX;
}

static size_t dwc_w_thread_bytes(const bt_shape *s) {
    dwc_x_geom g = dwc_x_geometry(s);
    return dw_align((size_t)(s->sw * g.plane) * sizeof(float)) +
           dw_align((size_t)(s->r * s->s) * sizeof(int64_t)) +
           (dwc_w_flat(s) ? dw_align((size_t)dwc_d_flat_masks(s) * sizeof(uint32_t)) : 0);
}

#if DWC_DIRECT
typedef struct dwc_wf_args {
    const float *x, *dy;   /* planes (n, c) and (n, k) */
    const int64_t *off;    /* per tap: flat shift from the dy position to its x */
    const uint32_t *masks; /* [vector][tap] */
    int64_t nvec, taps;
    __mmask16 tail; /* lanes of the plane's last vector */
    float *part;    /* this thread's partial for channel k: [taps + 1] */
    dw_pf *pf_x, *pf_dy;
} dwc_wf_args;

DWC_INLINE void dwc_w_flat_plane(const dwc_wf_args *a, const int T, const int DB) {
    bt_vf acc[DWC_TMAX], dbv = bt_vzero();
    /* Locals: the cursors' stores would otherwise make every operand reload each vector. */
    const float *xo[DWC_TMAX];
    dw_pf pfx = *a->pf_x, pfd = *a->pf_dy;
    const int64_t nvec = a->nvec, taps = a->taps;
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vzero(), xo[k] = a->x + a->off[k];
    for (int64_t v = 0; v < nvec; v++) {
        dw_pf_next(&pfx);
        dw_pf_next(&pfd);
        const float *d = a->dy + v * DWC_V;
        bt_vf dv = v + 1 < nvec ? bt_vload(d) : _mm512_maskz_loadu_ps(a->tail, d);
        if (DB) dbv = bt_vadd(dbv, dv);
        const uint32_t *m = a->masks + v * taps;
#pragma GCC unroll 9
        for (int k = 0; k < T; k++)
            acc[k] =
                bt_vfmadd(_mm512_maskz_loadu_ps((__mmask16)m[k], xo[k] + v * DWC_V), dv, acc[k]);
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) a->part[k] += bt_vhsum(acc[k]);
    if (DB) a->part[a->taps] += bt_vhsum(dbv);
}

static void BT_SIMD_NAME(dwc_w_flat_any)(const dwc_wf_args *a, int db) {
    switch (a->taps * 2 + db) {
#define DWC_WF_CASE(T)                                                                             \
    case 2 * T:                                                                                    \
        dwc_w_flat_plane(a, T, 0);                                                                 \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        dwc_w_flat_plane(a, T, 1);                                                                 \
        break;
        DWC_WF_CASE(1)
        DWC_WF_CASE(2)
        DWC_WF_CASE(3)
        DWC_WF_CASE(4)
        DWC_WF_CASE(5)
        DWC_WF_CASE(6)
        DWC_WF_CASE(7)
        DWC_WF_CASE(8)
        DWC_WF_CASE(9)
#undef DWC_WF_CASE
    }
}

static void BT_SIMD_NAME(dwc_w_flat_run)(const bt_plan *plan, const bt_tensors *t, float *part,
                                         int64_t *off, uint32_t *masks, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, hw = s->h * s->w;
    dwc_wf_args a = {.off = off, .masks = masks, .taps = taps};
    a.nvec = bt_div_up(hw, DWC_V);
    a.tail = bt_vmask((int)(hw - (a.nvec - 1) * DWC_V));
    for (int64_t r = 0; r < s->r; r++)
        for (int64_t ks = 0; ks < s->s; ks++)
            off[r * s->s + ks] = (r * s->dh - s->ph) * s->w + ks * s->dw - s->pw;
    for (int64_t v = 0; v < a.nvec; v++)
        for (int64_t tap = 0; tap < taps; tap++) {
            int64_t r = tap / s->s, ks = tap % s->s;
            uint32_t bits = 0;
            for (int l = 0; l < DWC_V; l++) {
                int64_t f = v * DWC_V + l;
                int64_t i = f / s->w + r * s->dh - s->ph, j = f % s->w + ks * s->dw - s->pw;
                if (f < hw && i >= 0 && i < s->h && j >= 0 && j < s->w) bits |= 1u << l;
            }
            masks[v * taps + tap] = bits;
        }
    dw_pf pf_x, pf_dy;
    a.pf_x = &pf_x;
    a.pf_dy = &pf_dy;
    int with_db = t->db != NULL;
    dw_range g = dw_thread_range((int)plan->param[DWC_W_PAR], tid, nthr, s->n, s->k);
    for (int64_t n = g.u0; n < g.u1; n++)
        for (int64_t k = g.c0; k < g.c1; k++) {
            a.x = t->x + (n * s->c + k) * hw;
            a.dy = t->dy + (n * s->k + k) * hw;
            a.part = part + k * (taps + 1);
            /* The next plane pair of this thread, prefetched over this one's vectors. */
            int64_t nn = k + 1 < g.c1 ? n : n + 1, nk = k + 1 < g.c1 ? k + 1 : g.c0;
            int more = nn < g.u1;
            int64_t bytes = hw * (int64_t)sizeof(float);
            pf_x = dw_pf_make(more ? t->x + (nn * s->c + nk) * hw : NULL, bytes, a.nvec);
            pf_dy = dw_pf_make(more ? t->dy + (nn * s->k + nk) * hw : NULL, bytes, a.nvec);
            BT_SIMD_NAME(dwc_w_flat_any)(&a, with_db);
        }
}
#endif

typedef struct dwc_w_args {
    const float *x;   /* X of the plane */
    const float *dy;  /* dy plane (n, k) */
    int64_t row_step; /* X floats per output row: sh * width */
    int64_t p, q;     /* output plane */
    bt_vmask_t mask;  /* lanes of the last vector of a dy row */
    float *part;      /* this thread's partial for channel k: [taps + 1] */
    int64_t taps;
    /* The next plane's x and dy in the tensors (NULL: none), prefetched over the rows. */
    const float *pf_x, *pf_dy;
    int64_t pf_x_bytes, pf_dy_bytes;
} dwc_w_args;

/* One vector of positions: acc[k] += X[tap k] * dv, db += dv. */
DWC_INLINE void dwc_w_step(bt_vf *acc, bt_vf *dbv, bt_vf dv, const float *x, const int64_t *toff,
                           const int T, const int DB) {
    if (DB) *dbv = bt_vadd(*dbv, dv);
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vfmadd(bt_vload(x + toff[k]), dv, acc[k]);
}

/* part[slots of the chunk] += sum over the plane of X * dy; T taps (+ db) in registers. */
DWC_INLINE void dwc_w_chunk(const dwc_w_args *a, const int64_t *toff, int64_t first_slot,
                            const int T, const int DB) {
    bt_vf acc[DWC_TMAX], dbv = bt_vzero();
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vzero();
    const int64_t full = a->q / DWC_V * DWC_V;
    for (int64_t p = 0; p < a->p; p++) {
        const float *d = a->dy + p * a->q, *x = a->x + p * a->row_step;
        dw_prefetch_slice(a->pf_x, a->pf_x_bytes, p, a->p);
        dw_prefetch_slice(a->pf_dy, a->pf_dy_bytes, p, a->p);
        for (int64_t q = 0; q < full; q += DWC_V)
            dwc_w_step(acc, &dbv, bt_vload(d + q), x + q, toff, T, DB);
        if (full < a->q)
            dwc_w_step(acc, &dbv, bt_vload_mask(d + full, a->mask), x + full, toff, T, DB);
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) a->part[first_slot + k] += bt_vhsum(acc[k]);
    if (DB) a->part[a->taps] += bt_vhsum(dbv);
}

static void BT_SIMD_NAME(dwc_w_chunk_any)(const dwc_w_args *a, const int64_t *toff,
                                          int64_t first_slot, int ntaps, int db) {
    switch (ntaps * 2 + db) {
#define DWC_W_CASE(T)                                                                              \
    case 2 * T:                                                                                    \
        dwc_w_chunk(a, toff, first_slot, T, 0);                                                    \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        dwc_w_chunk(a, toff, first_slot, T, 1);                                                    \
        break;
        DWC_W_CASE(1)
        DWC_W_CASE(2)
        DWC_W_CASE(3)
        DWC_W_CASE(4)
        DWC_W_CASE(5)
        DWC_W_CASE(6)
        DWC_W_CASE(7)
        DWC_W_CASE(8)
        DWC_W_CASE(9)
#undef DWC_W_CASE
    }
}

/* Copies x plane (n, c) into X: zero outside the image, column m*sw + phase to plane phase. */
static void BT_SIMD_NAME(dwc_w_fill_x)(const bt_shape *s, const dwc_x_geom *g, const float *x,
                                       float *xb, int64_t n, int64_t c) {
    const float *plane = x + (n * s->c + c) * s->h * s->w;
    int64_t lead = bt_min64(s->pw, g->width);
    int64_t copy = bt_max64(0, bt_min64(s->w, g->width - s->pw)); /* sw == 1 */
    for (int64_t xi = 0; xi < g->rows; xi++) {
        int64_t i = xi - s->ph;
        for (int64_t phase = 0; phase < s->sw; phase++) {
            float *row = xb + phase * g->plane + xi * g->width;
            if (i < 0 || i >= s->h) {
                memset(row, 0, (size_t)g->width * sizeof(float));
            } else if (s->sw == 1) {
                dwc_fill_row(row, g->width, lead, plane + i * s->w, copy);
            } else {
                for (int64_t m = 0; m < g->width; m++) {
                    int64_t j = m * s->sw + phase - s->pw;
                    row[m] = j >= 0 && j < s->w ? plane[i * s->w + j] : 0.0f;
                }
            }
        }
    }
}

static bt_status BT_SIMD_NAME(dwc_w_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DWC_W_PAR]) plan->param[DWC_W_PAR] = DW_PAR_2D;
    plan->scratch_bytes =
        (size_t)plan->threads * (dwc_w_part_floats(s) * sizeof(float) + dwc_w_thread_bytes(s));
    return BT_OK;
}

static void BT_SIMD_NAME(dwc_w_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s;
    const dwc_x_geom g = dwc_x_geometry(s);
    const size_t part_floats = dwc_w_part_floats(s);
    float *parts = (float *)plan->scratch, *part = parts + (size_t)tid * part_floats;
    char *mine = (char *)plan->scratch + (size_t)plan->threads * part_floats * sizeof(float) +
                 (size_t)tid * dwc_w_thread_bytes(s);
    float *xb = (float *)mine;
    int64_t *toff = (int64_t *)(mine + dw_align((size_t)(s->sw * g.plane) * sizeof(float)));
    memset(part, 0, part_floats * sizeof(float));
#if DWC_DIRECT
    if (dwc_w_flat(s)) {
        uint32_t *fmasks = (uint32_t *)((char *)toff + dw_align((size_t)taps * sizeof(int64_t)));
        BT_SIMD_NAME(dwc_w_flat_run)(plan, t, part, toff, fmasks, tid, nthr);
        dw_barrier(nthr);
        dw_reduce_partials(s, t, parts, part_floats, 1, tid, nthr);
        return;
    }
#endif
    /* Tap (r, s) at output row 0: row r*dh of the phase plane of column s*dw. */
    for (int64_t kr = 0; kr < s->r; kr++)
        for (int64_t ks = 0; ks < s->s; ks++)
            toff[kr * s->s + ks] =
                (ks * s->dw) % s->sw * g.plane + kr * s->dh * g.width + ks * s->dw / s->sw;

    dwc_w_args a = {.x = xb, .row_step = s->sh * g.width, .p = s->p, .q = s->q, .taps = taps};
    a.mask = bt_vmask((int)(s->q - (bt_div_up(s->q, DWC_V) - 1) * DWC_V));
    int with_db = t->db != NULL;
    const int64_t pq = s->p * s->q, hw = s->h * s->w;
    dw_range r = dw_thread_range((int)plan->param[DWC_W_PAR], tid, nthr, s->n, s->k);
    for (int64_t n = r.u0; n < r.u1; n++) {
        int64_t filled = -1;
        for (int64_t k = r.c0; k < r.c1; k++) {
            if (k / s->kg != filled) {
                filled = k / s->kg;
                BT_SIMD_NAME(dwc_w_fill_x)(s, &g, t->x, xb, n, filled);
            }
            a.dy = t->dy + (n * s->k + k) * pq;
            a.part = part + k * (taps + 1);
            /* Next (n, k) of this thread; its x plane only when the channel changes. */
            int64_t nn = k + 1 < r.c1 ? n : n + 1, nk = k + 1 < r.c1 ? k + 1 : r.c0;
            int more = nn < r.u1, new_x = more && (nn != n || nk / s->kg != k / s->kg);
            a.pf_dy = more ? t->dy + (nn * s->k + nk) * pq : NULL;
            a.pf_dy_bytes = pq * (int64_t)sizeof(float);
            a.pf_x = new_x ? t->x + (nn * s->c + nk / s->kg) * hw : NULL;
            a.pf_x_bytes = hw * (int64_t)sizeof(float);
            for (int64_t k0 = 0; k0 < taps; k0 += DWC_TMAX) {
                int nt = (int)bt_min64(DWC_TMAX, taps - k0);
                BT_SIMD_NAME(dwc_w_chunk_any)(&a, toff + k0, k0, nt, with_db && k0 == 0);
                a.pf_x = a.pf_dy = NULL;
            }
        }
    }
    dw_barrier(nthr);
    dw_reduce_partials(s, t, parts, part_floats, 1, tid, nthr);
}

/* ---------------------------------------------------------------------------------------- */

/* Whether a thread's spread copy of one channel's planes (U, X), of `floats` floats, stays
 * within half the scratch bound's share of the tensors (it is a copy of the problem's data,
 * not a cache-sized block): not when the shape is mostly padding or stride gaps. The sizes
 * are in double, as their int64 products can overflow on such shapes. */
static int BT_SIMD_NAME(dwc_copy_fits)(const bt_shape *s, double floats, char *why, size_t size) {
    if (floats <= BT_SCRATCH_FACTOR / 2 * (double)bt_shape_tensor_elems(s) +
                      (double)(BT_SCRATCH_CONST / sizeof(float)))
        return 1;
    snprintf(why, size,
             "its padded copy of a plane (%.3g floats) would exceed the scratch bound (padding "
             "or stride much larger than the image)",
             floats);
    return 0;
}

static int BT_SIMD_NAME(dwc_d_supports)(const bt_shape *s, char *why, size_t size) {
    if (!BT_SIMD_NAME(dwc_supports)(s, why, size)) return 0;
    double lead = (double)bt_max64(0, (s->s - 1) * s->dw - s->pw); /* dwc_u_geometry */
    double width = (double)(bt_div_up(s->w, DWC_V) * DWC_V + s->pw) + lead;
    return BT_SIMD_NAME(dwc_copy_fits)(s, (double)s->kg * (double)s->p * width, why, size);
}

static int BT_SIMD_NAME(dwc_w_supports)(const bt_shape *s, char *why, size_t size) {
    if (!BT_SIMD_NAME(dwc_supports)(s, why, size)) return 0;
    double qv = (double)(bt_div_up(s->q, DWC_V) * DWC_V); /* dwc_x_geometry */
    double rows = (double)(s->p - 1) * (double)s->sh + (double)((s->r - 1) * s->dh + 1);
    double width = ((qv - 1) * (double)s->sw + (double)((s->s - 1) * s->dw) + 1) / (double)s->sw;
    return BT_SIMD_NAME(dwc_copy_fits)(s, (double)s->sw * rows * (width + 1), why, size);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, depthwise_nchw, .layouts = BT_TAKES_NCHW,
                       .params = BT_SIMD_NAME(dwc_d_params),
                       .supports = BT_SIMD_NAME(dwc_d_supports),
                       .prepare = BT_SIMD_NAME(dwc_d_prepare), .run = BT_SIMD_NAME(dwc_d_run));

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, depthwise_nchw, .layouts = BT_TAKES_NCHW,
                       .params = BT_SIMD_NAME(dwc_w_params),
                       .supports = BT_SIMD_NAME(dwc_w_supports),
                       .prepare = BT_SIMD_NAME(dwc_w_prepare), .run = BT_SIMD_NAME(dwc_w_run));

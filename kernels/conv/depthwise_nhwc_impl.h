/* Depthwise convolution backward in NHWC, vectorised over channels: a template instantiated
 * once per ISA by depthwise_nhwc_{avx512,avx2,scalar}.c (see common/simd.h; no include
 * guard). Takes groups = C = K (channel multiplier 1); any stride, padding, dilation.
 *
 * bwd_data gathers, dx[n,i,j,c] = sum over valid taps (r,s) of dy[n,p,q,c] * w[c,r,s]. Each dx
 * row is walked per stride phase of j (positions j = phase + t*sw), and cut into segments of
 * t where the set of valid taps is constant, so the inner loops test nothing. In a segment,
 * a tile of jb positions x cb channel vectors accumulates in registers over the segment's tap
 * list: each loaded weight vector serves jb positions. The weights are packed [r][s][c]
 * (channel-contiguous, zero-padded to whole vectors) at the start of each execute.
 *
 * bwd_weights: per dy row and segment of q (again a constant tap set), chunks of up to 9 taps
 * x cb channel vectors accumulate in registers over the segment's positions, db alongside,
 * then into this thread's partial dW in scratch; after a barrier the partials are summed in
 * thread order. par=mb splits the dy rows of the whole batch (so batch 1 still splits);
 * par=c splits channels (the partials of other threads are zero there).
 *
 * Both walk rows outermost and channels inside, in chunks of `cc` channels, so the few rows
 * in use stay in L2 while every channel of them is processed.
 */
#include "common/simd.h"
#include "conv/depthwise_common.h"

#include <string.h>

#if defined(BT_SIMD_AVX512)
#define DWN_NREG 32
#define DWN_STREAM 1
#define dwn_vstream(p, v) _mm512_stream_ps((p), (v))
#define DWN_JB_TUNE "4|8|12"
#elif defined(BT_SIMD_AVX2)
#define DWN_NREG 16
#define DWN_STREAM 1
#define dwn_vstream(p, v) _mm256_stream_ps((p), (v))
#define DWN_JB_TUNE "4|6"
#else
#define DWN_NREG 16
#define DWN_STREAM 0
#define dwn_vstream(p, v) bt_vstore((p), (v))
#define DWN_JB_TUNE "4|6"
#endif

#define DWN_V BT_VLEN
#define DWN_JB_MAX 12
#define DWN_CB_MAX 2
/* Registers for accumulators: the rest hold weights (bwd_data) or dy and x (bwd_weights). */
#define DWN_ACC_MAX (DWN_NREG * 3 / 4)
/* bwd_weights taps per register chunk for cb vectors: acc + dy + db + one x in registers. */
#define DWN_TMAX_ABS 9
#define DWN_TMAX(cb)                                                                               \
    ((DWN_NREG - 3 * (cb)-1) / (cb) < DWN_TMAX_ABS ? (DWN_NREG - 3 * (cb)-1) / (cb) : DWN_TMAX_ABS)
#define DWN_INLINE static inline __attribute__((always_inline))

static int BT_SIMD_NAME(dwn_supports)(const bt_shape *s, char *why, size_t size) {
    return dw_supports(s, BT_NHWC, 0, why, size);
}

static int64_t dwn_vectors(const bt_shape *s) {
    return bt_div_up(s->c, DWN_V);
}

/* Default channel chunk: the rows a chunk touches (R dy rows + 1 dx row for bwd_data, R x rows
 * + 1 dy row for bwd_weights, about W positions each) fill at most half of L2. */
static int64_t dwn_default_cc(const bt_shape *s) {
    int64_t row_bytes = (s->r + 1) * bt_max64(s->w, s->q) * (int64_t)sizeof(float);
    int64_t cc = bt_machine_get()->l2_bytes / 2 / row_bytes;
    cc = cc / DWN_V * DWN_V;
    return bt_max64(DWN_V, bt_min64(cc, dwn_vectors(s) * DWN_V));
}

/* Per-thread lists (pointer-sized slots): bwd_data's tap arrays and row/segment bookkeeping. */
static size_t dwn_list_bytes(const bt_shape *s) {
    return dw_align((size_t)(4 * s->r * s->s + 5 * s->s + s->r + 2) * sizeof(int64_t));
}

typedef struct dwn_lists {
    const float **tap_x; /* bwd_weights, per tap: x at the segment's first position */
    int64_t *slot;       /* bwd_weights, per tap: its slot r*S + s */
    int64_t *tap_off;    /* bwd_data, per tap: dy offset, weight offset (interleaved) */
    int64_t *lo, *hi, *qb, *cuts, *rows;
} dwn_lists;

static dwn_lists dwn_lists_at(const bt_shape *s, void *base) {
    int64_t taps = s->r * s->s;
    dwn_lists l;
    l.tap_x = (const float **)base;
    l.slot = (int64_t *)(l.tap_x + taps);
    l.tap_off = l.slot + taps;
    l.lo = l.tap_off + 2 * taps;
    l.hi = l.lo + s->s;
    l.qb = l.hi + s->s;
    l.cuts = l.qb + s->s;
    l.rows = l.cuts + 2 * s->s + 2;
    return l;
}

/* ---------------------------------------------------------------------------------------- */
/* bwd_data                                                                                  */

enum { DWN_D_PAR, DWN_D_JB, DWN_D_CB, DWN_D_CC, DWN_D_NT };

static const bt_param_spec BT_SIMD_NAME(dwn_d_params)[] = {
    {.key = "par", .choices = dw_par_choices},
    {.key = "jb", .min = 1, .max = DWN_JB_MAX, .tune = DWN_JB_TUNE},
    {.key = "cb", .min = 1, .max = DWN_CB_MAX, .tune = "1|2"},
    {.key = "cc", .min = 1, .max = (int64_t)1 << 24},
#if DWN_STREAM
    {.key = "nt", .min = 0, .max = 1, .tune = "0|1"},
#endif
    {0}};

/* One segment's work: tiles of positions t in [0, len) for channel vectors at c_off. */
typedef struct dwn_d_args {
    const float *dy, *w; /* bases of the tap offsets: dy and the packed weights */
    /* Per tap k: dy + taps[2k] is its dy at (p_r, q_s + first t), w + taps[2k + 1] its
     * weights, channel 0 (one list: one address register). */
    const int64_t *taps;
    int ntaps;
    int64_t c;       /* dy step per position (channels) */
    int64_t dx_step; /* dx step per position: sw * C */
    float *dx;       /* dx at the segment's first position, channel 0 */
    int64_t c_off;   /* first channel of the tile */
    bt_vmask_t mask; /* lanes of the last vector when it is the channel tail */
    int accumulate, stream;
    dw_pf pf; /* the dy row the next dx row brings in, fetched a few lines per tile */
} dwn_d_args;

/* dx[tile] (+)= sum over taps of dy * w, JB positions x CB vectors in registers. */
DWN_INLINE void dwn_d_tile(const dwn_d_args *a, int64_t t0, const int JB, const int CB,
                           const int MASKED) {
    if (JB * CB > DWN_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf acc[DWN_JB_MAX][DWN_CB_MAX];
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) acc[j][v] = bt_vzero();
    /* One base pointer per position and the tap as an index: JB registers for addresses
     * however many channel vectors (the vector is a displacement). */
    const float *pos[DWN_JB_MAX];
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++) pos[j] = a->dy + (t0 + j) * a->c + a->c_off;
    const float *wbase = a->w + a->c_off;
    for (int tap = 0; tap < a->ntaps; tap++) {
        const int64_t d = a->taps[2 * tap];
        const float *wp = wbase + a->taps[2 * tap + 1];
        bt_vf wv[DWN_CB_MAX];
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) wv[v] = bt_vload(wp + v * DWN_V); /* zero-padded */
#pragma GCC unroll 12
        for (int j = 0; j < JB; j++)
#pragma GCC unroll 2
            for (int v = 0; v < CB; v++) {
                const float *src = pos[j] + d + v * DWN_V;
                bt_vf x = MASKED && v == CB - 1 ? bt_vload_mask(src, a->mask) : bt_vload(src);
                acc[j][v] = bt_vfmadd(x, wv[v], acc[j][v]);
            }
    }
    float *o = a->dx + t0 * a->dx_step + a->c_off;
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) {
            float *dst = o + j * a->dx_step + v * DWN_V;
            if (MASKED && v == CB - 1) {
                bt_vf r =
                    a->accumulate ? bt_vadd(bt_vload_mask(dst, a->mask), acc[j][v]) : acc[j][v];
                bt_vstore_mask(dst, a->mask, r);
            } else if (a->accumulate) {
                bt_vstore(dst, bt_vadd(bt_vload(dst), acc[j][v]));
            } else if (DWN_STREAM && a->stream) {
                dwn_vstream(dst, acc[j][v]);
            } else {
                bt_vstore(dst, acc[j][v]);
            }
        }
}

DWN_INLINE void dwn_d_tile_any(const dwn_d_args *a, int64_t t0, int jb, const int CB,
                               const int MASKED) {
    switch (jb) {
#define DWN_D_CASE(J)                                                                              \
    case J:                                                                                        \
        dwn_d_tile(a, t0, J, CB, MASKED);                                                          \
        break;
        DWN_D_CASE(1)
        DWN_D_CASE(2)
        DWN_D_CASE(3)
        DWN_D_CASE(4)
        DWN_D_CASE(5)
        DWN_D_CASE(6)
        DWN_D_CASE(7)
        DWN_D_CASE(8)
        DWN_D_CASE(9)
        DWN_D_CASE(10)
        DWN_D_CASE(11)
        DWN_D_CASE(12)
#undef DWN_D_CASE
    }
}

DWN_INLINE void dwn_d_tiles(dwn_d_args *a, int64_t len, int jb, const int CB, const int MASKED) {
    int64_t t = 0;
    for (; t + jb <= len; t += jb) {
        dw_pf_next(&a->pf);
        dwn_d_tile_any(a, t, jb, CB, MASKED);
    }
    if (t < len) dwn_d_tile_any(a, t, (int)(len - t), CB, MASKED);
}

/* How channel vectors [b0, b1) are walked: blocks of cb (= 2) full vectors, then single
 * vectors, the channel tail (the last vector when C % V != 0) alone and masked. Returns the
 * block at b: 2 or 1 full vectors, or DWN_TAIL. */
enum { DWN_TAIL = -1 };
static inline int dwn_block_at(int64_t b, int64_t b1, int cb, int64_t cvecs, int tail) {
    int tail_in_pair = tail && b + 1 >= cvecs - 1;
    if (cb == 2 && b + 2 <= b1 && !tail_in_pair) return 2;
    return tail && b == cvecs - 1 ? DWN_TAIL : 1;
}

/* A segment over channel vectors [b0, b1). */
static void BT_SIMD_NAME(dwn_d_segment)(dwn_d_args *a, int64_t len, int jb, int cb, int64_t b0,
                                        int64_t b1, int64_t cvecs, int tail) {
    for (int64_t b = b0; b < b1;) {
        int block = dwn_block_at(b, b1, cb, cvecs, tail);
        a->c_off = b * DWN_V;
        if (block == 2)
            dwn_d_tiles(a, len, jb, 2, 0);
        else if (block == 1)
            dwn_d_tiles(a, len, jb, 1, 0);
        else
            dwn_d_tiles(a, len, jb, 1, 1);
        b += block == 2 ? 2 : 1;
    }
}

static bt_status BT_SIMD_NAME(dwn_d_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DWN_D_PAR]) plan->param[DWN_D_PAR] = DW_PAR_MB;
    if (!plan->param_given[DWN_D_CB]) /* two vectors, unless a given jb leaves no room */
        plan->param[DWN_D_CB] = dwn_vectors(s) >= 2 && (!plan->param_given[DWN_D_JB] ||
                                                        2 * plan->param[DWN_D_JB] <= DWN_ACC_MAX)
                                    ? 2
                                    : 1;
    if (!plan->param_given[DWN_D_JB]) {
        /* As many positions as the accumulator registers allow, but not past a row. */
        int64_t jb = bt_min64(DWN_JB_MAX, DWN_ACC_MAX / plan->param[DWN_D_CB]);
        plan->param[DWN_D_JB] = bt_max64(1, bt_min64(jb, bt_div_up(s->w, s->sw)));
    }
    if (!plan->param_given[DWN_D_CC]) plan->param[DWN_D_CC] = dwn_default_cc(s);
#if DWN_STREAM
    /* Streaming stores skip the read-for-ownership of dx when it cannot stay in cache. */
    if (!plan->param_given[DWN_D_NT])
        plan->param[DWN_D_NT] =
            !s->accumulate && (int64_t)(bt_shape_x_elems(s) * sizeof(float)) > dw_l3_bytes();
#endif
    if (plan->param[DWN_D_JB] * plan->param[DWN_D_CB] > DWN_ACC_MAX)
        return bt_fail(BT_EINVAL, "%s: jb*cb = %lld exceeds the %d accumulator registers",
                       plan->variant->name,
                       (long long)(plan->param[DWN_D_JB] * plan->param[DWN_D_CB]), DWN_ACC_MAX);
    size_t pack = dw_align((size_t)(s->r * s->s * dwn_vectors(s) * DWN_V) * sizeof(float));
    plan->scratch_bytes = pack + (size_t)plan->threads * dwn_list_bytes(s);
    return BT_OK;
}

static void BT_SIMD_NAME(dwn_d_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, cvecs = dwn_vectors(s), cpad = cvecs * DWN_V;
    const int jb = (int)plan->param[DWN_D_JB], cb = (int)plan->param[DWN_D_CB];
    const int64_t ccv = bt_div_up(plan->param[DWN_D_CC], DWN_V);
    float *pack = (float *)plan->scratch;
    size_t pack_bytes = dw_align((size_t)(taps * cpad) * sizeof(float));
    dwn_lists l =
        dwn_lists_at(s, (char *)plan->scratch + pack_bytes + (size_t)tid * dwn_list_bytes(s));

    /* Pack w[c][r][s] to [r][s][c], zero beyond C; each thread its channels. */
    int64_t p0, p1;
    bt_split(cpad, tid, nthr, &p0, &p1);
    for (int64_t tap = 0; tap < taps; tap++)
        for (int64_t c = p0; c < p1; c++)
            pack[tap * cpad + c] = c < s->c ? t->w[c * taps + tap] : 0.0f;
    dw_barrier(nthr);

    dwn_d_args a = {
        .dy = t->dy, .w = pack, .c = s->c, .dx_step = s->sw * s->c, .accumulate = s->accumulate};
    a.mask = bt_vmask((int)(s->c - (cvecs - 1) * DWN_V));
    int tail = s->c % DWN_V != 0;
#if DWN_STREAM
    a.stream = plan->param[DWN_D_NT] && !tail && ((uintptr_t)t->dx % (DWN_V * sizeof(float))) == 0;
#endif
    dw_range g = dw_thread_range((int)plan->param[DWN_D_PAR], tid, nthr, s->n * s->h, cvecs);
    for (int64_t cc0 = g.c0; cc0 < g.c1; cc0 += ccv) {
        int64_t cc1 = bt_min64(cc0 + ccv, g.c1);
        for (int64_t u = g.u0; u < g.u1; u++) {
            int64_t n = u / s->h, i = u % s->h;
            {
                /* The next dx row's newest dy row (kernel row 0), channels of this chunk;
                 * spread over this row's full tiles. */
                int64_t nn = (u + 1) / s->h, pn = ((u + 1) % s->h + s->ph) / s->sh;
                pn = bt_min64(pn, s->p - 1);
                int64_t tiles = (cc1 - cc0 + cb - 1) / cb * bt_max64(1, s->w / s->sw / jb);
                a.pf = u + 1 < g.u1
                           ? dw_pf_make(t->dy + ((nn * s->p + pn) * s->q) * s->c + cc0 * DWN_V,
                                        ((s->q - 1) * s->c + (cc1 - cc0) * DWN_V) *
                                            (int64_t)sizeof(float),
                                        tiles)
                           : dw_pf_make(NULL, 0, 1);
            }
            /* Kernel rows reaching row i: p = (i + ph - r*dh) / sh when exact and in range. */
            int nrows = 0;
            for (int64_t r = 0; r < s->r; r++) {
                int64_t num = i + s->ph - r * s->dh;
                if (num < 0 || num % s->sh || num / s->sh >= s->p) continue;
                l.rows[nrows++] = r;
            }
            for (int64_t phase = 0; phase < s->sw && phase < s->w; phase++) {
                int64_t npos = (s->w - phase + s->sw - 1) / s->sw;
                /* Tap s reaches positions phase + t*sw at q = qb + t, for t in [lo, hi). */
                for (int64_t ss = 0; ss < s->s; ss++) {
                    int64_t num = phase + s->pw - ss * s->dw;
                    l.lo[ss] = l.hi[ss] = 0;
                    if (((num % s->sw) + s->sw) % s->sw) continue;
                    l.qb[ss] = num / s->sw;
                    l.lo[ss] = bt_max64(0, -l.qb[ss]);
                    l.hi[ss] = bt_min64(npos, s->q - l.qb[ss]);
                }
                int ncuts = dw_segments(l.lo, l.hi, (int)s->s, npos, l.cuts);
                for (int seg = 0; seg + 1 < ncuts; seg++) {
                    int64_t ta = l.cuts[seg], tb = l.cuts[seg + 1];
                    int ntaps = 0;
                    for (int ri = 0; ri < nrows; ri++) {
                        int64_t r = l.rows[ri], p = (i + s->ph - r * s->dh) / s->sh;
                        for (int64_t ss = 0; ss < s->s; ss++) {
                            if (l.lo[ss] >= l.hi[ss] || l.lo[ss] > ta || l.hi[ss] < tb) continue;
                            l.tap_off[2 * ntaps] = ((n * s->p + p) * s->q + l.qb[ss] + ta) * s->c;
                            l.tap_off[2 * ntaps + 1] = (r * s->s + ss) * cpad;
                            ntaps++;
                        }
                    }
                    a.taps = l.tap_off;
                    a.ntaps = ntaps;
                    a.dx = t->dx + ((n * s->h + i) * s->w + phase + ta * s->sw) * s->c;
                    BT_SIMD_NAME(dwn_d_segment)(&a, tb - ta, jb, cb, cc0, cc1, cvecs, tail);
                }
            }
        }
    }
#if DWN_STREAM
    if (a.stream) _mm_sfence();
#endif
}

/* ---------------------------------------------------------------------------------------- */
/* bwd_weights                                                                               */

enum { DWN_W_PAR, DWN_W_CB, DWN_W_CC };

static const bt_param_spec BT_SIMD_NAME(dwn_w_params)[] = {
    {.key = "par", .choices = dw_par_choices},
    {.key = "cb", .min = 1, .max = DWN_CB_MAX, .tune = "1|2"},
    {.key = "cc", .min = 1, .max = (int64_t)1 << 24},
    {0}};

/* One segment: positions q in [0, nq) of one dy row, for a chunk of taps. */
typedef struct dwn_w_args {
    const float *const *tap_x; /* x at the segment's first position for tap, channel 0 */
    const int64_t *slot;       /* tap's slot r*S + s in the partial */
    const float *dy;           /* dy at the segment's first position, channel 0 */
    int64_t nq;
    int64_t x_step, c;  /* x step per position (sw * C), dy step (C) */
    float *part;        /* this thread's partial, [cvec][taps + 1][V] */
    int64_t part_block; /* floats per channel vector in part: (taps + 1) * V */
    int64_t taps;
    bt_vmask_t mask;
    /* The x and dy rows the next dy row brings in, fetched a few lines per position. */
    dw_pf *pf_x, *pf_dy;
} dwn_w_args;

/* part[taps of the chunk] += sum over positions of x * dy, for channel vectors at vector b;
 * T taps x CB vectors (+ db) in registers. */
DWN_INLINE void dwn_w_chunk(const dwn_w_args *a, const float *const *tx, const int64_t *slot,
                            int64_t b, const int T, const int CB, const int MASKED, const int DB) {
    bt_vf acc[DWN_TMAX_ABS][DWN_CB_MAX], dbv[DWN_CB_MAX];
    const float *xp[DWN_TMAX_ABS];
    float *part = a->part + b * a->part_block;
    const int64_t c_off = b * DWN_V;
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) {
        xp[k] = tx[k] + c_off;
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            acc[k][v] = bt_vload(part + v * a->part_block + slot[k] * DWN_V);
    }
#pragma GCC unroll 2
    for (int v = 0; v < CB; v++)
        dbv[v] = DB ? bt_vload(part + v * a->part_block + a->taps * DWN_V) : bt_vzero();
    const float *d = a->dy + c_off;
    for (int64_t q = 0; q < a->nq; q++) {
        dw_pf_next(a->pf_x);
        dw_pf_next(a->pf_dy);
        bt_vf dv[DWN_CB_MAX];
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) {
            const float *src = d + q * a->c + v * DWN_V;
            dv[v] = MASKED && v == CB - 1 ? bt_vload_mask(src, a->mask) : bt_vload(src);
            if (DB) dbv[v] = bt_vadd(dbv[v], dv[v]);
        }
#pragma GCC unroll 9
        for (int k = 0; k < T; k++)
#pragma GCC unroll 2
            for (int v = 0; v < CB; v++) {
                const float *src = xp[k] + q * a->x_step + v * DWN_V;
                bt_vf x = MASKED && v == CB - 1 ? bt_vload_mask(src, a->mask) : bt_vload(src);
                acc[k][v] = bt_vfmadd(x, dv[v], acc[k][v]);
            }
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            bt_vstore(part + v * a->part_block + slot[k] * DWN_V, acc[k][v]);
    if (DB)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) bt_vstore(part + v * a->part_block + a->taps * DWN_V, dbv[v]);
}

DWN_INLINE void dwn_w_chunk_any(const dwn_w_args *a, const float *const *tx, const int64_t *slot,
                                int64_t b, int ntaps, int db, const int CB, const int MASKED) {
    switch (ntaps * 2 + db) {
#define DWN_W_CASE(T)                                                                              \
    case 2 * T:                                                                                    \
        dwn_w_chunk(a, tx, slot, b, T, CB, MASKED, 0);                                             \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        dwn_w_chunk(a, tx, slot, b, T, CB, MASKED, 1);                                             \
        break;
        DWN_W_CASE(0)
        DWN_W_CASE(1)
        DWN_W_CASE(2)
        DWN_W_CASE(3)
        DWN_W_CASE(4)
        DWN_W_CASE(5)
        DWN_W_CASE(6)
        DWN_W_CASE(7)
        DWN_W_CASE(8)
        DWN_W_CASE(9)
#undef DWN_W_CASE
    }
}

/* All taps of the segment for channel vectors at b: chunks of at most tmax taps, db with the
 * first chunk (also when there is no tap). */
DWN_INLINE void dwn_w_block(const dwn_w_args *a, int ntaps, int with_db, int64_t b, const int CB,
                            const int MASKED) {
    const int tmax = DWN_TMAX(CB);
    int first = 1;
    for (int k = 0; k < ntaps || (first && with_db); k += tmax) {
        int n = ntaps - k < tmax ? ntaps - k : tmax;
        dwn_w_chunk_any(a, a->tap_x + k, a->slot + k, b, n, first && with_db, CB, MASKED);
        first = 0;
    }
}

/* A segment over channel vectors [b0, b1). */
static void BT_SIMD_NAME(dwn_w_segment)(const dwn_w_args *a, int ntaps, int with_db, int cb,
                                        int64_t b0, int64_t b1, int64_t cvecs, int tail) {
    for (int64_t b = b0; b < b1;) {
        int block = dwn_block_at(b, b1, cb, cvecs, tail);
        if (block == 2)
            dwn_w_block(a, ntaps, with_db, b, 2, 0);
        else if (block == 1)
            dwn_w_block(a, ntaps, with_db, b, 1, 0);
        else
            dwn_w_block(a, ntaps, with_db, b, 1, 1);
        b += block == 2 ? 2 : 1;
    }
}

static size_t dwn_w_part_floats(const bt_shape *s) {
    return dw_align((size_t)(dwn_vectors(s) * (s->r * s->s + 1) * DWN_V) * sizeof(float)) /
           sizeof(float);
}

static bt_status BT_SIMD_NAME(dwn_w_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DWN_W_PAR]) plan->param[DWN_W_PAR] = DW_PAR_MB;
    /* Two vectors per chunk when that still holds every tap (or 9) in registers. */
    if (!plan->param_given[DWN_W_CB])
        plan->param[DWN_W_CB] =
            dwn_vectors(s) >= 2 && DWN_TMAX(2) >= bt_min64(s->r * s->s, DWN_TMAX_ABS) ? 2 : 1;
    if (!plan->param_given[DWN_W_CC]) plan->param[DWN_W_CC] = dwn_default_cc(s);
    /* Per thread: the partial dW/db and the tap lists. */
    plan->scratch_bytes =
        (size_t)plan->threads * (dwn_w_part_floats(s) * sizeof(float) + dwn_list_bytes(s));
    return BT_OK;
}

static void BT_SIMD_NAME(dwn_w_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, cvecs = dwn_vectors(s);
    const int cb = (int)plan->param[DWN_W_CB];
    const int64_t ccv = bt_div_up(plan->param[DWN_W_CC], DWN_V);
    const size_t part_floats = dwn_w_part_floats(s);
    float *parts = (float *)plan->scratch;
    float *part = parts + (size_t)tid * part_floats;
    dwn_lists l = dwn_lists_at(s, (char *)plan->scratch +
                                      (size_t)plan->threads * part_floats * sizeof(float) +
                                      (size_t)tid * dwn_list_bytes(s));
    memset(part, 0, part_floats * sizeof(float));
    int64_t *slots = l.slot;

    dwn_w_args a = {.x_step = s->sw * s->c, .c = s->c, .part = part};
    a.part_block = (taps + 1) * DWN_V;
    a.taps = taps;
    a.mask = bt_vmask((int)(s->c - (cvecs - 1) * DWN_V));
    a.tap_x = l.tap_x;
    a.slot = slots;
    dw_pf pf_x, pf_dy;
    a.pf_x = &pf_x;
    a.pf_dy = &pf_dy;
    int tail = s->c % DWN_V != 0, with_db = t->db != NULL;
    dw_range g = dw_thread_range((int)plan->param[DWN_W_PAR], tid, nthr, s->n * s->p, cvecs);
    for (int64_t cc0 = g.c0; cc0 < g.c1; cc0 += ccv) {
        int64_t cc1 = bt_min64(cc0 + ccv, g.c1);
        for (int64_t u = g.u0; u < g.u1; u++) {
            int64_t n = u / s->p, p = u % s->p;
            {
                /* The next dy row and its newest x row (last kernel row), this chunk's
                 * channels, spread over this row's positions of every channel block. */
                int64_t nn = (u + 1) / s->p, pn = (u + 1) % s->p, more = u + 1 < g.u1;
                int64_t in =
                    bt_max64(0, bt_min64(s->h - 1, pn * s->sh - s->ph + (s->r - 1) * s->dh));
                int64_t steps = (cc1 - cc0 + cb - 1) / cb * s->q, span = (cc1 - cc0) * DWN_V;
                pf_x =
                    dw_pf_make(more ? t->x + ((nn * s->h + in) * s->w) * s->c + cc0 * DWN_V : NULL,
                               ((s->w - 1) * s->c + span) * (int64_t)sizeof(float), steps);
                pf_dy =
                    dw_pf_make(more ? t->dy + ((nn * s->p + pn) * s->q) * s->c + cc0 * DWN_V : NULL,
                               ((s->q - 1) * s->c + span) * (int64_t)sizeof(float), steps);
            }
            int nrows = 0;
            for (int64_t r = 0; r < s->r; r++) {
                int64_t i = p * s->sh - s->ph + r * s->dh;
                if (i >= 0 && i < s->h) l.rows[nrows++] = r;
            }
            /* Tap s reads column j = q*sw - pw + s*dw: in the image for q in [lo, hi). */
            for (int64_t ss = 0; ss < s->s; ss++) {
                int64_t off = ss * s->dw - s->pw;
                l.lo[ss] = bt_max64(0, dw_ceil_div(-off, s->sw));
                l.hi[ss] = bt_min64(s->q, dw_floor_div(s->w - 1 - off, s->sw) + 1);
                if (l.hi[ss] < l.lo[ss]) l.hi[ss] = l.lo[ss];
            }
            int ncuts = dw_segments(l.lo, l.hi, (int)s->s, s->q, l.cuts);
            for (int seg = 0; seg + 1 < ncuts; seg++) {
                int64_t qa = l.cuts[seg], qb = l.cuts[seg + 1];
                int ntaps = 0;
                for (int ri = 0; ri < nrows; ri++) {
                    int64_t r = l.rows[ri], i = p * s->sh - s->ph + r * s->dh;
                    for (int64_t ss = 0; ss < s->s; ss++) {
                        if (l.lo[ss] >= l.hi[ss] || l.lo[ss] > qa || l.hi[ss] < qb) continue;
                        int64_t j = qa * s->sw - s->pw + ss * s->dw;
                        l.tap_x[ntaps] = t->x + ((n * s->h + i) * s->w + j) * s->c;
                        slots[ntaps] = r * s->s + ss;
                        ntaps++;
                    }
                }
                a.dy = t->dy + ((n * s->p + p) * s->q + qa) * s->c;
                a.nq = qb - qa;
                BT_SIMD_NAME(dwn_w_segment)(&a, ntaps, with_db, cb, cc0, cc1, cvecs, tail);
            }
        }
    }
    dw_barrier(nthr);
    dw_reduce_partials(s, t, parts, part_floats, DWN_V, tid, nthr);
}

/* ---------------------------------------------------------------------------------------- */

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, depthwise_nhwc, .layouts = BT_TAKES_NHWC,
                       .params = BT_SIMD_NAME(dwn_d_params), .supports = BT_SIMD_NAME(dwn_supports),
                       .prepare = BT_SIMD_NAME(dwn_d_prepare), .run = BT_SIMD_NAME(dwn_d_run));

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, depthwise_nhwc, .layouts = BT_TAKES_NHWC,
                       .params = BT_SIMD_NAME(dwn_w_params), .supports = BT_SIMD_NAME(dwn_supports),
                       .prepare = BT_SIMD_NAME(dwn_w_prepare), .run = BT_SIMD_NAME(dwn_w_run));

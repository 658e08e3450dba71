/* Depthwise convolution backward data in NHWC, vectorised over channels: a template
 * instantiated once per ISA by depthwise_bwd_d_nhwc_{avx512,avx2,scalar}.c (see common/simd.h;
 * no include guard; what it shares with bwd_weights is in depthwise_nhwc_common.h).
 *
 * dx[n,i,j,c] = sum over valid taps (r,s) of dy[n,p,q,c] * w[c,r,s], gathered. Each dx row is
 * walked per stride phase of j (positions j = phase + t*sw), and cut into segments of t where
 * the set of valid taps is constant, so the inner loops test nothing. In a segment, a tile of
 * jb positions x cb channel vectors accumulates in registers over the segment's tap list: each
 * loaded weight vector serves jb positions. The weights are packed [r][s][c]
 * (channel-contiguous, zero-padded to whole vectors) at the start of each execute.
 */
#include "conv/depthwise_nhwc_common.h"

enum {
    DEPTHWISE_BWD_D_NHWC_PAR,
    DEPTHWISE_BWD_D_NHWC_JB,
    DEPTHWISE_BWD_D_NHWC_CB,
    DEPTHWISE_BWD_D_NHWC_CC,
    DEPTHWISE_BWD_D_NHWC_NT
};

static const bt_param_spec BT_SIMD_NAME(depthwise_bwd_d_nhwc_params)[] = {
    {.key = "par", .choices = depthwise_par_choices, .doc = DEPTHWISE_PAR_DOC},
    {.key = "jb",
     .min = 1,
     .max = DEPTHWISE_NHWC_JB_MAX,
     .tune = DEPTHWISE_NHWC_JB_TUNE,
     .doc = "register tile: dx positions"},
    DEPTHWISE_NHWC_CB_CC_SPECS,
#if DEPTHWISE_NHWC_STREAM
    {.key = "nt", .min = 0, .max = 1, .tune = "0|1", .doc = DEPTHWISE_NT_DOC},
#endif
    {0}};

/* One segment's work: tiles of positions t in [0, len) for channel vectors at c_off. */
typedef struct depthwise_bwd_d_nhwc_args {
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
    depthwise_pf pf; /* the dy row the next dx row brings in, fetched a few lines per tile */
} depthwise_bwd_d_nhwc_args;

/* dx[tile] (+)= sum over taps of dy * w, JB positions x CB vectors in registers. */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_d_nhwc_tile(const depthwise_bwd_d_nhwc_args *a, int64_t t0,
                                                     const int JB, const int CB, const int MASKED) {
    if (JB * CB > DEPTHWISE_NHWC_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf acc[DEPTHWISE_NHWC_JB_MAX][DEPTHWISE_NHWC_CB_MAX];
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) acc[j][v] = bt_vzero();
    /* One base pointer per position and the tap as an index: JB registers for addresses
     * however many channel vectors (the vector is a displacement). */
    const float *pos[DEPTHWISE_NHWC_JB_MAX];
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++) pos[j] = a->dy + (t0 + j) * a->c + a->c_off;
    const float *wbase = a->w + a->c_off;
    for (int tap = 0; tap < a->ntaps; tap++) {
        const int64_t d = a->taps[2 * tap];
        const float *wp = wbase + a->taps[2 * tap + 1];
        bt_vf wv[DEPTHWISE_NHWC_CB_MAX];
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) wv[v] = bt_vload(wp + v * DEPTHWISE_NHWC_V); /* zero-padded */
#pragma GCC unroll 12
        for (int j = 0; j < JB; j++)
#pragma GCC unroll 2
            for (int v = 0; v < CB; v++) {
                const float *src = pos[j] + d + v * DEPTHWISE_NHWC_V;
                bt_vf x = MASKED && v == CB - 1 ? bt_vload_mask(src, a->mask) : bt_vload(src);
                acc[j][v] = bt_vfmadd(x, wv[v], acc[j][v]);
            }
    }
    float *o = a->dx + t0 * a->dx_step + a->c_off;
#pragma GCC unroll 12
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) {
            float *dst = o + j * a->dx_step + v * DEPTHWISE_NHWC_V;
            if (MASKED && v == CB - 1) {
                bt_vf r =
                    a->accumulate ? bt_vadd(bt_vload_mask(dst, a->mask), acc[j][v]) : acc[j][v];
                bt_vstore_mask(dst, a->mask, r);
            } else if (a->accumulate) {
                bt_vstore(dst, bt_vadd(bt_vload(dst), acc[j][v]));
            } else if (DEPTHWISE_NHWC_STREAM && a->stream) {
                depthwise_nhwc_vstream(dst, acc[j][v]);
            } else {
                bt_vstore(dst, acc[j][v]);
            }
        }
}

DEPTHWISE_NHWC_INLINE void depthwise_bwd_d_nhwc_tile_any(const depthwise_bwd_d_nhwc_args *a,
                                                         int64_t t0, int jb, const int CB,
                                                         const int MASKED) {
    switch (jb) {
#define DEPTHWISE_BWD_D_NHWC_CASE(J)                                                               \
    case J:                                                                                        \
        depthwise_bwd_d_nhwc_tile(a, t0, J, CB, MASKED);                                           \
        break;
        DEPTHWISE_BWD_D_NHWC_CASE(1)
        DEPTHWISE_BWD_D_NHWC_CASE(2)
        DEPTHWISE_BWD_D_NHWC_CASE(3)
        DEPTHWISE_BWD_D_NHWC_CASE(4)
        DEPTHWISE_BWD_D_NHWC_CASE(5)
        DEPTHWISE_BWD_D_NHWC_CASE(6)
        DEPTHWISE_BWD_D_NHWC_CASE(7)
        DEPTHWISE_BWD_D_NHWC_CASE(8)
        DEPTHWISE_BWD_D_NHWC_CASE(9)
        DEPTHWISE_BWD_D_NHWC_CASE(10)
        DEPTHWISE_BWD_D_NHWC_CASE(11)
        DEPTHWISE_BWD_D_NHWC_CASE(12)
#undef DEPTHWISE_BWD_D_NHWC_CASE
    }
}

DEPTHWISE_NHWC_INLINE void depthwise_bwd_d_nhwc_tiles(depthwise_bwd_d_nhwc_args *a, int64_t len,
                                                      int jb, const int CB, const int MASKED) {
    int64_t t = 0;
    for (; t + jb <= len; t += jb) {
        depthwise_pf_next(&a->pf);
        depthwise_bwd_d_nhwc_tile_any(a, t, jb, CB, MASKED);
    }
    if (t < len) depthwise_bwd_d_nhwc_tile_any(a, t, (int)(len - t), CB, MASKED);
}

/* A segment over channel vectors [b0, b1). */
static void BT_SIMD_NAME(depthwise_bwd_d_nhwc_segment)(depthwise_bwd_d_nhwc_args *a, int64_t len,
                                                       int jb, int cb, int64_t b0, int64_t b1,
                                                       int64_t cvecs, int tail) {
    for (int64_t b = b0; b < b1;) {
        int block = depthwise_nhwc_block_at(b, b1, cb, cvecs, tail);
        a->c_off = b * DEPTHWISE_NHWC_V;
        if (block == 2)
            depthwise_bwd_d_nhwc_tiles(a, len, jb, 2, 0);
        else if (block == 1)
            depthwise_bwd_d_nhwc_tiles(a, len, jb, 1, 0);
        else
            depthwise_bwd_d_nhwc_tiles(a, len, jb, 1, 1);
        b += block == 2 ? 2 : 1;
    }
}

static bt_status BT_SIMD_NAME(depthwise_bwd_d_nhwc_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DEPTHWISE_BWD_D_NHWC_PAR])
        plan->param[DEPTHWISE_BWD_D_NHWC_PAR] = DEPTHWISE_PAR_MB;
    if (!plan->param_given[DEPTHWISE_BWD_D_NHWC_CB]) /* two vectors, unless a given jb leaves no
                                                        room */
        plan->param[DEPTHWISE_BWD_D_NHWC_CB] =
            depthwise_nhwc_vectors(s) >= 2 &&
                    (!plan->param_given[DEPTHWISE_BWD_D_NHWC_JB] ||
                     2 * plan->param[DEPTHWISE_BWD_D_NHWC_JB] <= DEPTHWISE_NHWC_ACC_MAX)
                ? 2
                : 1;
    if (!plan->param_given[DEPTHWISE_BWD_D_NHWC_JB]) {
        /* As many positions as the accumulator registers allow, but not past a row. */
        int64_t jb = bt_min64(DEPTHWISE_NHWC_JB_MAX,
                              DEPTHWISE_NHWC_ACC_MAX / plan->param[DEPTHWISE_BWD_D_NHWC_CB]);
        plan->param[DEPTHWISE_BWD_D_NHWC_JB] = bt_max64(1, bt_min64(jb, bt_div_up(s->w, s->sw)));
    }
    if (!plan->param_given[DEPTHWISE_BWD_D_NHWC_CC])
        plan->param[DEPTHWISE_BWD_D_NHWC_CC] = depthwise_nhwc_default_cc(s);
#if DEPTHWISE_NHWC_STREAM
    /* Streaming stores skip the read-for-ownership of dx when it cannot stay in cache. */
    if (!plan->param_given[DEPTHWISE_BWD_D_NHWC_NT])
        plan->param[DEPTHWISE_BWD_D_NHWC_NT] = depthwise_dx_streams(s, plan->threads);
#endif
    if (plan->param[DEPTHWISE_BWD_D_NHWC_JB] * plan->param[DEPTHWISE_BWD_D_NHWC_CB] >
        DEPTHWISE_NHWC_ACC_MAX)
        return bt_fail(BT_EINVAL, "%s: jb*cb = %lld exceeds the %d accumulator registers",
                       plan->variant->name,
                       (long long)(plan->param[DEPTHWISE_BWD_D_NHWC_JB] *
                                   plan->param[DEPTHWISE_BWD_D_NHWC_CB]),
                       DEPTHWISE_NHWC_ACC_MAX);
    size_t pack = depthwise_align(
        (size_t)(s->r * s->s * depthwise_nhwc_vectors(s) * DEPTHWISE_NHWC_V) * sizeof(float));
    plan->scratch_bytes = pack + (size_t)plan->threads * depthwise_nhwc_list_bytes(s);
    return BT_OK;
}

static void BT_SIMD_NAME(depthwise_bwd_d_nhwc_run)(const bt_plan *plan, const bt_tensors *t,
                                                   int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, cvecs = depthwise_nhwc_vectors(s),
                  cpad = cvecs * DEPTHWISE_NHWC_V;
    const int jb = (int)plan->param[DEPTHWISE_BWD_D_NHWC_JB],
              cb = (int)plan->param[DEPTHWISE_BWD_D_NHWC_CB];
    const int64_t ccv = bt_div_up(plan->param[DEPTHWISE_BWD_D_NHWC_CC], DEPTHWISE_NHWC_V);
    float *pack = (float *)plan->scratch;
    size_t pack_bytes = depthwise_align((size_t)(taps * cpad) * sizeof(float));
    depthwise_nhwc_lists l = depthwise_nhwc_lists_at(
        s, (char *)plan->scratch + pack_bytes + (size_t)tid * depthwise_nhwc_list_bytes(s));

    /* Pack w[c][r][s] to [r][s][c], zero beyond C; each thread its channels. */
    int64_t p0, p1;
    bt_split(cpad, tid, nthr, &p0, &p1);
    for (int64_t tap = 0; tap < taps; tap++)
        for (int64_t c = p0; c < p1; c++)
            pack[tap * cpad + c] = c < s->c ? t->w[c * taps + tap] : 0.0f;
    depthwise_barrier(nthr);

    depthwise_bwd_d_nhwc_args a = {
        .dy = t->dy, .w = pack, .c = s->c, .dx_step = s->sw * s->c, .accumulate = s->accumulate};
    a.mask = bt_vmask((int)(s->c - (cvecs - 1) * DEPTHWISE_NHWC_V));
    int tail = s->c % DEPTHWISE_NHWC_V != 0;
#if DEPTHWISE_NHWC_STREAM
    a.stream = plan->param[DEPTHWISE_BWD_D_NHWC_NT] && !tail &&
               ((uintptr_t)t->dx % (DEPTHWISE_NHWC_V * sizeof(float))) == 0;
#endif
    depthwise_range g = depthwise_thread_range((int)plan->param[DEPTHWISE_BWD_D_NHWC_PAR], tid,
                                               nthr, s->n * s->h, cvecs);
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
                           ? depthwise_pf_make(
                                 t->dy + ((nn * s->p + pn) * s->q) * s->c + cc0 * DEPTHWISE_NHWC_V,
                                 ((s->q - 1) * s->c + (cc1 - cc0) * DEPTHWISE_NHWC_V) *
                                     (int64_t)sizeof(float),
                                 tiles)
                           : depthwise_pf_make(NULL, 0, 1);
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
                int ncuts = depthwise_segments(l.lo, l.hi, (int)s->s, npos, l.cuts);
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
                    BT_SIMD_NAME(depthwise_bwd_d_nhwc_segment)
                    (&a, tb - ta, jb, cb, cc0, cc1, cvecs, tail);
                }
            }
        }
    }
#if DEPTHWISE_NHWC_STREAM
    if (a.stream) _mm_sfence();
#endif
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, depthwise_nhwc, .layouts = BT_TAKES_NHWC,
                       .params = BT_SIMD_NAME(depthwise_bwd_d_nhwc_params),
                       .supports = BT_SIMD_NAME(depthwise_nhwc_supports),
                       .prepare = BT_SIMD_NAME(depthwise_bwd_d_nhwc_prepare),
                       .run = BT_SIMD_NAME(depthwise_bwd_d_nhwc_run));

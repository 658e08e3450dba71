/* Depthwise convolution backward weights in NHWC, vectorised over channels: a template
 * instantiated once per ISA by depthwise_bwd_w_nhwc_{avx512,avx2,scalar}.c (see common/simd.h;
 * no include guard; what it shares with bwd_data is in depthwise_nhwc_common.h).
 *
 * Per dy row and segment of q (a constant tap set), chunks of up to 9 taps x cb channel
 * vectors accumulate in registers over the segment's positions, db alongside, then into this
 * thread's partial dW in scratch; after a barrier the partials are summed in thread order.
 * par=mb splits the dy rows of the whole batch (so batch 1 still splits); par=c splits
 * channels (the partials of other threads are zero there).
 * walk=tile instead copies each block of channels into zero-padded tiles and keeps the
 * accumulators in registers over whole bands of rows (depthwise_bwd_w_common.h); walk=direct
 * keeps them there over bands of rows read in place (depthwise_bwd_w_nhwc_direct.h).
 */
#include "conv/depthwise_nhwc_common.h"
#include "conv/depthwise_bwd_w_common.h"

enum {
    DEPTHWISE_BWD_W_NHWC_PAR,
    DEPTHWISE_BWD_W_NHWC_CB,
    DEPTHWISE_BWD_W_NHWC_CC,
    DEPTHWISE_BWD_W_NHWC_WALK
};
enum { DEPTHWISE_BWD_W_NHWC_ROWS, DEPTHWISE_BWD_W_NHWC_TILE, DEPTHWISE_BWD_W_NHWC_DIRECT };
static const char *const depthwise_bwd_w_nhwc_walks[] = {"rows", "tile", "direct", NULL};

static const bt_param_spec BT_SIMD_NAME(depthwise_bwd_w_nhwc_params)[] = {
    {.key = "par",
     .choices = depthwise_par_choices,
     .doc = "threads form a grid over dy rows of the whole batch (mb), channels (c), or both (2d)"},
    DEPTHWISE_NHWC_CB_CC_SPECS,
    {.key = "walk",
     .choices = depthwise_bwd_w_nhwc_walks,
     .doc = "rows: dy rows in place, segment by segment; tile: channel blocks copied into padded "
            "tiles, accumulators in registers over bands of rows (cc unused); direct (3x3, 5x5): "
            "x and dy in place, accumulators in registers over bands of rows (cc unused)"},
    {0}};

/* walk=tile's x (depthwise_bwd_w_tile_fill_x_fn): the image rows of the band, left to the copy
 * (NHWC rows follow each other, so the band's positions are one run of src). */
static void depthwise_bwd_w_nhwc_tile_fill_x(const bt_shape *s, const depthwise_bwd_w_tile_geom *g,
                                             const bt_tensors *t, int64_t n, int64_t p0, int64_t np,
                                             int64_t v0, int cbv, float *xt,
                                             depthwise_bwd_w_tile_copy *copy) {
    const int64_t cvecs = depthwise_nhwc_vectors(s);
    int64_t ia, ib;
    const int64_t i0 = depthwise_bwd_w_tile_rows(s, g, p0, np, xt, &ia, &ib);
    copy->src = t->x + ((n * s->h + ia) * s->w) * s->c + v0 * DEPTHWISE_NHWC_V;
    copy->dst = xt + ((ia - i0) * g->tw + s->pw) * g->vb;
    copy->count = (ib - ia) * s->w, copy->w = s->w;
    copy->src_step = s->c, copy->dst_row = g->tw * g->vb, copy->vb = g->vb;
    copy->cbv = cbv;
    copy->masked_last = v0 + cbv == cvecs && s->c % DEPTHWISE_NHWC_V != 0;
    copy->tail = bt_vmask((int)(s->c - (cvecs - 1) * DEPTHWISE_NHWC_V));
}

/* walk=tile's dy (depthwise_bwd_w_tile_dy_fn): read in place, but for the channel tail, copied
 * with its lanes past C zero. */
static void depthwise_bwd_w_nhwc_tile_dy(const bt_shape *s, const depthwise_bwd_w_tile_geom *g,
                                         const bt_tensors *t, int64_t n, int64_t p0, int64_t np,
                                         int64_t v0, int cbv, float *dt, const float **d,
                                         int64_t *d_step) {
    const int64_t cvecs = depthwise_nhwc_vectors(s);
    const float *dy = t->dy + ((n * s->p + p0) * s->q) * s->c + v0 * DEPTHWISE_NHWC_V;
    if (v0 + cbv < cvecs || s->c % DEPTHWISE_NHWC_V == 0) {
        *d = dy, *d_step = s->c;
        return;
    }
    depthwise_bwd_w_tile_copy c = {.src = dy,
                                   .dst = dt,
                                   .count = np * s->q,
                                   .w = np * s->q,
                                   .src_step = s->c,
                                   .dst_row = 0,
                                   .vb = g->vb,
                                   .cbv = cbv,
                                   .masked_last = 1};
    c.tail = bt_vmask((int)(s->c - (cvecs - 1) * DEPTHWISE_NHWC_V));
    depthwise_bwd_w_tile_copy_slice(&c, 0, 1);
    *d = dt, *d_step = g->vb;
}

/* One segment: positions q in [0, nq) of one dy row, for a chunk of taps. */
typedef struct depthwise_bwd_w_nhwc_args {
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
    depthwise_pf *pf_x, *pf_dy;
} depthwise_bwd_w_nhwc_args;

/* part[taps of the chunk] += sum over positions of x * dy, for channel vectors at vector b;
 * T taps x CB vectors (+ db) in registers. */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_nhwc_chunk(const depthwise_bwd_w_nhwc_args *a,
                                                      const float *const *tx, const int64_t *slot,
                                                      int64_t b, const int T, const int CB,
                                                      const int MASKED, const int DB) {
    bt_vf acc[DEPTHWISE_NHWC_TMAX_ABS][DEPTHWISE_NHWC_CB_MAX], dbv[DEPTHWISE_NHWC_CB_MAX];
    const float *xp[DEPTHWISE_NHWC_TMAX_ABS];
    float *part = a->part + b * a->part_block;
    const int64_t c_off = b * DEPTHWISE_NHWC_V;
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) {
        xp[k] = tx[k] + c_off;
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            acc[k][v] = bt_vload(part + v * a->part_block + slot[k] * DEPTHWISE_NHWC_V);
    }
#pragma GCC unroll 2
    for (int v = 0; v < CB; v++)
        dbv[v] = DB ? bt_vload(part + v * a->part_block + a->taps * DEPTHWISE_NHWC_V) : bt_vzero();
    const float *d = a->dy + c_off;
    for (int64_t q = 0; q < a->nq; q++) {
        depthwise_pf_next(a->pf_x);
        depthwise_pf_next(a->pf_dy);
        bt_vf dv[DEPTHWISE_NHWC_CB_MAX];
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) {
            const float *src = d + q * a->c + v * DEPTHWISE_NHWC_V;
            dv[v] = MASKED && v == CB - 1 ? bt_vload_mask(src, a->mask) : bt_vload(src);
            if (DB) dbv[v] = bt_vadd(dbv[v], dv[v]);
        }
#pragma GCC unroll 9
        for (int k = 0; k < T; k++)
#pragma GCC unroll 2
            for (int v = 0; v < CB; v++) {
                const float *src = xp[k] + q * a->x_step + v * DEPTHWISE_NHWC_V;
                bt_vf x = MASKED && v == CB - 1 ? bt_vload_mask(src, a->mask) : bt_vload(src);
                acc[k][v] = bt_vfmadd(x, dv[v], acc[k][v]);
            }
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            bt_vstore(part + v * a->part_block + slot[k] * DEPTHWISE_NHWC_V, acc[k][v]);
    if (DB)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            bt_vstore(part + v * a->part_block + a->taps * DEPTHWISE_NHWC_V, dbv[v]);
}

DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_nhwc_chunk_any(const depthwise_bwd_w_nhwc_args *a,
                                                          const float *const *tx,
                                                          const int64_t *slot, int64_t b, int ntaps,
                                                          int db, const int CB, const int MASKED) {
    switch (ntaps * 2 + db) {
#define DEPTHWISE_BWD_W_NHWC_CASE(T)                                                               \
    case 2 * T:                                                                                    \
        depthwise_bwd_w_nhwc_chunk(a, tx, slot, b, T, CB, MASKED, 0);                              \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        depthwise_bwd_w_nhwc_chunk(a, tx, slot, b, T, CB, MASKED, 1);                              \
        break;
        DEPTHWISE_BWD_W_NHWC_CASE(0)
        DEPTHWISE_BWD_W_NHWC_CASE(1)
        DEPTHWISE_BWD_W_NHWC_CASE(2)
        DEPTHWISE_BWD_W_NHWC_CASE(3)
        DEPTHWISE_BWD_W_NHWC_CASE(4)
        DEPTHWISE_BWD_W_NHWC_CASE(5)
        DEPTHWISE_BWD_W_NHWC_CASE(6)
        DEPTHWISE_BWD_W_NHWC_CASE(7)
        DEPTHWISE_BWD_W_NHWC_CASE(8)
        DEPTHWISE_BWD_W_NHWC_CASE(9)
#undef DEPTHWISE_BWD_W_NHWC_CASE
    }
}

/* All taps of the segment for channel vectors at b: chunks of at most tmax taps, db with the
 * first chunk (also when there is no tap). */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_nhwc_block(const depthwise_bwd_w_nhwc_args *a, int ntaps,
                                                      int with_db, int64_t b, const int CB,
                                                      const int MASKED) {
    const int tmax = DEPTHWISE_NHWC_TMAX(CB);
    int first = 1;
    for (int k = 0; k < ntaps || (first && with_db); k += tmax) {
        int n = ntaps - k < tmax ? ntaps - k : tmax;
        depthwise_bwd_w_nhwc_chunk_any(a, a->tap_x + k, a->slot + k, b, n, first && with_db, CB,
                                       MASKED);
        first = 0;
    }
}

/* A segment over channel vectors [b0, b1). */
static void BT_SIMD_NAME(depthwise_bwd_w_nhwc_segment)(const depthwise_bwd_w_nhwc_args *a,
                                                       int ntaps, int with_db, int cb, int64_t b0,
                                                       int64_t b1, int64_t cvecs, int tail) {
    for (int64_t b = b0; b < b1;) {
        int block = depthwise_nhwc_block_at(b, b1, cb, cvecs, tail);
        if (block == 2)
            depthwise_bwd_w_nhwc_block(a, ntaps, with_db, b, 2, 0);
        else if (block == 1)
            depthwise_bwd_w_nhwc_block(a, ntaps, with_db, b, 1, 0);
        else
            depthwise_bwd_w_nhwc_block(a, ntaps, with_db, b, 1, 1);
        b += block == 2 ? 2 : 1;
    }
}

static size_t depthwise_bwd_w_nhwc_part_floats(const bt_shape *s) {
    return depthwise_align(
               (size_t)(depthwise_nhwc_vectors(s) * (s->r * s->s + 1) * DEPTHWISE_NHWC_V) *
               sizeof(float)) /
           sizeof(float);
}

#include "conv/depthwise_bwd_w_nhwc_direct.h"

static bt_status BT_SIMD_NAME(depthwise_bwd_w_nhwc_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DEPTHWISE_BWD_W_NHWC_PAR])
        plan->param[DEPTHWISE_BWD_W_NHWC_PAR] = DEPTHWISE_PAR_MB;
    /* Two vectors per chunk when that still holds every tap (or 9) in registers. */
    if (!plan->param_given[DEPTHWISE_BWD_W_NHWC_CB])
        plan->param[DEPTHWISE_BWD_W_NHWC_CB] =
            depthwise_nhwc_vectors(s) >= 2 &&
                    DEPTHWISE_NHWC_TMAX(2) >= bt_min64(s->r * s->s, DEPTHWISE_NHWC_TMAX_ABS)
                ? 2
                : 1;
    if (!plan->param_given[DEPTHWISE_BWD_W_NHWC_CC])
        plan->param[DEPTHWISE_BWD_W_NHWC_CC] = depthwise_nhwc_default_cc(s);
    const int64_t cb = plan->param[DEPTHWISE_BWD_W_NHWC_CB];
    const int tile_fits = depthwise_bwd_w_tile_fits(s, cb);
    /* In place wherever the taps fit the registers: on the 19 depthwise layers of
     * MobileNet-v2 and EfficientNet-B0 (3x3 and 5x5, 7x7 to 112x112, batch 8, 2 threads)
     * 1.09-2.25x the previous default (results/.../depthwise_bwd_w_nhwc_direct.txt); AVX2,
     * cb=1, 0.99-1.57x the better of the row and tile walks on 7 of them. Elsewhere tiles on
     * images up to 16 wide, where the row walk's segments are a few positions long (on those
     * layers' 7x7 and 14x14 ones 0.98-2.0x the row walk, on 28 and wider 0.4-1.03x). */
    if (!plan->param_given[DEPTHWISE_BWD_W_NHWC_WALK])
        plan->param[DEPTHWISE_BWD_W_NHWC_WALK] =
            depthwise_bwd_w_direct_fits(s, 1) ? DEPTHWISE_BWD_W_NHWC_DIRECT
            : tile_fits && s->w <= 16         ? DEPTHWISE_BWD_W_NHWC_TILE
                                              : DEPTHWISE_BWD_W_NHWC_ROWS;
    if (plan->param[DEPTHWISE_BWD_W_NHWC_WALK] == DEPTHWISE_BWD_W_NHWC_DIRECT) {
        /* Two vectors per block where their taps fit the registers (3x3 on AVX-512). */
        if (!plan->param_given[DEPTHWISE_BWD_W_NHWC_CB])
            plan->param[DEPTHWISE_BWD_W_NHWC_CB] =
                depthwise_nhwc_vectors(s) >= 2 && depthwise_bwd_w_direct_fits(s, 2) ? 2 : 1;
        const int64_t direct_cb = plan->param[DEPTHWISE_BWD_W_NHWC_CB];
        if (!depthwise_bwd_w_direct_fits(s, direct_cb))
            return bt_fail(BT_EUNSUPPORTED,
                           "walk=direct: 3x3 or 5x5 taps whose cb=%lld register "
                           "tile fits the registers only",
                           (long long)direct_cb);
        plan->scratch_bytes =
            (size_t)plan->threads * depthwise_bwd_w_direct_thread_floats(s) * sizeof(float);
        return BT_OK;
    }
    if (plan->param[DEPTHWISE_BWD_W_NHWC_WALK] == DEPTHWISE_BWD_W_NHWC_TILE) {
        /* One vector per tile where the 3x3 chunk applies: it loads a third of the x. */
        if (!plan->param_given[DEPTHWISE_BWD_W_NHWC_CB] && depthwise_bwd_w_tile_rows3(s))
            plan->param[DEPTHWISE_BWD_W_NHWC_CB] = 1;
        if (!tile_fits)
            return bt_fail(BT_EUNSUPPORTED, "walk=tile: a tile row of this shape would exceed "
                                            "the scratch block bound (padding or dilation much "
                                            "wider than the image)");
        depthwise_bwd_w_tile_geom g =
            depthwise_bwd_w_tile_geometry(s, plan->param[DEPTHWISE_BWD_W_NHWC_CB]);
        plan->scratch_bytes = (size_t)plan->threads * depthwise_bwd_w_tile_thread_bytes(s, &g);
        return BT_OK;
    }
    /* Per thread: the partial dW/db and the tap lists. */
    plan->scratch_bytes =
        (size_t)plan->threads *
        (depthwise_bwd_w_nhwc_part_floats(s) * sizeof(float) + depthwise_nhwc_list_bytes(s));
    return BT_OK;
}

static void BT_SIMD_NAME(depthwise_bwd_w_nhwc_run)(const bt_plan *plan, const bt_tensors *t,
                                                   int tid, int nthr) {
    if (plan->param[DEPTHWISE_BWD_W_NHWC_WALK] == DEPTHWISE_BWD_W_NHWC_DIRECT) {
        BT_SIMD_NAME(depthwise_bwd_w_direct_run)
        (plan, t, (int)plan->param[DEPTHWISE_BWD_W_NHWC_PAR], plan->param[DEPTHWISE_BWD_W_NHWC_CB],
         tid, nthr);
        return;
    }
    if (plan->param[DEPTHWISE_BWD_W_NHWC_WALK] == DEPTHWISE_BWD_W_NHWC_TILE) {
        BT_SIMD_NAME(depthwise_bwd_w_tile_run)
        (plan, t, (int)plan->param[DEPTHWISE_BWD_W_NHWC_PAR], plan->param[DEPTHWISE_BWD_W_NHWC_CB],
         depthwise_bwd_w_nhwc_tile_fill_x, depthwise_bwd_w_nhwc_tile_dy, tid, nthr);
        return;
    }
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, cvecs = depthwise_nhwc_vectors(s);
    const int cb = (int)plan->param[DEPTHWISE_BWD_W_NHWC_CB];
    const int64_t ccv = bt_div_up(plan->param[DEPTHWISE_BWD_W_NHWC_CC], DEPTHWISE_NHWC_V);
    const size_t part_floats = depthwise_bwd_w_nhwc_part_floats(s);
    float *parts = (float *)plan->scratch;
    float *part = parts + (size_t)tid * part_floats;
    depthwise_nhwc_lists l = depthwise_nhwc_lists_at(
        s, (char *)plan->scratch + (size_t)plan->threads * part_floats * sizeof(float) +
               (size_t)tid * depthwise_nhwc_list_bytes(s));
    memset(part, 0, part_floats * sizeof(float));
    int64_t *slots = l.slot;

    depthwise_bwd_w_nhwc_args a = {.x_step = s->sw * s->c, .c = s->c, .part = part};
    a.part_block = (taps + 1) * DEPTHWISE_NHWC_V;
    a.taps = taps;
    a.mask = bt_vmask((int)(s->c - (cvecs - 1) * DEPTHWISE_NHWC_V));
    a.tap_x = l.tap_x;
    a.slot = slots;
    depthwise_pf pf_x, pf_dy;
    a.pf_x = &pf_x;
    a.pf_dy = &pf_dy;
    int tail = s->c % DEPTHWISE_NHWC_V != 0, with_db = t->db != NULL;
    depthwise_range g = depthwise_thread_range((int)plan->param[DEPTHWISE_BWD_W_NHWC_PAR], tid,
                                               nthr, s->n * s->p, cvecs);
    for (int64_t cc0 = g.c0; cc0 < g.c1; cc0 += ccv) {
        int64_t cc1 = bt_min64(cc0 + ccv, g.c1);
        for (int64_t u = g.u0; u < g.u1; u++) {
            int64_t n = u / s->p, p = u % s->p;
            {
                /* The next dy row and the x rows it adds (the last sh kernel rows), this
                 * chunk's channels, spread over this row's positions of every channel block. */
                int64_t nn = (u + 1) / s->p, pn = (u + 1) % s->p, more = u + 1 < g.u1;
                int64_t last = pn * s->sh - s->ph + (s->r - 1) * s->dh;
                int64_t in = bt_max64(0, bt_min64(s->h - 1, last - s->sh + 1));
                int64_t nrows = bt_max64(1, bt_min64(s->h - 1, last) - in + 1);
                int64_t steps = (cc1 - cc0 + cb - 1) / cb * s->q,
                        span = (cc1 - cc0) * DEPTHWISE_NHWC_V;
                pf_x = depthwise_pf_make(
                    more ? t->x + ((nn * s->h + in) * s->w) * s->c + cc0 * DEPTHWISE_NHWC_V : NULL,
                    ((nrows * s->w - 1) * s->c + span) * (int64_t)sizeof(float), steps);
                pf_dy = depthwise_pf_make(
                    more ? t->dy + ((nn * s->p + pn) * s->q) * s->c + cc0 * DEPTHWISE_NHWC_V : NULL,
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
                l.lo[ss] = bt_max64(0, depthwise_ceil_div(-off, s->sw));
                l.hi[ss] = bt_min64(s->q, depthwise_floor_div(s->w - 1 - off, s->sw) + 1);
                if (l.hi[ss] < l.lo[ss]) l.hi[ss] = l.lo[ss];
            }
            int ncuts = depthwise_segments(l.lo, l.hi, (int)s->s, s->q, l.cuts);
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
                BT_SIMD_NAME(depthwise_bwd_w_nhwc_segment)
                (&a, ntaps, with_db, cb, cc0, cc1, cvecs, tail);
            }
        }
    }
    depthwise_barrier(nthr);
    depthwise_reduce_partials(s, t, parts, part_floats, DEPTHWISE_NHWC_V, tid, nthr);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, depthwise_nhwc, .layouts = BT_TAKES_NHWC,
                       .params = BT_SIMD_NAME(depthwise_bwd_w_nhwc_params),
                       .supports = BT_SIMD_NAME(depthwise_nhwc_supports),
                       .prepare = BT_SIMD_NAME(depthwise_bwd_w_nhwc_prepare),
                       .run = BT_SIMD_NAME(depthwise_bwd_w_nhwc_run));

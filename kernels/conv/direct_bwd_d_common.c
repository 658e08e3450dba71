/* Shared geometry of the direct conv bwd_data variants (see direct_bwd_d_common.h). */
#include "conv/direct_bwd_d_common.h"

const char *const bt_bwdd_par_choices[] = {"mb", "c", "2d", NULL};

/* Rows of a flat window beyond [0, P) that a block of rb dx rows may read: a row tap's
 * first row p is read with the phase's rows (at most ceil(rb / sh)) after it, and is kept
 * only when they meet [0, P). */
static int64_t flat_margin(const bt_shape *s, int64_t rb) {
    return bt_div_up(rb, s->sh) - 1;
}

void bt_bwdd_window_rows(const bt_shape *s, int flat, int64_t i0, int64_t i1, int64_t *pmin,
                         int64_t *pmax) {
    *pmin = direct_bwd_d_ceil_div(i0 + s->ph - (s->r - 1) * s->dh, s->sh);
    *pmax = direct_bwd_d_floor_div(i1 - 1 + s->ph, s->sh);
    int64_t margin = flat ? flat_margin(s, i1 - i0) : 0;
    *pmin = bt_max64(-margin, *pmin), *pmax = bt_min64(s->p - 1 + margin, *pmax);
}

int bt_bwdd_row_taps(const bt_shape *s, int64_t i, int64_t rows, int64_t pbase, int64_t *r,
                     int64_t *prow) {
    int n = 0;
    for (int64_t rr = 0; rr < s->r; rr++) {
        int64_t off = i + s->ph - rr * s->dh;
        if (direct_bwd_d_floor_div(off, s->sh) * s->sh != off) continue;
        int64_t p = direct_bwd_d_floor_div(off, s->sh);
        if (p + rows - 1 < 0 || p >= s->p) continue;
        r[n] = rr, prow[n] = p - pbase, n++;
    }
    return n;
}

/* Whether kernel column c contributes to phase jph, and its dy column q0 of t = 0. A column
 * whose dy columns q0 .. q0 + len - 1 all fall in the padding adds nothing; leaving it out
 * keeps a window's zero columns within a phase's length. */
static int column_tap(const bt_shape *s, int64_t jph, int64_t c, int64_t *q0) {
    int64_t off = jph + s->pw - c * s->dw;
    if (direct_bwd_d_floor_div(off, s->sw) * s->sw != off) return 0;
    *q0 = direct_bwd_d_floor_div(off, s->sw);
    return *q0 + direct_bwd_d_phase_len(s, jph) > 0 && *q0 < s->q;
}

int bt_bwdd_phase_taps(const bt_shape *s, int64_t jph, int64_t *ss, int64_t *q0) {
    int n = 0;
    for (int64_t c = 0; c < s->s; c++)
        if (column_tap(s, jph, c, &q0[n])) ss[n++] = c;
    return n;
}

/* The zero columns reads need left of q = 0 (*lp) and the row pitch. Flat windows let a
 * row's right padding run on into the next row's left padding. */
static void pad_extent(const bt_shape *s, int flat, int64_t *lp, int64_t *qpad) {
    int64_t left = 0, end = s->q, q0;
    for (int64_t jph = 0; jph < bt_min64(s->sw, s->w); jph++)
        for (int64_t c = 0; c < s->s; c++)
            if (column_tap(s, jph, c, &q0)) {
                left = bt_max64(left, -q0);
                end = bt_max64(end, q0 + direct_bwd_d_phase_len(s, jph));
            }
    *lp = left;
    *qpad = left + (flat ? s->q + bt_max64(0, end - s->q - left) : end);
}

/* Rows of a window for rb dx rows: the most [pmin, pmax] of bt_bwdd_window_rows spans, and
 * for flat windows one more whose left padding ends the last row's right padding. */
static int64_t window_rows(const bt_shape *s, int flat, int64_t rb) {
    int64_t rows = bt_div_up(rb - 1 + (s->r - 1) * s->dh, s->sh) + 1;
    return flat ? bt_min64(rows, s->p + 2 * flat_margin(s, rb)) + 1
                : bt_max64(1, bt_min64(rows, s->p));
}

void bt_bwdd_window_geom(const bt_shape *s, int64_t rb, direct_bwd_d_geom *g) {
    g->rb = bt_max64(1, bt_min64(rb, s->h));
    g->nrb = bt_div_up(s->h, g->rb);
    g->win_rows = window_rows(s, g->flat, g->rb);
    pad_extent(s, g->flat, &g->lp, &g->qpad);
}

int64_t bt_bwdd_window_bytes(const bt_shape *s, int flat, int64_t rows_per_block,
                             int64_t floats_per_q) {
    int64_t lp, qpad;
    pad_extent(s, flat, &lp, &qpad);
    return window_rows(s, flat, rows_per_block) * qpad * floats_per_q * (int64_t)sizeof(float);
}

int64_t bt_bwdd_default_rb(const bt_shape *s, int flat, int64_t floats_per_q, int64_t block,
                           int64_t ngc, int threads) {
    /* The window and a c-tile's packed weights stay in L2 while the block's tiles reuse
     * them: the window gets half of it (at least a quarter next to big weights). */
    const bt_machine *m = bt_machine_get();
    int64_t l2 = bt_min64(m->l2_bytes > 0 ? m->l2_bytes : (1 << 20), 4 << 20);
    int64_t budget =
        bt_max64(l2 / 4, bt_min64(l2 / 2, l2 * 3 / 4 - block * (int64_t)sizeof(float)));
    int64_t rb = s->h;
    while (rb > 1 && bt_bwdd_window_bytes(s, flat, rb, floats_per_q) > budget) rb--;
    int64_t items = s->n * ngc;
    if (threads > 1 && items < 4 * (int64_t)threads) {
        int64_t blocks = bt_div_up(4 * (int64_t)threads, items);
        rb = bt_min64(rb, bt_max64(1, bt_div_up(s->h, blocks)));
    }
    rb = bt_div_up(s->h, bt_div_up(s->h, rb)); /* blocks of even height */
    return rb;
}

int64_t bt_bwdd_fit_rb(const bt_shape *s, int flat, int64_t floats_per_q, int64_t rb) {
    int64_t lo = 1, hi = bt_max64(1, bt_min64(rb, s->h)); /* the window grows with rb */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (bt_bwdd_window_bytes(s, flat, mid, floats_per_q) / (int64_t)sizeof(float) <=
            bt_scratch_block_floats(s))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

void bt_bwdd_thread_items(int par, int64_t n, int64_t nrb, int64_t ngc, int tid, int nthr,
                          int64_t *a, int64_t *b, int64_t *gc0, int64_t *gc1) {
    int64_t per_n = nrb * ngc;
    *gc0 = 0, *gc1 = ngc;
    switch (par) {
    case DIRECT_BWD_D_PAR_MB:
        bt_split(n, tid, nthr, a, b);
        *a *= per_n, *b *= per_n;
        break;
    case DIRECT_BWD_D_PAR_C:
        *a = 0, *b = n * per_n;
        bt_split(ngc, tid, nthr, gc0, gc1);
        break;
    default:
        bt_split(n * per_n, tid, nthr, a, b);
        break;
    }
}

int bt_bwdd_taps(const bt_shape *s, int64_t i, int64_t rows, int64_t jph, int64_t pbase, int64_t lp,
                 int64_t rowstride, int64_t posstride, int64_t wtap, int64_t *scratch,
                 direct_bwd_d_tap *taps) {
    int64_t *r = scratch, *prow = r + s->r, *ss = prow + s->r, *q0 = ss + s->s;
    int nr = bt_bwdd_row_taps(s, i, rows, pbase, r, prow);
    int ns = nr ? bt_bwdd_phase_taps(s, jph, ss, q0) : 0;
    int n = 0;
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < ns; b++, n++) {
            taps[n].dy = prow[a] * rowstride + (lp + q0[b]) * posstride;
            taps[n].w = (r[a] * s->s + ss[b]) * wtap;
        }
    return n;
}

void bt_bwdd_run_items(const bt_plan *plan, const bt_shape *s, const bt_tensors *t, int par,
                       int tid, int nthr, float *area, direct_bwd_d_copy_fn copy,
                       direct_bwd_d_block_fn block) {
    const direct_bwd_d_geom *g = plan->priv;
    int64_t a, b, gc0, gc1, copied = -1;
    bt_bwdd_thread_items(par, s->n, g->nrb, g->ngc, tid, nthr, &a, &b, &gc0, &gc1);
    for (int64_t item = a; item < b; item++) {
        int64_t gc = item % g->ngc, rbi = item / g->ngc % g->nrb, n = item / g->ngc / g->nrb;
        if (gc < gc0 || gc >= gc1) continue;
        int64_t grp = gc / g->nct, i0 = rbi * g->rb, i1 = bt_min64(s->h, i0 + g->rb);
        int64_t pmin, pmax, key = (n * g->nrb + rbi) * s->g + grp;
        bt_bwdd_window_rows(s, g->flat, i0, i1, &pmin, &pmax);
        if (key != copied) {
            copy(plan, t->dy, n, grp, pmin, pmax, area);
            copied = key;
        }
        block(plan, t, area, n, grp, gc % g->nct, i0, i1, pmin);
    }
}

/* vec=rows of depthwise bwd_weights in NCHW (depthwise_bwd_w_nchw_impl.h, AVX-512 builds;
 * included once per ISA build, so no include guard).
 *
 * 3x3 taps, dilation 1, stride 1 or 2 in both directions, output rows of up to
 * DEPTHWISE_BWD_W_ROWS_QV vectors. x and dy are read in place, one vector of output columns
 * of one output row at a time: tap (r, s) reads x row p * sh + r - ph at columns
 * q * sw + s - pw, a masked load at stride 1; at stride 2 a masked pair of loads whose even
 * lanes serve tap column s and odd lanes tap column s + 1. No padded copy of each plane
 * (vec=w) and no transpose of x and dy (vec=c, which costs as much as the FMAs on 3x3). The
 * nine accumulators and db stay in registers over a plane; a block of channels' accumulators
 * waits in L1 over the samples and is summed across lanes once.
 */

#define DEPTHWISE_BWD_W_ROWS_QV 8
#define DEPTHWISE_BWD_W_ROWS_CB 16

static inline int depthwise_bwd_w_rows_fits(const bt_shape *s) {
    return s->r == 3 && s->s == 3 && s->dh == 1 && s->dw == 1 && s->sh == s->sw &&
           (s->sw == 1 || s->sw == 2) &&
           s->q <= DEPTHWISE_BWD_W_ROWS_QV * (int64_t)DEPTHWISE_NCHW_V;
}

/* Lanes j < lanes of a load at column base + j that fall inside [0, w). */
static inline uint16_t depthwise_bwd_w_rows_mask(int64_t base, int64_t w, int64_t lanes) {
    int64_t lo = bt_max64(0, -base), hi = bt_min64(bt_min64(DEPTHWISE_NCHW_V, w - base), lanes);
    if (hi <= lo) return 0;
    return (uint16_t)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

typedef struct depthwise_bwd_w_rows_args {
    const bt_shape *s;
    int64_t nqv; /* output vectors per row */
    /* Per output vector: dy lanes; stride 1: x lanes of tap column s; stride 2: lanes of the
     * pair at 2 * q0 - pw + o (o = 0: tap columns 0, 1; o = 2: column 2), A then B. */
    uint16_t mq[DEPTHWISE_BWD_W_ROWS_QV], m1[DEPTHWISE_BWD_W_ROWS_QV][3];
    uint16_t m2[DEPTHWISE_BWD_W_ROWS_QV][2][2];
    int64_t x_lines, dy_lines, x_step_lines, dy_step_lines; /* prefetch: per plane, per vector */
} depthwise_bwd_w_rows_args;

/* acc[tap] += x tap * dy over one output vector of one row; xr[r]: x row of tap row r or
 * NULL outside the image. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_rows_vector(const depthwise_bwd_w_rows_args *a,
                                                       const float *const *xr, const float *d,
                                                       int64_t qv, bt_vf *acc, bt_vf *dbv,
                                                       const int S, const int DB) {
    const int64_t q0 = qv * DEPTHWISE_NCHW_V, pw = a->s->pw;
    const __mmask16 mq = a->mq[qv];
    const bt_vf dv = _mm512_maskz_loadu_ps(mq, d + q0);
    if (DB) *dbv = bt_vadd(*dbv, dv);
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++) {
        if (!xr[r]) continue;
        if (S == 1) {
            const float *b = xr[r] + q0 - pw;
#pragma GCC unroll 3
            for (int ks = 0; ks < 3; ks++)
                acc[r * 3 + ks] =
                    bt_vfmadd(_mm512_maskz_loadu_ps(a->m1[qv][ks], b + ks), dv, acc[r * 3 + ks]);
        } else {
            const float *b = xr[r] + 2 * q0 - pw;
            bt_vf lo = _mm512_maskz_loadu_ps(a->m2[qv][0][0], b);
            bt_vf hi = _mm512_maskz_loadu_ps(a->m2[qv][0][1], b + DEPTHWISE_NCHW_V);
            acc[r * 3] = bt_vfmadd(_mm512_maskz_permutex2var_ps(mq, lo, even, hi), dv, acc[r * 3]);
            acc[r * 3 + 1] =
                bt_vfmadd(_mm512_maskz_permutex2var_ps(mq, lo, odd, hi), dv, acc[r * 3 + 1]);
            lo = _mm512_maskz_loadu_ps(a->m2[qv][1][0], b + 2);
            hi = _mm512_maskz_loadu_ps(a->m2[qv][1][1], b + 2 + DEPTHWISE_NCHW_V);
            acc[r * 3 + 2] =
                bt_vfmadd(_mm512_maskz_permutex2var_ps(mq, lo, even, hi), dv, acc[r * 3 + 2]);
        }
    }
}

/* acc (10 vectors: the taps, db) += one plane pair's products, acc in registers over the plane;
 * px, pdy: a plane pair to prefetch over it (NULL: none). */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_rows_plane(const depthwise_bwd_w_rows_args *a,
                                                      const float *x, const float *dy,
                                                      const float *px, const float *pdy,
                                                      bt_vf *accmem, const int S, const int DB) {
    const bt_shape *s = a->s;
    bt_vf acc[9], dbv = DB ? bt_vload((const float *)(accmem + 9)) : bt_vzero();
#pragma GCC unroll 9
    for (int k = 0; k < 9; k++) acc[k] = bt_vload((const float *)(accmem + k));
    depthwise_pf pfx = {(const char *)px, px ? a->x_lines : 0, a->x_step_lines};
    depthwise_pf pfd = {(const char *)pdy, pdy ? a->dy_lines : 0, a->dy_step_lines};
    for (int64_t p = 0; p < s->p; p++) {
        const float *xr[3];
#pragma GCC unroll 3
        for (int r = 0; r < 3; r++) {
            const int64_t i = p * S + r - s->ph;
            xr[r] = i >= 0 && i < s->h ? x + i * s->w : NULL;
        }
        for (int64_t qv = 0; qv < a->nqv; qv++) {
            depthwise_pf_next(&pfx);
            depthwise_pf_next(&pfd);
            depthwise_bwd_w_rows_vector(a, xr, dy + p * s->q, qv, acc, &dbv, S, DB);
        }
    }
#pragma GCC unroll 9
    for (int k = 0; k < 9; k++) bt_vstore((float *)(accmem + k), acc[k]);
    if (DB) bt_vstore((float *)(accmem + 9), dbv);
}

static void BT_SIMD_NAME(depthwise_bwd_w_rows_plane_any)(const depthwise_bwd_w_rows_args *a,
                                                         const float *x, const float *dy,
                                                         const float *px, const float *pdy,
                                                         bt_vf *acc, int db) {
    if (a->s->sw == 1)
        db ? depthwise_bwd_w_rows_plane(a, x, dy, px, pdy, acc, 1, 1)
           : depthwise_bwd_w_rows_plane(a, x, dy, px, pdy, acc, 1, 0);
    else
        db ? depthwise_bwd_w_rows_plane(a, x, dy, px, pdy, acc, 2, 1)
           : depthwise_bwd_w_rows_plane(a, x, dy, px, pdy, acc, 2, 0);
}

/* The thread's channels (par: a grid over samples and channels) in blocks of
 * DEPTHWISE_BWD_W_ROWS_CB: sample by sample, the block's planes, which lie side by side; the
 * block's accumulators wait in L1 between its planes and are summed across lanes once per
 * block. The plane pair taken next is prefetched over each plane: the same channel's plane of
 * the next sample, a block (1 MB of 112x112 planes) ahead, left L2 before its turn (g96
 * 112x112 at stride 2: 1.78x, results/amd-epyc-zen5-2c-avx512/depthwise_rows_prefetch.txt). */
static void BT_SIMD_NAME(depthwise_bwd_w_rows_run)(const bt_plan *plan, const bt_tensors *t,
                                                   int par, float *part, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t hw = s->h * s->w, pq = s->p * s->q;
    depthwise_bwd_w_rows_args a = {.s = s};
    a.nqv = bt_div_up(s->q, DEPTHWISE_NCHW_V);
    for (int64_t qv = 0; qv < a.nqv; qv++) {
        const int64_t q0 = qv * DEPTHWISE_NCHW_V;
        a.mq[qv] = depthwise_bwd_w_rows_mask(q0, s->q, DEPTHWISE_NCHW_V);
        for (int ks = 0; ks < 3; ks++)
            a.m1[qv][ks] = depthwise_bwd_w_rows_mask(q0 + ks - s->pw, s->w, s->q - q0);
        for (int o = 0; o < 2; o++) {
            const int64_t base = 2 * q0 - s->pw + 2 * o;
            a.m2[qv][o][0] = depthwise_bwd_w_rows_mask(base, s->w, DEPTHWISE_NCHW_V);
            a.m2[qv][o][1] =
                depthwise_bwd_w_rows_mask(base + DEPTHWISE_NCHW_V, s->w, DEPTHWISE_NCHW_V);
        }
    }
    /* A plane's whole lines and two more: planes need not start on a line, and the cursors
     * are made here, not by depthwise_pf_make, to keep its division out of every plane. */
    a.x_lines = hw * (int64_t)sizeof(float) / BT_ALIGN + 2;
    a.dy_lines = pq * (int64_t)sizeof(float) / BT_ALIGN + 2;
    a.x_step_lines = bt_div_up(a.x_lines, s->p * a.nqv);
    a.dy_step_lines = bt_div_up(a.dy_lines, s->p * a.nqv);
    const int with_db = t->db != NULL;
    depthwise_range g = depthwise_thread_range(par, tid, nthr, s->n, s->k);
    bt_vf acc[DEPTHWISE_BWD_W_ROWS_CB][10];
    for (int64_t k0 = g.c0; k0 < g.c1; k0 += DEPTHWISE_BWD_W_ROWS_CB) {
        const int64_t k1 = bt_min64(g.c1, k0 + DEPTHWISE_BWD_W_ROWS_CB);
        for (int64_t k = k0; k < k1; k++)
            for (int j = 0; j < 10; j++) acc[k - k0][j] = bt_vzero();
        for (int64_t n = g.u0; n < g.u1; n++)
            for (int64_t k = k0; k < k1; k++) {
                /* Next: the plane pair this loop takes next (the block's next channel, the
                 * next sample's first, or the next block's). */
                const int last_k = k + 1 == k1, last_n = n + 1 == g.u1;
                const int64_t pn = !last_k   ? n
                                   : !last_n ? n + 1
                                             : g.u0,
                              pk = !last_k   ? k + 1
                                   : !last_n ? k0
                                             : k1;
                const int more = pk < g.c1;
                BT_SIMD_NAME(depthwise_bwd_w_rows_plane_any)
                (&a, t->x + (n * s->c + k / s->kg) * hw, t->dy + (n * s->k + k) * pq,
                 more ? t->x + (pn * s->c + pk / s->kg) * hw : NULL,
                 more ? t->dy + (pn * s->k + pk) * pq : NULL, acc[k - k0], with_db);
            }
        for (int64_t k = k0; k < k1; k++) {
            for (int j = 0; j < 9; j++) part[k * 10 + j] += bt_vhsum(acc[k - k0][j]);
            if (with_db) part[k * 10 + 9] += bt_vhsum(acc[k - k0][9]);
        }
    }
}

/* vec=w of depthwise bwd_weights in NCHW for 3x3 taps: flat planes at stride 1 (AVX-512 and
 * AVX2), and phase planes at stride 2 (below; AVX-512) (depthwise_bwd_w_nchw_impl.h; included
 * once per ISA build, so no include guard).
 *
 * The flat case (stride 1, output plane = input plane) with 3x3 taps, no dilation, padding 1.
 * Tap (r, s) pairs dy at flat position f with x at f + (r - 1) * w + (s - 1); equally, x at
 * g + (r - 1) * w with dy at g - (s - 1), where g - (s - 1) lies in g's row. So each vector of
 * positions g loads three x vectors, one per tap row, and cuts the two shifted dy vectors, one
 * per outer tap column, from a sliding window of dy vectors with a masked shift (valignd on
 * AVX-512; the mask drops the pairs that would cross a row end): nine FMAs on four loads and two
 * shuffles, where the masked-load flat kernel (which other taps keep) needs nine unaligned loads,
 * which split cache lines and leave the load port, not the FMAs, setting the pace. Loads reaching
 * outside the plane are masked to zero (the padding rows). The accumulators stay in registers over
 * a channel's samples and are summed across lanes once per channel.
 */

typedef struct depthwise_bwd_w_window_args {
    const float *x, *dy; /* planes (first sample, channel k) */
    int64_t x_sample;    /* floats between samples, in x and dy alike (C = K) */
    int64_t n0, n1;      /* samples */
    int64_t w, nvec;     /* row, vectors per plane */
    /* Lane masks (depthwise_bwd_w_window_masks) per vector v of positions: col[v][2], the
     * lanes whose column plus one, and minus one, lies in the row; inside[v][3], those of tap
     * row r's x load, at v * V + (r - 1) * w, inside the plane; dy_inside[v], those of dy's
     * vector v inside the plane (v up to nvec: past it, none). */
    const uint16_t *col, *inside, *dy_inside;
    float *sums; /* the nine taps' lane sums; db after them */
} depthwise_bwd_w_window_args;

/* acc[r][s] += tap (r, s)'s x times dy over the thread's samples of one channel (+ db). */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_window_channel(const depthwise_bwd_w_window_args *a,
                                                          const int DB) {
    bt_vf acc[3][3], dbv = bt_vzero();
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++) acc[r][s] = bt_vzero();
    const int64_t nvec = a->nvec, w = a->w;
    for (int64_t n = a->n0; n < a->n1; n++) {
        const float *x = a->x + n * a->x_sample, *dy = a->dy + n * a->x_sample;
        const int64_t ahead = n + 1 < a->n1 ? a->x_sample : 0;
        const float *pfx = x + ahead, *pfd = dy + ahead;
        const uint16_t *in = a->inside, *col = a->col;
        bt_vf dprev = bt_vzero(), dcur = depthwise_lanes_load(&a->dy_inside[0], dy);
        for (int64_t v = 0; v < nvec; v++, col += 2, in += 3) {
            const int64_t f = v * DEPTHWISE_NCHW_V;
            __builtin_prefetch(pfx + f, 0, 2);
            __builtin_prefetch(pfd + f, 0, 2);
            const bt_vf dnext =
                depthwise_lanes_load(&a->dy_inside[v + 1], dy + f + DEPTHWISE_NCHW_V);
            /* Tap column s pairs x at g + s - 1 with dy at g; equally, x at g with dy at
             * g - (s - 1), in the same row. */
            const bt_vf d[3] = {depthwise_lanes_shift_z(&col[0], dprev, dcur, dnext, 1), dcur,
                                depthwise_lanes_shift_z(&col[1], dprev, dcur, dnext, -1)};
            if (DB) dbv = bt_vadd(dbv, d[1]);
#pragma GCC unroll 3
            for (int r = 0; r < 3; r++) {
                const bt_vf xr = depthwise_lanes_load(in + r, x + (r - 1) * w + f);
#pragma GCC unroll 3
                for (int s = 0; s < 3; s++) acc[r][s] = bt_vfmadd(xr, d[s], acc[r][s]);
            }
            dprev = dcur, dcur = dnext;
        }
    }
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++) a->sums[r * 3 + s] = bt_vhsum(acc[r][s]);
    if (DB) a->sums[9] = bt_vhsum(dbv);
}

/* The thread's channels one at a time, each over the thread's samples; part[k][tap] += sums.
 * masks: scratch of depthwise_bwd_w_window_masks. */
static void BT_SIMD_NAME(depthwise_bwd_w_window_run)(const bt_plan *plan, const bt_tensors *t,
                                                     int par, float *part, uint16_t *masks, int tid,
                                                     int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t hw = s->h * s->w, nvec = bt_div_up(hw, DEPTHWISE_NCHW_V);
    uint16_t *col = masks, *inside = col + 2 * nvec, *dy_inside = inside + 3 * nvec;
    for (int64_t v = 0; v <= nvec; v++) {
        const int64_t f0 = v * DEPTHWISE_NCHW_V;
        dy_inside[v] = depthwise_nchw_lanes_inside(f0, hw);
        if (v == nvec) break;
        col[2 * v] = depthwise_nchw_lanes_in_row(f0, s->w, 1);
        col[2 * v + 1] = depthwise_nchw_lanes_in_row(f0, s->w, -1);
        for (int64_t r = 0; r < 3; r++)
            inside[3 * v + r] = depthwise_nchw_lanes_inside(f0 + (r - 1) * s->w, hw);
    }
    depthwise_range g = depthwise_thread_range(par, tid, nthr, s->n, s->k);
    float sums[10];
    depthwise_bwd_w_window_args a = {.x_sample = s->c * hw,
                                     .n0 = g.u0,
                                     .n1 = g.u1,
                                     .w = s->w,
                                     .nvec = nvec,
                                     .col = col,
                                     .inside = inside,
                                     .dy_inside = dy_inside,
                                     .sums = sums};
    const int with_db = t->db != NULL;
    for (int64_t k = g.c0; k < g.c1; k++) {
        a.x = t->x + k * hw, a.dy = t->dy + k * hw;
        with_db ? depthwise_bwd_w_window_channel(&a, 1) : depthwise_bwd_w_window_channel(&a, 0);
        float *pk = part + k * 10;
        for (int j = 0; j < 9 + with_db; j++) pk[j] += sums[j];
    }
}

#if DEPTHWISE_NCHW_DIRECT
/* Stride 2 (3x3, padding 1, no dilation, even image: H = 2P, W = 2Q): the x plane is staged as
 * four phase planes X_ab[i][j] = x[2i + a][2j + b], each P x Q like dy. Tap (r, s) reads
 * X_{a(r) b(s)} at the output position shifted by (d(r), d(s)): r = 0 reads phase 1 one row
 * up, r = 1 phase 0, r = 2 phase 1 in place (likewise s in columns). That is the flat case
 * again, with the window kernel's dy shift for s = 0 and six x loads per vector of positions.
 * Each plane is staged while the previous one computes (two stages), so its loads never wait
 * on the stores just made. */

/* Stages x plane (h = 2p rows of w = 2q) into x4[a][b][p][q]. */
static inline void depthwise_bwd_w_phases_stage(const float *x, int64_t h, int64_t p, int64_t q,
                                                float *x4) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
                  od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const int64_t pq = p * q;
    for (int64_t j = 0; j < q; j += DEPTHWISE_NCHW_V) {
        const int n = (int)bt_min64(DEPTHWISE_NCHW_V, q - j);
        const __mmask16 mlo = bt_vmask((int)bt_min64(2 * n, DEPTHWISE_NCHW_V)),
                        mhi = bt_vmask((int)bt_max64(0, 2 * n - DEPTHWISE_NCHW_V)),
                        mout = bt_vmask(n);
        for (int64_t i = 0; i < h; i++) {
            float *d0 = x4 + (i & 1) * 2 * pq + (i >> 1) * q + j;
            const float *src = x + i * 2 * q + 2 * j;
            const bt_vf lo = _mm512_maskz_loadu_ps(mlo, src),
                        hi = _mm512_maskz_loadu_ps(mhi, src + DEPTHWISE_NCHW_V);
            _mm512_mask_storeu_ps(d0, mout, _mm512_permutex2var_ps(lo, ev, hi));
            _mm512_mask_storeu_ps(d0 + pq, mout, _mm512_permutex2var_ps(lo, od, hi));
        }
    }
}

typedef struct depthwise_bwd_w_phases_args {
    int64_t pq, q, nvec; /* output plane, row, vectors per plane */
    /* Per vector v: col[v], the lanes whose column plus one lies in the row; up[v] and in[v],
     * those of the loads at v * V - q and v * V inside the plane (v up to nvec for in). */
    const uint16_t *col, *up, *in;
} depthwise_bwd_w_phases_args;

/* acc[3 r + s] += tap (r, s) over one staged plane x4 and its dy (acc[9]: db). */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_phases_plane(const depthwise_bwd_w_phases_args *a,
                                                        const float *x4, const float *dy,
                                                        bt_vf *accmem, const int DB) {
    const int64_t pq = a->pq, q = a->q;
    bt_vf acc[10]; /* locals, so they stay in registers */
#pragma GCC unroll 10
    for (int j = 0; j < 9 + DB; j++) acc[j] = accmem[j];
    const float *x1 = x4 + 2 * pq; /* phase rows a = 1 */
    __m512i dcur = _mm512_castps_si512(_mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)a->in), dy));
    for (int64_t v = 0; v < a->nvec; v++) {
        const int64_t f = v * DEPTHWISE_NCHW_V;
        const __m512i dnext = _mm512_castps_si512(_mm512_maskz_loadu_ps(
            _load_mask16((__mmask16 *)&a->in[v + 1]), dy + f + DEPTHWISE_NCHW_V));
        const bt_vf d0 = _mm512_castsi512_ps(dcur),
                    d1 = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(
                        _load_mask16((__mmask16 *)&a->col[v]), dnext, dcur, 1));
        if (DB) acc[9] = bt_vadd(acc[9], d0);
        const __mmask16 mup = _load_mask16((__mmask16 *)&a->up[v]),
                        min = _load_mask16((__mmask16 *)&a->in[v]);
        /* Tap rows: 0 reads phase 1 a row up, 1 phase 0, 2 phase 1; columns likewise, s = 0
         * through the dy shift (d1). */
        const float *row[3] = {x1 + f - q, x4 + f, x1 + f};
#pragma GCC unroll 3
        for (int r = 0; r < 3; r++) {
            const __mmask16 m = r == 0 ? mup : min;
            const bt_vf xe = _mm512_maskz_loadu_ps(m, row[r]),
                        xo = _mm512_maskz_loadu_ps(m, row[r] + pq);
            acc[3 * r] = bt_vfmadd(xo, d1, acc[3 * r]);
            acc[3 * r + 1] = bt_vfmadd(xe, d0, acc[3 * r + 1]);
            acc[3 * r + 2] = bt_vfmadd(xo, d0, acc[3 * r + 2]);
        }
        dcur = dnext;
    }
#pragma GCC unroll 10
    for (int j = 0; j < 9 + DB; j++) accmem[j] = acc[j];
}

/* The thread's channels one at a time, each over the thread's samples, accumulators in
 * registers; part[k][tap] += sums. stage: two staged planes (8 p q floats); masks: scratch of
 * depthwise_bwd_w_phases_masks. */
static void BT_SIMD_NAME(depthwise_bwd_w_phases_run)(const bt_plan *plan, const bt_tensors *t,
                                                     int par, float *part, float *stage,
                                                     uint16_t *masks, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t pq = s->p * s->q, hw = s->h * s->w, nvec = bt_div_up(pq, DEPTHWISE_NCHW_V);
    uint16_t *col = masks, *up = col + nvec, *in = up + nvec;
    for (int64_t v = 0; v <= nvec; v++) {
        const int64_t f0 = v * DEPTHWISE_NCHW_V;
        in[v] = depthwise_nchw_lanes_inside(f0, pq);
        if (v == nvec) break;
        up[v] = depthwise_nchw_lanes_inside(f0 - s->q, pq);
        col[v] = depthwise_nchw_lanes_in_row(f0, s->q, 1);
    }
    const depthwise_bwd_w_phases_args a = {
        .pq = pq, .q = s->q, .nvec = nvec, .col = col, .up = up, .in = in};
    depthwise_range g = depthwise_thread_range(par, tid, nthr, s->n, s->k);
    if (g.u0 >= g.u1 || g.c0 >= g.c1) return;
    const int with_db = t->db != NULL;
    int which = 0;
    depthwise_bwd_w_phases_stage(t->x + (g.u0 * s->c + g.c0) * hw, s->h, s->p, s->q, stage);
    for (int64_t k = g.c0; k < g.c1; k++) {
        bt_vf acc[10];
        for (int j = 0; j < 10; j++) acc[j] = bt_vzero();
        for (int64_t n = g.u0; n < g.u1; n++) {
            /* Next in this order: sample n + 1, or the next channel's first. */
            const int64_t nn = n + 1 < g.u1 ? n + 1 : g.u0, nk = n + 1 < g.u1 ? k : k + 1;
            if (nk < g.c1)
                depthwise_bwd_w_phases_stage(t->x + (nn * s->c + nk) * hw, s->h, s->p, s->q,
                                             stage + (which ^ 1) * 4 * pq);
            const float *x4 = stage + which * 4 * pq, *dy = t->dy + (n * s->k + k) * pq;
            if (with_db)
                depthwise_bwd_w_phases_plane(&a, x4, dy, acc, 1);
            else
                depthwise_bwd_w_phases_plane(&a, x4, dy, acc, 0);
            which ^= 1;
        }
        float *pk = part + k * 10;
        for (int j = 0; j < 9 + with_db; j++) pk[j] += bt_vhsum(acc[j]);
    }
}
#endif

/* walk=direct of depthwise bwd_weights in NHWC (depthwise_bwd_w_nhwc_impl.h; included once per
 * ISA build after depthwise_bwd_w_common.h, so no include guard).
 *
 * x and dy are read in place. For a block of cb channel vectors, the K x K taps (3x3 or 5x5)
 * x cb accumulators, and db, stay in registers over a band of output rows (sized to stay in
 * L2): the partial is loaded and stored once per block and band, not per row segment, and no tile
 * copy adds to the traffic of x (four times dy's at stride 2). A tap row outside the image
 * reads a row of zeros; an output column whose taps leave the image checks tap by tap, the
 * others run unchecked.
 */

#define DEPTHWISE_BWD_W_DIRECT_KMAX 5

/* Whether the register tile fits: K x K x cb accumulators, cb dy, cb db and one spare. */
#define DEPTHWISE_BWD_W_DIRECT_FITS(K, CB) (((K) * (K) + 2) * (CB) + 1 <= BT_VREGS)

static inline int depthwise_bwd_w_direct_fits(const bt_shape *s, int64_t cb) {
    const int square = (s->r == 3 && s->s == 3) || (s->r == 5 && s->s == 5);
    return square && DEPTHWISE_BWD_W_DIRECT_FITS(s->r, cb);
}

/* Floats of the zero row: an x row, and a block's vectors past its last position. */
static inline size_t depthwise_bwd_w_direct_zero_floats(const bt_shape *s) {
    return depthwise_align((size_t)(s->w * s->c + DEPTHWISE_NHWC_CB_MAX * DEPTHWISE_NHWC_V) *
                           sizeof(float)) /
           sizeof(float);
}

/* Output rows per band: every block walks a band before the next band, so the band's rows of
 * x (sh per output row) and dy, all channels, stay in half of L2 while the blocks take their
 * channels. */
static inline int64_t depthwise_bwd_w_direct_band(const bt_shape *s) {
    const int64_t row_bytes = (s->sh * s->w + s->q) * s->c * (int64_t)sizeof(float);
    return bt_max64(1, (int64_t)bt_machine_get()->l2_bytes / 2 / bt_max64(1, row_bytes));
}

typedef struct depthwise_bwd_w_direct_args {
    const bt_shape *s;
    const float *x, *dy; /* at the block's first channel */
    const float *zero;   /* the zero row */
    int64_t u0, u1;      /* output rows n * P + p of the thread's band */
    int64_t qlo, qhi;    /* output columns whose taps all fall inside the image */
    float *part;         /* the thread's partial at the block's first vector */
    int64_t part_block;  /* floats per vector in the partial: (taps + 1) * V */
    bt_vmask_t mask;     /* the channel tail's lanes (MASKED: the block's last vector) */
    /* The next band's x and dy rows, all channels, fetched a few lines per position while
     * this band's blocks run: the blocks read a few lines of every position, which the
     * hardware streams poorly, and find the band in L2 instead. */
    depthwise_pf pf_x, pf_dy;
} depthwise_bwd_w_direct_args;

DEPTHWISE_NHWC_INLINE bt_vf depthwise_bwd_w_direct_load(const float *p, bt_vmask_t m, int masked) {
    return masked ? bt_vload_mask(p, m) : bt_vload(p);
}

/* dv = the CB vectors of dy at d (and db += them). */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_direct_dy(const depthwise_bwd_w_direct_args *a,
                                                     const float *d, bt_vf *dv, bt_vf *dbv,
                                                     const int CB, const int MASKED, const int DB) {
#pragma GCC unroll 2
    for (int v = 0; v < CB; v++) {
        dv[v] =
            depthwise_bwd_w_direct_load(d + v * DEPTHWISE_NHWC_V, a->mask, MASKED && v == CB - 1);
        if (DB) dbv[v] = bt_vadd(dbv[v], dv[v]);
    }
}

/* acc[tap][v] += x * dy at output column q (and db += dy): x row r at xr[r], column j at
 * xr[r] + j * C; CHECK skips the taps whose column leaves the image. */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_direct_position(const depthwise_bwd_w_direct_args *a,
                                                           const float *const *xr, const float *d,
                                                           int64_t q, bt_vf *acc, bt_vf *dbv,
                                                           const int K, const int CB,
                                                           const int MASKED, const int DB) {
    const bt_shape *s = a->s;
    bt_vf dv[DEPTHWISE_NHWC_CB_MAX];
    depthwise_bwd_w_direct_dy(a, d + q * s->c, dv, dbv, CB, MASKED, DB);
#pragma GCC unroll 5
    for (int ks = 0; ks < K; ks++) {
        const int64_t j = q * s->sw - s->pw + ks * s->dw;
        if (j < 0 || j >= s->w) continue;
#pragma GCC unroll 5
        for (int r = 0; r < K; r++)
#pragma GCC unroll 2
            for (int v = 0; v < CB; v++)
                acc[(r * K + ks) * CB + v] =
                    bt_vfmadd(depthwise_bwd_w_direct_load(xr[r] + j * s->c + v * DEPTHWISE_NHWC_V,
                                                          a->mask, MASKED && v == CB - 1),
                              dv[v], acc[(r * K + ks) * CB + v]);
    }
}

/* One output row: the checked columns at both ends, the unchecked ones between. */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_direct_row(depthwise_bwd_w_direct_args *a,
                                                      const float *const *xr, const float *d,
                                                      bt_vf *acc, bt_vf *dbv, const int K,
                                                      const int CB, const int MASKED,
                                                      const int DB) {
    const bt_shape *s = a->s;
    const int64_t c = s->c, x_step = s->sw * c, tap_step = s->dw * c;
    for (int64_t q = 0; q < a->qlo; q++)
        depthwise_bwd_w_direct_position(a, xr, d, q, acc, dbv, K, CB, MASKED, DB);
    const float *xq[DEPTHWISE_BWD_W_DIRECT_KMAX];
#pragma GCC unroll 5
    for (int r = 0; r < K; r++) xq[r] = xr[r] + (a->qlo * s->sw - s->pw) * c;
    const float *dq = d + a->qlo * c;
    for (int64_t q = a->qlo; q < a->qhi; q++, dq += c) {
        depthwise_pf_next(&a->pf_x);
        depthwise_pf_next(&a->pf_dy);
        bt_vf dv[DEPTHWISE_NHWC_CB_MAX];
        depthwise_bwd_w_direct_dy(a, dq, dv, dbv, CB, MASKED, DB);
#pragma GCC unroll 5
        for (int r = 0; r < K; r++) {
#pragma GCC unroll 5
            for (int ks = 0; ks < K; ks++)
#pragma GCC unroll 2
                for (int v = 0; v < CB; v++)
                    acc[(r * K + ks) * CB + v] = bt_vfmadd(
                        depthwise_bwd_w_direct_load(xq[r] + ks * tap_step + v * DEPTHWISE_NHWC_V,
                                                    a->mask, MASKED && v == CB - 1),
                        dv[v], acc[(r * K + ks) * CB + v]);
            xq[r] += x_step;
        }
    }
    for (int64_t q = a->qhi; q < s->q; q++)
        depthwise_bwd_w_direct_position(a, xr, d, q, acc, dbv, K, CB, MASKED, DB);
}

/* The block over the band's output rows. */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_direct_block(depthwise_bwd_w_direct_args *a, const int K,
                                                        const int CB, const int MASKED,
                                                        const int DB) {
    const bt_shape *s = a->s;
    const int64_t pb = a->part_block, taps = K * K;
    bt_vf acc[DEPTHWISE_BWD_W_DIRECT_KMAX * DEPTHWISE_BWD_W_DIRECT_KMAX * DEPTHWISE_NHWC_CB_MAX];
    bt_vf dbv[DEPTHWISE_NHWC_CB_MAX];
#pragma GCC unroll 25
    for (int k = 0; k < K * K; k++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            acc[k * CB + v] = bt_vload(a->part + v * pb + k * DEPTHWISE_NHWC_V);
#pragma GCC unroll 2
    for (int v = 0; v < CB; v++)
        dbv[v] = DB ? bt_vload(a->part + v * pb + taps * DEPTHWISE_NHWC_V) : bt_vzero();
    for (int64_t u = a->u0; u < a->u1; u++) {
        const int64_t n = u / s->p, p = u % s->p;
        const float *xr[DEPTHWISE_BWD_W_DIRECT_KMAX];
#pragma GCC unroll 5
        for (int r = 0; r < K; r++) {
            const int64_t i = p * s->sh - s->ph + r * s->dh;
            xr[r] = i >= 0 && i < s->h ? a->x + (n * s->h + i) * s->w * s->c : a->zero;
        }
        depthwise_bwd_w_direct_row(a, xr, a->dy + u * s->q * s->c, acc, dbv, K, CB, MASKED, DB);
    }
#pragma GCC unroll 25
    for (int k = 0; k < K * K; k++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            bt_vstore(a->part + v * pb + k * DEPTHWISE_NHWC_V, acc[k * CB + v]);
    if (DB)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++) bt_vstore(a->part + v * pb + taps * DEPTHWISE_NHWC_V, dbv[v]);
}

/* The block's masked and db cases for one K and CB. */
DEPTHWISE_NHWC_INLINE void depthwise_bwd_w_direct_block_flags(depthwise_bwd_w_direct_args *a,
                                                              const int K, const int CB, int masked,
                                                              int db) {
    if (masked)
        db ? depthwise_bwd_w_direct_block(a, K, CB, 1, 1)
           : depthwise_bwd_w_direct_block(a, K, CB, 1, 0);
    else
        db ? depthwise_bwd_w_direct_block(a, K, CB, 0, 1)
           : depthwise_bwd_w_direct_block(a, K, CB, 0, 0);
}

/* A block of cbv vectors, for the tiles that fit this build's registers: prepare asks for no
 * other, and no code is made for them. */
static void BT_SIMD_NAME(depthwise_bwd_w_direct_block_any)(depthwise_bwd_w_direct_args *a, int cbv,
                                                           int masked, int db) {
    if (a->s->r == 3 && cbv == 1 && DEPTHWISE_BWD_W_DIRECT_FITS(3, 1))
        depthwise_bwd_w_direct_block_flags(a, 3, 1, masked, db);
    else if (a->s->r == 3 && cbv == 2 && DEPTHWISE_BWD_W_DIRECT_FITS(3, 2))
        depthwise_bwd_w_direct_block_flags(a, 3, 2, masked, db);
    else if (a->s->r == 5 && cbv == 1 && DEPTHWISE_BWD_W_DIRECT_FITS(5, 1))
        depthwise_bwd_w_direct_block_flags(a, 5, 1, masked, db);
    else if (a->s->r == 5 && cbv == 2 && DEPTHWISE_BWD_W_DIRECT_FITS(5, 2))
        depthwise_bwd_w_direct_block_flags(a, 5, 2, masked, db);
}

static size_t depthwise_bwd_w_direct_thread_floats(const bt_shape *s) {
    return depthwise_bwd_w_nhwc_part_floats(s) + depthwise_bwd_w_direct_zero_floats(s);
}

/* The thread's blocks of cb vectors (par: a grid over output rows of the batch and blocks),
 * band by band; then the partials are summed. */
static void BT_SIMD_NAME(depthwise_bwd_w_direct_run)(const bt_plan *plan, const bt_tensors *t,
                                                     int par, int64_t cb, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t cvecs = depthwise_nhwc_vectors(s), blocks = bt_div_up(cvecs, cb);
    const size_t thread_floats = depthwise_bwd_w_direct_thread_floats(s);
    float *parts = (float *)plan->scratch, *part = parts + (size_t)tid * thread_floats;
    float *zero = part + depthwise_bwd_w_nhwc_part_floats(s);
    memset(part, 0, thread_floats * sizeof(float));
    depthwise_bwd_w_direct_args a = {.s = s, .zero = zero};
    a.part_block = (s->r * s->s + 1) * DEPTHWISE_NHWC_V;
    a.mask = bt_vmask((int)(s->c - (cvecs - 1) * DEPTHWISE_NHWC_V));
    /* Columns q with 0 <= q * sw - pw + ks * dw < W for every ks. */
    a.qlo = bt_min64(s->q, depthwise_ceil_div(s->pw, s->sw));
    a.qhi = bt_max64(
        a.qlo,
        bt_min64(s->q, depthwise_floor_div(s->w - 1 + s->pw - (s->s - 1) * s->dw, s->sw) + 1));
    const int tail = s->c % DEPTHWISE_NHWC_V != 0, with_db = t->db != NULL;
    depthwise_range g = depthwise_thread_range(par, tid, nthr, s->n * s->p, blocks);
    const int64_t band = depthwise_bwd_w_direct_band(s);
    /* Only where x and dy exceed half the L3: smaller ones were still in L3 from the last call
     * and the hardware's own fetch served them better (MobileNet-v2 at batch 8: 28x28 and 14x14
     * layers of 3.6-9.6 MB 0.91-0.93x with it, 56x56 and 112x112 ones of 18-48 MB 1.03-1.9x). */
    const int prefetch = (int64_t)((bt_shape_x_elems(s) + bt_shape_dy_elems(s)) * sizeof(float)) >
                         bt_machine_get()->l3_bytes / 2;
    for (a.u0 = g.u0; a.u0 < g.u1; a.u0 = a.u1) {
        a.u1 = bt_min64(g.u1, a.u0 + band);
        const int64_t u2 = bt_min64(g.u1, a.u1 + band),
                      calls = (g.c1 - g.c0) * (a.u1 - a.u0) * bt_max64(1, a.qhi - a.qlo);
        a.pf_x = depthwise_pf_make(NULL, 0, 1), a.pf_dy = a.pf_x;
        if (prefetch && u2 > a.u1) {
            /* x rows from the first the next band reads to the last, samples back to back. */
            const int64_t na = a.u1 / s->p, nb = (u2 - 1) / s->p;
            const int64_t ia = bt_max64(0, a.u1 % s->p * s->sh - s->ph);
            const int64_t ib =
                bt_min64(s->h, (u2 - 1) % s->p * s->sh - s->ph + (s->r - 1) * s->dh + 1);
            const int64_t row = s->w * s->c;
            a.pf_x = depthwise_pf_make(
                t->x + (na * s->h + ia) * row,
                ((nb * s->h + ib) - (na * s->h + ia)) * row * (int64_t)sizeof(float), calls);
            a.pf_dy = depthwise_pf_make(t->dy + a.u1 * s->q * s->c,
                                        (u2 - a.u1) * s->q * s->c * (int64_t)sizeof(float), calls);
        }
        for (int64_t b = g.c0; b < g.c1; b++) {
            const int64_t v0 = b * cb;
            const int cbv = (int)bt_min64(cb, cvecs - v0);
            a.x = t->x + v0 * DEPTHWISE_NHWC_V;
            a.dy = t->dy + v0 * DEPTHWISE_NHWC_V;
            a.part = part + v0 * a.part_block;
            BT_SIMD_NAME(depthwise_bwd_w_direct_block_any)
            (&a, cbv, tail && v0 + cbv == cvecs, with_db);
        }
    }
    depthwise_barrier(nthr);
    BT_SIMD_NAME(depthwise_bwd_w_tile_reduce)(s, t, parts, thread_floats, tid, nthr);
}

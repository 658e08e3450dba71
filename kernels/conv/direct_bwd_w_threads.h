/* Direct conv bwd_weights (direct_bwd_w_impl.h): one thread's share: its blocks, its db partial,
 * the reduction of the partials after the barrier, and run. Part of the template, included once per
 * ISA build; no include guard. */

/* Filters [k0, k1) x channels [c0, c1) of group g over output rows [row0, row1) (row =
 * n*P + p), block by block, into `part`. Blocks of rows stay within one image, or hold
 * whole images when pb >= P (small images). */
static void direct_bwd_w_thread_blocks(const direct_bwd_w_ctx *cx, int64_t g, int64_t k0,
                                       int64_t k1, int64_t c0, int64_t c1, int64_t row0,
                                       int64_t row1, float *part) {
    const bt_shape *s = cx->s;
    const direct_bwd_w_info *in = cx->in;
    direct_bwd_w_block b = {.g = g, .part = part};
    for (b.k0 = k0; b.k0 < k1; b.k0 = b.k1) {
        b.k1 = bt_min64(k1, b.k0 + in->kb);
        for (b.c0 = c0; b.c0 < c1; b.c0 = b.c1) {
            b.c1 = bt_min64(c1, b.c0 + in->cb);
            b.fresh = 1;
            for (int64_t row = row0; row < row1; row += (b.n1 - b.n0) * (b.p1 - b.p0)) {
                b.n0 = row / s->p;
                b.p0 = row % s->p;
                if (b.p0 == 0 && in->pb >= s->p && row1 - row >= s->p) {
                    b.n1 = b.n0 + bt_min64((row1 - row) / s->p, in->pb / s->p);
                    b.p1 = s->p;
                } else {
                    b.n1 = b.n0 + 1;
                    b.p1 = bt_min64(s->p, b.p0 + bt_min64(in->pb, row1 - row));
                }
                if (in->xmode == DIRECT_BWD_W_XMODE_KS) {
                    direct_bwd_w_ks_block(cx, &b);
                } else {
                    if (in->xmode == DIRECT_BWD_W_XMODE_SPLIT) direct_bwd_w_nchw_split_fill(cx, &b);
                    direct_bwd_w_block_tiles(cx, &b);
                }
                b.fresh = 0;
            }
        }
    }
}

/* db partial: out[k] = sum of dy[n, k, p, q] over rows [row0, row1), k in [k0, k1). */
static void direct_bwd_w_nhwc_db(const direct_bwd_w_ctx *cx, int64_t row0, int64_t row1, int64_t k0,
                                 int64_t k1, float *out) {
    const bt_shape *s = cx->s;
    const int64_t npos = (row1 - row0) * s->q, K = s->k;
    for (int64_t k = k0; k < k1; k += BT_VLEN) {
        const bt_vmask_t m = bt_vmask((int)bt_min64(BT_VLEN, k1 - k));
        const float *d = cx->t->dy + row0 * s->q * K + k;
        bt_vf acc[4] = {bt_vzero(), bt_vzero(), bt_vzero(), bt_vzero()};
        int64_t pos = 0;
        for (; pos + 4 <= npos; pos += 4, d += 4 * K)
            DIRECT_BWD_W_UNROLL for (int u = 0; u < 4; u++) acc[u] =
                bt_vadd(acc[u], bt_vload_mask(d + u * K, m));
        for (; pos < npos; pos++, d += K) acc[0] = bt_vadd(acc[0], bt_vload_mask(d, m));
        bt_vstore_mask(out + k, m, bt_vadd(bt_vadd(acc[0], acc[1]), bt_vadd(acc[2], acc[3])));
    }
}

/* Sum of len contiguous floats, in a fixed order. */
static float direct_bwd_w_sum(const float *p, int64_t len) {
    bt_vf acc[4] = {bt_vzero(), bt_vzero(), bt_vzero(), bt_vzero()};
    int64_t i = 0;
    for (; i + 4 * BT_VLEN <= len; i += 4 * BT_VLEN)
        DIRECT_BWD_W_UNROLL for (int u = 0; u < 4; u++) acc[u] =
            bt_vadd(acc[u], bt_vload(p + i + u * BT_VLEN));
    for (; i + BT_VLEN <= len; i += BT_VLEN) acc[0] = bt_vadd(acc[0], bt_vload(p + i));
    if (i < len) acc[1] = bt_vadd(acc[1], bt_vload_mask(p + i, bt_vmask((int)(len - i))));
    return bt_vhsum(bt_vadd(bt_vadd(acc[0], acc[1]), bt_vadd(acc[2], acc[3])));
}

static void direct_bwd_w_nchw_db(const direct_bwd_w_ctx *cx, int64_t row0, int64_t row1, int64_t k0,
                                 int64_t k1, float *out) {
    const bt_shape *s = cx->s;
    for (int64_t k = k0; k < k1; k++) {
        float sum = 0;
        for (int64_t row = row0, p1; row < row1; row += p1 - row % s->p) {
            const int64_t n = row / s->p, p0 = row % s->p;
            p1 = bt_min64(s->p, p0 + row1 - row);
            sum += direct_bwd_w_sum(cx->t->dy + bt_dy_off(s, n, k, p0, 0), (p1 - p0) * s->q);
        }
        out[k] = sum;
    }
}

/* Threads as rows x filters x channels (tr * tk * tc == nthr). */
static void direct_bwd_w_factor(const bt_shape *s, const direct_bwd_w_info *in, int nthr, int *tr,
                                int *tk, int *tc) {
    *tr = *tk = *tc = 1;
    if (in->par == DIRECT_BWD_W_PAR_MB) *tr = nthr;
    if (in->par == DIRECT_BWD_W_PAR_K) *tk = nthr;
    if (in->par == DIRECT_BWD_W_PAR_C) *tc = nthr;
    if (in->par != DIRECT_BWD_W_PAR_2D) return;
    /* The divisor split that gives the busiest thread the fewest rows x filter units. */
    const int64_t rows = s->n * s->p, units = s->g * bt_div_up(s->kg, in->k_unit);
    int64_t best = -1;
    for (int d = 1; d <= nthr; d++) {
        if (nthr % d) continue;
        const int64_t load = bt_div_up(rows, nthr / d) * bt_div_up(units, d);
        if (best < 0 || load < best) best = load, *tk = d, *tr = nthr / d;
    }
}

/* After the barrier: dw (and db) = sum of the `partials` row-group partials, transposed
 * from [group][row][tap][column] to K x C/G x RS; threads split the filters. */
static void direct_bwd_w_reduce(const bt_plan *plan, const bt_tensors *t, int tid, int nthr,
                                int64_t partials) {
    const bt_shape *s = &plan->shape;
    const direct_bwd_w_info *in = plan->priv;
    const float *scratch = plan->scratch;
    const int64_t rs_n = s->r * s->s, cg = s->cg, kg = s->kg;
    /* Strides of filter, channel and tap within a group's partial. */
    const int ks = in->xmode == DIRECT_BWD_W_XMODE_KS;
    const int64_t stride_k = in->vec_k || ks ? 1 : rs_n * cg;
    const int64_t stride_c = ks ? kg : in->vec_k ? rs_n * kg : 1;
    const int64_t stride_rs = ks ? cg * kg : in->vec_k ? kg : cg;
    int64_t k0, k1;
    bt_split(s->k, tid, nthr, &k0, &k1);
    /* Filters in runs of up to 16 within a group: where they are contiguous in the partials
     * (stride_k 1), each (channel, tap) reads one line of them rather than one line per
     * filter; dw's rows of the run are written in step. */
    for (int64_t ka = k0, kz; ka < k1; ka = kz) {
        kz = bt_min64(k1, bt_min64(ka + (stride_k == 1 ? 16 : 1), (ka / kg + 1) * kg));
        const float *pk = scratch + ka / kg * kg * cg * rs_n + ka % kg * stride_k;
        for (int64_t c = 0; c < cg; c++)
            for (int64_t rs = 0; rs < rs_n; rs++)
                for (int64_t k = ka; k < kz; k++) {
                    const float *p = pk + c * stride_c + rs * stride_rs + (k - ka) * stride_k;
                    float sum = p[0];
                    for (int64_t j = 1; j < partials; j++) sum += p[j * (int64_t)in->part_floats];
                    float *o = t->dw + (k * cg + c) * rs_n + rs;
                    *o = s->accumulate ? *o + sum : sum;
                }
    }
    if (!t->db) return;
    for (int64_t k = k0; k < k1; k++) {
        const float *p = scratch + in->db_off + k;
        float sum = p[0];
        for (int64_t j = 1; j < partials; j++) sum += p[j * (int64_t)in->db_floats];
        t->db[k] = s->accumulate ? t->db[k] + sum : sum;
    }
}

static void direct_bwd_w_run(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const direct_bwd_w_info *in = plan->priv;
    float *scratch = plan->scratch;
    int tr, tk, tc;
    direct_bwd_w_factor(s, in, nthr, &tr, &tk, &tc);
    const int ir = tid / (tk * tc), ik = tid / tc % tk, ic = tid % tc;
    const int64_t rows = s->n * s->p, units_per_group = bt_div_up(s->kg, in->k_unit);
    int64_t row0, row1, u0, u1, cu0, cu1;
    bt_split(rows, ir, tr, &row0, &row1);
    bt_split(s->g * units_per_group, ik, tk, &u0, &u1);
    bt_split(bt_div_up(s->cg, in->c_unit), ic, tc, &cu0, &cu1);
    const int64_t c0 = cu0 * in->c_unit, c1 = bt_min64(s->cg, cu1 * in->c_unit);
    float *db_part = scratch + in->db_off + (size_t)ir * in->db_floats;
    const int ks_db = t->db && in->xmode == DIRECT_BWD_W_XMODE_KS;
    const direct_bwd_w_ctx cx = {s, in, t, scratch + in->split_off + (size_t)tid * in->split_floats,
                                 ks_db ? db_part : NULL};
    float *part = scratch + (size_t)ir * in->part_floats;
    if (row1 > row0 && c1 > c0)
        for (int64_t u = u0; u < u1;) {
            const int64_t g = u / units_per_group, ua = u % units_per_group;
            const int64_t ub = bt_min64(units_per_group, ua + (u1 - u));
            direct_bwd_w_thread_blocks(&cx, g, ua * in->k_unit, bt_min64(s->kg, ub * in->k_unit),
                                       c0, c1, row0, row1, part);
            u += ub - ua;
        }
    if (t->db && !ks_db && row1 > row0) {
        /* This thread's filter units as a range of K, shared out among its channel peers. */
        const int64_t ka = u0 / units_per_group * s->kg + u0 % units_per_group * in->k_unit;
        const int64_t kz = u1 / units_per_group * s->kg + u1 % units_per_group * in->k_unit;
        int64_t a, z;
        bt_split(kz - ka, ic, tc, &a, &z);
        if (s->layout == BT_NHWC)
            direct_bwd_w_nhwc_db(&cx, row0, row1, ka + a, ka + z, db_part);
        else
            direct_bwd_w_nchw_db(&cx, row0, row1, ka + a, ka + z, db_part);
    }
#pragma omp barrier
    direct_bwd_w_reduce(plan, t, tid, nthr, bt_min64(tr, rows));
}

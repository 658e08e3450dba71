/* Direct conv bwd_weights (direct_bwd_w_impl.h): the ks mode (vec=ks). Part of the template,
 * included once per ISA build; no include guard. */

/* DIRECT_BWD_W_XMODE_KS (groups 1, dense columns; for few channels, the first layers): vectors over
 * filters, and tile rows are the S x C (tap column, channel) pairs of one tap row, which
 * sit side by side in a zero-padded NHWC copy of x, so one broadcast run covers a whole
 * tap row and every dy vector loaded feeds S x C accumulators instead of C. The copy
 * ([image][row][Wp][C], Wp = ks_width) makes every tap valid at every position; NCHW dy is
 * transposed into [image][row][q][filter] after it. Partials are [tap][channel][filter]. */
/* dst[j * ds + i] = src[i * ss + j] for i < rows, j < cols: vector blocks, then the edges. */
static void direct_bwd_w_transpose_any(const float *src, int64_t ss, float *dst, int64_t ds,
                                       int64_t rows, int64_t cols) {
    int64_t i = 0;
    for (; i + BT_VLEN <= rows; i += BT_VLEN) {
        int64_t j = 0;
        for (; j + BT_VLEN <= cols; j += BT_VLEN)
            bt_vtranspose(src + i * ss + j, ss, dst + j * ds + i, ds, BT_VLEN, BT_VLEN, 0);
        if (j < cols)
            bt_vtranspose(src + i * ss + j, ss, dst + j * ds + i, ds, BT_VLEN, (int)(cols - j), 0);
    }
    for (; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * ds + i] = src[i * ss + j];
}

static void direct_bwd_w_ks_block(const direct_bwd_w_ctx *cx, const direct_bwd_w_block *b) {
    const bt_shape *s = cx->s;
    const direct_bwd_w_info *in = cx->in;
    const int64_t C = s->c, wp = in->ks_width, nimg = b->n1 - b->n0, prow = b->p1 - b->p0;
    const int64_t xrows = (prow - 1) * s->sh + (s->r - 1) * s->dh + 1, i0 = b->p0 * s->sh - s->ph;
    const int nchw = s->layout == BT_NCHW;
    float *xp = cx->split;
    for (int64_t img = 0; img < nimg; img++)
        for (int64_t ii = 0; ii < xrows; ii++) {
            float *dst = xp + (img * xrows + ii) * wp * C;
            const int64_t i = i0 + ii, n = b->n0 + img;
            if (i < 0 || i >= s->h) {
                memset(dst, 0, (size_t)(wp * C) * sizeof(float));
                continue;
            }
            int64_t ja, jb; /* padded columns [ja, jb) hold x */
            direct_bwd_w_valid(-s->pw, 1, s->w, wp, &ja, &jb);
            memset(dst, 0, (size_t)(ja * C) * sizeof(float));
            memset(dst + jb * C, 0, (size_t)((wp - jb) * C) * sizeof(float));
            if (!nchw) {
                memcpy(dst + ja * C, cx->t->x + bt_x_off(s, n, 0, i, ja - s->pw),
                       (size_t)((jb - ja) * C) * sizeof(float));
                continue;
            }
            const float *src = cx->t->x + bt_x_off(s, n, 0, i, ja - s->pw);
            const int64_t plane = s->h * s->w;
            float *d = dst + ja * C;
            if (C == 3) /* RGB first layers: a fixed interleave the compiler vectorises */
                for (int64_t j = 0; j < jb - ja; j++) {
                    d[3 * j] = src[j];
                    d[3 * j + 1] = src[plane + j];
                    d[3 * j + 2] = src[2 * plane + j];
                }
            else
                direct_bwd_w_transpose_any(src, plane, d, C, C, jb - ja);
        }
    /* dy as [image][row][q][filter]: in place for NHWC, else transposed after the x copy. */
    const float *dy;
    int64_t dy_img, dy_row, dy_pos;
    if (nchw) {
        const int64_t kb = b->k1 - b->k0, npos = prow * s->q;
        float *dt = cx->split + in->ks_x_floats;
        const int64_t plane = s->p * s->q;
        for (int64_t img = 0; img < nimg; img++) {
            float *d = dt + img * npos * kb;
            direct_bwd_w_transpose_any(cx->t->dy + bt_dy_off(s, b->n0 + img, b->k0, b->p0, 0),
                                       plane, d, kb, kb, npos);
        }
        dy = dt, dy_img = npos * kb, dy_row = s->q * kb, dy_pos = kb;
    } else {
        dy = cx->t->dy + bt_dy_off(s, b->n0, b->k0, b->p0, 0);
        dy_img = s->p * s->q * s->k, dy_row = s->q * s->k, dy_pos = s->k;
    }
    const int64_t units = s->s * C, kg = s->kg;
    /* Calls cover chunks of ks_rows output rows of one image, so that the dy vectors of a
     * tile column stay in L1 across the S*C/kt tile rows and R tap rows that reread them. */
    const int64_t chunk = bt_min64(in->ks_rows, prow);
    direct_bwd_w_call call = {.images = 1,
                              .len = s->q,
                              .a_img = xrows * wp * C,
                              .a_row = s->sh * wp * C,
                              .a_step = s->sw * C,
                              .b_img = dy_img,
                              .b_row = dy_row,
                              .b_step = dy_pos,
                              .out_row = kg,
                              .fresh = b->fresh};
    int kt, cw;
    for (int64_t k = b->k0; k < b->k1; k += cw * BT_VLEN) {
        cw = (int)bt_min64(bt_div_up(b->k1 - k, BT_VLEN), in->cw);
        const int64_t last = b->k1 - k - (int64_t)(cw - 1) * BT_VLEN;
        const int kind = last < BT_VLEN ? DIRECT_BWD_W_NHWC_MASKED : DIRECT_BWD_W_NHWC;
        call.tail = bt_vmask((int)bt_min64(last, BT_VLEN));
        for (int64_t img = 0; img < nimg; img++)
            for (int64_t p = 0; p < prow; p += chunk) {
                call.rows = bt_min64(chunk, prow - p);
                call.b = dy + img * dy_img + p * dy_row + (k - b->k0);
                call.fresh = b->fresh && img == 0 && p == 0;
                const float *xa = xp + img * call.a_img + p * call.a_row;
                for (int64_t r = 0; r < s->r; r++)
                    for (int64_t u = 0; u < units; u += kt) {
                        kt = direct_bwd_w_next_kt(units - u, in->kt);
                        call.a = xa + r * s->dh * wp * C + u;
                        call.out = b->part + (r * units + u) * kg + k;
                        direct_bwd_w_tiles[DIRECT_BWD_W_KT_INDEX(kt)][cw - 1][kind](&call);
                    }
            }
    }
    /* db from the block's dy while it is still in cache, rather than in a pass of its own. */
    if (!cx->db) return;
    for (int64_t k = b->k0; k < b->k1; k += BT_VLEN) {
        const bt_vmask_t m = bt_vmask((int)bt_min64(BT_VLEN, b->k1 - k));
        bt_vf acc0 = bt_vzero(), acc1 = bt_vzero();
        for (int64_t img = 0; img < nimg; img++)
            for (int64_t p = 0; p < prow; p++) {
                const float *d = dy + img * dy_img + p * dy_row + (k - b->k0);
                int64_t q = 0;
                for (; q + 2 <= s->q; q += 2, d += 2 * dy_pos) {
                    acc0 = bt_vadd(acc0, bt_vload_mask(d, m));
                    acc1 = bt_vadd(acc1, bt_vload_mask(d + dy_pos, m));
                }
                if (q < s->q) acc0 = bt_vadd(acc0, bt_vload_mask(d, m));
            }
        bt_vf sum = bt_vadd(acc0, acc1);
        if (!b->fresh) sum = bt_vadd(sum, bt_vload_mask(cx->db + k, m));
        bt_vstore_mask(cx->db + k, m, sum);
    }
}

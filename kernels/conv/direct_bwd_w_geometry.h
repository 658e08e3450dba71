/* Direct conv bwd_weights (direct_bwd_w_impl.h): blocks of work, and where a tile call reads x and
 * dy for each way of reading x (NHWC, NCHW rows, flat, split). Part of the template, included once
 * per ISA build; no include guard. */

/* [lo, hi) of t in [0, count) with 0 <= t*stride + off < extent. */
static void direct_bwd_w_valid(int64_t off, int64_t stride, int64_t extent, int64_t count,
                               int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = extent - 1 - off >= 0 ? (extent - 1 - off) / stride + 1 : 0;
    *lo = bt_min64(a, count);
    *hi = bt_max64(*lo, bt_min64(b, count));
}

static int64_t direct_bwd_w_mod(int64_t a, int64_t m) {
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

/* A block of work: filters [k0, k1) and channels [c0, c1) of group g (group-local), output
 * rows [p0, p1) of images [n0, n1). */
typedef struct direct_bwd_w_block {
    int64_t g, k0, k1, c0, c1, n0, n1, p0, p1;
    int fresh;
    float *part;
} direct_bwd_w_block;

typedef struct direct_bwd_w_ctx {
    const bt_shape *s;
    const direct_bwd_w_info *in;
    const bt_tensors *t;
    float *split; /* this thread's phase-split x rows (DIRECT_BWD_W_XMODE_SPLIT), x and dy copies
                     (KS) */
    float *db;    /* DIRECT_BWD_W_XMODE_KS: this row group's db partial, summed with the blocks (or
                     NULL) */
} direct_bwd_w_ctx;

/* Fills the operands and extents of the call for the tile at filter k, channel c (group-
 * local) and tap (r, ss) of the block. */
typedef void (*direct_bwd_w_tap_fn)(const direct_bwd_w_ctx *cx, const direct_bwd_w_block *b,
                                    int64_t k, int64_t c, int64_t r, int64_t ss,
                                    direct_bwd_w_call *call);

/* Rows [pa, pb) of the block valid for tap row r; empty when the tap only sees padding. */
static void direct_bwd_w_tap_rows(const bt_shape *s, const direct_bwd_w_block *b, int64_t r,
                                  int64_t *pa, int64_t *pb) {
    int64_t lo, hi;
    direct_bwd_w_valid(r * s->dh - s->ph, s->sh, s->h, s->p, &lo, &hi);
    *pa = bt_max64(lo, b->p0);
    *pb = bt_max64(*pa, bt_min64(hi, b->p1));
}

/* A call with nothing to sum: the tile still stores (zeros when fresh). */
static void direct_bwd_w_empty(const direct_bwd_w_ctx *cx, direct_bwd_w_call *call) {
    call->rows = 0;
    call->a = cx->t->dy;
    call->b = cx->t->x;
}

static void direct_bwd_w_nhwc_at_tap(const direct_bwd_w_ctx *cx, const direct_bwd_w_block *b,
                                     int64_t k, int64_t c, int64_t r, int64_t ss,
                                     direct_bwd_w_call *call) {
    const bt_shape *s = cx->s;
    int64_t pa, pb, qa, qb;
    direct_bwd_w_tap_rows(s, b, r, &pa, &pb);
    direct_bwd_w_valid(ss * s->dw - s->pw, s->sw, s->w, s->q, &qa, &qb);
    call->images = b->n1 - b->n0;
    call->rows = pb - pa;
    call->len = qb - qa;
    if (call->rows == 0 || call->len == 0) {
        direct_bwd_w_empty(cx, call);
        return;
    }
    const float *dy = cx->t->dy + bt_dy_off(s, b->n0, b->g * s->kg + k, pa, qa);
    const float *x = cx->t->x + bt_x_off(s, b->n0, b->g * s->cg + c, pa * s->sh - s->ph + r * s->dh,
                                         qa * s->sw - s->pw + ss * s->dw);
    const int64_t dy_img = s->p * s->q * s->k, dy_row = s->q * s->k, dy_pos = s->k;
    const int64_t x_img = s->h * s->w * s->c, x_row = s->sh * s->w * s->c, x_pos = s->sw * s->c;
    const int vec_k = cx->in->vec_k;
    call->a = vec_k ? x : dy;
    call->a_img = vec_k ? x_img : dy_img;
    call->a_row = vec_k ? x_row : dy_row;
    call->a_step = vec_k ? x_pos : dy_pos;
    call->b = vec_k ? dy : x;
    call->b_img = vec_k ? dy_img : x_img;
    call->b_row = vec_k ? dy_row : x_row;
    call->b_step = vec_k ? dy_pos : x_pos;
}

/* DIRECT_BWD_W_XMODE_SPLIT: x rows [i_lo, i_hi] that the block's taps read; returns how many per
 * image
 * (<= 0: none). A superset when the first rows only see padding. */
static int64_t direct_bwd_w_split_rows(const bt_shape *s, const direct_bwd_w_block *b,
                                       int64_t *i_lo, int64_t *i_hi) {
    *i_lo = bt_max64(0, b->p0 * s->sh - s->ph);
    *i_hi = bt_min64(s->h - 1, (b->p1 - 1) * s->sh - s->ph + (s->r - 1) * s->dh);
    return *i_hi - *i_lo + 1;
}

/* DIRECT_BWD_W_XMODE_SPLIT: copies the block's x rows into this thread's buffer, laid out
 * [channel][image][row][phase phi][m] = x[n, c, i, m*sw + phi], so that the columns a tap
 * reads at stride sw are contiguous. Each phase row is split_width long. */
static void direct_bwd_w_nchw_split_fill(const direct_bwd_w_ctx *cx, const direct_bwd_w_block *b) {
    const bt_shape *s = cx->s;
    int64_t i_lo, i_hi;
    if (direct_bwd_w_split_rows(s, b, &i_lo, &i_hi) <= 0) return;
    const int64_t width = cx->in->split_width;
    float *dst = cx->split;
    for (int64_t c = b->c0; c < b->c1; c++)
        for (int64_t n = b->n0; n < b->n1; n++)
            for (int64_t i = i_lo; i <= i_hi; i++, dst += cx->in->split_row) {
                const float *src = cx->t->x + bt_x_off(s, n, b->g * s->cg + c, i, 0);
                for (int64_t phi = 0; phi < bt_min64(s->sw, s->w); phi++)
                    for (int64_t m = 0, j = phi; j < s->w; m++, j += s->sw)
                        dst[phi * width + m] = src[j];
            }
}

static void direct_bwd_w_nchw_at_tap(const direct_bwd_w_ctx *cx, const direct_bwd_w_block *b,
                                     int64_t k, int64_t c, int64_t r, int64_t ss,
                                     direct_bwd_w_call *call) {
    const bt_shape *s = cx->s;
    const direct_bwd_w_info *in = cx->in;
    const int64_t plane = s->h * s->w;
    int64_t pa, pb, qa, qb;
    direct_bwd_w_tap_rows(s, b, r, &pa, &pb);
    call->images = b->n1 - b->n0;
    call->a_img = s->k * s->p * s->q;
    call->a_step = s->p * s->q;
    call->a_row = s->q;
    const int64_t i = pa * s->sh - s->ph + r * s->dh, o = ss * s->dw - s->pw;
    if (in->xmode == DIRECT_BWD_W_XMODE_FLAT) { /* one run per image, padding columns masked */
        call->rows = 1;
        call->len = (pb - pa) * s->q;
        if (call->len == 0) {
            direct_bwd_w_empty(cx, call);
            return;
        }
        call->a = cx->t->dy + bt_dy_off(s, b->n0, b->g * s->kg + k, pa, 0);
        /* Lane 0 may be a masked padding column just before x[n, c]: address by offset. */
        call->b = cx->t->x + (((b->n0 * s->c + b->g * s->cg + c) * s->h + i) * s->w + o);
        call->b_img = s->c * plane;
        call->b_step = plane;
        call->phase_mask = in->phase_mask + ss * s->q;
        call->q = s->q;
        call->v_mod_q = in->v_mod_q;
        return;
    }
    direct_bwd_w_valid(o, s->sw, s->w, s->q, &qa, &qb);
    call->rows = pb - pa;
    call->len = qb - qa;
    if (call->rows == 0 || call->len == 0) {
        direct_bwd_w_empty(cx, call);
        return;
    }
    call->a = cx->t->dy + bt_dy_off(s, b->n0, b->g * s->kg + k, pa, qa);
    if (in->xmode == DIRECT_BWD_W_XMODE_ROWS) {
        call->b = cx->t->x + bt_x_off(s, b->n0, b->g * s->cg + c, i, qa * s->sw + o);
        call->b_img = s->c * plane;
        call->b_row = s->sh * s->w;
        call->b_step = plane;
        return;
    }
    /* DIRECT_BWD_W_XMODE_SPLIT: the block's copy, [channel][image][row i - i_lo][phase][m]. */
    int64_t i_lo, i_hi;
    const int64_t rows_img = direct_bwd_w_split_rows(s, b, &i_lo, &i_hi);
    /* Phases from W on hold no column: their taps were empty above. */
    const int64_t width = in->split_width, row_len = in->split_row,
                  phi = direct_bwd_w_mod(o, s->sw);
    call->b = cx->split + ((c - b->c0) * call->images * rows_img + (i - i_lo)) * row_len +
              phi * width + (o - phi) / s->sw + qa;
    call->b_img = rows_img * row_len;
    call->b_row = s->sh * row_len;
    call->b_step = call->images * rows_img * row_len;
}

/* Every tile and tap of the block. Tile rows are filters and columns channels (NHWC vec=k:
 * the other way round); partials are [group][row][tap][column]. */
static void direct_bwd_w_block_tiles(const direct_bwd_w_ctx *cx, const direct_bwd_w_block *b) {
    const bt_shape *s = cx->s;
    const direct_bwd_w_info *in = cx->in;
    const direct_bwd_w_tap_fn at_tap =
        in->xmode == DIRECT_BWD_W_XMODE_NHWC ? direct_bwd_w_nhwc_at_tap : direct_bwd_w_nchw_at_tap;
    const int vec_k = in->vec_k, col_vectors = in->xmode == DIRECT_BWD_W_XMODE_NHWC;
    const int64_t row0 = vec_k ? b->c0 : b->k0, row1 = vec_k ? b->c1 : b->k1;
    const int64_t col0 = vec_k ? b->k0 : b->c0, col1 = vec_k ? b->k1 : b->c1;
    const int64_t rs_n = s->r * s->s, cols = vec_k ? s->kg : s->cg;
    float *const group_part = b->part + b->g * s->kg * s->cg * rs_n;
    const int kind_nchw =
        in->xmode == DIRECT_BWD_W_XMODE_FLAT ? DIRECT_BWD_W_NCHW_FLAT : DIRECT_BWD_W_NCHW_ROWS;
    direct_bwd_w_call call = {.out_row = rs_n * cols, .fresh = b->fresh, .tail = bt_vmask(BT_VLEN)};
    int kt, cw;
    for (int64_t row = row0; row < row1; row += kt) {
        kt = direct_bwd_w_next_kt(row1 - row, in->kt);
        for (int64_t col = col0; col < col1; col += col_vectors ? cw * BT_VLEN : cw) {
            int kind = kind_nchw;
            if (col_vectors) {
                cw = (int)bt_min64(bt_div_up(col1 - col, BT_VLEN), in->cw);
                const int64_t last = col1 - col - (int64_t)(cw - 1) * BT_VLEN;
                kind = last < BT_VLEN ? DIRECT_BWD_W_NHWC_MASKED : DIRECT_BWD_W_NHWC;
                call.tail = bt_vmask((int)bt_min64(last, BT_VLEN));
            } else {
                cw = (int)bt_min64(col1 - col, in->cw);
            }
            const direct_bwd_w_tile_fn fn =
                direct_bwd_w_tiles[DIRECT_BWD_W_KT_INDEX(kt)][cw - 1][kind];
            const int64_t k = vec_k ? col : row, c = vec_k ? row : col;
            for (int64_t r = 0; r < s->r; r++)
                for (int64_t ss = 0; ss < s->s; ss++) {
                    at_tap(cx, b, k, c, r, ss, &call);
                    call.out = group_part + (row * rs_n + r * s->s + ss) * cols + col;
                    fn(&call);
                }
        }
    }
}

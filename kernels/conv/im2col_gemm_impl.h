/* Conv backward through column matrices and the packed IM2COL_GEMM_GEMM (common/gemm.h): the
 * classic framework path. A template instantiated per ISA by im2col_gemm_{avx512,avx2,scalar}.c
 * (see common/simd.h); geometry, parameters and plan set-up are in conv/im2col_common.h.
 *
 * bwd_weights (im2col + IM2COL_GEMM_GEMM), per column block of positions and group g:
 *     col = im2col(x)                      NCHW [(c, r, s) x pos], NHWC [pos x (r, s, c)]
 *     dW_g += dy_g col^T                   (NHWC: dy_g^T col; the IM2COL_GEMM_GEMM reads dy
 * transposed) par=mb: threads split the positions of the batch; thread 0 sums into dW (or,
 * permuted, into a slot), the others into partial slots, added into dW in slot order after a
 * barrier. par=k: threads split the filters and need no reduction (but each builds the column
 * matrices of its groups). db = sums of dy over the positions, split by filters.
 *
 * bwd_data (IM2COL_GEMM_GEMM + col2im), per column block of positions and block of chb channels of
 * one group g:
 *     col = W_g^T dy_g                     NCHW [(c, r, s) x pos], NHWC [pos x (r, s, c)]
 *     dx += col2im(col)                    (dx zeroed first unless accumulating)
 * par=mb: threads split the samples; par=c: the input channels (dx is disjoint either way).
 * Permuted NHWC reorders each thread's weights to (k, r, s, c) per channel block first.
 *
 * Direct (1x1, stride 1, unpadded): x or dx is the column matrix and the IM2COL_GEMM_GEMM reads or
 * writes it in place. Batched (NCHW, 1x1, unpadded, any stride): the same, but a column
 * block spans samples, the IM2COL_GEMM_GEMM addressing x, dy and dx through bt_gemm_maps.
 */
#include "common/gemm.h"
#include "common/simd.h"
#include "conv/im2col_common.h"
#include "fc/gemm_sums_impl.h"

#include <string.h>

#define IM2COL_GEMM_INLINE static inline __attribute__((always_inline))

/* Which way data moves between an image and a column matrix. */
enum {
    IM2COL_GEMM_COLS_GATHER /* im2col: col = x, zeros at padding */,
    IM2COL_GEMM_COLS_SCATTER /* col2im: dx += col */
};

#define IM2COL_GEMM_GEMM BT_SIMD_NAME(bt_sgemm)
#define IM2COL_GEMM_GEMM_MAP BT_SIMD_NAME(bt_sgemm_map)

/* NCHW positions from `first` on, of a tensor whose samples are `sample` floats apart and
 * whose position (p, q) sits at p * hs + q * ws (bt_gemm_map). */
static bt_gemm_map im2col_gemm_map(const bt_shape *s, int64_t first, int64_t sample, int64_t hs,
                                   int64_t ws) {
    return (bt_gemm_map){
        .off = first, .q = s->q, .pq = s->p * s->q, .ws = ws, .hs = hs, .ns = sample};
}

/* len floats of a column matrix and an image run starting at element `at` with element
 * stride `stride`: gather reads x, scatter adds into dx (the other image is NULL). */
IM2COL_GEMM_INLINE void cols_run(int dir, float *restrict col, const float *x, float *dx,
                                 int64_t at, int64_t stride, int64_t len) {
    if (dir == IM2COL_GEMM_COLS_GATHER) {
        const float *restrict src = x + at;
        if (stride == 1)
            memcpy(col, src, (size_t)len * sizeof(float));
        else
            for (int64_t t = 0; t < len; t++) col[t] = src[t * stride];
        return;
    }
    float *restrict dst = dx + at;
    if (stride == 1) {
        int64_t t = 0;
        for (; t + BT_VLEN <= len; t += BT_VLEN)
            bt_vstore(dst + t, bt_vadd(bt_vload(dst + t), bt_vload(col + t)));
        if (t < len) {
            bt_vmask_t mask = bt_vmask((int)(len - t));
            bt_vstore_mask(dst + t, mask,
                           bt_vadd(bt_vload_mask(dst + t, mask), bt_vload_mask(col + t, mask)));
        }
    } else {
        for (int64_t t = 0; t < len; t++) dst[t * stride] += col[t];
    }
}

/* Padding: zeros in the column matrix when gathering, nothing to add when scattering. */
IM2COL_GEMM_INLINE void cols_pad(int dir, float *col, int64_t len) {
    if (dir == IM2COL_GEMM_COLS_GATHER && len > 0) memset(col, 0, (size_t)len * sizeof(float));
}

/* NCHW: rows (c, r, s) of channels [c0, c0 + lc) x positions [pq0, pq1) of sample n, each
 * row of pq1 - pq0 floats. Gather fills col from x; scatter adds col into dx. */
IM2COL_GEMM_INLINE void cols_nchw(int dir, const bt_shape *s, const float *x, float *dx, int64_t n,
                                  int64_t c0, int64_t lc, int64_t pq0, int64_t pq1, float *col) {
    int64_t len = pq1 - pq0, plane = s->h * s->w;
    for (int64_t c = 0; c < lc; c++) {
        int64_t img = (n * s->c + c0 + c) * plane;
        for (int64_t r = 0; r < s->r; r++)
            for (int64_t ss = 0; ss < s->s; ss++) {
                float *row = col + ((c * s->r + r) * s->s + ss) * len;
                int64_t jbase = ss * s->dw - s->pw, qlo, qhi;
                bt_conv_valid_range(jbase, s->sw, s->w, s->q, &qlo, &qhi);
                for (int64_t pos = pq0; pos < pq1;) {
                    int64_t p = pos / s->q, qa = pos % s->q, qb = bt_min64(s->q, qa + pq1 - pos);
                    float *seg = row + (pos - pq0);
                    int64_t i = p * s->sh - s->ph + r * s->dh;
                    if (i < 0 || i >= s->h) {
                        cols_pad(dir, seg, qb - qa);
                    } else {
                        int64_t lo = bt_min64(bt_max64(qlo, qa), qb),
                                hi = bt_max64(lo, bt_min64(qhi, qb));
                        int64_t at = img + i * s->w + lo * s->sw + jbase;
                        cols_pad(dir, seg, lo - qa);
                        cols_run(dir, seg + (lo - qa), x, dx, at, s->sw, hi - lo);
                        cols_pad(dir, seg + (hi - qa), qb - hi);
                    }
                    pos += qb - qa;
                }
            }
    }
}

/* NHWC: positions [m0, m1) of the batch x (r, s, c) for channels [c0, c0 + lc), each
 * position a row of R*S*lc floats. */
IM2COL_GEMM_INLINE void cols_nhwc(int dir, const bt_shape *s, const float *x, float *dx, int64_t m0,
                                  int64_t m1, int64_t c0, int64_t lc, float *col) {
    int64_t pq = s->p * s->q;
    for (int64_t m = m0; m < m1; m++) {
        int64_t n = m / pq, p = m % pq / s->q, q = m % s->q;
        float *row = col + (m - m0) * s->r * s->s * lc;
        for (int64_t r = 0; r < s->r; r++) {
            int64_t i = p * s->sh - s->ph + r * s->dh;
            float *taps = row + r * s->s * lc;
            if (i < 0 || i >= s->h) {
                cols_pad(dir, taps, s->s * lc);
                continue;
            }
            for (int64_t ss = 0; ss < s->s; ss++) {
                int64_t j = q * s->sw - s->pw + ss * s->dw;
                if (j < 0 || j >= s->w) {
                    cols_pad(dir, taps + ss * lc, lc);
                    continue;
                }
                int64_t at = ((n * s->h + i) * s->w + j) * s->c + c0;
                cols_run(dir, taps + ss * lc, x, dx, at, 1, lc);
            }
        }
    }
}

/* One thread's buffers in scratch. */
typedef struct im2col_gemm_area {
    float *col, *pack_a, *pack_b, *wperm;
} im2col_gemm_area;

static im2col_gemm_area im2col_gemm_thread_area(const bt_plan *plan, int tid) {
    const bt_conv_gemm_plan *cp = plan->priv;
    float *base = (float *)plan->scratch + tid * cp->per_thread;
    return (im2col_gemm_area){.col = base,
                              .pack_a = base + cp->col,
                              .pack_b = base + cp->col + cp->pack_a,
                              .wperm = base + cp->col + cp->pack_a + cp->pack_b};
}

/* ---- bwd_weights ---- */

/* The dot kernel (cp->dot: NCHW, 1x1, stride 1, unpadded): dW_g[k x c] = sum over positions
 * of dy[n, k, pos] x[n, c, pos], both operands read in place along the positions, which run
 * contiguously through a whole sample (no packing: the transposing pack of the GEMM costs as
 * much as the FMAs its floats feed when dW has few filters). A register tile holds
 * DOT_RK x DOT_RC vector accumulators, each summed across its lanes once per column block. */
#if BT_VREGS >= 32
#define DOT_RK BT_DOT_RK_AVX512
#define DOT_RC BT_DOT_RC_AVX512
#define DOT_TILE_ATTR
#else
#define DOT_RK BT_DOT_RK_AVX2
#define DOT_RC BT_DOT_RC_AVX2
/* Out of line: inlined into the block loop, gcc 12 kept the row pointers on the stack and
 * spilled an operand in the inner loop of the 16-register tile. */
#define DOT_TILE_ATTR __attribute__((noinline))
#endif

/* One operand of a dot tile: rows P*Q floats apart within a sample, samples `sample` floats
 * apart (dy: K * P*Q, x: C * H*W), and the distance in dW between the results of two rows
 * (`out`: a filter's row of dW, or 1 between channels). */
typedef struct im2col_gemm_dot_rows {
    const float *at;
    int64_t sample, out;
    int count; /* valid rows; the rest repeat the last one and are not stored */
} im2col_gemm_dot_rows;

/* dst (+)= the sum over positions [m, me) of the batch of DOT_RK rows of u times DOT_RC rows
 * of v: element (i, j) at dst[i * u.out + j * v.out]. */
DOT_TILE_ATTR static void im2col_gemm_dot_tile(const bt_shape *s, im2col_gemm_dot_rows u,
                                               im2col_gemm_dot_rows v, int64_t m, int64_t me,
                                               float beta, float *dst) {
    int64_t pq = s->p * s->q;
    bt_vf acc[DOT_RK][DOT_RC];
#pragma GCC unroll 8
    for (int i = 0; i < DOT_RK; i++)
#pragma GCC unroll 8
        for (int j = 0; j < DOT_RC; j++) acc[i][j] = bt_vzero();
    while (m < me) {
        int64_t n = m / pq, off = m % pq, len = bt_min64(pq - off, me - m);
        const float *a[DOT_RK], *b[DOT_RC];
#pragma GCC unroll 8
        for (int i = 0; i < DOT_RK; i++)
            a[i] = u.at + n * u.sample + (i < u.count ? i : u.count - 1) * pq + off;
#pragma GCC unroll 8
        for (int j = 0; j < DOT_RC; j++)
            b[j] = v.at + n * v.sample + (j < v.count ? j : v.count - 1) * pq + off;
        int64_t t = 0;
        for (; t + BT_VLEN <= len; t += BT_VLEN) {
            bt_vf av[DOT_RK];
#pragma GCC unroll 8
            for (int i = 0; i < DOT_RK; i++) av[i] = bt_vload(a[i] + t);
#pragma GCC unroll 8
            for (int j = 0; j < DOT_RC; j++) {
                bt_vf bv = bt_vload(b[j] + t);
#pragma GCC unroll 8
                for (int i = 0; i < DOT_RK; i++) acc[i][j] = bt_vfmadd(av[i], bv, acc[i][j]);
            }
        }
        if (t < len) { /* zeros past the run in both operands */
            bt_vmask_t mask = bt_vmask((int)(len - t));
            bt_vf av[DOT_RK];
#pragma GCC unroll 8
            for (int i = 0; i < DOT_RK; i++) av[i] = bt_vload_mask(a[i] + t, mask);
#pragma GCC unroll 8
            for (int j = 0; j < DOT_RC; j++) {
                bt_vf bv = bt_vload_mask(b[j] + t, mask);
#pragma GCC unroll 8
                for (int i = 0; i < DOT_RK; i++) acc[i][j] = bt_vfmadd(av[i], bv, acc[i][j]);
            }
        }
        m += len;
    }
#pragma GCC unroll 8
    for (int i = 0; i < DOT_RK; i++) {
        if (i >= u.count) break;
#pragma GCC unroll 8
        for (int j = 0; j < DOT_RC; j++) {
            if (j >= v.count) break;
            float *o = dst + i * u.out + j * v.out, r = bt_vhsum(acc[i][j]);
            *o = beta == 0.0f ? r : beta * *o + r;
        }
    }
}

/* Rows the tiles compute for `rows` rows cut into tiles of `tile`. */
static int64_t im2col_gemm_dot_cover(int64_t rows, int64_t tile) {
    return bt_div_up(rows, tile) * tile;
}

/* dst rows [ka, kb) x the channels of group g (+)= the sum over positions [m, me). The
 * DOT_RC-row side of the tile takes the filters or the channels, whichever leaves fewer rows
 * computed in vain (32 channels on 6-row tiles: 36); the operand with more rows is the outer
 * loop, so the other (read once per outer tile) is the smaller stream. */
static void im2col_gemm_dot_block(const bt_shape *s, const float *dy, const float *x, int64_t g,
                                  int64_t ka, int64_t kb, int64_t m, int64_t me, float beta,
                                  float *dst) {
    int64_t pq = s->p * s->q, nk = kb - ka, nc = s->cg;
    im2col_gemm_dot_rows filters = {
        .at = dy + (g * s->kg + ka) * pq, .sample = s->k * pq, .out = nc};
    im2col_gemm_dot_rows channels = {.at = x + g * s->cg * pq, .sample = s->c * pq, .out = 1};
    int k_wide = im2col_gemm_dot_cover(nk, DOT_RC) * im2col_gemm_dot_cover(nc, DOT_RK) <
                 im2col_gemm_dot_cover(nk, DOT_RK) * im2col_gemm_dot_cover(nc, DOT_RC);
    im2col_gemm_dot_rows u0 = k_wide ? channels : filters, v0 = k_wide ? filters : channels;
    int64_t un = k_wide ? nc : nk, vn = k_wide ? nk : nc;
    float *dk = dst + (g * s->kg + ka) * nc;
    int u_outer = un >= vn;
    int64_t outer = u_outer ? un : vn, inner = u_outer ? vn : un;
    int64_t ostep = u_outer ? DOT_RK : DOT_RC, istep = u_outer ? DOT_RC : DOT_RK;
    for (int64_t o = 0; o < outer; o += ostep)
        for (int64_t i = 0; i < inner; i += istep) {
            int64_t ui = u_outer ? o : i, vi = u_outer ? i : o;
            im2col_gemm_dot_rows u = u0, v = v0;
            u.at += ui * pq, u.count = (int)bt_min64(DOT_RK, un - ui);
            v.at += vi * pq, v.count = (int)bt_min64(DOT_RC, vn - vi);
            im2col_gemm_dot_tile(s, u, v, m, me, beta, dk + ui * u.out + vi * v.out);
        }
}

/* dst rows [ka, kb) of group g (IM2COL_GEMM_GEMM column order) (+)= the product over positions
 * [m, me) (inside one sample in NCHW). */
static void im2col_gemm_bwd_w_block(const bt_plan *plan, const bt_tensors *t,
                                    const im2col_gemm_area *a, int64_t g, int64_t ka, int64_t kb,
                                    int64_t m, int64_t me, float beta, float *dst) {
    const bt_shape *s = &plan->shape;
    const bt_conv_gemm_plan *cp = plan->priv;
    int64_t len = me - m, cgrs = s->cg * s->r * s->s, pq = s->p * s->q;
    const float *dy, *b;
    int64_t lda, ldb;
    int nchw = s->layout == BT_NCHW;
    if (cp->dot) {
        im2col_gemm_dot_block(s, t->dy, t->x, g, ka, kb, m, me, beta, dst);
        return;
    }
    if (cp->batched) {
        /* dy_g[k x pos] x[c x pos]^T with pos running over samples: both read mapped. */
        bt_gemm_map dy_map = im2col_gemm_map(s, m, s->k * pq, s->q, 1),
                    x_map = im2col_gemm_map(s, m, s->c * s->h * s->w, s->sh * s->w, s->sw);
        bt_gemm_maps maps = {.a_k = &dy_map, .b_k = &x_map};
        IM2COL_GEMM_GEMM_MAP(0, 1, kb - ka, s->cg, len, t->dy + (g * s->kg + ka) * pq, pq,
                             t->x + g * s->cg * s->h * s->w, s->h * s->w, beta,
                             dst + (g * s->kg + ka) * cgrs, cgrs, &cp->blk, a->pack_a, a->pack_b,
                             &maps);
        return;
    }
    if (nchw) {
        int64_t n = m / pq, pq0 = m % pq;
        dy = t->dy + (n * s->k + g * s->kg + ka) * pq + pq0, lda = pq;
        if (cp->direct) {
            b = t->x + (n * s->c + g * s->cg) * pq + pq0, ldb = pq;
        } else {
            cols_nchw(IM2COL_GEMM_COLS_GATHER, s, t->x, NULL, n, g * s->cg, s->cg, pq0, pq0 + len,
                      a->col);
            b = a->col, ldb = len;
        }
    } else {
        dy = t->dy + m * s->k + g * s->kg + ka, lda = s->k;
        if (cp->direct) {
            b = t->x + m * s->c + g * s->cg, ldb = s->c;
        } else {
            cols_nhwc(IM2COL_GEMM_COLS_GATHER, s, t->x, NULL, m, me, g * s->cg, s->cg, a->col);
            b = a->col, ldb = cgrs;
        }
    }
    /* NCHW: dy_g[k x pos] times col^T; NHWC: dy_g^T (dy is pos x k) times col[pos x taps]. */
    IM2COL_GEMM_GEMM(!nchw, nchw, kb - ka, cgrs, len, dy, lda, b, ldb, beta,
                     dst + (g * s->kg + ka) * cgrs, cgrs, &cp->blk, a->pack_a, a->pack_b);
}

/* dW rows [k0, k1) (+)= slots [0, nslots) in IM2COL_GEMM_GEMM column order (r, s, c), reordered to
 * the weights' (c, r, s); without accumulate the old dW is not read. */
static void im2col_gemm_bwd_w_unpermute(const bt_shape *s, const float *slots, int64_t slot,
                                        int nslots, int64_t k0, int64_t k1, float *dw) {
    int64_t taps = s->r * s->s, cgrs = s->cg * taps;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t tap = 0; tap < taps; tap++)
            for (int64_t c = 0; c < s->cg; c++) {
                float *o = dw + k * cgrs + c * taps + tap;
                float v = s->accumulate ? *o : 0.0f;
                for (int i = 0; i < nslots; i++) v += slots[i * slot + k * cgrs + tap * s->cg + c];
                *o = v;
            }
}

static void im2col_gemm_bwd_w_run(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const bt_conv_gemm_plan *cp = plan->priv;
    im2col_gemm_area a = im2col_gemm_thread_area(plan, tid);
    float *slots = (float *)plan->scratch + cp->slots;
    int64_t pq = s->p * s->q, npos = s->n * pq;
    int by_pos = cp->par == BT_CONVG_PAR_MB;

    int64_t m0 = 0, m1 = npos, k0 = 0, k1 = s->k;
    if (by_pos)
        bt_split(npos, tid, nthr, &m0, &m1);
    else
        bt_split(s->k, tid, nthr, &k0, &k1);
    /* Where this thread sums: dW itself, or a slot holding a dW in IM2COL_GEMM_GEMM column order.
     */
    float *dst = t->dw;
    float beta = s->accumulate ? 1.0f : 0.0f;
    if (by_pos && (cp->permuted || tid > 0))
        dst = slots + (cp->permuted ? tid : tid - 1) * cp->slot, beta = 0.0f;
    else if (!by_pos && cp->permuted)
        dst = slots, beta = 0.0f;

    if (k1 > k0)
        for (int64_t m = m0; m < m1;) {
            int64_t me = bt_min64(m1, m + cp->cols);
            if (s->layout == BT_NCHW && !cp->batched && !cp->dot)
                me = bt_min64(me, (m / pq + 1) * pq);
            for (int64_t g = k0 / s->kg; g * s->kg < k1; g++)
                im2col_gemm_bwd_w_block(plan, t, &a, g, bt_max64(k0 - g * s->kg, 0),
                                        bt_min64(k1 - g * s->kg, s->kg), m, me, beta, dst);
            m = me, beta = 1.0f; /* later blocks add to the first */
        }

    int64_t cgrs = s->cg * s->r * s->s;
    if (by_pos) {
#pragma omp barrier
        int parts = (int)bt_min64(nthr, npos); /* threads past the positions had nothing */
        bt_split(s->k, tid, nthr, &k0, &k1);
        if (cp->permuted)
            im2col_gemm_bwd_w_unpermute(s, slots, cp->slot, parts, k0, k1, t->dw);
        else if (parts > 1 && k1 > k0)
            gemm_sums_add_slots(t->dw + k0 * cgrs, slots + k0 * cgrs, cp->slot, parts - 1,
                                (k1 - k0) * cgrs);
    } else if (cp->permuted) {
        im2col_gemm_bwd_w_unpermute(s, slots, cp->slot, 1, k0, k1, t->dw);
    }
    if (t->db) gemm_sums_conv_bias(s, t->dy, k0, k1, t->db);
}

/* ---- bwd_data ---- */

/* A thread's input channels [c0, c1) are cut at group edges and then into blocks of at
 * most chb channels; im2col_gemm_chblock_first / im2col_gemm_chblock_next walk them in order. */
typedef struct im2col_gemm_chblock {
    int64_t g, ca, lc; /* group, first channel within it, channels */
} im2col_gemm_chblock;

static int im2col_gemm_chblock_next(const bt_shape *s, int64_t chb, int64_t c1,
                                    im2col_gemm_chblock *b) {
    int64_t next = b->g * s->cg + b->ca + b->lc; /* first channel after this block */
    if (next >= c1) return 0;
    b->g = next / s->cg, b->ca = next % s->cg;
    b->lc = bt_min64(chb, bt_min64(c1 - next, s->cg - b->ca));
    return 1;
}

static im2col_gemm_chblock im2col_gemm_chblock_first(const bt_shape *s, int64_t chb, int64_t c0,
                                                     int64_t c1) {
    im2col_gemm_chblock b = {.g = c0 / s->cg, .ca = c0 % s->cg};
    b.lc = bt_min64(chb, bt_min64(c1 - c0, s->cg - b.ca));
    return b;
}

/* Channels [c0, c1) of the weights in (k, r, s, c) order, block after block (as
 * im2col_gemm_chblock_first/next cut them): a block's part starts at kg * R*S * (its first channel
 * - c0). */
static void im2col_gemm_bwd_d_permute_weights(const bt_shape *s, const float *w, int64_t chb,
                                              int64_t c0, int64_t c1, float *wperm) {
    int64_t taps = s->r * s->s;
    im2col_gemm_chblock b = im2col_gemm_chblock_first(s, chb, c0, c1);
    do {
        float *out = wperm + s->kg * taps * (b.g * s->cg + b.ca - c0);
        for (int64_t k = 0; k < s->kg; k++)
            for (int64_t tap = 0; tap < taps; tap++)
                for (int64_t c = 0; c < b.lc; c++)
                    out[(k * taps + tap) * b.lc + c] =
                        w[((b.g * s->kg + k) * s->cg + b.ca + c) * taps + tap];
    } while (im2col_gemm_chblock_next(s, chb, c1, &b));
}

/* dx of sample n, channels [c0, c1), every position: zeros. */
static void im2col_gemm_bwd_d_zero(const bt_shape *s, float *dx, int64_t n, int64_t c0,
                                   int64_t c1) {
    int64_t plane = s->h * s->w;
    if (s->layout == BT_NCHW) {
        memset(dx + (n * s->c + c0) * plane, 0, (size_t)((c1 - c0) * plane) * sizeof(float));
        return;
    }
    if (c0 == 0 && c1 == s->c) {
        memset(dx + n * plane * s->c, 0, (size_t)(plane * s->c) * sizeof(float));
        return;
    }
    for (int64_t at = n * plane; at < (n + 1) * plane; at++)
        memset(dx + at * s->c + c0, 0, (size_t)(c1 - c0) * sizeof(float));
}

/* dx at positions [m, me) (one sample in NCHW) for channel block b: the IM2COL_GEMM_GEMM, then
 * col2im. wperm: the block's reordered weights (permuted NHWC only). */
static void im2col_gemm_bwd_d_block(const bt_plan *plan, const bt_tensors *t,
                                    const im2col_gemm_area *a, const im2col_gemm_chblock *b,
                                    int64_t m, int64_t me, const float *wperm) {
    const bt_shape *s = &plan->shape;
    const bt_conv_gemm_plan *cp = plan->priv;
    int64_t taps = s->r * s->s, len = me - m, pq = s->p * s->q, cgrs = s->cg * taps;
    int64_t c0 = b->g * s->cg + b->ca,
            width = b->lc * taps; /* first channel, IM2COL_GEMM_GEMM width */
    const float *wg = t->w + b->g * s->kg * cgrs + b->ca * taps;
    float beta = (cp->direct || cp->batched) && s->accumulate ? 1.0f : 0.0f;
    if (cp->batched) {
        /* dx[c x pos] = W_g^T dy_g[k x pos], pos running over samples, dy read mapped. Direct:
         * dx written mapped; strided: into col, scattered once (dx was zeroed first unless
         * accumulating), as the C block would leave cache between kc slices. */
        bt_gemm_map dy_map = im2col_gemm_map(s, m, s->k * pq, s->q, 1),
                    dx_map = im2col_gemm_map(s, m, s->c * s->h * s->w, s->sh * s->w, s->sw);
        bt_gemm_maps maps = {.b_n = &dy_map, .c_n = cp->direct ? &dx_map : NULL};
        float *dx = t->dx + c0 * s->h * s->w;
        IM2COL_GEMM_GEMM_MAP(1, 0, width, len, s->kg, wg, cgrs, t->dy + b->g * s->kg * pq, pq,
                             cp->direct ? beta : 0.0f, cp->direct ? dx : a->col,
                             cp->direct ? s->h * s->w : len, &cp->blk, a->pack_a, a->pack_b, &maps);
        if (!cp->direct) BT_SIMD_NAME(bt_gemm_store_map)
        (a->col, len, width, len, s->accumulate ? 1.0f : 0.0f, dx, s->h * s->w, &dx_map);
        return;
    }
    if (s->layout == BT_NCHW) {
        /* col[(c, r, s) x pos] = W_g^T (this block's rows) dy_g */
        int64_t n = m / pq, pq0 = m % pq;
        const float *dy = t->dy + (n * s->k + b->g * s->kg) * pq + pq0;
        float *c = cp->direct ? t->dx + (n * s->c + c0) * pq + pq0 : a->col;
        IM2COL_GEMM_GEMM(1, 0, width, len, s->kg, wg, cgrs, dy, pq, beta, c, cp->direct ? pq : len,
                         &cp->blk, a->pack_a, a->pack_b);
        if (!cp->direct)
            cols_nchw(IM2COL_GEMM_COLS_SCATTER, s, NULL, t->dx, n, c0, b->lc, pq0, pq0 + len, c);
    } else {
        /* col[pos x (r, s, c)] = dy_g (pos x k) W_g (k x this block's taps) */
        const float *dy = t->dy + m * s->k + b->g * s->kg;
        float *c = cp->direct ? t->dx + m * s->c + c0 : a->col;
        IM2COL_GEMM_GEMM(0, 0, len, width, s->kg, dy, s->k, cp->permuted ? wperm : wg,
                         cp->permuted ? width : cgrs, beta, c, cp->direct ? s->c : width, &cp->blk,
                         a->pack_a, a->pack_b);
        if (!cp->direct) cols_nhwc(IM2COL_GEMM_COLS_SCATTER, s, NULL, t->dx, m, me, c0, b->lc, c);
    }
}

static void im2col_gemm_bwd_d_run(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const bt_conv_gemm_plan *cp = plan->priv;
    im2col_gemm_area a = im2col_gemm_thread_area(plan, tid);
    int64_t n0 = 0, n1 = s->n, c0 = 0, c1 = s->c, pq = s->p * s->q, taps = s->r * s->s;
    if (cp->par == BT_CONVG_PAR_MB)
        bt_split(s->n, tid, nthr, &n0, &n1);
    else
        bt_split(s->c, tid, nthr, &c0, &c1);
    if (n1 <= n0 || c1 <= c0) return;
    if (cp->permuted) im2col_gemm_bwd_d_permute_weights(s, t->w, cp->chb, c0, c1, a.wperm);

    int64_t zeroed = n0; /* samples before this one have had their dx zeroed */
    for (int64_t m = n0 * pq, me; m < n1 * pq; m = me) {
        me = bt_min64(n1 * pq, m + cp->cols);
        if (s->layout == BT_NCHW && !cp->batched) me = bt_min64(me, (m / pq + 1) * pq);
        for (; !cp->direct && !s->accumulate && zeroed * pq < me; zeroed++)
            im2col_gemm_bwd_d_zero(s, t->dx, zeroed, c0, c1);
        im2col_gemm_chblock b = im2col_gemm_chblock_first(s, cp->chb, c0, c1);
        do {
            const float *wperm =
                cp->permuted ? a.wperm + s->kg * taps * (b.g * s->cg + b.ca - c0) : NULL;
            im2col_gemm_bwd_d_block(plan, t, &a, &b, m, me, wperm);
        } while (im2col_gemm_chblock_next(s, cp->chb, c1, &b));
    }
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, im2col_gemm, .layouts = BT_TAKES_ANY,
                       .params = bt_conv_gemm_bwd_w_params, .prepare = bt_conv_gemm_prepare,
                       .run = im2col_gemm_bwd_w_run);

BT_DEFINE_SIMD_VARIANT(conv_bwd_d, gemm_col2im, .layouts = BT_TAKES_ANY,
                       .params = bt_conv_gemm_bwd_d_params, .prepare = bt_conv_gemm_prepare,
                       .run = im2col_gemm_bwd_d_run);

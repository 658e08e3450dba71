/* Depthwise bwd_weights on channel-vector tiles, the path both layouts' bwd_weights templates
 * share (depthwise_bwd_w_{nchw,nhwc}_impl.h; included once per ISA build after their common
 * header, so no include guard).
 *
 * A thread takes one block of cb channel vectors of one sample and a band of output rows at a
 * time. The layout's fill copies (NHWC) or transposes (NCHW) the block's x rows into a tile
 * that is zero-padded and position-major with the block's channels innermost, and its dy rows
 * into a second such tile (NHWC reads full vectors of dy in place); every tap is then an
 * unconditional vector load at a fixed offset, and chunks of up to 9 taps x cb vectors accumulate
 * in registers over all the band's positions. A small image is one band, so the accumulators are
 * loaded and stored once per sample and block: not once per row segment, nor summed across lanes
 * per plane. The partial dW/db of a thread is [vector][taps + 1][V].
 */
#include "conv/depthwise_common.h"

#include <math.h>
#include <string.h>

#define DEPTHWISE_BWD_W_TILE_V BT_VLEN
#define DEPTHWISE_BWD_W_TILE_CB_MAX 2
#define DEPTHWISE_BWD_W_TILE_TMAX_ABS 9
/* Taps per register chunk for cb vectors: accumulators, dy and db per vector, one x. */
#define DEPTHWISE_BWD_W_TILE_TMAX(cb)                                                              \
    ((BT_VREGS - 3 * (cb)-1) / (cb) < DEPTHWISE_BWD_W_TILE_TMAX_ABS                                \
         ? (BT_VREGS - 3 * (cb)-1) / (cb)                                                          \
         : DEPTHWISE_BWD_W_TILE_TMAX_ABS)
/* A band's two tiles take at most this much (they stay in L2 while the taps sweep them);
 * a tile row wider than that still makes a band of one output row. */
#define DEPTHWISE_BWD_W_TILE_BUDGET(l2) ((l2) / 4)
#define DEPTHWISE_BWD_W_TILE_INLINE static inline __attribute__((always_inline))

typedef struct depthwise_bwd_w_tile_geom {
    int64_t cb, vb;      /* channel vectors per block, floats per tile position (cb * V) */
    int64_t blocks;      /* channel blocks */
    int64_t tw;          /* tile columns: x column m - pw, covering every tap and the image row */
    int64_t band, bands; /* output rows per band, bands per sample */
    int64_t rows;        /* tile rows of a full band: x row p0 * sh - ph + tr */
    size_t x_floats, d_floats, part_floats; /* per thread */
} depthwise_bwd_w_tile_geom;

static inline int64_t depthwise_bwd_w_tile_vectors(const bt_shape *s) {
    return bt_div_up(s->c, DEPTHWISE_BWD_W_TILE_V);
}

static inline depthwise_bwd_w_tile_geom depthwise_bwd_w_tile_geometry(const bt_shape *s,
                                                                      int64_t cb) {
    depthwise_bwd_w_tile_geom g;
    g.cb = cb;
    g.vb = cb * DEPTHWISE_BWD_W_TILE_V;
    g.blocks = bt_div_up(depthwise_bwd_w_tile_vectors(s), cb);
    g.tw = bt_max64((s->q - 1) * s->sw + (s->s - 1) * s->dw + 1, s->pw + s->w);
    const int64_t halo = (s->r - 1) * s->dh + 1;
    const int64_t row_bytes = (s->sh * g.tw + s->q) * g.vb * (int64_t)sizeof(float);
    const int64_t budget = DEPTHWISE_BWD_W_TILE_BUDGET(bt_machine_get()->l2_bytes) -
                           (halo - s->sh) * g.tw * g.vb * (int64_t)sizeof(float);
    g.band = bt_max64(1, bt_min64(s->p, budget / row_bytes));
    g.bands = bt_div_up(s->p, g.band);
    g.band = bt_div_up(s->p, g.bands); /* even bands */
    g.rows = (g.band - 1) * s->sh + halo;
    g.x_floats = depthwise_align((size_t)(g.rows * g.tw * g.vb) * sizeof(float)) / sizeof(float);
    g.d_floats = depthwise_align((size_t)(g.band * s->q * g.vb) * sizeof(float)) / sizeof(float);
    g.part_floats = depthwise_align((size_t)(g.blocks * g.vb * (s->r * s->s + 1)) * sizeof(float)) /
                    sizeof(float);
    return g;
}

/* Per-thread scratch: partial, two x tiles (one computed on, one filled), dy tile, tap
 * offsets. */
static inline size_t depthwise_bwd_w_tile_thread_bytes(const bt_shape *s,
                                                       const depthwise_bwd_w_tile_geom *g) {
    return (g->part_floats + 2 * g->x_floats + g->d_floats) * sizeof(float) +
           depthwise_align((size_t)(s->r * s->s) * sizeof(int64_t));
}

/* 3x3 taps at column stride and dilation 1: one channel vector per tile (cb = 1) takes the
 * chunk that loads each x column once per tap row (depthwise_bwd_w_tile_chunk_3x3). */
static inline int depthwise_bwd_w_tile_rows3(const bt_shape *s) {
    return s->r == 3 && s->s == 3 && s->sw == 1 && s->dw == 1;
}

/* Whether a tile fits a cache-sized block of scratch: not when padding or dilation makes
 * the rows far wider than the image (sizes in double: their products can overflow there). */
static inline int depthwise_bwd_w_tile_fits(const bt_shape *s, int64_t cb) {
    double tw = fmax((double)(s->q - 1) * (double)s->sw + (double)(s->s - 1) * (double)s->dw + 1,
                     (double)s->pw + (double)s->w);
    double rows = (double)(s->r - 1) * (double)s->dh + 1 + (double)s->sh;
    double vb = (double)(cb * DEPTHWISE_BWD_W_TILE_V);
    return tw * rows * vb + (double)s->q * vb <= (double)BT_SCRATCH_BLOCK_BYTES / sizeof(float);
}

/* A deferred copy of x positions into a tile (NHWC): count positions from src (src_step
 * floats apart; rows of w positions, dst_row floats apart in the tile, vb per position), cbv
 * channel vectors each, the last masked by tail when masked_last. */
typedef struct depthwise_bwd_w_tile_copy {
    const float *src;
    float *dst;
    int64_t count, w, src_step, dst_row, vb;
    int cbv, masked_last;
    bt_vmask_t tail;
} depthwise_bwd_w_tile_copy;

/* Slice i of n of the copy's positions. */
DEPTHWISE_BWD_W_TILE_INLINE void depthwise_bwd_w_tile_copy_slice(const depthwise_bwd_w_tile_copy *c,
                                                                 int64_t i, int64_t n) {
    int64_t f = c->count * i / n, f1 = c->count * (i + 1) / n, row = f / c->w, j = f % c->w;
    const float *src = c->src + f * c->src_step;
    float *dst = c->dst + row * c->dst_row + j * c->vb;
    for (; f < f1; f++, src += c->src_step) {
        for (int v = 0; v < c->cbv; v++)
            bt_vstore(dst + v * DEPTHWISE_BWD_W_TILE_V,
                      c->masked_last && v == c->cbv - 1
                          ? bt_vload_mask(src + v * DEPTHWISE_BWD_W_TILE_V, c->tail)
                          : bt_vload(src + v * DEPTHWISE_BWD_W_TILE_V));
        dst += c->vb;
        if (++j == c->w) j = 0, row++, dst = c->dst + row * c->dst_row;
    }
}

typedef struct depthwise_bwd_w_tile_args {
    const float *xt;      /* the band's x tile */
    const float *dt;      /* its dy: the dy tile, or (NHWC) dy in place */
    const int64_t *toff;  /* per tap: offset in xt from the position's tap (0, 0) */
    int64_t rows, q;      /* the band's output rows, positions per row */
    int64_t x_row, x_pos; /* xt floats per output row (sh tile rows), per position (sw cols) */
    int64_t vb;           /* dt floats per position: the tile's vb, or C in place */
    float *part;          /* this thread's partial at the block's first vector */
    int64_t part_block;   /* floats per vector in part: (taps + 1) * V */
    int64_t taps;
    int rows3; /* 3x3 taps at column stride and dilation 1: depthwise_bwd_w_tile_chunk_3x3 */
    /* The next unit's x, copied a slice per output row while this one computes (count 0:
     * none): its loads overlap the FMAs instead of stalling a fill of their own. */
    depthwise_bwd_w_tile_copy copy;
} depthwise_bwd_w_tile_args;

/* part[taps k0 .. k0 + T) += sum over the band of x tap * dy (and db += dy): T taps x CB
 * vectors in registers. */
DEPTHWISE_BWD_W_TILE_INLINE void depthwise_bwd_w_tile_chunk(const depthwise_bwd_w_tile_args *a,
                                                            int64_t k0, const int T, const int CB,
                                                            const int DB) {
    bt_vf acc[DEPTHWISE_BWD_W_TILE_TMAX_ABS][DEPTHWISE_BWD_W_TILE_CB_MAX];
    bt_vf dbv[DEPTHWISE_BWD_W_TILE_CB_MAX];
    const float *xp[DEPTHWISE_BWD_W_TILE_TMAX_ABS];
    float *part = a->part;
    const int64_t pb = a->part_block, vb = a->vb, q_end = a->q, x_pos = a->x_pos;
#pragma GCC unroll 9
    for (int k = 0; k < T; k++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            acc[k][v] = bt_vload(part + v * pb + (k0 + k) * DEPTHWISE_BWD_W_TILE_V);
#pragma GCC unroll 2
    for (int v = 0; v < CB; v++)
        dbv[v] = DB ? bt_vload(part + v * pb + a->taps * DEPTHWISE_BWD_W_TILE_V) : bt_vzero();
    const float *d = a->dt;
    for (int64_t p = 0; p < a->rows; p++) {
        if (a->copy.count) depthwise_bwd_w_tile_copy_slice(&a->copy, p, a->rows);
        const float *xr = a->xt + p * a->x_row;
#pragma GCC unroll 9
        for (int k = 0; k < T; k++) xp[k] = xr + a->toff[k0 + k];
        for (int64_t q = 0; q < q_end; q++, d += vb) {
            const int64_t xo = q * x_pos;
            bt_vf dv[DEPTHWISE_BWD_W_TILE_CB_MAX];
#pragma GCC unroll 2
            for (int v = 0; v < CB; v++) {
                dv[v] = bt_vload(d + v * DEPTHWISE_BWD_W_TILE_V);
                if (DB) dbv[v] = bt_vadd(dbv[v], dv[v]);
            }
#pragma GCC unroll 9
            for (int k = 0; k < T; k++)
#pragma GCC unroll 2
                for (int v = 0; v < CB; v++)
                    acc[k][v] = bt_vfmadd(bt_vload(xp[k] + xo + v * DEPTHWISE_BWD_W_TILE_V), dv[v],
                                          acc[k][v]);
        }
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            bt_vstore(part + v * pb + (k0 + k) * DEPTHWISE_BWD_W_TILE_V, acc[k][v]);
    if (DB)
#pragma GCC unroll 2
        for (int v = 0; v < CB; v++)
            bt_vstore(part + v * pb + a->taps * DEPTHWISE_BWD_W_TILE_V, dbv[v]);
}

/* The 9 taps of a 3x3 kernel at column stride and dilation 1 for one channel vector: tap (r, s)
 * at position q reads x column q + s of tap row r, so each column is loaded once per tap row
 * and kept in registers for the three positions that read it: 3 x loads per position for 9
 * FMAs, where the general chunk makes 9. */
DEPTHWISE_BWD_W_TILE_INLINE void depthwise_bwd_w_tile_chunk_3x3(const depthwise_bwd_w_tile_args *a,
                                                                const int DB) {
    bt_vf acc[3][3], win[3][3];
    float *part = a->part;
    const int64_t vb = a->vb, col = a->x_pos, q_end = a->q;
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++)
#pragma GCC unroll 3
        for (int c = 0; c < 3; c++)
            acc[r][c] = bt_vload(part + (r * 3 + c) * DEPTHWISE_BWD_W_TILE_V);
    bt_vf dbv = DB ? bt_vload(part + 9 * DEPTHWISE_BWD_W_TILE_V) : bt_vzero();
    const float *d = a->dt;
    for (int64_t p = 0; p < a->rows; p++) {
        if (a->copy.count) depthwise_bwd_w_tile_copy_slice(&a->copy, p, a->rows);
        const float *xr[3];
#pragma GCC unroll 3
        for (int r = 0; r < 3; r++) {
            xr[r] = a->xt + p * a->x_row + a->toff[r * 3];
            win[r][0] = bt_vload(xr[r]);
            win[r][1] = bt_vload(xr[r] + col);
        }
        for (int64_t q = 0; q < q_end; q++, d += vb) {
            const bt_vf dv = bt_vload(d);
            if (DB) dbv = bt_vadd(dbv, dv);
#pragma GCC unroll 3
            for (int r = 0; r < 3; r++) {
                win[r][2] = bt_vload(xr[r] + (q + 2) * col);
#pragma GCC unroll 3
                for (int c = 0; c < 3; c++) acc[r][c] = bt_vfmadd(win[r][c], dv, acc[r][c]);
                win[r][0] = win[r][1];
                win[r][1] = win[r][2];
            }
        }
    }
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++)
#pragma GCC unroll 3
        for (int c = 0; c < 3; c++)
            bt_vstore(part + (r * 3 + c) * DEPTHWISE_BWD_W_TILE_V, acc[r][c]);
    if (DB) bt_vstore(part + 9 * DEPTHWISE_BWD_W_TILE_V, dbv);
}

DEPTHWISE_BWD_W_TILE_INLINE void depthwise_bwd_w_tile_chunk_any(const depthwise_bwd_w_tile_args *a,
                                                                int64_t k0, int ntaps, int db,
                                                                const int CB) {
    switch (ntaps * 2 + db) {
#define DEPTHWISE_BWD_W_TILE_CASE(T)                                                               \
    case 2 * T:                                                                                    \
        depthwise_bwd_w_tile_chunk(a, k0, T, CB, 0);                                               \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        depthwise_bwd_w_tile_chunk(a, k0, T, CB, 1);                                               \
        break;
        DEPTHWISE_BWD_W_TILE_CASE(1)
        DEPTHWISE_BWD_W_TILE_CASE(2)
        DEPTHWISE_BWD_W_TILE_CASE(3)
        DEPTHWISE_BWD_W_TILE_CASE(4)
        DEPTHWISE_BWD_W_TILE_CASE(5)
        DEPTHWISE_BWD_W_TILE_CASE(6)
        DEPTHWISE_BWD_W_TILE_CASE(7)
        DEPTHWISE_BWD_W_TILE_CASE(8)
        DEPTHWISE_BWD_W_TILE_CASE(9)
#undef DEPTHWISE_BWD_W_TILE_CASE
    }
}

/* Every tap of the band for a block of cbv (<= cb) vectors, in register chunks, db with the
 * first. */
static void BT_SIMD_NAME(depthwise_bwd_w_tile_band)(depthwise_bwd_w_tile_args *a, int cbv,
                                                    int with_db) {
    if (a->rows3 && cbv == 1) {
        if (with_db)
            depthwise_bwd_w_tile_chunk_3x3(a, 1);
        else
            depthwise_bwd_w_tile_chunk_3x3(a, 0);
        a->copy.count = 0;
        return;
    }
    const int tmax = cbv == 2 ? DEPTHWISE_BWD_W_TILE_TMAX(2) : DEPTHWISE_BWD_W_TILE_TMAX(1);
    for (int64_t k0 = 0; k0 < a->taps; k0 += tmax) {
        int n = (int)bt_min64(tmax, a->taps - k0), db = with_db && k0 == 0;
        if (cbv == 2)
            depthwise_bwd_w_tile_chunk_any(a, k0, n, db, 2);
        else
            depthwise_bwd_w_tile_chunk_any(a, k0, n, db, 1);
        a->copy.count = 0; /* done during the first chunk */
    }
}

/* Tile row offsets of the taps: tap (r, s) of the position at tile row 0, column 0. */
static inline void depthwise_bwd_w_tile_offsets(const bt_shape *s,
                                                const depthwise_bwd_w_tile_geom *g, int64_t *toff) {
    for (int64_t r = 0; r < s->r; r++)
        for (int64_t ks = 0; ks < s->s; ks++)
            toff[r * s->s + ks] = (r * s->dh * g->tw + ks * s->dw) * g->vb;
}

/* The layout's two steps for a unit (block vectors [v0, v0 + cbv) of sample n, output rows
 * [p0, p0 + np)). fill_x: the x tile (image rows of the band at tile rows tr = i - (p0 * sh -
 * ph), columns m = j + pw; other rows zero), written now or left to *copy (count 0: nothing
 * left); the columns outside the image stay zero from the run's start. dy: where the kernel
 * reads the unit's dy (*d, *d_step floats per position), a tile it fills in dt or in place. */
typedef void (*depthwise_bwd_w_tile_fill_x_fn)(const bt_shape *s,
                                               const depthwise_bwd_w_tile_geom *g,
                                               const bt_tensors *t, int64_t n, int64_t p0,
                                               int64_t np, int64_t v0, int cbv, float *xt,
                                               depthwise_bwd_w_tile_copy *copy);
typedef void (*depthwise_bwd_w_tile_dy_fn)(const bt_shape *s, const depthwise_bwd_w_tile_geom *g,
                                           const bt_tensors *t, int64_t n, int64_t p0, int64_t np,
                                           int64_t v0, int cbv, float *dt, const float **d,
                                           int64_t *d_step);

/* Image rows [*ia, *ib) that output rows [p0, p0 + np) read. */
static inline void depthwise_bwd_w_tile_image_rows(const bt_shape *s, int64_t p0, int64_t np,
                                                   int64_t *ia, int64_t *ib) {
    const int64_t i0 = p0 * s->sh - s->ph, rows = (np - 1) * s->sh + (s->r - 1) * s->dh + 1;
    *ia = bt_max64(0, i0);
    *ib = bt_min64(s->h, i0 + rows);
    if (*ib < *ia) *ib = *ia;
}

/* Zeroes the tile rows of the band that fall outside the image; returns the image rows
 * [*ia, *ib) it covers and the x row of tile row 0. */
static inline int64_t depthwise_bwd_w_tile_rows(const bt_shape *s,
                                                const depthwise_bwd_w_tile_geom *g, int64_t p0,
                                                int64_t np, float *xt, int64_t *ia, int64_t *ib) {
    const int64_t i0 = p0 * s->sh - s->ph, rows = (np - 1) * s->sh + (s->r - 1) * s->dh + 1;
    depthwise_bwd_w_tile_image_rows(s, p0, np, ia, ib);
    for (int64_t tr = 0; tr < rows; tr++) {
        int64_t i = i0 + tr;
        if (i < *ia || i >= *ib)
            memset(xt + tr * g->tw * g->vb, 0, (size_t)(g->tw * g->vb) * sizeof(float));
    }
    return i0;
}

/* The final dW (and db) from the threads' partials, as depthwise_reduce_partials but a vector
 * of channels at a time: threads split the vectors; per slot the partials are summed in thread
 * order (reruns at one thread count are bit-identical), then V slots x V channels are
 * transposed into dW's rows (added to them when accumulating). */
static void BT_SIMD_NAME(depthwise_bwd_w_tile_reduce)(const bt_shape *s, const bt_tensors *t,
                                                      const float *parts, size_t stride, int tid,
                                                      int nthr) {
    const int64_t taps = s->r * s->s, V = DEPTHWISE_BWD_W_TILE_V;
    int64_t v0, v1;
    bt_split(depthwise_bwd_w_tile_vectors(s), tid, nthr, &v0, &v1);
    float sums[DEPTHWISE_BWD_W_TILE_V * DEPTHWISE_BWD_W_TILE_V];
    for (int64_t vi = v0; vi < v1; vi++) {
        const int64_t c0 = vi * V;
        const int nch = (int)bt_min64(V, s->c - c0);
        const float *base = parts + vi * (taps + 1) * V;
        for (int64_t s0 = 0; s0 <= taps; s0 += V) {
            const int ns = (int)bt_min64(V, taps + 1 - s0);
            for (int j = 0; j < ns; j++) {
                bt_vf sum = bt_vload(base + (s0 + j) * V);
                for (int th = 1; th < nthr; th++)
                    sum = bt_vadd(sum, bt_vload(base + th * stride + (s0 + j) * V));
                bt_vstore(sums + j * V, sum);
            }
            /* Slot taps is db: the last row of the last group. */
            const int nw = (int)bt_min64(ns, taps - s0);
            bt_vtranspose(sums, V, t->dw + c0 * taps + s0, taps, nw, nch, s->accumulate);
            if (nw < ns && t->db) {
                const bt_vmask_t m = bt_vmask(nch);
                bt_vf db = bt_vload(sums + nw * V);
                if (s->accumulate) db = bt_vadd(db, bt_vload_mask(t->db + c0, m));
                bt_vstore_mask(t->db + c0, m, db);
            }
        }
    }
}

/* The run over this thread's units: par splits samples x bands (rows of the grid) and channel
 * blocks (columns), taken block by block; then the partials are summed. */
static void BT_SIMD_NAME(depthwise_bwd_w_tile_run)(const bt_plan *plan, const bt_tensors *t,
                                                   int par, int64_t cb,
                                                   depthwise_bwd_w_tile_fill_x_fn fill_x,
                                                   depthwise_bwd_w_tile_dy_fn dy, int tid,
                                                   int nthr) {
    const bt_shape *s = &plan->shape;
    const depthwise_bwd_w_tile_geom g = depthwise_bwd_w_tile_geometry(s, cb);
    const int64_t taps = s->r * s->s, cvecs = depthwise_bwd_w_tile_vectors(s);
    const size_t thread_floats = depthwise_bwd_w_tile_thread_bytes(s, &g) / sizeof(float);
    float *parts = (float *)plan->scratch, *part = parts + (size_t)tid * thread_floats;
    float *xts[2] = {part + g.part_floats, part + g.part_floats + g.x_floats};
    float *dt = xts[1] + g.x_floats;
    int64_t *toff = (int64_t *)(dt + g.d_floats);
    /* The partial, and the tile columns outside the image, which no fill writes. */
    memset(part, 0, g.part_floats * sizeof(float));
    for (int b = 0; b < 2; b++)
        for (int64_t tr = 0; tr < g.rows; tr++) {
            float *row = xts[b] + tr * g.tw * g.vb;
            memset(row, 0, (size_t)(s->pw * g.vb) * sizeof(float));
            memset(row + (s->pw + s->w) * g.vb, 0,
                   (size_t)((g.tw - s->pw - s->w) * g.vb) * sizeof(float));
        }
    depthwise_bwd_w_tile_offsets(s, &g, toff);

    depthwise_bwd_w_tile_args a = {.toff = toff, .q = s->q, .taps = taps};
    a.rows3 = depthwise_bwd_w_tile_rows3(s);
    a.x_row = s->sh * g.tw * g.vb;
    a.x_pos = s->sw * g.vb;
    a.part_block = (taps + 1) * DEPTHWISE_BWD_W_TILE_V;
    const int with_db = t->db != NULL;
    depthwise_range r = depthwise_thread_range(par, tid, nthr, s->n * g.bands, g.blocks);
    const int64_t units = r.u1 - r.u0, total = units * (r.c1 - r.c0);
    for (int64_t w = 0; w < total; w++) {
        /* Unit w and w + 1 of this thread: block outermost. */
        int64_t blk[2] = {0, 0}, n[2] = {0, 0}, p0[2] = {0, 0}, np[2] = {0, 0};
        int cbv[2] = {0, 0};
        for (int e = 0; e < 2 && w + e < total; e++) {
            const int64_t u = r.u0 + (w + e) % units;
            blk[e] = r.c0 + (w + e) / units;
            cbv[e] = (int)bt_min64(cb, cvecs - blk[e] * cb);
            n[e] = u / g.bands, p0[e] = u % g.bands * g.band;
            np[e] = bt_min64(g.band, s->p - p0[e]);
        }
        float *xt = xts[w & 1];
        if (w == 0) {
            fill_x(s, &g, t, n[0], p0[0], np[0], blk[0] * cb, cbv[0], xt, &a.copy);
            if (a.copy.count) depthwise_bwd_w_tile_copy_slice(&a.copy, 0, 1);
        }
        a.copy.count = 0;
        if (w + 1 < total)
            fill_x(s, &g, t, n[1], p0[1], np[1], blk[1] * cb, cbv[1], xts[(w + 1) & 1], &a.copy);
        dy(s, &g, t, n[0], p0[0], np[0], blk[0] * cb, cbv[0], dt, &a.dt, &a.vb);
        a.xt = xt;
        a.part = part + blk[0] * cb * a.part_block;
        a.rows = np[0];
        BT_SIMD_NAME(depthwise_bwd_w_tile_band)(&a, cbv[0], with_db);
    }
    depthwise_barrier(nthr);
    BT_SIMD_NAME(depthwise_bwd_w_tile_reduce)(s, t, parts, thread_floats, tid, nthr);
}

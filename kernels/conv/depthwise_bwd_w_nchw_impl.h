/* Depthwise convolution backward weights in NCHW, vectorised over width: a template
 * instantiated once per ISA by depthwise_bwd_w_nchw_{avx512,avx2,scalar}.c (see common/simd.h;
 * no include guard; what it shares with bwd_data is in depthwise_nchw_common.h).
 *
 * Each x plane becomes X, zero-padded in both directions and split by column phase (column
 * m*sw + phase in plane `phase`), so tap (r,s) at output row p reads the contiguous run
 * X_phase(s)[p*sh + r*dh][q + (s*dw)/sw ..]. Chunks of up to 9 taps (+ db) accumulate in
 * registers over the plane, are summed across lanes, and added to this thread's partial dW;
 * after a barrier the partials are summed in thread order.
 *
 * vec=c instead transposes blocks of cb channel vectors into position-major tiles and
 * vectorises over channels (depthwise_bwd_w_common.h): no lanes lost on narrow rows or to
 * stride, no sum across lanes; channel multiplier 1 only.
 */
#include "conv/depthwise_nchw_common.h"
#include "conv/depthwise_bwd_w_common.h"

enum { DEPTHWISE_BWD_W_NCHW_PAR, DEPTHWISE_BWD_W_NCHW_VEC, DEPTHWISE_BWD_W_NCHW_CB };
enum { DEPTHWISE_BWD_W_NCHW_VEC_W, DEPTHWISE_BWD_W_NCHW_VEC_C, DEPTHWISE_BWD_W_NCHW_VEC_ROWS };
static const char *const depthwise_bwd_w_nchw_vecs[] = {"w", "c", "rows", NULL};

static const bt_param_spec BT_SIMD_NAME(depthwise_bwd_w_nchw_params)[] = {
    {.key = "par", .choices = depthwise_par_choices, .doc = DEPTHWISE_PAR_DOC},
    {.key = "vec",
     .choices = depthwise_bwd_w_nchw_vecs,
     .doc = "w: vectors over each plane's width; c: over channels, on transposed tiles; "
            "rows: over width, x and dy read in place (AVX-512; 3x3, stride 1 or 2)"},
    {.key = "cb",
     .min = 1,
     .max = DEPTHWISE_BWD_W_TILE_CB_MAX,
     .tune = "1|2",
     .doc = "vec=c: channel vectors per register tile"},
    {0}};

/* Transposes nch (<= V) channel rows of nf (<= V) floats, src + l * ss, into per-position
 * vectors dst[j] (lanes past nch zero). */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_nchw_transpose(const float *src, int64_t ss, int nch,
                                                          int nf, float *const *dst) {
#if DEPTHWISE_NCHW_V == 1
    (void)ss;
    if (nf > 0) *dst[0] = nch > 0 ? *src : 0.0f;
#else
    bt_vf r[DEPTHWISE_NCHW_V];
    const bt_vmask_t m = bt_vmask(nf);
#pragma GCC unroll 16
    for (int l = 0; l < DEPTHWISE_NCHW_V; l++)
        r[l] = l >= nch                 ? bt_vzero()
               : nf == DEPTHWISE_NCHW_V ? bt_vload(src + l * ss)
                                        : bt_vload_mask(src + l * ss, m);
    bt_vtranspose_regs(r);
#pragma GCC unroll 16
    for (int j = 0; j < DEPTHWISE_NCHW_V; j++)
        if (j < nf) bt_vstore(dst[j], r[j]);
#endif
}

/* vec=c's x (depthwise_bwd_w_tile_fill_x_fn), written now: each channel vector's image rows
 * of the band, V flat positions of V planes per transpose (rows of any width fill them). */
static void BT_SIMD_NAME(depthwise_bwd_w_nchw_tile_fill_x)(
    const bt_shape *s, const depthwise_bwd_w_tile_geom *g, const bt_tensors *t, int64_t n,
    int64_t p0, int64_t np, int64_t v0, int cbv, float *xt, depthwise_bwd_w_tile_copy *copy) {
    const int64_t hw = s->h * s->w;
    int64_t ia, ib;
    const int64_t i0 = depthwise_bwd_w_tile_rows(s, g, p0, np, xt, &ia, &ib);
    float *dst[DEPTHWISE_NCHW_V];
    copy->count = 0;
    for (int gi = 0; gi < cbv; gi++) {
        const int64_t c0 = (v0 + gi) * DEPTHWISE_NCHW_V;
        const int nch = (int)bt_min64(DEPTHWISE_NCHW_V, s->c - c0);
        const float *xs = t->x + (n * s->c + c0) * hw;
        int64_t i = ia, j = 0;
        for (int64_t f = ia * s->w; f < ib * s->w; f += DEPTHWISE_NCHW_V) {
            int nf = (int)bt_min64(DEPTHWISE_NCHW_V, ib * s->w - f);
            for (int l = 0; l < nf; l++) {
                dst[l] = xt + ((i - i0) * g->tw + s->pw + j) * g->vb + gi * DEPTHWISE_NCHW_V;
                if (++j == s->w) j = 0, i++;
            }
            depthwise_bwd_w_nchw_transpose(xs + f, hw, nch, nf, dst);
        }
    }
}

/* vec=c's dy (depthwise_bwd_w_tile_dy_fn): the band's positions transposed into dt. */
static void BT_SIMD_NAME(depthwise_bwd_w_nchw_tile_dy)(const bt_shape *s,
                                                       const depthwise_bwd_w_tile_geom *g,
                                                       const bt_tensors *t, int64_t n, int64_t p0,
                                                       int64_t np, int64_t v0, int cbv, float *dt,
                                                       const float **d, int64_t *d_step) {
    const int64_t pq = s->p * s->q;
    float *dst[DEPTHWISE_NCHW_V];
    for (int gi = 0; gi < cbv; gi++) {
        const int64_t c0 = (v0 + gi) * DEPTHWISE_NCHW_V;
        const int nch = (int)bt_min64(DEPTHWISE_NCHW_V, s->c - c0);
        const float *ds = t->dy + (n * s->k + c0) * pq + p0 * s->q;
        for (int64_t f = 0; f < np * s->q; f += DEPTHWISE_NCHW_V) {
            int nf = (int)bt_min64(DEPTHWISE_NCHW_V, np * s->q - f);
            for (int l = 0; l < nf; l++) dst[l] = dt + (f + l) * g->vb + gi * DEPTHWISE_NCHW_V;
            depthwise_bwd_w_nchw_transpose(ds + f, pq, nch, nf, dst);
        }
    }
    *d = dt, *d_step = g->vb;
}

/* Geometry of X: rows p*sh + r*dh (row i + ph of the padded plane), sw phase planes of
 * `width` columns each, wide enough for whole vectors of q. */
typedef struct depthwise_bwd_w_nchw_x_geom {
    int64_t rows, width, plane; /* per phase */
} depthwise_bwd_w_nchw_x_geom;

static depthwise_bwd_w_nchw_x_geom depthwise_bwd_w_nchw_x_geometry(const bt_shape *s) {
    depthwise_bwd_w_nchw_x_geom g;
    int64_t qv = bt_div_up(s->q, DEPTHWISE_NCHW_V) * DEPTHWISE_NCHW_V;
    g.rows = (s->p - 1) * s->sh + (s->r - 1) * s->dh + 1;
    g.width = bt_div_up((qv - 1) * s->sw + (s->s - 1) * s->dw + 1, s->sw);
    g.plane = g.rows * g.width;
    return g;
}

static size_t depthwise_bwd_w_nchw_part_floats(const bt_shape *s) {
    return depthwise_align((size_t)(s->k * (s->r * s->s + 1)) * sizeof(float)) / sizeof(float);
}

/* Flat (see depthwise_nchw_flat): tap (r, s) reads x at one flat shift of the dy position, under a
 * per-(vector, tap) lane mask; no padded copy of x, no lanes wasted on row tails. */
static int depthwise_bwd_w_nchw_flat(const bt_shape *s) {
    return depthwise_nchw_flat(s) && s->r * s->s <= DEPTHWISE_NCHW_TMAX;
}

/* The window kernel (depthwise_bwd_w_nchw_window.h): the flat case with 3x3 taps, no dilation,
 * padding 1. */
static inline int depthwise_bwd_w_window_fits(const bt_shape *s) {
    return DEPTHWISE_NCHW_WINDOW && depthwise_nchw_flat_shape(s) && s->r == 3 && s->s == 3 &&
           s->dh == 1 && s->dw == 1 && s->ph == 1 && s->pw == 1;
}

/* Its lane masks: six per vector and one more. */
static inline int64_t depthwise_bwd_w_window_masks(const bt_shape *s) {
    return bt_div_up(s->h * s->w, DEPTHWISE_NCHW_V) * 6 + 1;
}

/* The phase kernel (depthwise_bwd_w_nchw_window.h): 3x3 at stride 2, padding 1, no dilation, an
 * even image of twice the output, one filter per channel; AVX-512. Its scratch: two staged
 * planes of four phases, and three lane masks per vector and one more. */
static inline int depthwise_bwd_w_phases_fits(const bt_shape *s) {
    return DEPTHWISE_NCHW_DIRECT && s->kg == 1 && s->r == 3 && s->s == 3 && s->sh == 2 &&
           s->sw == 2 && s->ph == 1 && s->pw == 1 && s->dh == 1 && s->dw == 1 && s->h == 2 * s->p &&
           s->w == 2 * s->q;
}

static inline int64_t depthwise_bwd_w_phases_floats(const bt_shape *s) {
    return 8 * s->p * s->q;
}

static inline int64_t depthwise_bwd_w_phases_masks(const bt_shape *s) {
    return 3 * bt_div_up(s->p * s->q, DEPTHWISE_NCHW_V) + 1;
}

static size_t depthwise_bwd_w_nchw_thread_bytes(const bt_shape *s) {
    depthwise_bwd_w_nchw_x_geom g = depthwise_bwd_w_nchw_x_geometry(s);
    if (depthwise_bwd_w_phases_fits(s))
        return depthwise_align((size_t)depthwise_bwd_w_phases_floats(s) * sizeof(float)) +
               depthwise_align((size_t)depthwise_bwd_w_phases_masks(s) * sizeof(uint16_t));
    const int64_t masks = depthwise_bwd_w_window_fits(s) ? bt_max64(depthwise_nchw_flat_masks(s),
                                                                    depthwise_bwd_w_window_masks(s))
                                                         : depthwise_nchw_flat_masks(s);
    return depthwise_align((size_t)(s->sw * g.plane) * sizeof(float)) +
           depthwise_align((size_t)(s->r * s->s) * sizeof(int64_t)) +
           (depthwise_bwd_w_nchw_flat(s) || depthwise_bwd_w_window_fits(s)
                ? depthwise_align((size_t)masks * sizeof(uint16_t))
                : 0);
}

#if DEPTHWISE_NCHW_DIRECT
typedef struct depthwise_bwd_w_nchw_flat_args {
    const float *x, *dy;   /* planes (n, c) and (n, k) */
    const int64_t *off;    /* per tap: flat shift from the dy position to its x */
    const uint16_t *masks; /* [vector][tap] */
    int64_t nvec, taps;
    __mmask16 tail; /* lanes of the plane's last vector */
    float *part;    /* this thread's partial for channel k: [taps + 1] */
    depthwise_pf *pf_x, *pf_dy;
} depthwise_bwd_w_nchw_flat_args;

DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_nchw_flat_plane(const depthwise_bwd_w_nchw_flat_args *a,
                                                           const int T, const int DB) {
    bt_vf acc[DEPTHWISE_NCHW_TMAX], dbv = bt_vzero();
    /* Locals: the cursors' stores would otherwise make every operand reload each vector. */
    const float *xo[DEPTHWISE_NCHW_TMAX];
    depthwise_pf pfx = *a->pf_x, pfd = *a->pf_dy;
    const int64_t nvec = a->nvec, taps = a->taps;
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vzero(), xo[k] = a->x + a->off[k];
    for (int64_t v = 0; v < nvec; v++) {
        depthwise_pf_next(&pfx);
        depthwise_pf_next(&pfd);
        const float *d = a->dy + v * DEPTHWISE_NCHW_V;
        bt_vf dv = v + 1 < nvec ? bt_vload(d) : _mm512_maskz_loadu_ps(a->tail, d);
        if (DB) dbv = bt_vadd(dbv, dv);
        const uint16_t *m = a->masks + v * taps;
#pragma GCC unroll 9
        for (int k = 0; k < T; k++)
            acc[k] = bt_vfmadd(_mm512_maskz_loadu_ps((__mmask16)m[k], xo[k] + v * DEPTHWISE_NCHW_V),
                               dv, acc[k]);
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) a->part[k] += bt_vhsum(acc[k]);
    if (DB) a->part[a->taps] += bt_vhsum(dbv);
}

static void BT_SIMD_NAME(depthwise_bwd_w_nchw_flat_any)(const depthwise_bwd_w_nchw_flat_args *a,
                                                        int db) {
    switch (a->taps * 2 + db) {
#define DEPTHWISE_BWD_W_NCHW_FLAT_CASE(T)                                                          \
    case 2 * T:                                                                                    \
        depthwise_bwd_w_nchw_flat_plane(a, T, 0);                                                  \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        depthwise_bwd_w_nchw_flat_plane(a, T, 1);                                                  \
        break;
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(1)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(2)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(3)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(4)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(5)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(6)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(7)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(8)
        DEPTHWISE_BWD_W_NCHW_FLAT_CASE(9)
#undef DEPTHWISE_BWD_W_NCHW_FLAT_CASE
    }
}

/* The flat case's lane masks, [vector][tap]: the lanes whose x at the tap's shift lies inside
 * the image, in the same row (counted along the plane: no division per lane). */
static void depthwise_bwd_w_nchw_flat_fill_masks(const bt_shape *s, uint16_t *masks) {
    const int64_t taps = s->r * s->s, nvec = bt_div_up(s->h * s->w, DEPTHWISE_NCHW_V);
    memset(masks, 0, (size_t)(nvec * taps) * sizeof(uint16_t));
    for (int64_t f = 0, i = 0, j = 0; i < s->h; f++) { /* position f = (i, j) */
        for (int64_t tap = 0; tap < taps; tap++) {
            const int64_t ti = i + tap / s->s * s->dh - s->ph, tj = j + tap % s->s * s->dw - s->pw;
            if (ti >= 0 && ti < s->h && tj >= 0 && tj < s->w)
                masks[f / DEPTHWISE_NCHW_V * taps + tap] |= (uint16_t)(1u << f % DEPTHWISE_NCHW_V);
        }
        if (++j == s->w) j = 0, i++;
    }
}

static void BT_SIMD_NAME(depthwise_bwd_w_nchw_flat_run)(const bt_plan *plan, const bt_tensors *t,
                                                        float *part, int64_t *off, uint16_t *masks,
                                                        int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s, hw = s->h * s->w;
    depthwise_bwd_w_nchw_flat_args a = {.off = off, .masks = masks, .taps = taps};
    a.nvec = bt_div_up(hw, DEPTHWISE_NCHW_V);
    a.tail = bt_vmask((int)(hw - (a.nvec - 1) * DEPTHWISE_NCHW_V));
    for (int64_t r = 0; r < s->r; r++)
        for (int64_t ks = 0; ks < s->s; ks++)
            off[r * s->s + ks] = (r * s->dh - s->ph) * s->w + ks * s->dw - s->pw;
    depthwise_bwd_w_nchw_flat_fill_masks(s, masks);
    depthwise_pf pf_x, pf_dy;
    a.pf_x = &pf_x;
    a.pf_dy = &pf_dy;
    int with_db = t->db != NULL;
    depthwise_range g =
        depthwise_thread_range((int)plan->param[DEPTHWISE_BWD_W_NCHW_PAR], tid, nthr, s->n, s->k);
    for (int64_t n = g.u0; n < g.u1; n++)
        for (int64_t k = g.c0; k < g.c1; k++) {
            a.x = t->x + (n * s->c + k) * hw;
            a.dy = t->dy + (n * s->k + k) * hw;
            a.part = part + k * (taps + 1);
            /* The next plane pair of this thread, prefetched over this one's vectors. */
            int64_t nn = k + 1 < g.c1 ? n : n + 1, nk = k + 1 < g.c1 ? k + 1 : g.c0;
            int more = nn < g.u1;
            int64_t bytes = hw * (int64_t)sizeof(float);
            pf_x = depthwise_pf_make(more ? t->x + (nn * s->c + nk) * hw : NULL, bytes, a.nvec);
            pf_dy = depthwise_pf_make(more ? t->dy + (nn * s->k + nk) * hw : NULL, bytes, a.nvec);
            BT_SIMD_NAME(depthwise_bwd_w_nchw_flat_any)(&a, with_db);
        }
}
#include "conv/depthwise_bwd_w_nchw_rows.h"
#endif
#if DEPTHWISE_NCHW_WINDOW
#include "conv/depthwise_bwd_w_nchw_window.h"
#endif

typedef struct depthwise_bwd_w_nchw_args {
    const float *x;   /* X of the plane */
    const float *dy;  /* dy plane (n, k) */
    int64_t row_step; /* X floats per output row: sh * width */
    int64_t p, q;     /* output plane */
    bt_vmask_t mask;  /* lanes of the last vector of a dy row */
    float *part;      /* this thread's partial for channel k: [taps + 1] */
    int64_t taps;
    /* The next plane's x and dy in the tensors (NULL: none), prefetched over the rows. */
    const float *pf_x, *pf_dy;
    int64_t pf_x_bytes, pf_dy_bytes;
} depthwise_bwd_w_nchw_args;

/* One vector of positions: acc[k] += X[tap k] * dv, db += dv. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_nchw_step(bt_vf *acc, bt_vf *dbv, bt_vf dv,
                                                     const float *x, const int64_t *toff,
                                                     const int T, const int DB) {
    if (DB) *dbv = bt_vadd(*dbv, dv);
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vfmadd(bt_vload(x + toff[k]), dv, acc[k]);
}

/* part[slots of the chunk] += sum over the plane of X * dy; T taps (+ db) in registers. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_w_nchw_chunk(const depthwise_bwd_w_nchw_args *a,
                                                      const int64_t *toff, int64_t first_slot,
                                                      const int T, const int DB) {
    bt_vf acc[DEPTHWISE_NCHW_TMAX], dbv = bt_vzero();
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vzero();
    const int64_t full = a->q / DEPTHWISE_NCHW_V * DEPTHWISE_NCHW_V;
    for (int64_t p = 0; p < a->p; p++) {
        const float *d = a->dy + p * a->q, *x = a->x + p * a->row_step;
        depthwise_prefetch_slice(a->pf_x, a->pf_x_bytes, p, a->p);
        depthwise_prefetch_slice(a->pf_dy, a->pf_dy_bytes, p, a->p);
        for (int64_t q = 0; q < full; q += DEPTHWISE_NCHW_V)
            depthwise_bwd_w_nchw_step(acc, &dbv, bt_vload(d + q), x + q, toff, T, DB);
        if (full < a->q)
            depthwise_bwd_w_nchw_step(acc, &dbv, bt_vload_mask(d + full, a->mask), x + full, toff,
                                      T, DB);
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) a->part[first_slot + k] += bt_vhsum(acc[k]);
    if (DB) a->part[a->taps] += bt_vhsum(dbv);
}

static void BT_SIMD_NAME(depthwise_bwd_w_nchw_chunk_any)(const depthwise_bwd_w_nchw_args *a,
                                                         const int64_t *toff, int64_t first_slot,
                                                         int ntaps, int db) {
    switch (ntaps * 2 + db) {
#define DEPTHWISE_BWD_W_NCHW_CASE(T)                                                               \
    case 2 * T:                                                                                    \
        depthwise_bwd_w_nchw_chunk(a, toff, first_slot, T, 0);                                     \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        depthwise_bwd_w_nchw_chunk(a, toff, first_slot, T, 1);                                     \
        break;
        DEPTHWISE_BWD_W_NCHW_CASE(1)
        DEPTHWISE_BWD_W_NCHW_CASE(2)
        DEPTHWISE_BWD_W_NCHW_CASE(3)
        DEPTHWISE_BWD_W_NCHW_CASE(4)
        DEPTHWISE_BWD_W_NCHW_CASE(5)
        DEPTHWISE_BWD_W_NCHW_CASE(6)
        DEPTHWISE_BWD_W_NCHW_CASE(7)
        DEPTHWISE_BWD_W_NCHW_CASE(8)
        DEPTHWISE_BWD_W_NCHW_CASE(9)
#undef DEPTHWISE_BWD_W_NCHW_CASE
    }
}

/* Copies x plane (n, c) into X: zero outside the image, column m*sw + phase to plane phase. */
static void BT_SIMD_NAME(depthwise_bwd_w_nchw_fill_x)(const bt_shape *s,
                                                      const depthwise_bwd_w_nchw_x_geom *g,
                                                      const float *x, float *xb, int64_t n,
                                                      int64_t c) {
    const float *plane = x + (n * s->c + c) * s->h * s->w;
    int64_t lead = bt_min64(s->pw, g->width);
    int64_t copy = bt_max64(0, bt_min64(s->w, g->width - s->pw)); /* sw == 1 */
    for (int64_t xi = 0; xi < g->rows; xi++) {
        int64_t i = xi - s->ph;
        for (int64_t phase = 0; phase < s->sw; phase++) {
            float *row = xb + phase * g->plane + xi * g->width;
            if (i < 0 || i >= s->h) {
                memset(row, 0, (size_t)g->width * sizeof(float));
            } else if (s->sw == 1) {
                depthwise_nchw_fill_row(row, g->width, lead, plane + i * s->w, copy);
            } else {
                for (int64_t m = 0; m < g->width; m++) {
                    int64_t j = m * s->sw + phase - s->pw;
                    row[m] = j >= 0 && j < s->w ? plane[i * s->w + j] : 0.0f;
                }
            }
        }
    }
}

static bt_status BT_SIMD_NAME(depthwise_bwd_w_nchw_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DEPTHWISE_BWD_W_NCHW_PAR])
        plan->param[DEPTHWISE_BWD_W_NCHW_PAR] = DEPTHWISE_PAR_2D;
    const int64_t cvecs = depthwise_bwd_w_tile_vectors(s);
    if (!plan->param_given[DEPTHWISE_BWD_W_NCHW_CB])
        plan->param[DEPTHWISE_BWD_W_NCHW_CB] =
            cvecs >= 2 && DEPTHWISE_BWD_W_TILE_TMAX(2) >= bt_min64(s->r * s->s, 9) ? 2 : 1;
    const int64_t cb = plan->param[DEPTHWISE_BWD_W_NCHW_CB];
    const int tile_ok = s->kg == 1 && depthwise_bwd_w_tile_fits(s, cb);
    /* Width vectors where every lane counts: stride 1, rows of 28 or more, up to 9 taps
     * (1.04-1.6x vec=c; one thread, CPU time); 3x3 flat planes from 7 wide, where the window
     * kernel runs (1.2-1.9x vec=c from 7x7 to 56x56, 1.6-1.8x vec=rows at 112x112); and 3x3
     * at stride 2 below 28 outputs wide, where the phase kernel runs (1.1-1.5x vec=c; behind
     * vec=rows from 28 on g144). Both with channels split between threads; 2 threads, medians
     * of 3 interleaved runs (Zen 4, AVX-512; on Zen 3, AVX2, the window kernel ran 1.2-2.1x the
     * default before it from 14x14 to 56x56, 0.9-1.2x at 7x7 and 112x112). Elsewhere vec=c,
     * 1.02-7.1x vec=w (5x5, smaller planes). */
    const int window_leads = (depthwise_bwd_w_window_fits(s) && s->w >= 7) ||
                             (depthwise_bwd_w_phases_fits(s) && s->q < 28);
    const int width_leads =
        window_leads || (s->sh == 1 && s->sw == 1 && s->r * s->s <= 9 && s->w >= 28);
    /* vec=rows, channels split between threads, where it led: 3x3 at stride 2 with outputs 28
     * or more wide (1.3-1.75x; MobileNet-v2, MnasNet, MobileNet-v3, ShuffleNet, EfficientNet's
     * layers); behind on narrower outputs (2 threads, AVX-512, medians of 3 interleaved runs). */
#if DEPTHWISE_NCHW_DIRECT
    const int rows_leads = depthwise_bwd_w_rows_fits(s) && s->sw == 2 && s->q >= 28;
#else
    const int rows_leads = 0;
#endif
    if (!plan->param_given[DEPTHWISE_BWD_W_NCHW_VEC])
        plan->param[DEPTHWISE_BWD_W_NCHW_VEC] = rows_leads ? DEPTHWISE_BWD_W_NCHW_VEC_ROWS
                                                : tile_ok && !width_leads
                                                    ? DEPTHWISE_BWD_W_NCHW_VEC_C
                                                    : DEPTHWISE_BWD_W_NCHW_VEC_W;
    if (!plan->param_given[DEPTHWISE_BWD_W_NCHW_PAR] &&
        (plan->param[DEPTHWISE_BWD_W_NCHW_VEC] == DEPTHWISE_BWD_W_NCHW_VEC_ROWS ||
         (plan->param[DEPTHWISE_BWD_W_NCHW_VEC] == DEPTHWISE_BWD_W_NCHW_VEC_W && window_leads)))
        plan->param[DEPTHWISE_BWD_W_NCHW_PAR] = DEPTHWISE_PAR_C;
    if (plan->param[DEPTHWISE_BWD_W_NCHW_VEC] == DEPTHWISE_BWD_W_NCHW_VEC_ROWS) {
#if DEPTHWISE_NCHW_DIRECT
        if (depthwise_bwd_w_rows_fits(s)) {
            plan->scratch_bytes =
                (size_t)plan->threads * depthwise_bwd_w_nchw_part_floats(s) * sizeof(float);
            return BT_OK;
        }
#endif
        return bt_fail(BT_EUNSUPPORTED,
                       "vec=rows: AVX-512 builds, 3x3 taps without dilation, stride 1 or 2 in "
                       "both directions, outputs up to 128 wide");
    }
    if (plan->param[DEPTHWISE_BWD_W_NCHW_VEC] == DEPTHWISE_BWD_W_NCHW_VEC_C) {
        /* One vector per tile where the 3x3 chunk applies: it loads a third of the x. */
        if (!plan->param_given[DEPTHWISE_BWD_W_NCHW_CB] && depthwise_bwd_w_tile_rows3(s))
            plan->param[DEPTHWISE_BWD_W_NCHW_CB] = 1;
        if (!tile_ok)
            return bt_fail(BT_EUNSUPPORTED, "vec=c: %s",
                           s->kg != 1 ? "channel multiplier 1 only (K = C)"
                                      : "a tile row of this shape would exceed the "
                                        "scratch block bound (padding or dilation "
                                        "much wider than the image)");
        depthwise_bwd_w_tile_geom g =
            depthwise_bwd_w_tile_geometry(s, plan->param[DEPTHWISE_BWD_W_NCHW_CB]);
        plan->scratch_bytes = (size_t)plan->threads * depthwise_bwd_w_tile_thread_bytes(s, &g);
        return BT_OK;
    }
    plan->scratch_bytes =
        (size_t)plan->threads * (depthwise_bwd_w_nchw_part_floats(s) * sizeof(float) +
                                 depthwise_bwd_w_nchw_thread_bytes(s));
    return BT_OK;
}

static void BT_SIMD_NAME(depthwise_bwd_w_nchw_run)(const bt_plan *plan, const bt_tensors *t,
                                                   int tid, int nthr) {
    if (plan->param[DEPTHWISE_BWD_W_NCHW_VEC] == DEPTHWISE_BWD_W_NCHW_VEC_C) {
        BT_SIMD_NAME(depthwise_bwd_w_tile_run)
        (plan, t, (int)plan->param[DEPTHWISE_BWD_W_NCHW_PAR], plan->param[DEPTHWISE_BWD_W_NCHW_CB],
         BT_SIMD_NAME(depthwise_bwd_w_nchw_tile_fill_x), BT_SIMD_NAME(depthwise_bwd_w_nchw_tile_dy),
         tid, nthr);
        return;
    }
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s;
    const depthwise_bwd_w_nchw_x_geom g = depthwise_bwd_w_nchw_x_geometry(s);
    const size_t part_floats = depthwise_bwd_w_nchw_part_floats(s);
    float *parts = (float *)plan->scratch, *part = parts + (size_t)tid * part_floats;
#if DEPTHWISE_NCHW_DIRECT
    if (plan->param[DEPTHWISE_BWD_W_NCHW_VEC] == DEPTHWISE_BWD_W_NCHW_VEC_ROWS) {
        memset(part, 0, part_floats * sizeof(float));
        BT_SIMD_NAME(depthwise_bwd_w_rows_run)
        (plan, t, (int)plan->param[DEPTHWISE_BWD_W_NCHW_PAR], part, tid, nthr);
        depthwise_barrier(nthr);
        depthwise_reduce_partials(s, t, parts, part_floats, 1, tid, nthr);
        return;
    }
#endif
    char *mine = (char *)plan->scratch + (size_t)plan->threads * part_floats * sizeof(float) +
                 (size_t)tid * depthwise_bwd_w_nchw_thread_bytes(s);
    float *xb = (float *)mine;
#if DEPTHWISE_NCHW_DIRECT
    if (depthwise_bwd_w_phases_fits(s)) {
        memset(part, 0, part_floats * sizeof(float));
        BT_SIMD_NAME(depthwise_bwd_w_phases_run)
        (plan, t, (int)plan->param[DEPTHWISE_BWD_W_NCHW_PAR], part, xb,
         (uint16_t *)(mine +
                      depthwise_align((size_t)depthwise_bwd_w_phases_floats(s) * sizeof(float))),
         tid, nthr);
        depthwise_barrier(nthr);
        depthwise_reduce_partials(s, t, parts, part_floats, 1, tid, nthr);
        return;
    }
#endif
    int64_t *toff = (int64_t *)(mine + depthwise_align((size_t)(s->sw * g.plane) * sizeof(float)));
    memset(part, 0, part_floats * sizeof(float));
#if DEPTHWISE_NCHW_WINDOW
    if (depthwise_bwd_w_nchw_flat(s) || depthwise_bwd_w_window_fits(s)) {
        uint16_t *fmasks =
            (uint16_t *)((char *)toff + depthwise_align((size_t)taps * sizeof(int64_t)));
        if (depthwise_bwd_w_window_fits(s)) {
            BT_SIMD_NAME(depthwise_bwd_w_window_run)
            (plan, t, (int)plan->param[DEPTHWISE_BWD_W_NCHW_PAR], part, fmasks, tid, nthr);
        } else {
#if DEPTHWISE_NCHW_DIRECT
            BT_SIMD_NAME(depthwise_bwd_w_nchw_flat_run)(plan, t, part, toff, fmasks, tid, nthr);
#endif
        }
        depthwise_barrier(nthr);
        depthwise_reduce_partials(s, t, parts, part_floats, 1, tid, nthr);
        return;
    }
#endif
    /* Tap (r, s) at output row 0: row r*dh of the phase plane of column s*dw. */
    for (int64_t kr = 0; kr < s->r; kr++)
        for (int64_t ks = 0; ks < s->s; ks++)
            toff[kr * s->s + ks] =
                (ks * s->dw) % s->sw * g.plane + kr * s->dh * g.width + ks * s->dw / s->sw;

    depthwise_bwd_w_nchw_args a = {
        .x = xb, .row_step = s->sh * g.width, .p = s->p, .q = s->q, .taps = taps};
    a.mask = bt_vmask((int)(s->q - (bt_div_up(s->q, DEPTHWISE_NCHW_V) - 1) * DEPTHWISE_NCHW_V));
    int with_db = t->db != NULL;
    const int64_t pq = s->p * s->q, hw = s->h * s->w;
    depthwise_range r =
        depthwise_thread_range((int)plan->param[DEPTHWISE_BWD_W_NCHW_PAR], tid, nthr, s->n, s->k);
    for (int64_t n = r.u0; n < r.u1; n++) {
        int64_t filled = -1;
        for (int64_t k = r.c0; k < r.c1; k++) {
            if (k / s->kg != filled) {
                filled = k / s->kg;
                BT_SIMD_NAME(depthwise_bwd_w_nchw_fill_x)(s, &g, t->x, xb, n, filled);
            }
            a.dy = t->dy + (n * s->k + k) * pq;
            a.part = part + k * (taps + 1);
            /* Next (n, k) of this thread; its x plane only when the channel changes. */
            int64_t nn = k + 1 < r.c1 ? n : n + 1, nk = k + 1 < r.c1 ? k + 1 : r.c0;
            int more = nn < r.u1, new_x = more && (nn != n || nk / s->kg != k / s->kg);
            a.pf_dy = more ? t->dy + (nn * s->k + nk) * pq : NULL;
            a.pf_dy_bytes = pq * (int64_t)sizeof(float);
            a.pf_x = new_x ? t->x + (nn * s->c + nk / s->kg) * hw : NULL;
            a.pf_x_bytes = hw * (int64_t)sizeof(float);
            for (int64_t k0 = 0; k0 < taps; k0 += DEPTHWISE_NCHW_TMAX) {
                int nt = (int)bt_min64(DEPTHWISE_NCHW_TMAX, taps - k0);
                BT_SIMD_NAME(depthwise_bwd_w_nchw_chunk_any)
                (&a, toff + k0, k0, nt, with_db && k0 == 0);
                a.pf_x = a.pf_dy = NULL;
            }
        }
    }
    depthwise_barrier(nthr);
    depthwise_reduce_partials(s, t, parts, part_floats, 1, tid, nthr);
}

static int BT_SIMD_NAME(depthwise_bwd_w_nchw_supports)(const bt_shape *s, char *why, size_t size) {
    if (!BT_SIMD_NAME(depthwise_nchw_supports)(s, why, size)) return 0;
    double qv = (double)(bt_div_up(s->q, DEPTHWISE_NCHW_V) *
                         DEPTHWISE_NCHW_V); /* depthwise_bwd_w_nchw_x_geometry */
    double rows = (double)(s->p - 1) * (double)s->sh + (double)((s->r - 1) * s->dh + 1);
    double width = ((qv - 1) * (double)s->sw + (double)((s->s - 1) * s->dw) + 1) / (double)s->sw;
    return BT_SIMD_NAME(depthwise_nchw_copy_fits)(s, (double)s->sw * rows * (width + 1), why, size);
}

BT_DEFINE_SIMD_VARIANT(conv_bwd_w, depthwise_nchw, .layouts = BT_TAKES_NCHW,
                       .params = BT_SIMD_NAME(depthwise_bwd_w_nchw_params),
                       .supports = BT_SIMD_NAME(depthwise_bwd_w_nchw_supports),
                       .prepare = BT_SIMD_NAME(depthwise_bwd_w_nchw_prepare),
                       .run = BT_SIMD_NAME(depthwise_bwd_w_nchw_run));

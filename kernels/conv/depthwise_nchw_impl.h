/* Depthwise convolution backward in NCHW, vectorised over width: a template instantiated once
 * per ISA by depthwise_nchw_{avx512,avx2,scalar}.c (see common/simd.h; no include guard).
 * Takes one input channel per group with any channel multiplier kg = K/C, any stride,
 * padding and dilation. Each plane is copied once into a per-thread buffer laid out so that
 * every tap becomes a contiguous, unconditional vector load:
 *
 * bwd_data: the dy planes of cb channels (times kg) are spread into U, zero-padded and
 * zero-upsampled by the stride: U[p][L + q*sw] = dy[p][q], zero elsewhere. Then
 * dx[i][j..j+V) = sum over rows r with an exact p, and all s, of w[r,s] * U[p][j + pw + L -
 * s*dw ..], shifted loads with a broadcast weight (a stride > 1 multiplies some zeros in the
 * width direction: simpler than phase bookkeeping, and the stride-2 layers are few). A tile
 * of cb channels x jb vectors accumulates in registers over the tap list.
 *
 * bwd_weights: each x plane becomes X, zero-padded in both directions and split by column
 * phase (column m*sw + phase in plane `phase`), so tap (r,s) at output row p reads the
 * contiguous run X_phase(s)[p*sh + r*dh][q + (s*dw)/sw ..]. Chunks of up to 9 taps (+ db)
 * accumulate in registers over the plane, are summed across lanes, and added to this thread's
 * partial dW; after a barrier the partials are summed in thread order.
 *
 * Threads form a grid over samples x channels (par).
 */
#include "common/simd.h"
#include "conv/depthwise_common.h"

#include <string.h>

#if defined(BT_SIMD_AVX512)
#define DWC_NREG 32
#define DWC_CB_TUNE "2|4|6"
#else
#define DWC_NREG 16
#define DWC_CB_TUNE "2|3"
#endif

#define DWC_V BT_VLEN
#define DWC_JB_MAX 4
#define DWC_CB_MAX 8
#define DWC_ACC_MAX (DWC_NREG * 3 / 4)
#define DWC_TMAX 9
#define DWC_INLINE static inline __attribute__((always_inline))

static int BT_SIMD_NAME(dwc_supports)(const bt_shape *s, char *why, size_t size) {
    return dw_supports(s, BT_NCHW, 1, why, size);
}

/* ---------------------------------------------------------------------------------------- */
/* bwd_data                                                                                  */

enum { DWC_D_PAR, DWC_D_JB, DWC_D_CB };

static const bt_param_spec BT_SIMD_NAME(dwc_d_params)[] = {
    {.key = "par", .choices = dw_par_choices},
    {.key = "jb", .min = 1, .max = DWC_JB_MAX, .tune = "2|4"},
    {.key = "cb", .min = 1, .max = DWC_CB_MAX, .tune = DWC_CB_TUNE},
    {0}};

/* Geometry of U: left pad L so that every read index is >= 0, width covering whole vectors. */
typedef struct dwc_u_geom {
    int64_t lead, width, plane; /* L, UW, P * UW */
} dwc_u_geom;

static dwc_u_geom dwc_u_geometry(const bt_shape *s) {
    dwc_u_geom g;
    g.lead = bt_max64(0, (s->s - 1) * s->dw - s->pw);
    g.width = bt_div_up(s->w, DWC_V) * DWC_V + s->pw + g.lead;
    g.plane = s->p * g.width;
    return g;
}

static size_t dwc_d_thread_bytes(const bt_shape *s, int64_t cb) {
    dwc_u_geom g = dwc_u_geometry(s);
    return dw_align((size_t)(cb * s->kg * g.plane) * sizeof(float)) +
           dw_align((size_t)(cb * s->kg * s->r * s->s) * sizeof(float)) +
           dw_align((size_t)(2 * s->kg * s->r * s->s) * sizeof(int64_t));
}

typedef struct dwc_d_args {
    const float *u;             /* U of the tile's first channel */
    int64_t u_chan;             /* floats between channels in U: kg planes */
    const float *wg;            /* the tile's weights, [m][r][s][channel] */
    const int64_t *uoff, *woff; /* per tap: offset in a channel's U, offset in wg */
    int ntaps;
    float *dx;       /* dx row i of the tile's first channel */
    int64_t dx_chan; /* H * W */
    int64_t nvec;    /* vectors per row; the last is masked when W % V != 0 */
    bt_vmask_t mask;
    int partial, accumulate;
} dwc_d_args;

/* dx[CB channels][JB vectors from vector j0] (+)= sum over taps of w * U. */
DWC_INLINE void dwc_d_tile(const dwc_d_args *a, int64_t j0, const int CB, const int JB) {
    if (CB * JB > DWC_ACC_MAX) return; /* prepare() never asks: no code for it */
    bt_vf acc[DWC_CB_MAX][DWC_JB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) acc[c][j] = bt_vzero();
    const int64_t col = j0 * DWC_V;
    /* One base pointer per channel and the tap as an index: CB address registers, the
     * vector and the weight's channel are displacements. */
    const float *pos[DWC_CB_MAX];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) pos[c] = a->u + c * a->u_chan + col;
    for (int tap = 0; tap < a->ntaps; tap++) {
        const int64_t uo = a->uoff[tap];
        const float *w = a->wg + a->woff[tap];
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            bt_vf wv = bt_vbcast(w + c);
#pragma GCC unroll 4
            for (int j = 0; j < JB; j++)
                acc[c][j] = bt_vfmadd(wv, bt_vload(pos[c] + uo + j * DWC_V), acc[c][j]);
        }
    }
    const int last_partial = a->partial && j0 + JB == a->nvec;
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) {
            float *dst = a->dx + c * a->dx_chan + col + j * DWC_V;
            if (j == JB - 1 && last_partial) {
                bt_vf r =
                    a->accumulate ? bt_vadd(bt_vload_mask(dst, a->mask), acc[c][j]) : acc[c][j];
                bt_vstore_mask(dst, a->mask, r);
            } else {
                bt_vstore(dst, a->accumulate ? bt_vadd(bt_vload(dst), acc[c][j]) : acc[c][j]);
            }
        }
}

DWC_INLINE void dwc_d_row_cb(const dwc_d_args *a, int jb, const int CB) {
    int64_t j = 0;
    for (; j < a->nvec; j += jb) {
        int n = (int)bt_min64(jb, a->nvec - j);
        switch (n) {
        case 1:
            dwc_d_tile(a, j, CB, 1);
            break;
        case 2:
            dwc_d_tile(a, j, CB, 2);
            break;
        case 3:
            dwc_d_tile(a, j, CB, 3);
            break;
        default:
            dwc_d_tile(a, j, CB, 4);
            break;
        }
    }
}

/* One dx row of cb channels. */
static void BT_SIMD_NAME(dwc_d_row)(const dwc_d_args *a, int jb, int cb) {
    switch (cb) {
#define DWC_D_CASE(C)                                                                              \
    case C:                                                                                        \
        dwc_d_row_cb(a, jb, C);                                                                    \
        break;
        DWC_D_CASE(1)
        DWC_D_CASE(2)
        DWC_D_CASE(3)
        DWC_D_CASE(4)
        DWC_D_CASE(5)
        DWC_D_CASE(6)
        DWC_D_CASE(7)
        DWC_D_CASE(8)
#undef DWC_D_CASE
    }
}

static bt_status BT_SIMD_NAME(dwc_d_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DWC_D_PAR]) plan->param[DWC_D_PAR] = DW_PAR_2D;
    if (!plan->param_given[DWC_D_JB])
        plan->param[DWC_D_JB] = bt_min64(DWC_JB_MAX, bt_div_up(s->w, DWC_V));
    if (!plan->param_given[DWC_D_CB]) {
        /* Fill the accumulator registers, keeping the tile's U planes within half of L2. */
        int64_t cb = bt_min64(DWC_CB_MAX, DWC_ACC_MAX / plan->param[DWC_D_JB]);
        while (cb > 1 && (int64_t)dwc_d_thread_bytes(s, cb) > bt_machine_get()->l2_bytes / 2) cb--;
        plan->param[DWC_D_CB] = bt_max64(1, bt_min64(cb, s->c));
    }
    if (plan->param[DWC_D_JB] * plan->param[DWC_D_CB] > DWC_ACC_MAX)
        return bt_fail(BT_EINVAL, "%s: jb*cb = %lld exceeds the %d accumulator registers",
                       plan->variant->name,
                       (long long)(plan->param[DWC_D_JB] * plan->param[DWC_D_CB]), DWC_ACC_MAX);
    plan->scratch_bytes = (size_t)plan->threads * dwc_d_thread_bytes(s, plan->param[DWC_D_CB]);
    return BT_OK;
}

/* Spreads the dy planes of channels [c, c + nc) (kg planes each) of sample n into U. */
static void BT_SIMD_NAME(dwc_d_fill_u)(const bt_shape *s, const dwc_u_geom *g, const float *dy,
                                       float *u, int64_t n, int64_t c, int64_t nc) {
    int64_t copy = bt_max64(0, bt_min64(s->q, g->width - g->lead)); /* sw == 1 */
    for (int64_t k = c * s->kg; k < (c + nc) * s->kg; k++)
        for (int64_t p = 0; p < s->p; p++) {
            const float *src = dy + ((n * s->k + k) * s->p + p) * s->q;
            float *row = u + (k - c * s->kg) * g->plane + p * g->width;
            if (s->sw == 1) {
                memset(row, 0, (size_t)g->lead * sizeof(float));
                memcpy(row + g->lead, src, (size_t)copy * sizeof(float));
                memset(row + g->lead + copy, 0,
                       (size_t)(g->width - g->lead - copy) * sizeof(float));
            } else {
                memset(row, 0, (size_t)g->width * sizeof(float));
                for (int64_t q = 0; q < s->q && g->lead + q * s->sw < g->width; q++)
                    row[g->lead + q * s->sw] = src[q];
            }
        }
}

static void BT_SIMD_NAME(dwc_d_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s;
    const int jb = (int)plan->param[DWC_D_JB], cb = (int)plan->param[DWC_D_CB];
    const dwc_u_geom g = dwc_u_geometry(s);
    char *mine = (char *)plan->scratch + (size_t)tid * dwc_d_thread_bytes(s, cb);
    float *u = (float *)mine;
    float *wg = (float *)(mine + dw_align((size_t)(cb * s->kg * g.plane) * sizeof(float)));
    int64_t *uoff = (int64_t *)((char *)wg + dw_align((size_t)(cb * s->kg * taps) * sizeof(float)));
    int64_t *woff = uoff + s->kg * taps;

    dwc_d_args a = {.u = u,
                    .u_chan = s->kg * g.plane,
                    .wg = wg,
                    .uoff = uoff,
                    .woff = woff,
                    .dx_chan = s->h * s->w,
                    .nvec = bt_div_up(s->w, DWC_V),
                    .accumulate = s->accumulate};
    a.partial = s->w % DWC_V != 0;
    a.mask = bt_vmask((int)(s->w - (a.nvec - 1) * DWC_V));
    dw_range r = dw_thread_range((int)plan->param[DWC_D_PAR], tid, nthr, s->n, s->c);
    for (int64_t n = r.u0; n < r.u1; n++)
        for (int64_t c = r.c0; c < r.c1; c += cb) {
            int nc = (int)bt_min64(cb, r.c1 - c);
            BT_SIMD_NAME(dwc_d_fill_u)(s, &g, t->dy, u, n, c, nc);
            for (int64_t tap = 0; tap < s->kg * taps; tap++)
                for (int cl = 0; cl < nc; cl++)
                    wg[tap * nc + cl] = t->w[(c + cl) * s->kg * taps + tap];
            for (int64_t i = 0; i < s->h; i++) {
                /* Taps reaching row i: (m, r, s) with p = (i + ph - r*dh) / sh exact. */
                int ntaps = 0;
                for (int64_t m = 0; m < s->kg; m++)
                    for (int64_t kr = 0; kr < s->r; kr++) {
                        int64_t num = i + s->ph - kr * s->dh;
                        if (num < 0 || num % s->sh || num / s->sh >= s->p) continue;
                        for (int64_t ks = 0; ks < s->s; ks++) {
                            uoff[ntaps] =
                                (m * s->p + num / s->sh) * g.width + s->pw + g.lead - ks * s->dw;
                            woff[ntaps] = (m * taps + kr * s->s + ks) * nc;
                            ntaps++;
                        }
                    }
                a.ntaps = ntaps;
                a.dx = t->dx + ((n * s->c + c) * s->h + i) * s->w;
                BT_SIMD_NAME(dwc_d_row)(&a, jb, nc);
            }
        }
}

/* ---------------------------------------------------------------------------------------- */
/* bwd_weights                                                                               */

enum { DWC_W_PAR };

static const bt_param_spec BT_SIMD_NAME(dwc_w_params)[] = {
    {.key = "par", .choices = dw_par_choices}, {0}};

/* Geometry of X: rows p*sh + r*dh (row i + ph of the padded plane), sw phase planes of
 * `width` columns each, wide enough for whole vectors of q. */
typedef struct dwc_x_geom {
    int64_t rows, width, plane; /* per phase */
} dwc_x_geom;

static dwc_x_geom dwc_x_geometry(const bt_shape *s) {
    dwc_x_geom g;
    int64_t qv = bt_div_up(s->q, DWC_V) * DWC_V;
    g.rows = (s->p - 1) * s->sh + (s->r - 1) * s->dh + 1;
    g.width = bt_div_up((qv - 1) * s->sw + (s->s - 1) * s->dw + 1, s->sw);
    g.plane = g.rows * g.width;
    return g;
}

static size_t dwc_w_part_floats(const bt_shape *s) {
    return dw_align((size_t)(s->k * (s->r * s->s + 1)) * sizeof(float)) / sizeof(float);
}

static size_t dwc_w_thread_bytes(const bt_shape *s) {
    dwc_x_geom g = dwc_x_geometry(s);
    return dw_align((size_t)(s->sw * g.plane) * sizeof(float)) +
           dw_align((size_t)(s->r * s->s) * sizeof(int64_t));
}

typedef struct dwc_w_args {
    const float *x;   /* X of the plane */
    const float *dy;  /* dy plane (n, k) */
    int64_t row_step; /* X floats per output row: sh * width */
    int64_t p, q;     /* output plane */
    bt_vmask_t mask;  /* lanes of the last vector of a dy row */
    float *part;      /* this thread's partial for channel k: [taps + 1] */
    int64_t taps;
} dwc_w_args;

/* One vector of positions: acc[k] += X[tap k] * dv, db += dv. */
DWC_INLINE void dwc_w_step(bt_vf *acc, bt_vf *dbv, bt_vf dv, const float *x, const int64_t *toff,
                           const int T, const int DB) {
    if (DB) *dbv = bt_vadd(*dbv, dv);
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vfmadd(bt_vload(x + toff[k]), dv, acc[k]);
}

/* part[slots of the chunk] += sum over the plane of X * dy; T taps (+ db) in registers. */
DWC_INLINE void dwc_w_chunk(const dwc_w_args *a, const int64_t *toff, int64_t first_slot,
                            const int T, const int DB) {
    bt_vf acc[DWC_TMAX], dbv = bt_vzero();
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) acc[k] = bt_vzero();
    const int64_t full = a->q / DWC_V * DWC_V;
    for (int64_t p = 0; p < a->p; p++) {
        const float *d = a->dy + p * a->q, *x = a->x + p * a->row_step;
        for (int64_t q = 0; q < full; q += DWC_V)
            dwc_w_step(acc, &dbv, bt_vload(d + q), x + q, toff, T, DB);
        if (full < a->q)
            dwc_w_step(acc, &dbv, bt_vload_mask(d + full, a->mask), x + full, toff, T, DB);
    }
#pragma GCC unroll 9
    for (int k = 0; k < T; k++) a->part[first_slot + k] += bt_vhsum(acc[k]);
    if (DB) a->part[a->taps] += bt_vhsum(dbv);
}

static void BT_SIMD_NAME(dwc_w_chunk_any)(const dwc_w_args *a, const int64_t *toff,
                                          int64_t first_slot, int ntaps, int db) {
    switch (ntaps * 2 + db) {
#define DWC_W_CASE(T)                                                                              \
    case 2 * T:                                                                                    \
        dwc_w_chunk(a, toff, first_slot, T, 0);                                                    \
        break;                                                                                     \
    case 2 * T + 1:                                                                                \
        dwc_w_chunk(a, toff, first_slot, T, 1);                                                    \
        break;
        DWC_W_CASE(1)
        DWC_W_CASE(2)
        DWC_W_CASE(3)
        DWC_W_CASE(4)
        DWC_W_CASE(5)
        DWC_W_CASE(6)
        DWC_W_CASE(7)
        DWC_W_CASE(8)
        DWC_W_CASE(9)
#undef DWC_W_CASE
    }
}

/* Copies x plane (n, c) into X: zero outside the image, column m*sw + phase to plane phase. */
static void BT_SIMD_NAME(dwc_w_fill_x)(const bt_shape *s, const dwc_x_geom *g, const float *x,
                                       float *xb, int64_t n, int64_t c) {
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
                memset(row, 0, (size_t)lead * sizeof(float));
                memcpy(row + lead, plane + i * s->w, (size_t)copy * sizeof(float));
                memset(row + lead + copy, 0, (size_t)(g->width - lead - copy) * sizeof(float));
            } else {
                for (int64_t m = 0; m < g->width; m++) {
                    int64_t j = m * s->sw + phase - s->pw;
                    row[m] = j >= 0 && j < s->w ? plane[i * s->w + j] : 0.0f;
                }
            }
        }
    }
}

static bt_status BT_SIMD_NAME(dwc_w_prepare)(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    if (!plan->param_given[DWC_W_PAR]) plan->param[DWC_W_PAR] = DW_PAR_2D;
    plan->scratch_bytes =
        (size_t)plan->threads * (dwc_w_part_floats(s) * sizeof(float) + dwc_w_thread_bytes(s));
    return BT_OK;
}

static void BT_SIMD_NAME(dwc_w_run)(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t taps = s->r * s->s;
    const dwc_x_geom g = dwc_x_geometry(s);
    const size_t part_floats = dwc_w_part_floats(s);
    float *parts = (float *)plan->scratch, *part = parts + (size_t)tid * part_floats;
    char *mine = (char *)plan->scratch + (size_t)plan->threads * part_floats * sizeof(float) +
                 (size_t)tid * dwc_w_thread_bytes(s);
    float *xb = (float *)mine;
    int64_t *toff = (int64_t *)(mine + dw_align((size_t)(s->sw * g.plane) * sizeof(float)));
    memset(part, 0, part_floats * sizeof(float));
    /* Tap (r, s) at output row 0: row r*dh of the phase plane of column s*dw. */
    for (int64_t kr = 0; kr < s->r; kr++)
        for (int64_t ks = 0; ks < s->s; ks++)
            toff[kr * s->s + ks] =
                (ks * s->dw) % s->sw * g.plane + kr * s->dh * g.width + ks * s->dw / s->sw;

    dwc_w_args a = {.x = xb, .row_step = s->sh * g.width, .p = s->p, .q = s->q, .taps = taps};
    a.mask = bt_vmask((int)(s->q - (bt_div_up(s->q, DWC_V) - 1) * DWC_V));
    int with_db = t->db != NULL;
    dw_range r = dw_thread_range((int)plan->param[DWC_W_PAR], tid, nthr, s->n, s->k);
    for (int64_t n = r.u0; n < r.u1; n++) {
        int64_t filled = -1;
        for (int64_t k = r.c0; k < r.c1; k++) {
            if (k / s->kg != filled) {
                filled = k / s->kg;
                BT_SIMD_NAME(dwc_w_fill_x)(s, &g, t->x, xb, n, filled);
            }
            a.dy = t->dy + (n * s->k + k) * s->p * s->q;
            a.part = part + k * (taps + 1);
            for (int64_t k0 = 0; k0 < taps; k0 += DWC_TMAX) {
                int nt = (int)bt_min64(DWC_TMAX, taps - k0);
                BT_SIMD_NAME(dwc_w_chunk_any)(&a, toff + k0, k0, nt, with_db && k0 == 0);
            }
        }
    }
    dw_barrier(nthr);
    dw_reduce_partials(s, t, parts, part_floats, 1, tid, nthr);
}

/* ---------------------------------------------------------------------------------------- */

const bt_variant BT_SIMD_NAME(bt_variant_conv_bwd_d__depthwise_nchw) = {
    .name = BT_SIMD_STR(BT_SIMD_NAME(conv_bwd_d__depthwise_nchw)),
    .op = BT_CONV_BWD_DATA,
    .isa = BT_ISA_THIS,
    .priority = 15 + 10 * BT_ISA_THIS,
    .params = BT_SIMD_NAME(dwc_d_params),
    .supports = BT_SIMD_NAME(dwc_supports),
    .prepare = BT_SIMD_NAME(dwc_d_prepare),
    .run = BT_SIMD_NAME(dwc_d_run)};

const bt_variant BT_SIMD_NAME(bt_variant_conv_bwd_w__depthwise_nchw) = {
    .name = BT_SIMD_STR(BT_SIMD_NAME(conv_bwd_w__depthwise_nchw)),
    .op = BT_CONV_BWD_WEIGHTS,
    .isa = BT_ISA_THIS,
    .priority = 15 + 10 * BT_ISA_THIS,
    .params = BT_SIMD_NAME(dwc_w_params),
    .supports = BT_SIMD_NAME(dwc_supports),
    .prepare = BT_SIMD_NAME(dwc_w_prepare),
    .run = BT_SIMD_NAME(dwc_w_run)};

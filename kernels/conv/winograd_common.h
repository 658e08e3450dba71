/* Winograd F(m x m, 3 x 3) for the 3x3, stride-1, undilated convolutions (winograd_impl.h),
 * the parts independent of the ISA: the transform matrices, the parameters, the geometry
 * and the numerics.
 *
 * The minimal filtering algorithm F(m, 3) (Lavin & Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016; Toom-Cook with the points 0, +-1, +-2, +-1/2 and infinity) computes
 * m outputs of the correlation y[i] = sum_j d[i + j] g[j] (i < m, j < 3) from alpha = m + 2
 * inputs with alpha multiplications:
 *     y = AT [(G g) . (BT d)]          (AT: m x alpha, G: alpha x 3, BT: alpha x alpha)
 * nested for 2-D tiles: Y = AT [(G g GT) . (BT d B)] A. Both gradients are such correlations:
 *   bwd_data: dx[i, j] = sum_{r,s} dy[i + ph - 2 + r, j + pw - 2 + s] w[2 - r, 2 - s], the
 *     correlation of dy (zero outside [0, P) x [0, Q)) with the kernel turned by 180 degrees,
 *     C and K swapped: d is a dy tile, g the turned kernel, Y an m x m tile of dx;
 *   bwd_weights: the gradient of the same bilinear form in g,
 *     dw[r, s] = sum_{a,b < m} dy[a, b] x[a + r, b + s] = GT [(A dy AT) . (BT x B)] G
 *     for every m x m tile of dy and its alpha x alpha tile of x, so the sum over tiles and
 *     the batch is taken in the transform domain and G is applied once at the end.
 * The matrices were derived by Toom-Cook from the points above (fractions in G) and
 * tests/test_winograd.c checks every identity against the direct correlation in double.
 *
 * Numerics: the transforms multiply values by up to 21/4 (BT) and 32 (AT) before the
 * rounding of the channel sums, so the error grows with m. bt_winograd_error_factor says by
 * how much the bound of kernels/check/check.h is widened for each m (docs/winograd.md). */
#ifndef BT_WINOGRAD_COMMON_H
#define BT_WINOGRAD_COMMON_H

#include "internal.h"

#define WINO_ALPHA_MAX 8 /* m + 2 for the largest m */
#define WINO_M_MAX 6

/* The `m` parameter's choices (the output tile is m x m). */
extern const char *const bt_wino_m_choices[];
static inline int wino_m_of(int64_t choice) {
    return 2 * (int)choice + 2;
}

/* AT (m x alpha), G (alpha x 3) and BT (alpha x alpha) per m, zero-extended to 8 x 8 so the
 * template indexes them with compile-time m and constants fold (the zero entries vanish). */
#define WINO_F(num, den) ((float)(num) / (float)(den))
static const float wino_at2[WINO_ALPHA_MAX][WINO_ALPHA_MAX] = {{1, 1, 1, 0}, {0, 1, -1, 1}};
static const float wino_g2[WINO_ALPHA_MAX][3] = {{1, 0, 0},
                                                 {WINO_F(1, 2), WINO_F(1, 2), WINO_F(1, 2)},
                                                 {WINO_F(1, 2), WINO_F(-1, 2), WINO_F(1, 2)},
                                                 {0, 0, 1}};
static const float wino_bt2[WINO_ALPHA_MAX][WINO_ALPHA_MAX] = {
    {1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, -1, 0, 1}};

static const float wino_at4[WINO_ALPHA_MAX][WINO_ALPHA_MAX] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
static const float wino_g4[WINO_ALPHA_MAX][3] = {{WINO_F(1, 4), 0, 0},
                                                 {WINO_F(1, 6), WINO_F(1, 6), WINO_F(1, 6)},
                                                 {WINO_F(1, 6), WINO_F(-1, 6), WINO_F(1, 6)},
                                                 {WINO_F(1, 24), WINO_F(1, 12), WINO_F(1, 6)},
                                                 {WINO_F(1, 24), WINO_F(-1, 12), WINO_F(1, 6)},
                                                 {0, 0, 1}};
static const float wino_bt4[WINO_ALPHA_MAX][WINO_ALPHA_MAX] = {
    {4, 0, -5, 0, 1, 0},  {0, 4, 4, -1, -1, 0}, {0, -4, 4, 1, -1, 0},
    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};

static const float wino_at6[WINO_ALPHA_MAX][WINO_ALPHA_MAX] = {
    {1, 1, 1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, WINO_F(1, 2), WINO_F(-1, 2), 0},
    {0, 1, 1, 4, 4, WINO_F(1, 4), WINO_F(1, 4), 0},
    {0, 1, -1, 8, -8, WINO_F(1, 8), WINO_F(-1, 8), 0},
    {0, 1, 1, 16, 16, WINO_F(1, 16), WINO_F(1, 16), 0},
    {0, 1, -1, 32, -32, WINO_F(1, 32), WINO_F(-1, 32), 1}};
static const float wino_g6[WINO_ALPHA_MAX][3] = {{1, 0, 0},
                                                 {WINO_F(2, 9), WINO_F(2, 9), WINO_F(2, 9)},
                                                 {WINO_F(2, 9), WINO_F(-2, 9), WINO_F(2, 9)},
                                                 {WINO_F(1, 90), WINO_F(1, 45), WINO_F(2, 45)},
                                                 {WINO_F(1, 90), WINO_F(-1, 45), WINO_F(2, 45)},
                                                 {WINO_F(32, 45), WINO_F(16, 45), WINO_F(8, 45)},
                                                 {WINO_F(32, 45), WINO_F(-16, 45), WINO_F(8, 45)},
                                                 {0, 0, 1}};
static const float wino_bt6[WINO_ALPHA_MAX][WINO_ALPHA_MAX] = {
    {1, 0, WINO_F(-21, 4), 0, WINO_F(21, 4), 0, -1, 0},
    {0, -1, -1, WINO_F(17, 4), WINO_F(17, 4), -1, -1, 0},
    {0, 1, -1, WINO_F(-17, 4), WINO_F(17, 4), 1, -1, 0},
    {0, WINO_F(1, 2), WINO_F(1, 4), WINO_F(-5, 2), WINO_F(-5, 4), 2, 1, 0},
    {0, WINO_F(-1, 2), WINO_F(1, 4), WINO_F(5, 2), WINO_F(-5, 4), -2, 1, 0},
    {0, 2, 4, WINO_F(-5, 2), -5, WINO_F(1, 2), 1, 0},
    {0, -2, 4, WINO_F(5, 2), -5, WINO_F(-1, 2), 1, 0},
    {0, -1, 0, WINO_F(21, 4), 0, WINO_F(-21, 4), 0, 1}};
#undef WINO_F

/* The matrices of F(m, 3), m in {2, 4, 6}. */
static inline const float (*wino_at(int m))[WINO_ALPHA_MAX] {
    return m == 2 ? wino_at2 : m == 4 ? wino_at4 : wino_at6;
}
static inline const float (*wino_g(int m))[3] {
    return m == 2 ? wino_g2 : m == 4 ? wino_g4 : wino_g6;
}
static inline const float (*wino_bt(int m))[WINO_ALPHA_MAX] {
    return m == 2 ? wino_bt2 : m == 4 ? wino_bt4 : wino_bt6;
}

/* Parallel strategies of bwd_data (`par`): tiles: each thread its tile blocks, all channels;
 * c: every block in turn, its dy transform and its channel blocks split between threads. */
enum { WINO_PAR_TILES, WINO_PAR_C };
extern const char *const bt_wino_par_choices[];
/* bwd_weights (`par`): tiles: each thread its blocks into a private copy of the
 * transform-domain dw, summed at the end; xi: every block in turn, its transforms split by
 * tiles, then its products by transform points into one shared copy. */
enum { WINO_WPAR_TILES, WINO_WPAR_XI };
extern const char *const bt_wino_w_par_choices[];

/* Geometry derived at plan time, kept in plan->priv. Sizes in floats; every area starts on
 * a 64-byte line. */
typedef struct wino_geom {
    int m, alpha;
    int64_t th, tw, tiles; /* tiles per column, per row, in the whole batch */
    int64_t tb, nblocks;   /* tiles per block, blocks */
    int64_t kpad, cpad;    /* the reduction / output channels of a group, padded */
    int64_t cbk;           /* bwd_data: output channels per block (multiple of the tile's) */
    int stream_u;          /* bwd_data: U written with streaming stores */
    /* bwd_data: transformed weights (all groups), then per thread (or shared, par=c) the
     * dy transforms of a block, then per thread the products of a channel block and the
     * staging area. bwd_weights: per thread the private transform-domain dw (all groups),
     * the x and dy transforms of a block and the staging area. */
    int64_t u_floats, v_floats, m_floats, buf_floats, acc_floats, per_thread;
} wino_geom;

/* A plan's geometry with m (the plan's first parameter; default 4) and the tiles of an
 * hh x ww image over the batch set; NULL (bt_fail said why) when out of memory. */
wino_geom *bt_wino_geom_new(struct bt_plan *plan, int64_t hh, int64_t ww);

/* Whether the family takes the shape (3x3, stride 1, dilation 1, groups with at least 4
 * channels each side): the supports of both ops. */
int bt_wino_supports(const bt_shape *s, char *why, size_t size);

/* What `backtune list` says of the family's error (docs/winograd.md has the measurements). */
#define BT_WINO_NUMERICS                                                                           \
    "approximate (Winograd F(m x m, 3x3)): checked to the direct summation bound times 9, 256, "   \
    "512 for m = 2, 4, 6; max|err|/max|ref| measured up to 2e-6, 2e-5, 3e-5 on ResNet-50's 3x3 "   \
    "layers; BACKTUNE_ALGORITHMS=direct turns it off (docs/winograd.md)"

/* The factor by which the plan's error bound exceeds the direct summation bound of
 * kernels/check/check.h (per m, measured; docs/winograd.md). */
double bt_winograd_error_factor(const struct bt_plan *plan);

#endif

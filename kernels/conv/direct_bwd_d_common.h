/* Shared geometry of the direct conv bwd_data variants (direct_bwd_d_nhwc_impl.h and
 * direct_bwd_d_nchw_impl.h), independent of the ISA.
 *
 * Gather form: every dx element is computed whole in registers and stored once, so no
 * split of the work needs a reduction. For a dx row i only the kernel rows r with
 * i + ph - r*dh divisible by sh and p = (i + ph - r*dh)/sh in [0, P) contribute: the tap
 * list is clipped per row (or, for the flat windows of the NCHW kernels, per run of rows,
 * with the dy rows outside [0, P) present as zero rows). Along the width the dx positions
 * are split into sw phases, j = jph + t*sw: for a phase only the kernel columns s with
 * jph + pw - s*dw divisible by sw contribute, and their dy column is q = q0(s) + t,
 * consecutive in t. The dy rows a block of dx rows needs are copied into a per-thread
 * window whose rows are zero-padded left and right, so tiles at the image border read
 * zeros instead of branching per element.
 */
#ifndef BT_DIRECT_BWD_D_COMMON_H
#define BT_DIRECT_BWD_D_COMMON_H

#include "internal.h"

/* One (r, s) kernel tap of a dx row and phase: offsets of its first dy element in the
 * window (relative to the tile's first position) and of its packed weights. */
typedef struct direct_bwd_d_tap {
    int64_t dy, w;
} direct_bwd_d_tap;

/* Parallel strategies (the `par` parameter). Work items are (n, row block, group x
 * c-tile); mb splits the batch, c the (group, c-tile) pairs, 2d the flattened items. */
enum { DIRECT_BWD_D_PAR_MB, DIRECT_BWD_D_PAR_C, DIRECT_BWD_D_PAR_2D };
#define DIRECT_BWD_D_PAR_DOC                                                                       \
    "threads split the samples (mb), the (group, channel tile) pairs (c) or both (2d)"
#define DIRECT_BWD_D_RB_DOC "dx rows per block; each thread copies the dy rows a block reads"
extern const char *const bt_bwdd_par_choices[];

/* Geometry derived at plan time, kept in plan->priv. Sizes are in floats. */
typedef struct direct_bwd_d_geom {
    int flat;                   /* window spans dy rows outside [0, P) too, as zero rows */
    int64_t rb, nrb;            /* dx rows per block, blocks per image */
    int64_t win_rows;           /* dy rows a window holds (the most a block needs) */
    int64_t lp, qpad;           /* zero columns left of q = 0, padded window row length */
    int64_t ctile, nct, ngc;    /* channels per c-tile, c-tiles per group, groups x c-tiles */
    int64_t packed;             /* packed weights, all blocks */
    int64_t block;              /* packed weights of one (group, c-tile) block */
    int64_t win;                /* one window */
    int64_t per_thread;         /* window + taps + phase buffer, rounded to 64 bytes */
    int64_t taps_off, pbuf_off; /* offsets inside a thread's area */
} direct_bwd_d_geom;

static inline int64_t direct_bwd_d_floor_div(int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}
static inline int64_t direct_bwd_d_ceil_div(int64_t a, int64_t b) {
    return -direct_bwd_d_floor_div(-a, b);
}
static inline int64_t direct_bwd_d_round_up(int64_t a, int64_t b) {
    return bt_div_up(a, b) * b;
}

/* dx positions of phase jph in a row: j = jph + t*sw < W. */
static inline int64_t direct_bwd_d_phase_len(const bt_shape *s, int64_t jph) {
    return jph < s->w ? (s->w - jph + s->sw - 1) / s->sw : 0;
}

/* The dy rows [*pmin, *pmax] that dx rows [i0, i1) read (empty when *pmax < *pmin); for
 * flat windows not clipped to [0, P). */
void bt_bwdd_window_rows(const bt_shape *s, int flat, int64_t i0, int64_t i1, int64_t *pmin,
                         int64_t *pmax);

/* The kernel rows contributing to dx rows i, i + sh, ..., i + (rows-1)*sh (they share their
 * taps): r and the dy row of row i, p - pbase in the window, for each r whose dy rows
 * p, p + 1, ..., p + rows - 1 meet [0, P) (rows outside it must be zero in the window).
 * Returns their count (<= R). */
int bt_bwdd_row_taps(const bt_shape *s, int64_t i, int64_t rows, int64_t pbase, int64_t *r,
                     int64_t *prow);

/* The kernel columns contributing to phase jph: s and q0 (dy column of t = 0). Returns
 * their count (<= S). */
int bt_bwdd_phase_taps(const bt_shape *s, int64_t jph, int64_t *ss, int64_t *q0);

/* Fills rb, nrb, win_rows, lp and qpad of g from rb and g->flat. */
void bt_bwdd_window_geom(const bt_shape *s, int64_t rb, direct_bwd_d_geom *g);

/* Bytes of the window of `rows_per_block` dx rows with `floats_per_q` floats per padded
 * position (the dy channels of a group, padded). */
int64_t bt_bwdd_window_bytes(const bt_shape *s, int flat, int64_t rows_per_block,
                             int64_t floats_per_q);

/* Default dx rows per block: the biggest whose dy window fits in L2 next to a packed
 * weight block of `block` floats, then small enough that a batch too small for the team
 * still leaves work for every thread, then evened out. */
int64_t bt_bwdd_default_rb(const bt_shape *s, int flat, int64_t floats_per_q, int64_t block,
                           int64_t ngc, int threads);

/* rb lowered (to 1 at least) until the window fits bt_scratch_block_floats: taller blocks
 * than that are not worth their scratch. */
int64_t bt_bwdd_fit_rb(const bt_shape *s, int flat, int64_t floats_per_q, int64_t rb);

/* Thread tid's work: flattened items [*a, *b) of N x nrb x ngc, restricted to the
 * (group, c-tile) range [*gc0, *gc1). */
void bt_bwdd_thread_items(int par, int64_t n, int64_t nrb, int64_t ngc, int tid, int nthr,
                          int64_t *a, int64_t *b, int64_t *gc0, int64_t *gc1);

/* The item loop every direct bwd_data variant runs after packing its weights: thread tid's
 * items of shape s (the plan's, or the one its kernels walk; see bt_bwdd_thread_items) in order,
 * copying the dy window when (sample, row block, group) changes, then computing dx rows [i0, i1) of
 * c-tile ct from it. `area` is the thread's part of the scratch (window first). */
typedef void (*direct_bwd_d_copy_fn)(const struct bt_plan *plan, const float *dy, int64_t n,
                                     int64_t grp, int64_t pmin, int64_t pmax, float *win);
typedef void (*direct_bwd_d_block_fn)(const struct bt_plan *plan, const bt_tensors *t, float *area,
                                      int64_t n, int64_t grp, int64_t ct, int64_t i0, int64_t i1,
                                      int64_t pbase);
void bt_bwdd_run_items(const struct bt_plan *plan, const bt_shape *s, const bt_tensors *t, int par,
                       int tid, int nthr, float *area, direct_bwd_d_copy_fn copy,
                       direct_bwd_d_block_fn block);

/* Fills the taps of dx rows i + m*sh (m < rows, see bt_bwdd_row_taps), phase jph; w
 * offsets are tap index x wtap. posstride: floats between consecutive window positions;
 * rowstride: between window rows. Uses 2*(R + S) entries of scratch. Returns the tap count. */
int bt_bwdd_taps(const bt_shape *s, int64_t i, int64_t rows, int64_t jph, int64_t pbase, int64_t lp,
                 int64_t rowstride, int64_t posstride, int64_t wtap, int64_t *scratch,
                 direct_bwd_d_tap *taps);

/* Keeps a loaded vector in a register: without it gcc folds the load into every FMA that
 * uses it, re-reading memory once per use (the templates define the ISA first). */
#if defined(BT_SIMD_AVX512)
#define DIRECT_BWD_D_PIN(v) __asm__("" : "+v"(v))
#elif defined(BT_SIMD_AVX2) || defined(BT_SIMD_SCALAR)
#define DIRECT_BWD_D_PIN(v) __asm__("" : "+x"(v))
#endif

/* Lists of register-tile shapes (a x b) for the kernel tables, under the register budget
 * a*b + min(a, b) + 1 <= registers: BWDD_UPTO_n(M, b) expands M(1, b) ... M(n, b). */
#define DIRECT_BWD_D_UPTO_1(M, b) M(1, b)
#define DIRECT_BWD_D_UPTO_2(M, b) DIRECT_BWD_D_UPTO_1(M, b) M(2, b)
#define DIRECT_BWD_D_UPTO_3(M, b) DIRECT_BWD_D_UPTO_2(M, b) M(3, b)
#define DIRECT_BWD_D_UPTO_4(M, b) DIRECT_BWD_D_UPTO_3(M, b) M(4, b)
#define DIRECT_BWD_D_UPTO_5(M, b) DIRECT_BWD_D_UPTO_4(M, b) M(5, b)
#define DIRECT_BWD_D_UPTO_6(M, b) DIRECT_BWD_D_UPTO_5(M, b) M(6, b)
#define DIRECT_BWD_D_UPTO_7(M, b) DIRECT_BWD_D_UPTO_6(M, b) M(7, b)
#define DIRECT_BWD_D_UPTO_8(M, b) DIRECT_BWD_D_UPTO_7(M, b) M(8, b)
#define DIRECT_BWD_D_UPTO_9(M, b) DIRECT_BWD_D_UPTO_8(M, b) M(9, b)
#define DIRECT_BWD_D_UPTO_10(M, b) DIRECT_BWD_D_UPTO_9(M, b) M(10, b)
#define DIRECT_BWD_D_UPTO_11(M, b) DIRECT_BWD_D_UPTO_10(M, b) M(11, b)
#define DIRECT_BWD_D_UPTO_12(M, b) DIRECT_BWD_D_UPTO_11(M, b) M(12, b)
#define DIRECT_BWD_D_UPTO_13(M, b) DIRECT_BWD_D_UPTO_12(M, b) M(13, b)
#define DIRECT_BWD_D_UPTO_14(M, b) DIRECT_BWD_D_UPTO_13(M, b) M(14, b)
#define DIRECT_BWD_D_UPTO_15(M, b) DIRECT_BWD_D_UPTO_14(M, b) M(15, b)
#define DIRECT_BWD_D_UPTO_16(M, b) DIRECT_BWD_D_UPTO_15(M, b) M(16, b)

#endif

/* What the GEMM-based variants share, independent of the ISA: FC (fc/gemm_fc_impl.h) and the
 * conv im2col / col2im paths (conv/im2col_gemm_impl.h).
 *
 * Work splits. An output matrix is cut into a grid of tr x tc blocks, one per thread, with
 * block edges on multiples of the GEMM's register tile so no thread computes a ragged tile
 * in the middle of the matrix. The grid is chosen to minimise what each thread reads (its
 * rows of A plus its columns of B, both packed by that thread): that is the split that
 * duplicates the least packing. Splitting the sum instead (SPLIT_SUM) gives every thread a
 * full-size partial result, added up in a fixed order after a barrier.
 *
 * Blocking. mc, nc and kc are parameters of every GEMM-based variant; their defaults come
 * from the machine's cache sizes (bt_gemm_default_blocking), shrunk to the largest GEMM one
 * thread runs so pack buffers are no bigger than needed.
 */
#ifndef BT_GEMM_COMMON_H
#define BT_GEMM_COMMON_H

#include "common/gemm.h"
#include "internal.h"

/* How threads share one GEMM: by rows of C, by columns, a 2-D grid, or by the sum. The
 * FC `par` choices are listed in this order, so a choice's index is its split. */
enum { BT_SPLIT_ROWS, BT_SPLIT_COLS, BT_SPLIT_2D, BT_SPLIT_SUM };

/* A thread's block of an m x n output: rows [m0, m1), columns [n0, n1). */
typedef struct bt_gemm_block {
    int64_t m0, m1, n0, n1;
} bt_gemm_block;

/* Grid of tr x tc blocks for nthr threads (tr * tc == nthr) minimising m/tr + n/tc, the
 * rows of A plus columns of B a thread packs; ties go to splitting the columns. */
void bt_gemm_grid(int64_t m, int64_t n, int nthr, int *tr, int *tc);

/* The grid of a split (rows: nthr x 1, columns: 1 x nthr, 2-D: bt_gemm_grid). */
void bt_gemm_split_grid(int split, int64_t m, int64_t n, int nthr, int *tr, int *tc);

/* Thread tid's block of an m x n output cut into tr x tc blocks whose edges fall on
 * multiples of mr (rows) and nr (columns). Threads tid >= tr * tc get an empty block. */
void bt_gemm_grid_block(int64_t m, int64_t n, int64_t mr, int64_t nr, int tr, int tc, int tid,
                        bt_gemm_block *b);

/* [begin, end) of part `part` of `total` items cut into `parts` pieces on multiples of unit. */
void bt_split_units(int64_t total, int64_t unit, int part, int parts, int64_t *begin, int64_t *end);

/* Floats rounded up to whole cache lines, so areas carved one after another stay aligned. */
static inline int64_t bt_floats_aligned(int64_t floats) {
    return bt_div_up(floats, BT_ALIGN / 4) * (BT_ALIGN / 4);
}

/* The blocking parameters mc, nc, kc at plan->param[first .. first + 2]: those not given
 * get the cache-derived defaults of the variant's ISA fitted to an m x n x k GEMM; all are
 * written back to plan->param (so the plan reports them) and to *blk. */
void bt_gemm_blocking_params(bt_plan *plan, int first, int64_t m, int64_t n, int64_t k,
                             bt_gemm_blocking *blk);

/* bt_param_spec entries of the blocking parameters (keep them in this order). */
/* clang-format off */
#define BT_GEMM_BLOCKING_PARAM_SPECS                                                               \
    {.key = "mc", .min = 1, .max = 1 << 20,                                                        \
     .doc = "GEMM cache block: rows of the packed left operand (L2)"},                             \
    {.key = "nc", .min = 1, .max = 1 << 20,                                                        \
     .doc = "GEMM cache block: columns of the packed right operand (L3)"},                         \
    {.key = "kc", .min = 1, .max = 1 << 20, .tune = "64|128|256|512",                              \
     .doc = "GEMM cache block: depth of the sum per packed block (L1)"}
/* clang-format on */

/* FC variants (fc/gemm_fc_impl.h): parameters par, mc, nc, kc. */
enum { BT_FCG_PAR, BT_FCG_MC, BT_FCG_NC, BT_FCG_KC };
extern const bt_param_spec bt_fc_gemm_bwd_d_params[];
extern const bt_param_spec bt_fc_gemm_bwd_w_params[];

/* What an FC plan keeps in plan->priv. Scratch: per thread a pack_a + pack_b area, then
 * (split SUM) threads - 1 partial dW slots. */
typedef struct bt_fc_gemm_plan {
    bt_gemm_blocking blk;
    int64_t mr, nr;
    int split;
    int64_t pack_a, per_thread; /* floats: A pack buffer, one thread's area */
    int64_t slots, slot;        /* floats: where partial slots start, one slot */
} bt_fc_gemm_plan;

bt_status bt_fc_gemm_prepare(bt_plan *plan);

#endif

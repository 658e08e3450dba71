/* Internal interface between the core (plans, registry, dispatch) and the variants.
 *
 * A variant is a bt_variant descriptor defined in its own source file and listed once in
 * its op's enumerator (kernels/fc/fc_bwd_data.inc, ...). The core:
 *   1. normalizes the problem into a bt_shape,
 *   2. asks variant->supports() whether it can take it,
 *   3. parses the params text against variant->params into plan->param[],
 *   4. calls variant->prepare() to fill defaults, check them and size scratch,
 *   5. allocates and touches plan->scratch (64-byte aligned, plan->scratch_bytes),
 * and at execute time opens one OpenMP parallel region of plan->threads threads, flushes
 * denormals in each, and calls variant->run(plan, t, tid, nthr) on every thread. A variant
 * partitions work statically by (tid, nthr) so reruns are bit-identical; it may use
 * `#pragma omp barrier` (orphaned) between phases. run() must not allocate.
 */
#ifndef BT_INTERNAL_H
#define BT_INTERNAL_H

#include "backtune.h"

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

#define BT_MAX_PARAMS 8
#define BT_PARAMS_TEXT 256
#define BT_ALIGN 64

typedef enum bt_isa { BT_ISA_SCALAR = 0, BT_ISA_AVX2 = 1, BT_ISA_AVX512 = 2 } bt_isa;

/* A normalized problem with everything derived that kernels index with. */
typedef struct bt_shape {
    bt_op op;
    bt_layout layout;
    int accumulate;
    int64_t n, c, h, w;             /* input */
    int64_t k, r, s;                /* weights */
    int64_t p, q;                   /* output */
    int64_t sh, sw, ph, pw, dh, dw; /* stride, pad, dilation (1 = dense) */
    int64_t g, cg, kg;              /* groups, C/G, K/G */
} bt_shape;

/* One tunable parameter. Integer parameters have a range; enum parameters have choices and
 * are stored as the index of the choice. `tune` lists the tuner's candidates as text,
 * "a|b|c" (NULL: every choice of an enum; for an int, the variant's default only). */
typedef struct bt_param_spec {
    const char *key;
    const char *const *choices; /* NULL-terminated, or NULL for an integer parameter */
    int64_t min, max;
    const char *tune;
    /* What the parameter means for this variant, one line, shown by `backtune list VARIANT`
     * (required: tests/test_api.c). Not part of the variant hash. */
    const char *doc;
} bt_param_spec;

struct bt_plan;

/* Layouts a variant takes (bt_variant.layouts). */
enum { BT_TAKES_NCHW = 1, BT_TAKES_NHWC = 2, BT_TAKES_ANY = 3 };

typedef struct bt_variant {
    const char *name;   /* "<op>__<family>[_<isa>]", made by BT_DEFINE_VARIANT from the tokens */
    const char *family; /* "<family>": direct_nchw, gemm_col2im, naive, ref, ... */
    bt_op op;
    bt_isa isa;
    int layouts;                 /* BT_TAKES_*: the activation layouts it takes */
    int is_reference;            /* the double-precision reference: never a tuning candidate */
    const bt_param_spec *params; /* terminated by an entry with key NULL; may be NULL */
    /* Whether the variant can take the shape; if not, a reason in why. NULL: takes all. */
    int (*supports)(const bt_shape *s, char *why, size_t why_size);
    /* Fill parameters the user did not give (plan->param_given[i] == 0) from the machine
     * and shape, check them (bt_fail on bad values), set plan->scratch_bytes and any
     * variant state (plan->priv, freed with free()). NULL: nothing to prepare. */
    bt_status (*prepare)(struct bt_plan *plan);
    void (*run)(const struct bt_plan *plan, const bt_tensors *t, int tid, int nthr);
    /* Frees what prepare made beyond plan->priv's block (plans it holds). NULL: nothing. */
    void (*release)(struct bt_plan *plan);
    /* Approximate algorithms (Winograd) only: the factor by which the plan's error bound
     * exceeds the direct summation bound of kernels/check/check.h (it may depend on the
     * parameters). NULL: a direct algorithm, whose sums differ from the definition only in
     * rounding order. BACKTUNE_ALGORITHMS=direct (or algorithms=direct) keeps dispatch and
     * the tuner off the approximate ones. */
    double (*error_factor)(const struct bt_plan *plan);
    const char *numerics; /* approximate algorithms: their error in words (backtune list) */
    /* Variants that run another plan (relayout): that plan, whose numerics are theirs. */
    const struct bt_plan *(*inner_plan)(const struct bt_plan *plan);
} bt_variant;

/* Op tokens of variant ids to their bt_op (BT_DEFINE_VARIANT). */
#define BT_OP_fc_bwd_d BT_FC_BWD_DATA
#define BT_OP_fc_bwd_w BT_FC_BWD_WEIGHTS
#define BT_OP_conv_bwd_d BT_CONV_BWD_DATA
#define BT_OP_conv_bwd_w BT_CONV_BWD_WEIGHTS

/* Defines variant <op>__<family> (ISA scalar): symbol bt_variant_<op>__<family>, the id its
 * enumerator lists, and name "<op>__<family>", from the same tokens; the other fields follow
 * as designated initialisers. An ISA build of a family uses BT_DEFINE_SIMD_VARIANT
 * (common/simd.h), which appends the ISA to both. */
#define BT_DEFINE_VARIANT(op_id, family_id, ...)                                                   \
    const bt_variant bt_variant_##op_id##__##family_id = {.name = #op_id "__" #family_id,          \
                                                          .family = #family_id,                    \
                                                          .op = BT_OP_##op_id,                     \
                                                          .isa = BT_ISA_SCALAR,                    \
                                                          __VA_ARGS__}

struct bt_plan {
    const bt_variant *variant;
    bt_problem problem; /* normalized */
    bt_shape shape;
    int threads;
    int64_t param[BT_MAX_PARAMS];
    int param_given[BT_MAX_PARAMS];
    void *scratch;
    size_t scratch_bytes;
    void *priv;
    const char *source; /* how the variant was chosen */
    int direct_only;    /* approximate algorithms are off (algorithms=direct or the env) */
    char params_text[BT_PARAMS_TEXT];
};

/* Machine facts, detected once. */
typedef struct bt_machine {
    int64_t l1d_bytes, l2_bytes, l3_bytes; /* per core for L1/L2; L3 as shared */
    int cores, pus;
    int has_avx2, has_avx512; /* what the CPU can do */
    bt_isa isa_cap;           /* min(CPU, BACKTUNE_ISA_CAP) */
} bt_machine;

const bt_machine *bt_machine_get(void);
/* "scalar", "avx2", "avx512": the one table of ISA names (tools use it through
 * bt_variant_isa and this). */
const char *bt_isa_name(bt_isa isa);

/* Errors: record a message for bt_last_error() and return the status. */
bt_status bt_fail(bt_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bt_clear_error(void);

/* Registry. */
int bt_registry_count(void);
const bt_variant *bt_registry_get(int i);
/* The variant's rank in the heuristic's order on the shape (core/heuristic.c): dispatch tries
 * the highest first; 0 is the reference. */
int bt_variant_priority(const bt_variant *v, const bt_shape *s);

/* Shape from a normalized problem. */
void bt_shape_from_problem(const bt_problem *p, bt_shape *s);

/* bt_plan_create of a named variant up to its scratch, which is sized (plan->scratch_bytes)
 * but not allocated: what a plan would hold, without the allocation (tests of the sizing).
 * The plan is destroyed as any other; it must not be executed. */
bt_status bt_plan_create_sized(bt_plan **plan, const bt_problem *p, const char *variant,
                               const char *params);

/* The plan dispatch makes for p (tuning table, then the heuristic's order) among the variants
 * of one ISA, BACKTUNE_VARIANT aside: the inner plan of a variant that runs another one. */
bt_status bt_plan_create_on_isa(bt_plan **plan, const bt_problem *p, bt_isa isa,
                                const char *params);

/* Tests only: the name of a variant whose scratch allocation fails as if memory were out
 * (NULL: none). */
extern const char *bt_test_scratch_fails;

/* Value of parameter `key` in a plan (its index in variant->params), or -1 if absent. */
int bt_param_index(const bt_variant *v, const char *key);
/* Whether "key=value,..." names only parameters of variant i (and threads, bind) with values
 * in their ranges: what bt_plan_create checks before the variant's own checks. */
bt_status bt_variant_params_check(int i, const char *params);

/* [begin, end) of thread tid's share of `total` items split as evenly as possible. */
static inline void bt_split(int64_t total, int tid, int nthr, int64_t *begin, int64_t *end) {
    int64_t base = total / nthr, rem = total % nthr;
    *begin = tid * base + (tid < rem ? tid : rem);
    *end = *begin + base + (tid < rem ? 1 : 0);
}

/* Element offsets of activations, in the problem's layout. x/dx: (n, c, i, j) over C x H x W;
 * dy: (n, k, p, q) over K x P x Q. */
static inline int64_t bt_x_off(const bt_shape *s, int64_t n, int64_t c, int64_t i, int64_t j) {
    return s->layout == BT_NCHW ? ((n * s->c + c) * s->h + i) * s->w + j
                                : ((n * s->h + i) * s->w + j) * s->c + c;
}
static inline int64_t bt_dy_off(const bt_shape *s, int64_t n, int64_t k, int64_t p, int64_t q) {
    return s->layout == BT_NCHW ? ((n * s->k + k) * s->p + p) * s->q + q
                                : ((n * s->p + p) * s->q + q) * s->k + k;
}
/* Weights are K x C/G x R x S. */
static inline int64_t bt_w_off(const bt_shape *s, int64_t k, int64_t cg, int64_t r, int64_t ss) {
    return ((k * s->cg + cg) * s->r + r) * s->s + ss;
}

/* Whether no kernel window reaches into padding, at the begin or the end of either
 * dimension (an end padding that only a stride skips over is no padding). */
static inline int bt_shape_unpadded(const bt_shape *s) {
    return s->ph == 0 && s->pw == 0 && (s->p - 1) * s->sh + (s->r - 1) * s->dh < s->h &&
           (s->q - 1) * s->sw + (s->s - 1) * s->dw < s->w;
}

static inline int64_t bt_div_up(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}
static inline int64_t bt_min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}
static inline int64_t bt_max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}

/* Element counts of the shape's tensors. */
static inline size_t bt_shape_x_elems(const bt_shape *s) {
    return (size_t)(s->n * s->c * s->h * s->w);
}
static inline size_t bt_shape_w_elems(const bt_shape *s) {
    return (size_t)(s->k * s->cg * s->r * s->s);
}
static inline size_t bt_shape_dy_elems(const bt_shape *s) {
    return (size_t)(s->n * s->k * s->p * s->q);
}

/* The scratch bound. A plan holds at most bt_scratch_bound bytes of scratch: per thread,
 *   BT_SCRATCH_FACTOR x the bytes of x, w and dy: a thread's copies of operands (packed
 *     weights, a dy window, GEMM pack buffers) are padded to register tiles, at worst 32
 *     floats wide (the AVX-512 GEMM's NR; 16-lane vectors in the direct kernels) where the
 *     problem's dimension is 1, and a thread holds at most two such copies of one operand;
 *     partial dW / db are one copy of w per thread. The largest ratio tests/test_scratch.c
 *     measures is 32, on one-element problems where the 64-byte rounding of areas rules
 *     (and 107 where rb at its maximum fills a dilated problem's dy window up to the block
 *     allowance below).
 *   2 x BT_SCRATCH_BLOCK_BYTES: blocks whose size a parameter sets for the caches (an im2col
 *     column block and its packed copy, a window of dy rows) may reach this however small
 *     the tensors are next to them (the im2col of a large kernel); bt_scratch_block_floats
 *     clamps such parameters.
 *   BT_SCRATCH_CONST: the 64-byte rounding of each area, tap tables and lists.
 * bt_plan_create refuses (BT_EUNSUPPORTED) a plan past it; variants clamp parameters or
 * decline shapes (supports) so that none is. */
#define BT_SCRATCH_FACTOR 64
#define BT_SCRATCH_BLOCK_BYTES ((int64_t)4 << 20)
#define BT_SCRATCH_BLOCK_FACTOR 8
#define BT_SCRATCH_CONST ((size_t)64 << 10)
static inline size_t bt_shape_tensor_elems(const bt_shape *s) {
    return bt_shape_x_elems(s) + bt_shape_w_elems(s) + bt_shape_dy_elems(s);
}
static inline size_t bt_scratch_bound(const bt_shape *s, int threads) {
    size_t per_thread, bytes;
    if (__builtin_mul_overflow(bt_shape_tensor_elems(s), BT_SCRATCH_FACTOR * sizeof(float),
                               &per_thread) ||
        __builtin_add_overflow(per_thread, 2 * BT_SCRATCH_BLOCK_BYTES + BT_SCRATCH_CONST,
                               &per_thread) ||
        __builtin_mul_overflow(per_thread, (size_t)threads, &bytes))
        return SIZE_MAX;
    return bytes;
}
/* Floats one cache-sized block of a thread (an im2col column block, a dy window) may take
 * when its parameter asks for more: BT_SCRATCH_BLOCK_BYTES, or BT_SCRATCH_BLOCK_FACTOR x
 * the tensors where that is more (no default of a real layer is cut down by it). */
static inline int64_t bt_scratch_block_floats(const bt_shape *s) {
    size_t tensors = bt_shape_tensor_elems(s);
    return bt_max64(BT_SCRATCH_BLOCK_BYTES / (int64_t)sizeof(float),
                    tensors > (size_t)INT64_MAX / BT_SCRATCH_BLOCK_FACTOR
                        ? INT64_MAX
                        : BT_SCRATCH_BLOCK_FACTOR * (int64_t)tensors);
}

#endif

/* backtune: backward-pass kernels (bwd_data, bwd_weights) for fully-connected and 2-D
 * convolution layers on multicore CPUs, with a variant registry and tuning tables.
 *
 * Tensors are float32. Activations x, dx, dy are NCHW or NHWC (bt_problem.layout); weights
 * are always K x (C/G) x R x S. FC is the 1x1 convolution of a 1x1 image: x is N x C,
 * dy is N x K, w is K x C.
 *
 * Every function validates its input and returns a status; bt_last_error() says in words
 * what was wrong (per thread). Plans are created once (dispatch, parameter parsing, scratch)
 * and executed many times; execution allocates nothing. Denormals are flushed to zero inside
 * bt_plan_execute (the caller's floating-point mode is restored on return).
 */
#ifndef BACKTUNE_H
#define BACKTUNE_H

#include "backtune_version.h" /* BT_VERSION_MAJOR, _MINOR, _PATCH, _STRING */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what this header declares is its ABI. */
#pragma GCC visibility push(default)

typedef enum bt_status { BT_OK = 0, BT_EINVAL, BT_EUNSUPPORTED, BT_ENOMEM, BT_EIO } bt_status;
typedef enum bt_op {
    BT_FC_BWD_DATA,
    BT_FC_BWD_WEIGHTS,
    BT_CONV_BWD_DATA,
    BT_CONV_BWD_WEIGHTS
} bt_op;
typedef enum bt_layout { BT_NCHW = 0, BT_NHWC = 1 } bt_layout;

typedef struct bt_problem {
    bt_op op;
    bt_layout layout;   /* of x, dx, dy; ignored by FC */
    int64_t n, c, h, w; /* FC: c = in features, h = w = 1 */
    int64_t k, r, s;    /* FC: k = out features, r = s = 1 */
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups; /* 0 = default 1,1,0,0,1,1,1 */
    int accumulate; /* 0: outputs overwritten; 1: gradients added into them */
    /* Uneven padding: pad_h / pad_w are the begin (top, left) padding; with pad_end_set = 1,
     * pad_h_end / pad_w_end are the end (bottom, right) padding (oneDNN's padding_r), which
     * may be negative down to 1 - stride (the last rows or columns left unread). With
     * pad_end_set = 0 the end padding equals pad_h / pad_w and the end fields must be 0.
     * Output height P = (h + pad_h + pad_h_end - (r - 1) * dil_h - 1) / stride_h + 1. */
    int64_t pad_h_end, pad_w_end;
    int pad_end_set;
} bt_problem; /* dil_h = 1 is a dense kernel (PyTorch's convention) */

/* bwd_data reads w and dy and writes dx; bwd_weights reads x and dy and writes dw and,
 * when db is not NULL, db. Pointers an op does not use are ignored. No variant works in
 * place: bt_plan_execute refuses (BT_EINVAL) an output whose bytes overlap an input's or the
 * other output's. */
typedef struct bt_tensors {
    const float *x, *w, *dy;
    float *dx, *dw, *db;
} bt_tensors;

typedef struct bt_plan bt_plan;

const char *bt_strerror(bt_status s);
const char *bt_last_error(void); /* what went wrong last on this thread, in words */
/* The version of the library loaded: "MAJOR.MINOR.PATCH", BT_VERSION_STRING of its build
 * (a program compiled against other headers can compare the two). */
const char *bt_version(void);

/* Problem text: "<op>[_nchw|_nhwc] <descriptor> [accumulate]", with op one of conv_bwd_d,
 * conv_bwd_w, fc_bwd_d, fc_bwd_w and the descriptor in oneDNN benchdnn's grammar, read by
 * benchdnn's rules ("g2mb32ic64ih56oc64oh56kh3ph1n\"name\""; a descriptor with only width
 * fields is 1-D; a given output size with a given padding sets the end padding; benchdnn's
 * dilation dh counts from 0). The problem comes back normalized. */
bt_status bt_problem_parse(const char *text, bt_problem *out);
/* Writes the canonical text: benchdnn text that benchdnn and bt_problem_parse read as the
 * same problem (output size and padding always written). Returns the length it needs, as
 * snprintf does, or -1 if p is invalid. */
int bt_problem_format(const bt_problem *p, char *buf, size_t size);
/* 2*N*K*(C/G)*R*S*P*Q, bias excluded; 0 for an invalid problem. */
double bt_problem_flops(const bt_problem *p);

/* variant NULL: dispatch (tuning table, then heuristic, then reference; a candidate that
 * cannot get its scratch gives way to the next). params NULL or "": the variant's defaults,
 * derived from this machine's caches; values larger than the problem can use are clamped
 * (bt_plan_params reports them as clamped); so is threads=N on a problem too small to give
 * each thread 256 KFLOP, or 6 MFLOP under OMP_WAIT_POLICY=passive (BACKTUNE_THREAD_MIN_FLOPS
 * sets that amount, 0 takes every thread), its work being its FLOPs or, when more, 4 per
 * byte of its tensors (memory-bound problems).
 * Scratch is bounded by the problem's tensors. */
bt_status bt_plan_create(bt_plan **plan, const bt_problem *p, const char *variant,
                         const char *params);
bt_status bt_plan_execute(bt_plan *plan, const bt_tensors *t);
const char *bt_plan_variant(const bt_plan *plan); /* the variant chosen */
const char *bt_plan_params(const bt_plan *plan);  /* its parameters, as text */
void bt_plan_destroy(bt_plan *plan);

int bt_variant_count(void);
const char *bt_variant_name(int i);
bt_op bt_variant_op(int i);
bt_status bt_tuning_load(const char *path); /* table that bt_plan_create(variant=NULL) follows */

/* ---- additions beyond the first contract ---- */

/* As bt_problem_parse, and copies the descriptor's n"name" (or "") into name. */
bt_status bt_problem_parse_named(const char *text, bt_problem *out, char *name, size_t size);
/* Fills defaults (zeros) and checks the problem; BT_EINVAL with a message if it is bad.
 * The result is canonical: pad_end_set is 0 when symmetric padding gives the same output
 * size, else 1 with both end paddings written as (P - 1) * stride + extent - h - pad_h. */
bt_status bt_problem_normalize(const bt_problem *p, bt_problem *out);
/* Output spatial size (P, Q) of a problem (zero fields take their defaults); 0 if p is NULL
 * or invalid. */
int64_t bt_problem_out_h(const bt_problem *p);
int64_t bt_problem_out_w(const bt_problem *p);
/* Element counts of x (and dx), w (and dw), dy, db for a valid problem; 0 if invalid. */
size_t bt_problem_x_elems(const bt_problem *p);
size_t bt_problem_w_elems(const bt_problem *p);
size_t bt_problem_dy_elems(const bt_problem *p);
size_t bt_problem_db_elems(const bt_problem *p);
const char *bt_op_name(bt_op op); /* "conv_bwd_d", ... */

/* Index of a variant by name, or -1. */
int bt_variant_find(const char *name);
/* Required ISA of variant i: "scalar", "avx2" or "avx512". */
const char *bt_variant_isa(int i);
/* Whether the running CPU (and the BACKTUNE_ISA_CAP cap, if set) can run variant i. */
int bt_variant_cpu_ok(int i);
/* Whether variant i can take problem p (BT_OK), or why not (BT_EUNSUPPORTED + message). */
bt_status bt_variant_supports(int i, const bt_problem *p);
/* Tunable parameters of variant i, as text: "key=v1|v2|...;key2=lo..hi;..." (may be ""). */
const char *bt_variant_param_space(int i);
/* How the plan was chosen: "forced", "table", "heuristic", "reference", or "named". */
const char *bt_plan_source(const bt_plan *plan);
/* Threads the plan runs with. */
int bt_plan_threads(const bt_plan *plan);
/* 0 for a plan of direct sums, whose outputs are within FLT_EPSILON * (L + 1) * sum|terms|
 * of the exact result (L the reduction's length); for an approximate algorithm (Winograd,
 * docs/winograd.md) the factor F > 0 of its bound, F * FLT_EPSILON * (L + 1) * the largest
 * sum|terms| over the output. NULL: 0. */
double bt_plan_error_factor(const bt_plan *plan);
/* The CPUs each thread of the plan's team may run on, as the team is formed at execute:
 * "0:0 1:1" (thread:cpus), "0:0-1 1:0-1" when unbound. The plan's bind= parameter is the
 * binding the threads really get: without OpenMP places (OMP_PLACES, or OMP_PROC_BIND,
 * which implies them) no thread is bound and it says bind=none. */
bt_status bt_plan_affinity(const bt_plan *plan, char *buf, size_t size);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

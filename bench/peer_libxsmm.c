/* peer:libxsmm — LIBXSMM 1.17's DNN API on the same problems, in its own layouts.
 *
 * Convolutions (groups 1, no dilation): a conv layer (libxsmm_dnn_create_conv_layer) run as
 * LIBXSMM_DNN_COMPUTE_KIND_BWD (backward data) or _UPD (weight update). Its tensors are in
 * LIBXSMM's blocked format: activations [N][C/cb][H+2ph][W+2pw][cb], filters
 * [K/kb][C/cb][R][S][cb][kb] (blocks of its choosing, up to 64 channels). Padding is
 * physical: every activation tensor has zero rims of the padding's width, the mode its fast
 * backward loops need (logical padding takes its fallback loops, and a padded copy inside
 * the timed weight update). LIBXSMM pads both sides by pad_h/pad_w, output size
 * floor((H + 2ph - R) / stride) + 1, so it takes every problem without uneven padding (one
 * whose last rows of padding go unused, a 7x7 stride-2 layer, is such a problem). Backward data
 * reads the filter transposed, made once at load (LIBXSMM_DNN_CONV_OPTION_BWD_NO_FILTER_TRANSPOSE
 * and libxsmm_dnn_trans_reg_filter), so no transpose is timed. The weight update computes
 * no bias gradient: db is summed from its blocked dY by a reduction of ours, in the same
 * OpenMP team right after the update, inside the timed call.
 *
 * FC: a fully-connected layer in its packed formats, activations NCPACKED
 * [N/bn][C/bc][bn][bc] and weights CKPACKED [K/bk][C/bc][bc][bk], blocks the largest
 * divisors up to 32 (its samples' default); the weight update fuses db
 * (LIBXSMM_DNN_FULLYCONNECTED_FUSE_BIAS). Its backward data transposes W inside the call,
 * which 1.17 has no option to hoist: that transpose is timed.
 *
 * The bench's plain inputs are copied in at load and the outputs back out at store (for the
 * self-test); neither is timed. Threads: a layer is made for a thread count and runs in the
 * caller's threads, one libxsmm_dnn_execute_st per thread of an OpenMP team of exactly that
 * size. Outputs are overwritten: accumulating problems are not taken. At setup the peer
 * checks itself against the double reference on small problems of each op; a failure leaves
 * it out of the run with the reason. */
#include "bench_impl.h"

#include "bench_util.h"
#include "bt_gbench.h"
#include "peer_check.h"

#include <libxsmm.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FC_BLOCK_MAX 32
#define SELFTEST_THREADS 2 /* the self-test at setup runs 1 to this many */

/* The tensors a layer touches. */
enum { R_X, R_W, R_WT, R_DY, R_DX, R_DW, R_DB, R_COUNT };
static const libxsmm_dnn_tensor_type role_type[R_COUNT] = {
    LIBXSMM_DNN_REGULAR_INPUT,        LIBXSMM_DNN_REGULAR_FILTER, LIBXSMM_DNN_REGULAR_FILTER_TRANS,
    LIBXSMM_DNN_GRADIENT_OUTPUT,      LIBXSMM_DNN_GRADIENT_INPUT, LIBXSMM_DNN_GRADIENT_FILTER,
    LIBXSMM_DNN_GRADIENT_CHANNEL_BIAS};

typedef struct xsmm_state {
    bt_shape s;
    int fc, bwd_data, threads;
    libxsmm_dnn_layer *conv;
    libxsmm_dnn_fullyconnected *fcl;
    libxsmm_dnn_compute_kind kind;
    libxsmm_dnn_tensor *tensor[R_COUNT];
    float *buf[R_COUNT];
    int64_t block[R_COUNT]; /* conv activations: the channel block (innermost dimension) */
    int64_t bn, bc, bk;     /* FC blocks */
    void *scratch;
    float *partial; /* conv db: per-thread sums, `threads` rows of partial_stride */
    int64_t partial_stride;
    char describe[300];
} xsmm_state;

static bt_status xsmm_fail(libxsmm_dnn_err_t e, const char *what) {
    return bt_fail(BT_EUNSUPPORTED, "LIBXSMM: %s: %s", what, libxsmm_dnn_get_error(e));
}

static int is_fc(bt_op op) {
    return op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS;
}

/* The largest divisor of n up to max. */
static int64_t block_of(int64_t n, int64_t max) {
    for (int64_t b = bt_min64(n, max); b > 1; b--)
        if (n % b == 0) return b;
    return 1;
}

static bt_status selftest(void);

static bt_status xsmm_setup(const bt_bench_impl *impl) {
    (void)impl;
    static int done;
    static bt_status result;
    static char failure[512];
    if (done) return result == BT_OK ? BT_OK : bt_fail(result, "%s", failure);
    done = 1;
    libxsmm_init();
    char text[128];
    snprintf(text, sizeof text, "%s (target %s)", LIBXSMM_CONFIG_VERSION,
             libxsmm_get_target_arch());
    bt_gbench_add_context("peer_libxsmm_version", text);
    result = selftest();
    if (result != BT_OK) snprintf(failure, sizeof failure, "%s", bt_last_error());
    return result;
}

static bt_status xsmm_supports(const bt_bench_impl *impl, const bt_problem *p) {
    (void)impl;
    bt_problem q;
    if (bt_problem_normalize(p, &q) != BT_OK) return BT_EINVAL;
    if (q.accumulate)
        return bt_fail(BT_EUNSUPPORTED, "peer:libxsmm: LIBXSMM's layers overwrite their "
                                        "outputs, they do not accumulate");
    if (q.groups != 1)
        return bt_fail(BT_EUNSUPPORTED, "peer:libxsmm: LIBXSMM 1.17's DNN API has no grouped "
                                        "or depthwise convolution");
    if (q.dil_h != 1 || q.dil_w != 1)
        return bt_fail(BT_EUNSUPPORTED,
                       "peer:libxsmm: LIBXSMM 1.17's DNN API has no dilated convolution");
    /* A normalized problem has pad_end_set only where symmetric padding would give another
     * output size. */
    if (q.pad_end_set)
        return bt_fail(BT_EUNSUPPORTED, "peer:libxsmm: uneven padding (LIBXSMM pads both sides "
                                        "alike)");
    bt_shape s;
    bt_shape_from_problem(&q, &s);
    int64_t big = (int64_t)1 << 31;
    if (s.n * s.c * (s.h + 2 * s.ph) * (s.w + 2 * s.pw) >= big / 4 ||
        s.n * s.k * (s.p + 2 * s.ph) * (s.q + 2 * s.pw) >= big / 4 ||
        s.k * s.c * s.r * s.s >= big / 4)
        return bt_fail(BT_EUNSUPPORTED, "peer:libxsmm: a tensor is too big for LIBXSMM's "
                                        "unsigned sizes");
    return BT_OK;
}

static void xsmm_destroy(void *state) {
    xsmm_state *st = state;
    if (!st) return;
    for (int r = 0; r < R_COUNT; r++) {
        if (st->tensor[r]) libxsmm_dnn_destroy_tensor(st->tensor[r]);
        free(st->buf[r]);
    }
    if (st->conv) libxsmm_dnn_destroy_conv_layer(st->conv);
    if (st->fcl) libxsmm_dnn_destroy_fullyconnected(st->fcl);
    free(st->scratch);
    free(st->partial);
    free(st);
}

/* The layer itself, for the thread count. */
static bt_status make_layer(xsmm_state *st) {
    const bt_shape *s = &st->s;
    libxsmm_dnn_err_t e;
    if (st->fc) {
        libxsmm_dnn_fullyconnected_desc d = {0};
        d.N = (int)s->n, d.C = (int)s->c, d.K = (int)s->k;
        d.bn = (int)st->bn, d.bc = (int)st->bc, d.bk = (int)st->bk;
        d.threads = st->threads;
        d.datatype_in = d.datatype_out = LIBXSMM_DNN_DATATYPE_F32;
        d.buffer_format = LIBXSMM_DNN_TENSOR_FORMAT_NCPACKED;
        d.filter_format = LIBXSMM_DNN_TENSOR_FORMAT_CKPACKED;
        d.fuse_ops = st->bwd_data ? LIBXSMM_DNN_FULLYCONNECTED_FUSE_NONE
                                  : LIBXSMM_DNN_FULLYCONNECTED_FUSE_BIAS;
        st->fcl = libxsmm_dnn_create_fullyconnected(d, &e);
        return st->fcl ? BT_OK : xsmm_fail(e, "fully-connected layer");
    }
    libxsmm_dnn_conv_desc d = {0};
    d.N = (int)s->n, d.C = (int)s->c, d.H = (int)s->h, d.W = (int)s->w;
    d.K = (int)s->k, d.R = (int)s->r, d.S = (int)s->s;
    d.u = (int)s->sh, d.v = (int)s->sw;
    d.pad_h = d.pad_h_in = d.pad_h_out = (int)s->ph;
    d.pad_w = d.pad_w_in = d.pad_w_out = (int)s->pw;
    d.threads = st->threads;
    d.datatype_in = d.datatype_out = LIBXSMM_DNN_DATATYPE_F32;
    d.buffer_format = d.filter_format = LIBXSMM_DNN_TENSOR_FORMAT_LIBXSMM;
    d.algo = LIBXSMM_DNN_CONV_ALGO_DIRECT;
    d.options = LIBXSMM_DNN_CONV_OPTION_BWD_NO_FILTER_TRANSPOSE_OVERWRITE;
    d.fuse_ops = LIBXSMM_DNN_CONV_FUSE_NONE;
    st->conv = libxsmm_dnn_create_conv_layer(d, &e);
    return st->conv ? BT_OK : xsmm_fail(e, "convolution layer");
}

/* A tensor of the layer's in its layout, zero-filled (the rims stay zero), bound to it. Conv
 * db has no LIBXSMM tensor: a plain K-vector that our reduction writes. */
static bt_status make_tensor(xsmm_state *st, int role) {
    if (role == R_DB && !st->fc) {
        st->buf[role] = bt_bench_alloc_zero((size_t)st->s.k * sizeof(float));
        return st->buf[role] ? BT_OK : bt_fail(BT_ENOMEM, "out of memory for peer:libxsmm");
    }
    libxsmm_dnn_err_t e;
    libxsmm_dnn_tensor_datalayout *layout =
        st->fc ? libxsmm_dnn_fullyconnected_create_tensor_datalayout(st->fcl, role_type[role], &e)
               : libxsmm_dnn_create_tensor_datalayout(st->conv, role_type[role], &e);
    if (!layout) return xsmm_fail(e, "tensor layout");
    size_t bytes = libxsmm_dnn_get_tensor_size(layout, &e);
    st->block[role] = layout->dim_size[0];
    st->buf[role] = bt_bench_alloc_zero(bytes);
    if (st->buf[role]) st->tensor[role] = libxsmm_dnn_link_tensor(layout, st->buf[role], &e);
    libxsmm_dnn_destroy_tensor_datalayout(layout);
    if (!st->buf[role]) return bt_fail(BT_ENOMEM, "out of memory for peer:libxsmm");
    if (!st->tensor[role]) return xsmm_fail(e, "tensor");
    e = st->fc ? libxsmm_dnn_fullyconnected_bind_tensor(st->fcl, st->tensor[role], role_type[role])
               : libxsmm_dnn_bind_tensor(st->conv, st->tensor[role], role_type[role]);
    return e == LIBXSMM_DNN_SUCCESS ? BT_OK : xsmm_fail(e, "bind tensor");
}

static bt_status make_scratch(xsmm_state *st) {
    libxsmm_dnn_err_t e;
    size_t bytes = st->fc ? libxsmm_dnn_fullyconnected_get_scratch_size(st->fcl, &e)
                          : libxsmm_dnn_get_scratch_size(st->conv, st->kind, &e);
    if (e != LIBXSMM_DNN_SUCCESS) return xsmm_fail(e, "scratch size");
    st->scratch = bt_bench_alloc_zero(bytes);
    if (!st->scratch) return bt_fail(BT_ENOMEM, "out of memory for peer:libxsmm");
    e = st->fc ? libxsmm_dnn_fullyconnected_bind_scratch(st->fcl, st->scratch)
               : libxsmm_dnn_bind_scratch(st->conv, st->kind, st->scratch);
    return e == LIBXSMM_DNN_SUCCESS ? BT_OK : xsmm_fail(e, "bind scratch");
}

/* The team the layer runs in must have exactly its thread count (its barrier waits for all). */
static bt_status check_team(int threads) {
    int team = 0;
#pragma omp parallel num_threads(threads)
    {
#pragma omp single
        team = omp_get_num_threads();
    }
    return team == threads
               ? BT_OK
               : bt_fail(BT_EUNSUPPORTED, "peer:libxsmm: OpenMP gives %d threads, not %d", team,
                         threads);
}

static void describe(xsmm_state *st) {
    if (st->fc)
        snprintf(st->describe, sizeof st->describe,
                 "threads=%d,layouts=LIBXSMM's NCPACKED/CKPACKED (bn=%lld bc=%lld bk=%lld) "
                 "copied at load (not timed),%s",
                 st->threads, (long long)st->bn, (long long)st->bc, (long long)st->bk,
                 st->bwd_data ? "its W transpose inside its call (timed)"
                              : "db fused in its call (timed)");
    else
        snprintf(st->describe, sizeof st->describe,
                 "threads=%d,layouts=LIBXSMM's blocked (cb=%lld kb=%lld),padding=physical "
                 "(zero rims),copies%s at load (not timed)%s",
                 st->threads, (long long)st->block[st->bwd_data ? R_DX : R_X],
                 (long long)st->block[R_DY], st->bwd_data ? " and filter transpose" : "",
                 st->bwd_data ? "" : ",db=our reduction of its dY in the same call (timed)");
}

static bt_status create_in(xsmm_state *st) {
    bt_status status = check_team(st->threads);
    if (status == BT_OK) status = make_layer(st);
    static const int data_roles[] = {R_W, R_WT, R_DY, R_DX, -1};
    static const int weight_roles[] = {R_X, R_DY, R_DW, R_DB, -1};
    const int *roles = st->bwd_data ? data_roles : weight_roles;
    for (int i = 0; roles[i] >= 0 && status == BT_OK; i++)
        if (roles[i] != R_WT || !st->fc) status = make_tensor(st, roles[i]);
    if (status == BT_OK) status = make_scratch(st);
    if (status == BT_OK && !st->fc && !st->bwd_data) {
        st->partial_stride = (st->s.k + 15) / 16 * 16; /* rows a cache line apart */
        st->partial =
            bt_bench_alloc_zero((size_t)(st->threads * st->partial_stride) * sizeof(float));
        if (!st->partial) status = bt_fail(BT_ENOMEM, "out of memory for peer:libxsmm");
    }
    if (status == BT_OK) describe(st);
    return status;
}

static bt_status xsmm_create(const bt_bench_impl *impl, const bt_problem *p, int threads,
                             void **state) {
    *state = NULL;
    bt_status status = xsmm_supports(impl, p);
    if (status != BT_OK) return status;
    bt_problem q;
    bt_problem_normalize(p, &q);
    xsmm_state *st = calloc(1, sizeof *st);
    if (!st) return bt_fail(BT_ENOMEM, "out of memory");
    bt_shape_from_problem(&q, &st->s);
    st->threads = threads;
    st->fc = is_fc(q.op);
    st->bwd_data = q.op == BT_CONV_BWD_DATA || q.op == BT_FC_BWD_DATA;
    st->kind = st->bwd_data ? LIBXSMM_DNN_COMPUTE_KIND_BWD : LIBXSMM_DNN_COMPUTE_KIND_UPD;
    st->bn = block_of(q.n, FC_BLOCK_MAX);
    st->bc = block_of(q.c, FC_BLOCK_MAX);
    st->bk = block_of(q.k, FC_BLOCK_MAX);
    status = create_in(st);
    if (status != BT_OK) {
        xsmm_destroy(st);
        return status;
    }
    *state = st;
    return BT_OK;
}

/* Conv activations: the plain ones of the shape (NCHW or NHWC; dY if dy, else x or dx) and
 * LIBXSMM's [N][C/cb][H+2ph][W+2pw][cb] (its interior). */
static void copy_conv_act(const bt_shape *s, int dy, int64_t cb, float *blocked, float *plain,
                          int to_blocked) {
    int64_t c = dy ? s->k : s->c, h = dy ? s->p : s->h, w = dy ? s->q : s->w;
    int64_t hp = h + 2 * s->ph, wp = w + 2 * s->pw;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < h; i++)
                for (int64_t j = 0; j < w; j++) {
                    int64_t po = dy ? bt_dy_off(s, n, ch, i, j) : bt_x_off(s, n, ch, i, j);
                    int64_t bo =
                        (((n * (c / cb) + ch / cb) * hp + i + s->ph) * wp + j + s->pw) * cb +
                        ch % cb;
                    if (to_blocked)
                        blocked[bo] = plain[po];
                    else
                        plain[po] = blocked[bo];
                }
}

/* FC: a plain row-major rows x cols matrix and its [rows/br][cols/bcol][br][bcol] blocks
 * (activations), or [rows/br][cols/bcol][bcol][br] with `inner_transposed` (weights). */
static void copy_fc(int64_t rows, int64_t cols, int64_t br, int64_t bcol, int inner_transposed,
                    float *blocked, float *plain, int to_blocked) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t inner =
                inner_transposed ? (c % bcol) * br + r % br : (r % br) * bcol + c % bcol;
            int64_t bo = (r / br * (cols / bcol) + c / bcol) * br * bcol + inner;
            if (to_blocked)
                blocked[bo] = plain[r * cols + c];
            else
                plain[r * cols + c] = blocked[bo];
        }
}

/* Copies a role between the bench's plain buffer and the layer's tensor. */
static bt_status copy_role(xsmm_state *st, int role, float *plain, int to_blocked) {
    const bt_shape *s = &st->s;
    float *b = st->buf[role];
    if (st->fc) {
        switch (role) {
        case R_X:
        case R_DX:
            copy_fc(s->n, s->c, st->bn, st->bc, 0, b, plain, to_blocked);
            break;
        case R_DY:
            copy_fc(s->n, s->k, st->bn, st->bk, 0, b, plain, to_blocked);
            break;
        case R_DB: /* [K/bk][bk]: plain order */
            if (to_blocked)
                memcpy(b, plain, (size_t)s->k * sizeof(float));
            else
                memcpy(plain, b, (size_t)s->k * sizeof(float));
            break;
        default:
            copy_fc(s->k, s->c, st->bk, st->bc, 1, b, plain, to_blocked);
        }
        return BT_OK;
    }
    if (role == R_W || role == R_DW) { /* KCRS is our OIHW */
        libxsmm_dnn_err_t e =
            to_blocked
                ? libxsmm_dnn_copyin_tensor(st->tensor[role], plain, LIBXSMM_DNN_TENSOR_FORMAT_KCRS)
                : libxsmm_dnn_copyout_tensor(st->tensor[role], plain,
                                             LIBXSMM_DNN_TENSOR_FORMAT_KCRS);
        return e == LIBXSMM_DNN_SUCCESS ? BT_OK : xsmm_fail(e, "filter copy");
    }
    if (role == R_DB) {
        memcpy(plain, b, (size_t)s->k * sizeof(float));
        return BT_OK;
    }
    copy_conv_act(s, role == R_DY, st->block[role], b, plain, to_blocked);
    return BT_OK;
}

static bt_status xsmm_load(void *state, const bt_tensors *t) {
    xsmm_state *st = state;
    bt_status status = copy_role(st, R_DY, (float *)t->dy, 1);
    if (status == BT_OK)
        status = copy_role(st, st->bwd_data ? R_W : R_X, (float *)(st->bwd_data ? t->w : t->x), 1);
    if (status == BT_OK && st->bwd_data && !st->fc) {
        libxsmm_dnn_err_t e = libxsmm_dnn_trans_reg_filter(st->conv);
        if (e != LIBXSMM_DNN_SUCCESS) status = xsmm_fail(e, "filter transpose");
    }
    return status;
}

static bt_status xsmm_store(void *state, const bt_tensors *t) {
    xsmm_state *st = state;
    if (st->bwd_data) return copy_role(st, R_DX, t->dx, 0);
    bt_status status = copy_role(st, R_DW, t->dw, 0);
    if (status == BT_OK && t->db) status = copy_role(st, R_DB, t->db, 0);
    return status;
}

/* Conv db[k] = the sum over n, p, q of dY, from the layer's blocked dY, in the team: each
 * thread sums its images into its row of `partial`, then a share of K over the rows. */
static void conv_bias(xsmm_state *st, int tid) {
    const bt_shape *s = &st->s;
    int64_t kb = st->block[R_DY], nkb = s->k / kb, hp = s->p + 2 * s->ph, wp = s->q + 2 * s->pw;
    const float *dy = st->buf[R_DY];
    float *acc = st->partial + tid * st->partial_stride;
    memset(acc, 0, (size_t)s->k * sizeof(float));
    int64_t begin, end;
    bt_split(s->n, tid, st->threads, &begin, &end);
    for (int64_t n = begin; n < end; n++)
        for (int64_t b = 0; b < nkb; b++) {
            float *a = acc + b * kb;
            for (int64_t i = 0; i < s->p; i++) {
                const float *row = dy + (((n * nkb + b) * hp + i + s->ph) * wp + s->pw) * kb;
                for (int64_t j = 0; j < s->q; j++)
#pragma omp simd
                    for (int64_t kk = 0; kk < kb; kk++) a[kk] += row[j * kb + kk];
            }
        }
#pragma omp barrier
    bt_split(s->k, tid, st->threads, &begin, &end);
    float *db = st->buf[R_DB];
    for (int64_t k = begin; k < end; k++) {
        float sum = 0;
        for (int t = 0; t < st->threads; t++) sum += st->partial[t * st->partial_stride + k];
        db[k] = sum;
    }
}

/* The timed work, on the layer's own tensors. */
static bt_status xsmm_execute(void *state, const bt_tensors *t) {
    (void)t;
    xsmm_state *st = state;
    libxsmm_dnn_err_t err = LIBXSMM_DNN_SUCCESS;
#pragma omp parallel num_threads(st->threads)
    {
        int tid = omp_get_thread_num();
        libxsmm_dnn_err_t e = st->fc
                                  ? libxsmm_dnn_fullyconnected_execute_st(st->fcl, st->kind, 0, tid)
                                  : libxsmm_dnn_execute_st(st->conv, st->kind, 0, tid);
        if (e != LIBXSMM_DNN_SUCCESS) {
#pragma omp atomic write
            err = e;
        }
        if (st->partial) conv_bias(st, tid);
    }
    return err == LIBXSMM_DNN_SUCCESS ? BT_OK : xsmm_fail(err, "execute");
}

static const char *xsmm_describe(void *state) {
    return ((xsmm_state *)state)->describe;
}

const bt_bench_impl bt_peer_libxsmm = {.name = "peer:libxsmm",
                                       .peer = 1,
                                       .variant = -1,
                                       .setup = xsmm_setup,
                                       .supports = xsmm_supports,
                                       .create = xsmm_create,
                                       .own_layouts = 1,
                                       .load = xsmm_load,
                                       .store = xsmm_store,
                                       .execute = xsmm_execute,
                                       .describe = xsmm_describe,
                                       .destroy = xsmm_destroy};

/* Small problems of each op (both layouts; 3x3, 1x1, strided, the 7x7 stride-2 first layer
 * whose last padding row goes unused), checked before any timing is trusted. */
static const char *const selftest_problems[] = {
    "conv_bwd_d mb2ic16ih8oc32kh3ph1",
    "conv_bwd_d_nhwc mb2ic32ih6oc16kh1sh2",
    "conv_bwd_d_nhwc mb2ic3ih12oc8kh7sh2ph3",
    "conv_bwd_w_nhwc mb2ic16ih8oc32kh3ph1",
    "conv_bwd_w mb2ic32ih6oc16kh1",
    "conv_bwd_w mb2ic3ih12oc8kh7sh2ph3",
    "fc_bwd_d mb4ic48oc80",
    "fc_bwd_w mb4ic48oc80",
};

/* Each problem with 1 and with 2 threads (the split of the work differs); the worst error of
 * each goes into the context. */
static bt_status selftest(void) {
    char summary[1024] = "passed, max relative error:";
    size_t used = strlen(summary);
    for (size_t i = 0; i < sizeof selftest_problems / sizeof selftest_problems[0]; i++) {
        const char *text = selftest_problems[i];
        double worst = 0;
        for (int threads = 1; threads <= SELFTEST_THREADS; threads++) {
            bt_peer_check_result res;
            if (bt_peer_check(&bt_peer_libxsmm, text, threads, &res) != BT_OK)
                return bt_fail(BT_EINVAL, "self-test: '%s' (%d threads) did not run: %s", text,
                               threads, bt_last_error());
            if (!res.pass)
                return bt_fail(BT_EINVAL,
                               "self-test: '%s' (%d threads) differs from the reference "
                               "(relative error %.2g > %g)",
                               text, threads, res.rel_err, BT_PEER_CHECK_TOLERANCE);
            if (res.rel_err > worst) worst = res.rel_err;
        }
        int w = snprintf(summary + used, sizeof summary - used, " %s %.1e;", text, worst);
        if (w > 0 && (size_t)w < sizeof summary - used) used += (size_t)w;
    }
    bt_gbench_add_context("peer_libxsmm_selftest", summary);
    return BT_OK;
}

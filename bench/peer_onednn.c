/* peer:onednn, peer:onednn_blocked and peer:onednn_auto — oneDNN's backward primitives on the
 * same problems.
 *
 * Convolutions use the (dilated) convolution backward-data / backward-weights primitives,
 * FC the inner-product ones, each created with its forward primitive descriptor as the hint
 * and a user-managed scratchpad (allocated at create, so execution allocates nothing, as
 * ours). Two ways:
 *   peer:onednn          plain layouts, ours (NCHW or NHWC activations, OIHW weights): it
 *                        reads and writes the bench's own buffers; except that with NHWC
 *                        activations the weights (W, dW) are in oneDNN's layout, as an
 *                        NHWC user of oneDNN keeps them: with OIHW weights oneDNN 2.6 has
 *                        only its reference kernel for NHWC (~1 GFLOP/s);
 *   peer:onednn_blocked  the layouts oneDNN prefers (format "any"): its inputs are reordered
 *                        from the bench's plain data before the first run (load), its outputs
 *                        stay in its layouts and are reordered back only for checking (store);
 *                        no reorder is timed (the label says so);
 *   peer:onednn_auto     as onednn_blocked, with the convolution algorithm left to oneDNN
 *                        (alg_kind auto): its Winograd kernels where it has them (3x3, stride
 *                        1, blocked layouts), else direct. The label names the implementation
 *                        it picked. The other two ask for the direct algorithm.
 * oneDNN here runs on OpenMP (Debian's build), the same pool as ours: the thread count is
 * set around creation and execution. Backward primitives overwrite their outputs, so
 * accumulating problems are not taken. */
#include "bench_impl.h"

#include "bt_gbench.h"
#include "check.h"

#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tensors a primitive touches, in bt_tensors order. */
enum { ROLE_X, ROLE_W, ROLE_DY, ROLE_DX, ROLE_DW, ROLE_DB, ROLE_COUNT };
static const int role_arg[ROLE_COUNT] = {DNNL_ARG_SRC,          DNNL_ARG_WEIGHTS,
                                         DNNL_ARG_DIFF_DST,     DNNL_ARG_DIFF_SRC,
                                         DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static bt_status dnnl_fail(dnnl_status_t s, const char *what) {
    return bt_fail(s == dnnl_unimplemented ? BT_EUNSUPPORTED : BT_EINVAL, "oneDNN: %s: %s", what,
                   s == dnnl_unimplemented   ? "no implementation for this problem"
                   : s == dnnl_out_of_memory ? "out of memory"
                                             : "invalid arguments");
}

static bt_status onednn_setup(const bt_bench_impl *impl) {
    (void)impl;
    if (engine) return BT_OK;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
        return bt_fail(BT_EUNSUPPORTED, "oneDNN: cannot create a CPU engine");
    if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(engine);
        engine = NULL;
        return bt_fail(BT_EUNSUPPORTED, "oneDNN: cannot create a stream");
    }
    const dnnl_version_t *v = dnnl_version();
    char text[128];
    snprintf(text, sizeof text, "%d.%d.%d (%s, cpu runtime %s)", v->major, v->minor, v->patch,
             v->hash ? v->hash : "", v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
    bt_gbench_add_context("peer_onednn_version", text);
    return BT_OK;
}

/* Whether a role is in oneDNN's own layout ("any"): every role of the blocked peer, and
 * the weights of the plain peer's NHWC convolutions (see the top of the file). */
static int role_in_onednn_layout(const bt_shape *s, int role, int blocked) {
    int conv = s->op == BT_CONV_BWD_DATA || s->op == BT_CONV_BWD_WEIGHTS;
    return blocked || (conv && s->layout == BT_NHWC && (role == ROLE_W || role == ROLE_DW));
}

/* The memory descriptor of a role: our plain layout, or "any" (oneDNN chooses). */
static void role_md(const bt_shape *s, int role, int any, dnnl_memory_desc_t *md) {
    int fc = s->op == BT_FC_BWD_DATA || s->op == BT_FC_BWD_WEIGHTS;
    dnnl_dims_t dims;
    int ndims;
    dnnl_format_tag_t tag;
    dnnl_format_tag_t act = fc ? dnnl_nc : s->layout == BT_NHWC ? dnnl_nhwc : dnnl_nchw;
    switch (role) {
    case ROLE_X:
    case ROLE_DX:
        ndims = fc ? 2 : 4;
        dims[0] = s->n, dims[1] = s->c, dims[2] = s->h, dims[3] = s->w;
        tag = act;
        break;
    case ROLE_DY:
        ndims = fc ? 2 : 4;
        dims[0] = s->n, dims[1] = s->k, dims[2] = s->p, dims[3] = s->q;
        tag = act;
        break;
    case ROLE_DB:
        ndims = 1;
        dims[0] = s->k;
        tag = dnnl_x;
        break;
    default: /* weights: K x C/G x R x S, grouped as G x K/G x C/G x R x S */
        if (fc) {
            ndims = 2, dims[0] = s->k, dims[1] = s->c, tag = dnnl_oi;
        } else if (s->g == 1) {
            ndims = 4, dims[0] = s->k, dims[1] = s->c, dims[2] = s->r, dims[3] = s->s;
            tag = dnnl_oihw;
        } else {
            ndims = 5, dims[0] = s->g, dims[1] = s->kg, dims[2] = s->cg, dims[3] = s->r,
            dims[4] = s->s, tag = dnnl_goihw;
        }
    }
    dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, any ? dnnl_format_tag_any : tag);
}

extern const bt_bench_impl bt_peer_onednn_auto;

/* The convolution algorithm the peer asks for. */
static dnnl_alg_kind_t conv_algorithm(const bt_bench_impl *impl) {
    return impl == &bt_peer_onednn_auto ? dnnl_convolution_auto : dnnl_convolution_direct;
}

/* Creates the backward primitive descriptor (with its forward hint). */
static bt_status make_pd(const bt_shape *s, int blocked, dnnl_alg_kind_t alg,
                         const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t md[ROLE_COUNT];
    for (int r = 0; r < ROLE_COUNT; r++)
        role_md(s, r, role_in_onednn_layout(s, r, blocked), &md[r]);
    int fc = s->op == BT_FC_BWD_DATA || s->op == BT_FC_BWD_WEIGHTS;
    int bwd_data = s->op == BT_FC_BWD_DATA || s->op == BT_CONV_BWD_DATA;
    dnnl_status_t st;
    dnnl_primitive_desc_t hint = NULL;
    if (fc) {
        dnnl_inner_product_desc_t fwd, bwd;
        st = dnnl_inner_product_forward_desc_init(&fwd, dnnl_forward_training, &md[ROLE_X],
                                                  &md[ROLE_W], &md[ROLE_DB], &md[ROLE_DY]);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&hint, &fwd, NULL, engine, NULL);
        if (st == dnnl_success)
            st = bwd_data ? dnnl_inner_product_backward_data_desc_init(&bwd, &md[ROLE_DX],
                                                                       &md[ROLE_W], &md[ROLE_DY])
                          : dnnl_inner_product_backward_weights_desc_init(
                                &bwd, &md[ROLE_X], &md[ROLE_DW], &md[ROLE_DB], &md[ROLE_DY]);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &bwd, attr, engine, hint);
    } else {
        /* oneDNN counts dilation from 0; its right padding makes the output size exact. */
        dnnl_dims_t strides = {s->sh, s->sw}, dilates = {s->dh - 1, s->dw - 1},
                    pad_l = {s->ph, s->pw},
                    pad_r = {(s->p - 1) * s->sh + (s->r - 1) * s->dh + 1 - s->h - s->ph,
                             (s->q - 1) * s->sw + (s->s - 1) * s->dw + 1 - s->w - s->pw};
        dnnl_convolution_desc_t fwd, bwd;
        st = dnnl_dilated_convolution_forward_desc_init(
            &fwd, dnnl_forward_training, alg, &md[ROLE_X], &md[ROLE_W], &md[ROLE_DB], &md[ROLE_DY],
            strides, dilates, pad_l, pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&hint, &fwd, NULL, engine, NULL);
        if (st == dnnl_success)
            st = bwd_data ? dnnl_dilated_convolution_backward_data_desc_init(
                                &bwd, alg, &md[ROLE_DX], &md[ROLE_W], &md[ROLE_DY], strides,
                                dilates, pad_l, pad_r)
                          : dnnl_dilated_convolution_backward_weights_desc_init(
                                &bwd, alg, &md[ROLE_X], &md[ROLE_DW], &md[ROLE_DB], &md[ROLE_DY],
                                strides, dilates, pad_l, pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &bwd, attr, engine, hint);
    }
    if (hint) dnnl_primitive_desc_destroy(hint);
    return st == dnnl_success ? BT_OK : dnnl_fail(st, "backward primitive descriptor");
}

static bt_status onednn_supports(const bt_bench_impl *impl, const bt_problem *p) {
    bt_problem q;
    if (bt_problem_normalize(p, &q) != BT_OK) return BT_EINVAL;
    if (q.accumulate)
        return bt_fail(BT_EUNSUPPORTED, "%s: oneDNN backward primitives do not accumulate",
                       impl->name);
    bt_shape s;
    bt_shape_from_problem(&q, &s);
    if (conv_algorithm(impl) == dnnl_convolution_auto &&
        (s.op == BT_FC_BWD_DATA || s.op == BT_FC_BWD_WEIGHTS))
        return bt_fail(BT_EUNSUPPORTED, "%s: convolutions only (for FC it is onednn_blocked)",
                       impl->name);
    dnnl_primitive_desc_t pd = NULL;
    bt_status st = make_pd(&s, impl->own_layouts, conv_algorithm(impl), NULL, &pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return st;
}

typedef struct onednn_state {
    int threads, blocked;
    dnnl_alg_kind_t alg;
    bt_shape shape;
    int own[ROLE_COUNT];  /* the role's memory is oneDNN's (its layout), not the bench's */
    int used[ROLE_COUNT]; /* roles the primitive takes */
    dnnl_memory_t mem[ROLE_COUNT], scratch_mem;
    dnnl_primitive_t prim;
    /* Plain peer, roles in oneDNN's layout: the bench's buffer and the reorder between it
     * and the role's memory (W: in, once per buffer; dW: back out, every run). */
    dnnl_memory_t user_mem[ROLE_COUNT];
    dnnl_primitive_t user_reorder[ROLE_COUNT];
    const void *loaded[ROLE_COUNT];
    char describe[200];
} onednn_state;

static void onednn_destroy(void *state) {
    onednn_state *st = state;
    if (!st) return;
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (st->mem[r]) dnnl_memory_destroy(st->mem[r]);
        if (st->user_mem[r]) dnnl_memory_destroy(st->user_mem[r]);
        if (st->user_reorder[r]) dnnl_primitive_destroy(st->user_reorder[r]);
    }
    if (st->scratch_mem) dnnl_memory_destroy(st->scratch_mem);
    if (st->prim) dnnl_primitive_destroy(st->prim);
    free(st);
}

/* Reorders between a role's plain buffer `data` (our layout) and its memory `mem` in
 * oneDNN's layout: into mem, or out of it (to_plain). Not timed: creates its reorder. */
static bt_status reorder_plain(const bt_shape *s, int role, dnnl_memory_t mem, void *data,
                               int to_plain) {
    dnnl_memory_desc_t plain;
    role_md(s, role, 0, &plain);
    const dnnl_memory_desc_t *mem_md;
    dnnl_memory_get_memory_desc(mem, &mem_md);
    dnnl_memory_t user = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_status_t st = dnnl_memory_create(&user, &plain, engine, data);
    if (st == dnnl_success)
        st = to_plain
                 ? dnnl_reorder_primitive_desc_create(&rpd, mem_md, engine, &plain, engine, NULL)
                 : dnnl_reorder_primitive_desc_create(&rpd, &plain, engine, mem_md, engine, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&reorder, rpd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, to_plain ? mem : user},
                                   {DNNL_ARG_TO, to_plain ? user : mem}};
        st = dnnl_primitive_execute(reorder, stream, 2, args);
        if (st == dnnl_success) st = dnnl_stream_wait(stream);
    }
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (user) dnnl_memory_destroy(user);
    return st == dnnl_success ? BT_OK : dnnl_fail(st, "reorder");
}

/* Fills a memory in oneDNN's layout with random values via a reorder from a plain copy. */
static bt_status fill_by_reorder(const bt_shape *s, int role, dnnl_memory_t dst, uint64_t seed) {
    dnnl_memory_desc_t plain;
    role_md(s, role, 0, &plain);
    size_t bytes = dnnl_memory_desc_get_size(&plain);
    float *data = malloc(bytes ? bytes : 1);
    if (!data) return bt_fail(BT_ENOMEM, "out of memory");
    bt_fill_random(data, bytes / sizeof(float), seed);
    bt_status st = reorder_plain(s, role, dst, data, 0);
    free(data);
    return st;
}

/* The plain peer's reorder between the bench's buffer of a role (plain) and its memory in
 * oneDNN's layout `md`: into it for an input, out of it for an output. */
static dnnl_status_t make_user_reorder(const bt_shape *s, int role, const dnnl_memory_desc_t *md,
                                       onednn_state *st) {
    dnnl_memory_desc_t plain;
    role_md(s, role, 0, &plain);
    int input = role == ROLE_X || role == ROLE_W || role == ROLE_DY;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_status_t ds = dnnl_memory_create(&st->user_mem[role], &plain, engine, DNNL_MEMORY_NONE);
    if (ds == dnnl_success)
        ds = input ? dnnl_reorder_primitive_desc_create(&rpd, &plain, engine, md, engine, NULL)
                   : dnnl_reorder_primitive_desc_create(&rpd, md, engine, &plain, engine, NULL);
    if (ds == dnnl_success) ds = dnnl_primitive_create(&st->user_reorder[role], rpd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return ds;
}

/* Runs the reorder of a role between the bench's buffer `data` and oneDNN's memory. */
static dnnl_status_t run_user_reorder(onednn_state *st, int role, void *data) {
    int input = role == ROLE_X || role == ROLE_W || role == ROLE_DY;
    dnnl_memory_set_data_handle(st->user_mem[role], data);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, input ? st->user_mem[role] : st->mem[role]},
                               {DNNL_ARG_TO, input ? st->mem[role] : st->user_mem[role]}};
    dnnl_status_t ds = dnnl_primitive_execute(st->user_reorder[role], stream, 2, args);
    return ds == dnnl_success ? dnnl_stream_wait(stream) : ds;
}

static bt_status create_in(const bt_shape *s, onednn_state *st) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    bt_status status = BT_EINVAL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success)
        goto out;
    status = make_pd(s, st->blocked, st->alg, attr, &pd);
    if (status != BT_OK) goto out;
    int bwd_data = s->op == BT_FC_BWD_DATA || s->op == BT_CONV_BWD_DATA;
    static const int data_roles[] = {ROLE_W, ROLE_DY, ROLE_DX};
    static const int weight_roles[] = {ROLE_X, ROLE_DY, ROLE_DW, ROLE_DB};
    const int *roles = bwd_data ? data_roles : weight_roles;
    int nroles = bwd_data ? 3 : 4;
    dnnl_status_t ds = dnnl_success;
    for (int i = 0; i < nroles && ds == dnnl_success; i++) {
        int r = roles[i];
        st->used[r] = 1;
        const dnnl_memory_desc_t *md =
            dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, role_arg[r]);
        /* Plain: the bench's buffers, set at execute. oneDNN's layouts: its own. */
        st->own[r] = role_in_onednn_layout(s, r, st->blocked);
        ds = dnnl_memory_create(&st->mem[r], md, engine,
                                st->own[r] ? DNNL_MEMORY_ALLOCATE : DNNL_MEMORY_NONE);
        if (ds == dnnl_success && st->blocked && (r == ROLE_X || r == ROLE_W || r == ROLE_DY))
            if (fill_by_reorder(s, r, st->mem[r], (uint64_t)r + 1) != BT_OK)
                ds = dnnl_runtime_error;
        if (ds == dnnl_success && !st->blocked && st->own[r]) ds = make_user_reorder(s, r, md, st);
    }
    const dnnl_memory_desc_t *scratch_md =
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (ds == dnnl_success)
        ds = dnnl_memory_create(&st->scratch_mem, scratch_md, engine, DNNL_MEMORY_ALLOCATE);
    if (ds == dnnl_success) ds = dnnl_primitive_create(&st->prim, pd);
    if (ds != dnnl_success) {
        status = dnnl_fail(ds, "primitive creation");
        goto out;
    }
    const char *impl_name = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl_name);
    snprintf(st->describe, sizeof st->describe, "threads=%d,impl=%s,%s", st->threads, impl_name,
             st->blocked                           ? "layouts=oneDNN's (reorders not timed)"
             : st->own[ROLE_W] || st->own[ROLE_DW] ? "layouts=plain, weights oneDNN's (not timed)"
                                                   : "layouts=plain");
    status = BT_OK;
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return status;
}

static bt_status onednn_create(const bt_bench_impl *impl, const bt_problem *p, int threads,
                               void **state) {
    *state = NULL;
    bt_problem q;
    if (bt_problem_normalize(p, &q) != BT_OK) return BT_EINVAL;
    onednn_state *st = calloc(1, sizeof *st);
    if (!st) return bt_fail(BT_ENOMEM, "out of memory");
    st->threads = threads;
    st->blocked = impl->own_layouts;
    st->alg = conv_algorithm(impl);
    bt_shape s;
    bt_shape_from_problem(&q, &s);
    st->shape = s;
    /* oneDNN sizes its work split by OpenMP's thread count when it creates a primitive. */
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    bt_status status = create_in(&s, st);
    omp_set_num_threads(saved);
    if (status != BT_OK) {
        onednn_destroy(st);
        return status;
    }
    *state = st;
    return BT_OK;
}

static bt_status onednn_execute(void *state, const bt_tensors *t) {
    onednn_state *st = state;
    dnnl_exec_arg_t args[ROLE_COUNT + 1];
    int nargs = 0;
    void *const data[ROLE_COUNT] = {(void *)t->x, (void *)t->w, (void *)t->dy, t->dx, t->dw, t->db};
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (!st->used[r]) continue;
        if (!st->own[r]) dnnl_memory_set_data_handle(st->mem[r], data[r]);
        args[nargs++] = (dnnl_exec_arg_t){role_arg[r], st->mem[r]};
    }
    dnnl_status_t ds = dnnl_success;
    /* Inputs in oneDNN's layout: loaded from a new buffer (the bench's warm-up run). */
    for (int r = 0; r < ROLE_COUNT && ds == dnnl_success; r++)
        if (st->user_reorder[r] && (r == ROLE_X || r == ROLE_W || r == ROLE_DY) &&
            st->loaded[r] != data[r]) {
            ds = run_user_reorder(st, r, data[r]);
            st->loaded[r] = data[r];
        }
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, st->scratch_mem};
    int saved = omp_get_max_threads();
    omp_set_num_threads(st->threads);
    if (ds == dnnl_success) ds = dnnl_primitive_execute(st->prim, stream, nargs, args);
    if (ds == dnnl_success) ds = dnnl_stream_wait(stream);
    /* Outputs in oneDNN's layout go back to the bench's buffer, in the timed run. */
    for (int r = 0; r < ROLE_COUNT && ds == dnnl_success; r++)
        if (st->user_reorder[r] && (r == ROLE_DX || r == ROLE_DW || r == ROLE_DB))
            ds = run_user_reorder(st, r, data[r]);
    omp_set_num_threads(saved);
    return ds == dnnl_success ? BT_OK : dnnl_fail(ds, "execute");
}

/* Peers in oneDNN's layouts: the bench's inputs into its memories, its outputs back. */
static bt_status onednn_copy(void *state, const bt_tensors *t, int outputs) {
    onednn_state *st = state;
    void *const data[ROLE_COUNT] = {(void *)t->x, (void *)t->w, (void *)t->dy, t->dx, t->dw, t->db};
    bt_status status = BT_OK;
    for (int r = 0; r < ROLE_COUNT && status == BT_OK; r++) {
        int output = r == ROLE_DX || r == ROLE_DW || r == ROLE_DB;
        if (st->used[r] && st->own[r] && data[r] && output == outputs)
            status = reorder_plain(&st->shape, r, st->mem[r], data[r], outputs);
    }
    return status;
}
static bt_status onednn_load(void *state, const bt_tensors *t) {
    return onednn_copy(state, t, 0);
}
static bt_status onednn_store(void *state, const bt_tensors *t) {
    return onednn_copy(state, t, 1);
}

static const char *onednn_describe(void *state) {
    return ((onednn_state *)state)->describe;
}

#define ONEDNN_PEER(id, text, own)                                                                 \
    const bt_bench_impl id = {.name = text,                                                        \
                              .peer = 1,                                                           \
                              .variant = -1,                                                       \
                              .setup = onednn_setup,                                               \
                              .supports = onednn_supports,                                         \
                              .create = onednn_create,                                             \
                              .own_layouts = own,                                                  \
                              .load = own ? onednn_load : NULL,                                    \
                              .store = own ? onednn_store : NULL,                                  \
                              .execute = onednn_execute,                                           \
                              .describe = onednn_describe,                                         \
                              .destroy = onednn_destroy};
ONEDNN_PEER(bt_peer_onednn, "peer:onednn", 0)
ONEDNN_PEER(bt_peer_onednn_blocked, "peer:onednn_blocked", 1)
ONEDNN_PEER(bt_peer_onednn_auto, "peer:onednn_auto", 1)

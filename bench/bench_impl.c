/* Our variants as bench impls (bench_impl.h): a plan made once, executed in the timed loop. */
#include "bench_impl.h"

#include <stdio.h>
#include <stdlib.h>

static bt_status variant_supports(const bt_bench_impl *impl, const bt_problem *p) {
    if (!bt_variant_cpu_ok(impl->variant))
        return bt_fail(BT_EUNSUPPORTED, "%s needs %s, which this CPU (or BACKTUNE_ISA_CAP) lacks",
                       impl->name, bt_variant_isa(impl->variant));
    return bt_variant_supports(impl->variant, p);
}

static bt_status variant_create(const bt_bench_impl *impl, const bt_problem *p, int threads,
                                void **state) {
    char params[32];
    snprintf(params, sizeof params, "threads=%d", threads);
    bt_plan *plan = NULL;
    bt_status st = bt_plan_create(&plan, p, impl->name, params);
    *state = plan;
    return st;
}

static bt_status variant_execute(void *state, const bt_tensors *t) {
    return bt_plan_execute(state, t);
}

static const char *variant_describe(void *state) {
    return bt_plan_params(state);
}

static void variant_destroy(void *state) {
    bt_plan_destroy(state);
}

void bt_bench_variant_impl(int i, bt_bench_impl *out) {
    *out = (bt_bench_impl){.name = bt_variant_name(i),
                           .peer = 0,
                           .variant = i,
                           .supports = variant_supports,
                           .create = variant_create,
                           .execute = variant_execute,
                           .describe = variant_describe,
                           .destroy = variant_destroy};
}

/* "dispatch": what a user gets from bt_plan_create(variant = NULL), i.e. the loaded tuning
 * table's choice (BACKTUNE_TABLE) or else the heuristic's, timed like any variant. */
typedef struct dispatch_state {
    bt_plan *plan;
    char describe[BT_PARAMS_TEXT + 160];
} dispatch_state;

static bt_status dispatch_supports(const bt_bench_impl *impl, const bt_problem *p) {
    (void)impl, (void)p;
    return BT_OK; /* the reference takes every valid problem */
}

static bt_status dispatch_create(const bt_bench_impl *impl, const bt_problem *p, int threads,
                                 void **state) {
    (void)impl;
    dispatch_state *d = calloc(1, sizeof *d);
    if (!d) return bt_fail(BT_ENOMEM, "dispatch: out of memory");
    char params[32];
    snprintf(params, sizeof params, "threads=%d", threads);
    bt_status st = bt_plan_create(&d->plan, p, NULL, params);
    if (st != BT_OK) {
        free(d);
        return st;
    }
    snprintf(d->describe, sizeof d->describe, "%s (%s) %s", bt_plan_variant(d->plan),
             bt_plan_source(d->plan), bt_plan_params(d->plan));
    *state = d;
    return BT_OK;
}

static bt_status dispatch_execute(void *state, const bt_tensors *t) {
    return bt_plan_execute(((dispatch_state *)state)->plan, t);
}

static const char *dispatch_describe(void *state) {
    return ((dispatch_state *)state)->describe;
}

static void dispatch_destroy(void *state) {
    dispatch_state *d = state;
    if (d) bt_plan_destroy(d->plan);
    free(d);
}

const bt_bench_impl bt_bench_dispatch = {.name = "dispatch",
                                         .peer = 0,
                                         .variant = -1,
                                         .supports = dispatch_supports,
                                         .create = dispatch_create,
                                         .execute = dispatch_execute,
                                         .describe = dispatch_describe,
                                         .destroy = dispatch_destroy};

bt_isa bt_bench_impl_isa(const bt_bench_impl *impl) {
    if (!impl->peer && impl->variant >= 0) return bt_registry_get(impl->variant)->isa;
    const bt_machine *m = bt_machine_get();
    return m->has_avx512 ? BT_ISA_AVX512 : m->has_avx2 ? BT_ISA_AVX2 : BT_ISA_SCALAR;
}

extern const bt_bench_impl bt_peer_openblas_sgemm;
#ifdef BT_HAVE_ONEDNN
extern const bt_bench_impl bt_peer_onednn, bt_peer_onednn_blocked, bt_peer_onednn_auto;
#endif
#ifdef BT_HAVE_LIBXSMM
extern const bt_bench_impl bt_peer_libxsmm;
#endif

/* One peer a line, between the #ifdefs. */
/* clang-format off */
const bt_bench_impl *const bt_bench_peers[] = {
#ifdef BT_HAVE_ONEDNN
    &bt_peer_onednn,
    &bt_peer_onednn_blocked,
    &bt_peer_onednn_auto,
#endif
#ifdef BT_HAVE_LIBXSMM
    &bt_peer_libxsmm,
#endif
    &bt_peer_openblas_sgemm,
    NULL,
};
/* clang-format on */

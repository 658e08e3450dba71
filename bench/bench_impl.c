/* Our variants as bench impls (bench_impl.h): a plan made once, executed in the timed loop. */
#include "bench_impl.h"

#include <stdio.h>

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

bt_isa bt_bench_impl_isa(const bt_bench_impl *impl) {
    if (!impl->peer) return bt_registry_get(impl->variant)->isa;
    const bt_machine *m = bt_machine_get();
    return m->has_avx512 ? BT_ISA_AVX512 : m->has_avx2 ? BT_ISA_AVX2 : BT_ISA_SCALAR;
}

extern const bt_bench_impl bt_peer_openblas_sgemm;
#ifdef BT_HAVE_ONEDNN
extern const bt_bench_impl bt_peer_onednn, bt_peer_onednn_blocked;
#endif

const bt_bench_impl *const bt_bench_peers[] = {
#ifdef BT_HAVE_ONEDNN
    &bt_peer_onednn,
    &bt_peer_onednn_blocked,
#endif
    &bt_peer_openblas_sgemm,
    NULL,
};

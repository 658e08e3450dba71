/* The variant registry, built from the per-op enumerators. Immutable: no initialisation. */
#include "internal.h"

#include <string.h>

#define BT_VARIANT(id) extern const bt_variant bt_variant_##id;
#include "fc/fc_bwd_data.inc"
#include "fc/fc_bwd_weights.inc"
#include "conv/conv_bwd_data.inc"
#include "conv/conv_bwd_weights.inc"
#undef BT_VARIANT

#define BT_VARIANT(id) &bt_variant_##id,
static const bt_variant *const registry[] = {
#include "fc/fc_bwd_data.inc"
#include "fc/fc_bwd_weights.inc"
#include "conv/conv_bwd_data.inc"
#include "conv/conv_bwd_weights.inc"
};
#undef BT_VARIANT

enum { REGISTRY_SIZE = (int)(sizeof registry / sizeof registry[0]) };

int bt_registry_count(void) {
    return REGISTRY_SIZE;
}
const bt_variant *bt_registry_get(int i) {
    return i >= 0 && i < REGISTRY_SIZE ? registry[i] : NULL;
}

int bt_variant_count(void) {
    return REGISTRY_SIZE;
}

const char *bt_variant_name(int i) {
    const bt_variant *v = bt_registry_get(i);
    if (!v) {
        bt_fail(BT_EINVAL, "variant index %d out of range [0, %d)", i, REGISTRY_SIZE);
        return NULL;
    }
    return v->name;
}

bt_op bt_variant_op(int i) {
    const bt_variant *v = bt_registry_get(i);
    if (!v) {
        bt_fail(BT_EINVAL, "variant index %d out of range [0, %d)", i, REGISTRY_SIZE);
        return (bt_op)-1;
    }
    return v->op;
}

int bt_variant_find(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < REGISTRY_SIZE; i++)
        if (!strcmp(registry[i]->name, name)) return i;
    return -1;
}

const char *bt_isa_name(bt_isa isa) {
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    return (unsigned)isa < sizeof names / sizeof names[0] ? names[isa] : "unknown";
}

const char *bt_variant_isa(int i) {
    const bt_variant *v = bt_registry_get(i);
    return v ? bt_isa_name(v->isa) : NULL;
}

int bt_variant_cpu_ok(int i) {
    const bt_variant *v = bt_registry_get(i);
    return v && v->isa <= bt_machine_get()->isa_cap;
}

int bt_param_index(const bt_variant *v, const char *key) {
    for (int i = 0; v->params && v->params[i].key; i++)
        if (!strcmp(v->params[i].key, key)) return i;
    return -1;
}

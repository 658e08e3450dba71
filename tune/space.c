/* The tuner's search space (see space.h). */
#include "space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "key=v1|v2|v3" into p; a range "lo..hi" (or an empty list) leaves count 0. */
static int parse_param(const char *text, bt_space_param *p) {
    memset(p, 0, sizeof *p);
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || (size_t)(eq - text) >= sizeof p->key) return 0;
    memcpy(p->key, text, (size_t)(eq - text));
    const char *values = eq + 1;
    if (strstr(values, "..")) return 1;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", values);
    for (char *save = NULL, *v = strtok_r(copy, "|", &save); v && p->count < BT_SPACE_MAX_VALUES;
         v = strtok_r(NULL, "|", &save))
        if (strlen(v) < sizeof p->values[0])
            snprintf(p->values[p->count++], sizeof p->values[0], "%s", v);
    return 1;
}

static void parse_variant(int index, bt_space_variant *out) {
    memset(out, 0, sizeof *out);
    out->index = index;
    out->name = bt_variant_name(index);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", bt_variant_param_space(index));
    for (char *save = NULL, *item = strtok_r(copy, ";", &save);
         item && out->nparams < BT_MAX_PARAMS; item = strtok_r(NULL, ";", &save))
        if (parse_param(item, &out->params[out->nparams])) out->nparams++;
}

/* A variant with a wider-ISA sibling of its family in the space keeps only its defaults:
 * siblings share the algorithm and the parameters, and the narrower vectors lose on every
 * blocking but rarely (1 of the 176 keys tuned on this machine before this rule was won by
 * an AVX2 variant: a 16-channel 14x14 bwd_d at 76 GFLOP/s); their grids made up 40-60% of
 * the space. */
static void narrow_siblings_to_defaults(bt_space *s) {
    for (int i = 0; i < s->nvariants; i++) {
        bt_space_variant *v = &s->variants[i];
        const bt_variant *vi = bt_registry_get(v->index);
        for (int j = 0; j < s->nvariants; j++) {
            const bt_variant *vj = bt_registry_get(s->variants[j].index);
            if (vj->isa > vi->isa && vj->op == vi->op && !strcmp(vj->family, vi->family)) {
                for (int k = 0; k < v->nparams; k++) v->params[k].count = 0;
                v->narrowed = 1;
                break;
            }
        }
    }
}

bt_status bt_space_build(const bt_problem *p, int threads, bt_space *out) {
    memset(out, 0, sizeof *out);
    if (threads < 1) return bt_fail(BT_EINVAL, "tuner: threads must be positive");
    int n = bt_registry_count();
    out->variants = calloc((size_t)n, sizeof *out->variants);
    out->skipped = calloc((size_t)n, sizeof *out->skipped);
    if (!out->variants || !out->skipped) {
        bt_space_free(out);
        return bt_fail(BT_ENOMEM, "tuner: out of memory");
    }
    for (int i = 0; i < n; i++) {
        const bt_variant *v = bt_registry_get(i);
        if (v->op != p->op || v->is_reference) continue;
        if (bt_variant_supports(i, p) != BT_OK) {
            bt_space_skip *sk = &out->skipped[out->nskipped++];
            sk->name = v->name;
            snprintf(sk->reason, sizeof sk->reason, "%s", bt_last_error());
            continue;
        }
        parse_variant(i, &out->variants[out->nvariants++]);
    }
    narrow_siblings_to_defaults(out);
    for (int t = threads; t >= 1 && out->nthreads < BT_SPACE_MAX_THREADS; t /= 2)
        out->threads[out->nthreads++] = t;
    if (out->threads[out->nthreads - 1] != 1 && out->nthreads < BT_SPACE_MAX_THREADS)
        out->threads[out->nthreads++] = 1;
    return BT_OK;
}

void bt_space_free(bt_space *s) {
    free(s->variants);
    free(s->skipped);
    memset(s, 0, sizeof *s);
}

/* Configurations of one variant at one thread count: the all-default one, then every
 * combination of listed values (none when it has nothing to tune). */
static int64_t variant_configs(const bt_space_variant *v) {
    int64_t n = 1;
    int tunable = 0;
    for (int j = 0; j < v->nparams; j++)
        if (v->params[j].count) n *= v->params[j].count, tunable = 1;
    return tunable ? 1 + n : 1;
}

int64_t bt_space_size(const bt_space *s) {
    int64_t total = 0;
    for (int i = 0; i < s->nvariants; i++) total += variant_configs(&s->variants[i]) * s->nthreads;
    return total;
}

void bt_space_config(const bt_space *s, int64_t i, bt_config *out) {
    memset(out, 0, sizeof *out);
    for (int v = 0; v < s->nvariants; v++) {
        int64_t per_threads = variant_configs(&s->variants[v]);
        if (i >= per_threads * s->nthreads) {
            i -= per_threads * s->nthreads;
            continue;
        }
        out->variant = v;
        out->threads = (int)(i / per_threads);
        int64_t combo = i % per_threads;
        if (combo == 0) return; /* the all-default configuration */
        combo--;
        const bt_space_variant *sv = &s->variants[v];
        for (int j = sv->nparams - 1; j >= 0; j--) { /* mixed radix, last parameter fastest */
            int count = sv->params[j].count;
            if (!count) continue;
            out->choice[j] = 1 + (int)(combo % count);
            combo /= count;
        }
        return;
    }
}

static uint64_t next_random(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void bt_space_random(const bt_space *s, int variant, uint64_t *state, bt_config *out) {
    memset(out, 0, sizeof *out);
    if (!s->nvariants) return;
    out->variant = variant >= 0 && variant < s->nvariants
                       ? variant
                       : (int)(next_random(state) % (uint64_t)s->nvariants);
    out->threads = (int)(next_random(state) % (uint64_t)s->nthreads);
    const bt_space_variant *v = &s->variants[out->variant];
    for (int j = 0; j < v->nparams; j++)
        if (v->params[j].count)
            out->choice[j] = 1 + (int)(next_random(state) % (uint64_t)v->params[j].count);
}

void bt_space_params(const bt_space *s, const bt_config *c, char *buf, size_t size) {
    const bt_space_variant *v = &s->variants[c->variant];
    size_t n = 0;
    buf[0] = '\0';
    for (int j = 0; j < v->nparams && n < size; j++)
        if (c->choice[j] > 0)
            n += (size_t)snprintf(buf + n, size - n, "%s=%s,", v->params[j].key,
                                  v->params[j].values[c->choice[j] - 1]);
    if (n < size) snprintf(buf + n, size - n, "threads=%d", s->threads[c->threads]);
}

/* Plans: dispatch, parameter parsing, scratch; execution in one OpenMP parallel region. */
#include "internal.h"
#include "tuning.h"

#include <ctype.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <xmmintrin.h>

#define MAX_THREADS 1024

/* Parameters every variant takes, handled here. */
static const char *const bind_choices[] = {"none", "close", "spread", NULL};
enum { BIND_NONE, BIND_CLOSE, BIND_SPREAD };

typedef struct core_params {
    int threads, bind, direct_only;
    int threads_given, bind_given, algorithms_given;
} core_params;

/* The `algorithms` parameter and BACKTUNE_ALGORITHMS: whether approximate algorithms
 * (variants with an error_factor, i.e. Winograd) may be used. */
static const char *const algorithms_choices[] = {"all", "direct", NULL};
enum { ALGORITHMS_ALL, ALGORITHMS_DIRECT };

/* BACKTUNE_ALGORITHMS: 1 for direct, 0 for all or unset, -1 for anything else. */
static int env_direct_only(void) {
    const char *e = getenv("BACKTUNE_ALGORITHMS");
    if (!e || !*e || !strcmp(e, "all")) return 0;
    if (!strcmp(e, "direct")) return 1;
    bt_fail(BT_EINVAL, "BACKTUNE_ALGORITHMS=%s: expected all or direct", e);
    return -1;
}

/* The note dispatch's messages add when the plan is of an approximate algorithm (its
 * variant's or its inner plan's). */
static const char *approximate_note(const bt_plan *plan) {
    return bt_plan_error_factor(plan) > 0 ? "; an approximate algorithm (docs/winograd.md), "
                                            "BACKTUNE_ALGORITHMS=direct turns it off"
                                          : "";
}

static int verbose(void) {
    const char *v = getenv("BACKTUNE_VERBOSE");
    return v && *v && strcmp(v, "0");
}

/* The binding OpenMP's proc-bind setting stands for. */
static int omp_binding(void) {
    switch (omp_get_proc_bind()) {
    case omp_proc_bind_false:
        return BIND_NONE;
    case omp_proc_bind_spread:
        return BIND_SPREAD;
    default:
        return BIND_CLOSE;
    }
}

static int default_bind(void) {
    /* Follow OMP_PROC_BIND when the user set it; otherwise keep threads on their cores. */
    return getenv("OMP_PROC_BIND") ? omp_binding() : BIND_CLOSE;
}

/* The binding the team really gets: OpenMP binds threads to places only, and without
 * OMP_PLACES (or OMP_PROC_BIND, which implies places) there are none, so a proc_bind clause
 * changes nothing and the threads may run on any allowed CPU. A team without a clause
 * follows OMP_PROC_BIND (bound by default once places exist). */
static int effective_bind(int requested) {
    if (omp_get_num_places() == 0) return BIND_NONE;
    return requested != BIND_NONE ? requested : omp_binding();
}

static bt_status parse_value(const char *key, const char *val, const char *const *choices,
                             int64_t lo, int64_t hi, int64_t *out) {
    if (choices) {
        for (int i = 0; choices[i]; i++)
            if (!strcmp(choices[i], val)) {
                *out = i;
                return BT_OK;
            }
        char list[160] = "";
        for (int i = 0; choices[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     choices[i]);
        return bt_fail(BT_EINVAL, "params: %s=%s is not one of: %s", key, val, list);
    }
    char *end;
    if (!*val || !(isdigit((unsigned char)*val) || *val == '-'))
        return bt_fail(BT_EINVAL, "params: %s=%s is not an integer", key, val);
    long long v = strtoll(val, &end, 10);
    if (*end) return bt_fail(BT_EINVAL, "params: %s=%s is not an integer", key, val);
    if (v < lo || v > hi)
        return bt_fail(BT_EINVAL, "params: %s=%lld is outside [%lld, %lld]", key, v, (long long)lo,
                       (long long)hi);
    *out = v;
    return BT_OK;
}

static void list_keys(const bt_variant *v, char *buf, size_t size) {
    snprintf(buf, size, "threads, bind, algorithms");
    for (int i = 0; v->params && v->params[i].key; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), ", %s", v->params[i].key);
}

/* "key=value,key=value" against the variant's declared parameters and the core ones. */
static bt_status parse_params(bt_plan *plan, core_params *core, const char *text) {
    const bt_variant *v = plan->variant;
    if (!text) return BT_OK;
    size_t len = strlen(text);
    if (len >= 1024) return bt_fail(BT_EINVAL, "params: text too long");
    char buf[1024];
    memcpy(buf, text, len + 1);
    for (char *save = NULL, *item = strtok_r(buf, ", ", &save); item;
         item = strtok_r(NULL, ", ", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) return bt_fail(BT_EINVAL, "params: '%s' is not key=value", item);
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        int64_t value;
        bt_status st;
        if ((!strcmp(key, "threads") && core->threads_given) ||
            (!strcmp(key, "bind") && core->bind_given) ||
            (!strcmp(key, "algorithms") && core->algorithms_given))
            return bt_fail(BT_EINVAL, "params: '%s' given twice", key);
        if (!strcmp(key, "threads")) {
            if ((st = parse_value(key, val, NULL, 1, MAX_THREADS, &value)) != BT_OK) return st;
            core->threads = (int)value, core->threads_given = 1;
            continue;
        }
        if (!strcmp(key, "bind")) {
            if ((st = parse_value(key, val, bind_choices, 0, 0, &value)) != BT_OK) return st;
            core->bind = (int)value, core->bind_given = 1;
            continue;
        }
        if (!strcmp(key, "algorithms")) {
            if ((st = parse_value(key, val, algorithms_choices, 0, 0, &value)) != BT_OK) return st;
            core->direct_only = value == ALGORITHMS_DIRECT, core->algorithms_given = 1;
            continue;
        }
        int idx = bt_param_index(v, key);
        if (idx < 0) {
            char keys[256];
            list_keys(v, keys, sizeof keys);
            return bt_fail(BT_EINVAL, "params: variant %s has no parameter '%s' (it takes: %s)",
                           v->name, key, keys);
        }
        if (plan->param_given[idx]) return bt_fail(BT_EINVAL, "params: '%s' given twice", key);
        const bt_param_spec *ps = &v->params[idx];
        if ((st = parse_value(key, val, ps->choices, ps->min, ps->max, &value)) != BT_OK) return st;
        plan->param[idx] = value;
        plan->param_given[idx] = 1;
    }
    return BT_OK;
}

bt_status bt_variant_params_check(int i, const char *params) {
    const bt_variant *v = bt_registry_get(i);
    if (!v) return bt_fail(BT_EINVAL, "no variant %d", i);
    bt_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.variant = v;
    core_params core = {0};
    return parse_params(&plan, &core, params);
}

static void format_params(bt_plan *plan, int bind, int direct_only) {
    const bt_variant *v = plan->variant;
    char *b = plan->params_text;
    size_t size = sizeof plan->params_text, n = 0;
    for (int i = 0; v->params && v->params[i].key && n < size; i++) {
        const bt_param_spec *ps = &v->params[i];
        if (ps->choices)
            n += (size_t)snprintf(b + n, size - n, "%s=%s,", ps->key, ps->choices[plan->param[i]]);
        else
            n += (size_t)snprintf(b + n, size - n, "%s=%lld,", ps->key, (long long)plan->param[i]);
    }
    if (n < size)
        n += (size_t)snprintf(b + n, size - n, "threads=%d,bind=%s", plan->threads,
                              bind_choices[bind]);
    if (direct_only && n < size) snprintf(b + n, size - n, ",algorithms=direct");
}

const char *bt_test_scratch_fails;

static void *alloc_scratch(const bt_plan *plan) {
    if (bt_test_scratch_fails && !strcmp(bt_test_scratch_fails, plan->variant->name)) return NULL;
    size_t bytes = plan->scratch_bytes;
    size_t rounded = (bytes + BT_ALIGN - 1) / BT_ALIGN * BT_ALIGN;
    void *p = aligned_alloc(BT_ALIGN, rounded);
    if (!p) return NULL;
    /* Fault the pages in now: first touch costs ~2.5 ms/MB on 4 KiB pages. */
    if (rounded >= (2u << 20)) madvise(p, rounded, MADV_HUGEPAGE);
    memset(p, 0, rounded);
    return p;
}

/* Why variant v cannot take shape s (returns 0 and fills why), or 1 if it can. */
static int variant_fits(const bt_variant *v, const bt_shape *s, char *why, size_t size) {
    if (v->op != s->op) {
        snprintf(why, size, "is for %s, not %s", bt_op_name(v->op), bt_op_name(s->op));
        return 0;
    }
    if (v->error_factor && env_direct_only() == 1) {
        snprintf(why, size, "is an approximate algorithm, off by BACKTUNE_ALGORITHMS=direct");
        return 0;
    }
    if (v->isa > bt_machine_get()->isa_cap) {
        snprintf(why, size, "needs %s, this CPU%s offers %s", bt_isa_name(v->isa),
                 getenv("BACKTUNE_ISA_CAP") ? " (capped by BACKTUNE_ISA_CAP)" : "",
                 bt_isa_name(bt_machine_get()->isa_cap));
        return 0;
    }
    why[0] = '\0';
    if (v->supports && !v->supports(s, why, size)) {
        if (!why[0]) snprintf(why, size, "does not take this shape");
        return 0;
    }
    return 1;
}

bt_status bt_variant_supports(int i, const bt_problem *p) {
    const bt_variant *v = bt_registry_get(i);
    if (!v) return bt_fail(BT_EINVAL, "variant index %d out of range", i);
    bt_problem norm;
    bt_status st = bt_problem_normalize(p, &norm);
    if (st != BT_OK) return st;
    bt_shape s;
    bt_shape_from_problem(&norm, &s);
    char why[256];
    if (!variant_fits(v, &s, why, sizeof why))
        return bt_fail(BT_EUNSUPPORTED, "variant %s %s", v->name, why);
    return BT_OK;
}

const char *bt_variant_param_space(int i) {
    static _Thread_local char buf[512];
    const bt_variant *v = bt_registry_get(i);
    if (!v) return NULL;
    size_t n = 0;
    buf[0] = '\0';
    for (int j = 0; v->params && v->params[j].key && n < sizeof buf; j++) {
        const bt_param_spec *ps = &v->params[j];
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=", j ? ";" : "", ps->key);
        if (n >= sizeof buf) break;
        if (ps->tune)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", ps->tune);
        else if (ps->choices)
            for (int c = 0; ps->choices[c] && n < sizeof buf; c++)
                n +=
                    (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", c ? "|" : "", ps->choices[c]);
        else
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%lld..%lld", (long long)ps->min,
                                  (long long)ps->max);
    }
    return buf;
}

double bt_plan_error_factor(const bt_plan *plan) {
    if (!plan) return 0;
    const bt_variant *v = plan->variant;
    if (v->error_factor) return v->error_factor(plan);
    const bt_plan *inner = v->inner_plan ? v->inner_plan(plan) : NULL;
    return inner ? bt_plan_error_factor(inner) : 0;
}

void bt_plan_destroy(bt_plan *plan) {
    if (!plan) return;
    if (plan->variant && plan->variant->release) plan->variant->release(plan);
    free(plan->scratch);
    free(plan->priv);
    free(plan);
}

/* Below this much work per thread a team costs more to form and join than the thread's
 * share saves: a few microseconds while OpenMP's threads spin between regions (its default),
 * about 100 us on the machines measured when they sleep (OMP_WAIT_POLICY=passive), where two
 * threads first paid off between 4 and 8 MFLOP each (results/amd-epyc-zen4-2c-avx512/
 * unpacked_fc.txt). BACKTUNE_THREAD_MIN_FLOPS overrides it (0: every thread asked for, as
 * the tests run small problems on large teams). */
#define THREAD_MIN_FLOPS 262144.0
#define THREAD_MIN_FLOPS_PASSIVE 6e6

static double thread_min_flops(void) {
    const char *env = getenv("BACKTUNE_THREAD_MIN_FLOPS");
    if (env && *env) return strtod(env, NULL);
    const char *wait = getenv("OMP_WAIT_POLICY");
    return wait && !strcasecmp(wait, "passive") ? THREAD_MIN_FLOPS_PASSIVE : THREAD_MIN_FLOPS;
}

/* A memory-bound problem's work, in FLOPs of equal time: each byte of its tensors (read or
 * written once) counts this many FLOPs. Depthwise layers of a few MFLOP move megabytes, at
 * 1-2 FLOP per byte, and take hundreds of microseconds on one thread (bench/suites/
 * mobilenet_v2.txt at batch 8: g960 7x7, g576 14->7, 6 MFLOP, 3-4.5 MB), where a second
 * thread pays even under OMP_WAIT_POLICY=passive. */
#define THREAD_FLOPS_PER_BYTE 4.0

static double thread_work(const bt_problem *norm) {
    double bytes =
        (double)sizeof(float) *
        (double)(bt_problem_x_elems(norm) + bt_problem_w_elems(norm) + bt_problem_dy_elems(norm));
    double flops = bt_problem_flops(norm);
    return flops > THREAD_FLOPS_PER_BYTE * bytes ? flops : THREAD_FLOPS_PER_BYTE * bytes;
}

/* The threads a plan runs with: those asked for (threads=N or OpenMP's), fewer on a problem
 * too small to give each thread_min_flops() of work (thread_work); bt_plan_params reports the
 * number. */
static int useful_threads(const bt_problem *norm, int threads) {
    double min_flops = thread_min_flops();
    if (!(min_flops > 0) || threads <= 1) return threads;
    double useful = thread_work(norm) / min_flops;
    return useful >= threads ? threads : useful < 1 ? 1 : (int)useful;
}

/* Builds a plan for variant v (without its scratch when sized_only); on failure nothing is
 * left allocated. */
static bt_status build_plan(bt_plan **out, const bt_problem *norm, const bt_shape *s,
                            const bt_variant *v, const char *params, const char *source,
                            int sized_only) {
    bt_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return bt_fail(BT_ENOMEM, "bt_plan_create: out of memory");
    plan->variant = v;
    plan->problem = *norm;
    plan->shape = *s;
    plan->source = source;
    core_params core = {.threads = omp_get_max_threads(), .bind = default_bind()};
    int env = env_direct_only();
    bt_status st = env < 0 ? BT_EINVAL : BT_OK;
    core.direct_only = env == 1;
    if (st == BT_OK) st = parse_params(plan, &core, params);
    if (st == BT_OK && core.direct_only && v->error_factor)
        st = bt_fail(BT_EUNSUPPORTED,
                     "variant %s is an approximate algorithm and approximate algorithms are "
                     "off (%s)",
                     v->name,
                     core.algorithms_given ? "algorithms=direct" : "BACKTUNE_ALGORITHMS=direct");
    if (st == BT_OK) {
        plan->threads = useful_threads(norm, core.threads);
        plan->direct_only = core.direct_only;
        if (v->prepare) st = v->prepare(plan);
    }
    if (st == BT_OK && !sized_only && plan->scratch_bytes > bt_scratch_bound(s, plan->threads))
        st = bt_fail(BT_EUNSUPPORTED,
                     "variant %s asks for %zu bytes of scratch, past the problem's bound of %zu",
                     v->name, plan->scratch_bytes, bt_scratch_bound(s, plan->threads));
    if (st == BT_OK && plan->scratch_bytes && !sized_only) {
        plan->scratch = alloc_scratch(plan);
        if (!plan->scratch)
            st = bt_fail(BT_ENOMEM, "bt_plan_create: cannot allocate %zu bytes of scratch",
                         plan->scratch_bytes);
    }
    if (st != BT_OK) {
        bt_plan_destroy(plan);
        return st;
    }
    format_params(plan, effective_bind(core.bind), core.direct_only);
    *out = plan;
    return BT_OK;
}

static int plan_bind(const bt_plan *plan) {
    const char *t = strstr(plan->params_text, "bind=");
    if (!t) return BIND_NONE;
    t += 5;
    return !strcmp(t, "close") ? BIND_CLOSE : !strcmp(t, "spread") ? BIND_SPREAD : BIND_NONE;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("backtune: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Dispatch among all variants, or (isa_only >= 0) among the variants of one ISA. */
enum { ANY_ISA = -1 };
static bt_status heuristic(bt_plan **out, const bt_problem *norm, const bt_shape *s,
                           const char *params, const char *text, int talk, int isa_only);

static bt_status dispatch(bt_plan **out, const bt_problem *norm, const bt_shape *s,
                          const char *params, int isa_only) {
    int talk = verbose();
    char text[256];
    bt_problem_format(norm, text, sizeof text);
    const char *forced = isa_only == ANY_ISA ? getenv("BACKTUNE_VARIANT") : NULL;
    if (forced && *forced) {
        int i = bt_variant_find(forced);
        if (i < 0) return bt_fail(BT_EINVAL, "BACKTUNE_VARIANT=%s: no such variant", forced);
        char why[256];
        if (!variant_fits(bt_registry_get(i), s, why, sizeof why))
            return bt_fail(BT_EUNSUPPORTED, "BACKTUNE_VARIANT=%s %s", forced, why);
        bt_status st = build_plan(out, norm, s, bt_registry_get(i), params, "forced", 0);
        if (talk && st == BT_OK)
            say("%s: %s (forced by BACKTUNE_VARIANT%s)", text, forced, approximate_note(*out));
        return st;
    }
    int threads = omp_get_max_threads();
    char tparams[BT_PARAMS_TEXT];
    const char *threads_text = params ? strstr(params, "threads=") : NULL;
    if (threads_text) threads = atoi(threads_text + 8);
    char tvariant[128], twhy[256];
    if (bt_tuning_lookup(norm, threads, tvariant, sizeof tvariant, tparams, sizeof tparams, twhy,
                         sizeof twhy)) {
        int i = bt_variant_find(tvariant);
        char why[256];
        if (i >= 0 && isa_only != ANY_ISA && bt_registry_get(i)->isa != (bt_isa)isa_only) {
            if (talk)
                say("%s: table's %s passed over: not of ISA %s", text, tvariant,
                    bt_isa_name((bt_isa)isa_only));
        } else if (i >= 0 && variant_fits(bt_registry_get(i), s, why, sizeof why)) {
            /* The table's parameters, then the caller's (threads) on top. */
            char merged[2 * BT_PARAMS_TEXT];
            bt_tuning_merge_params(tparams, params, merged, sizeof merged);
            bt_plan *plan = NULL;
            bt_status st = build_plan(&plan, norm, s, bt_registry_get(i), merged, "table", 0);
            if (st == BT_OK) {
                if (talk)
                    say("%s: %s %s (tuning table: %s%s)", text, tvariant, plan->params_text, twhy,
                        approximate_note(plan));
                *out = plan;
                return BT_OK;
            }
            if (talk)
                say("%s: table's %s %s rejected: %s", text, tvariant, tparams, bt_last_error());
        } else if (talk) {
            say("%s: table's %s passed over: %s", text, tvariant,
                i < 0 ? "not in this build" : why);
        }
    } else if (talk && twhy[0]) {
        say("%s: no table entry (%s)", text, twhy);
    }
    return heuristic(out, norm, s, params, text, talk, isa_only);
}

/* The variants that fit, in the heuristic's order (core/heuristic.c); the reference is last.
 * One whose plan is unsupported at its sizes or cannot be allocated gives way to the next;
 * any other failure (bad params) is the answer. */
static bt_status heuristic(bt_plan **out, const bt_problem *norm, const bt_shape *s,
                           const char *params, const char *text, int talk, int isa_only) {
    int count = bt_registry_count(), *order = malloc((size_t)count * sizeof *order), fits = 0;
    if (!order) return bt_fail(BT_ENOMEM, "bt_plan_create: out of memory");
    for (int i = 0; i < count; i++) {
        const bt_variant *v = bt_registry_get(i);
        char why[256];
        if (v->op != s->op || (isa_only != ANY_ISA && v->isa != (bt_isa)isa_only)) continue;
        if (!variant_fits(v, s, why, sizeof why)) {
            if (talk) say("%s: %s passed over: %s", text, v->name, why);
            continue;
        }
        int at = fits++, priority = bt_variant_priority(v, s);
        for (; at > 0 && bt_variant_priority(bt_registry_get(order[at - 1]), s) < priority; at--)
            order[at] = order[at - 1];
        order[at] = i;
    }
    if (!fits) {
        free(order);
        return bt_fail(BT_EUNSUPPORTED, "no variant takes %s", text);
    }
    bt_status st = BT_OK, first = BT_OK;
    char first_error[256] = "";
    for (int at = 0; at < fits; at++) {
        const bt_variant *v = bt_registry_get(order[at]);
        st = build_plan(out, norm, s, v, params,
                        bt_variant_priority(v, s) ? "heuristic" : "reference", 0);
        if (st == BT_OK) {
            if (talk)
                say("%s: %s %s (%s%s)", text, v->name, (*out)->params_text, (*out)->source,
                    approximate_note(*out));
            break;
        }
        if (talk) say("%s: %s rejected: %s", text, v->name, bt_last_error());
        if (first == BT_OK)
            first = st, snprintf(first_error, sizeof first_error, "%s", bt_last_error());
        if (st != BT_ENOMEM && st != BT_EUNSUPPORTED) break;
    }
    free(order);
    return st == BT_OK ? BT_OK : bt_fail(first, "%s", first_error);
}

static bt_status create(bt_plan **plan, const bt_problem *p, const char *variant,
                        const char *params, int sized_only) {
    if (!plan) return bt_fail(BT_EINVAL, "bt_plan_create: plan is NULL");
    *plan = NULL;
    if (!p) return bt_fail(BT_EINVAL, "bt_plan_create: problem is NULL");
    bt_problem norm;
    bt_status st = bt_problem_normalize(p, &norm);
    if (st != BT_OK) return st;
    bt_shape s;
    bt_shape_from_problem(&norm, &s);
    if (!variant) return dispatch(plan, &norm, &s, params, ANY_ISA);
    int i = bt_variant_find(variant);
    if (i < 0) return bt_fail(BT_EINVAL, "bt_plan_create: unknown variant '%s'", variant);
    char why[256];
    if (!variant_fits(bt_registry_get(i), &s, why, sizeof why))
        return bt_fail(BT_EUNSUPPORTED, "variant %s %s", variant, why);
    return build_plan(plan, &norm, &s, bt_registry_get(i), params, "named", sized_only);
}

bt_status bt_plan_create(bt_plan **plan, const bt_problem *p, const char *variant,
                         const char *params) {
    return create(plan, p, variant, params, 0);
}

bt_status bt_plan_create_sized(bt_plan **plan, const bt_problem *p, const char *variant,
                               const char *params) {
    if (!variant) return bt_fail(BT_EINVAL, "bt_plan_create_sized: variant is NULL");
    return create(plan, p, variant, params, 1);
}

bt_status bt_plan_create_on_isa(bt_plan **plan, const bt_problem *p, bt_isa isa,
                                const char *params) {
    *plan = NULL;
    bt_problem norm;
    bt_status st = bt_problem_normalize(p, &norm);
    if (st != BT_OK) return st;
    bt_shape s;
    bt_shape_from_problem(&norm, &s);
    return dispatch(plan, &norm, &s, params, (int)isa);
}

/* Flush denormals (FTZ | DAZ) on this thread; returns the previous MXCSR. */
static unsigned enter_ftz(void) {
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
}

/* Runs fn(plan, ctx) on every thread of the plan's team, formed with its binding. */
static void on_team(const bt_plan *plan, void (*fn)(const bt_plan *, void *), void *ctx) {
    switch (plan_bind(plan)) {
    case BIND_CLOSE:
#pragma omp parallel num_threads(plan->threads) proc_bind(close)
        fn(plan, ctx);
        break;
    case BIND_SPREAD:
#pragma omp parallel num_threads(plan->threads) proc_bind(spread)
        fn(plan, ctx);
        break;
    default:
#pragma omp parallel num_threads(plan->threads)
        fn(plan, ctx);
        break;
    }
}

static void run_member(const bt_plan *plan, void *tensors) {
    unsigned csr = enter_ftz();
    plan->variant->run(plan, tensors, omp_get_thread_num(), omp_get_num_threads());
    _mm_setcsr(csr);
}

/* "a-b,c" of the CPUs in the set. */
static void format_cpus(const cpu_set_t *set, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && n < size; c++) {
        if (!CPU_ISSET(c, set)) continue;
        int last = c;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) last++;
        n += (size_t)snprintf(buf + n, size - n, n ? ",%d" : "%d", c);
        if (last > c && n < size) n += (size_t)snprintf(buf + n, size - n, "-%d", last);
        c = last;
    }
}

enum { AFFINITY_SHOWN = 64, AFFINITY_TEXT = 48 };
typedef struct team_cpus {
    char cpus[AFFINITY_SHOWN][AFFINITY_TEXT];
    int team;
} team_cpus;

static void record_cpus(const bt_plan *plan, void *out) {
    (void)plan;
    team_cpus *tc = out;
    int tid = omp_get_thread_num();
    cpu_set_t set;
    if (tid == 0) tc->team = omp_get_num_threads();
    if (tid >= AFFINITY_SHOWN) return;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        format_cpus(&set, tc->cpus[tid], AFFINITY_TEXT);
    else
        snprintf(tc->cpus[tid], AFFINITY_TEXT, "?");
}

bt_status bt_plan_affinity(const bt_plan *plan, char *buf, size_t size) {
    if (!plan || !buf || !size) return bt_fail(BT_EINVAL, "bt_plan_affinity: NULL argument");
    team_cpus tc = {.team = 0};
    on_team(plan, record_cpus, &tc);
    size_t n = 0;
    buf[0] = '\0';
    for (int t = 0; t < tc.team && t < AFFINITY_SHOWN && n < size; t++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d:%s", t ? " " : "", t, tc.cpus[t]);
    if (n >= size)
        return bt_fail(BT_EINVAL, "bt_plan_affinity: buffer of %zu bytes too small", size);
    return BT_OK;
}

/* Whether the byte ranges of two tensors of na and nb floats meet. */
static int overlap(const void *a, size_t na, const void *b, size_t nb) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + nb * sizeof(float) && pb < pa + na * sizeof(float);
}

/* BT_EINVAL naming the first output that overlaps an input or another output. */
static bt_status check_aliasing(const bt_plan *plan, const bt_tensors *t) {
    const bt_shape *s = &plan->shape;
    int data = s->op == BT_FC_BWD_DATA || s->op == BT_CONV_BWD_DATA;
    const struct {
        const char *name;
        const void *p;
        size_t n;
    } in[2] = {{data ? "w" : "x", data ? (const void *)t->w : (const void *)t->x,
                data ? bt_shape_w_elems(s) : bt_shape_x_elems(s)},
               {"dy", t->dy, bt_shape_dy_elems(s)}},
      out[2] = {{data ? "dx" : "dw", data ? (const void *)t->dx : (const void *)t->dw,
                 data ? bt_shape_x_elems(s) : bt_shape_w_elems(s)},
                {"db", data ? NULL : t->db, (size_t)s->k}};
    for (int o = 0; o < 2 && out[o].p; o++) {
        for (int i = 0; i < 2; i++)
            if (overlap(out[o].p, out[o].n, in[i].p, in[i].n))
                return bt_fail(BT_EINVAL,
                               "bt_plan_execute: output %s overlaps input %s (outputs may not "
                               "alias inputs or each other)",
                               out[o].name, in[i].name);
        if (o == 1 && overlap(out[0].p, out[0].n, out[1].p, out[1].n))
            return bt_fail(BT_EINVAL, "bt_plan_execute: outputs %s and %s overlap", out[0].name,
                           out[1].name);
    }
    return BT_OK;
}

bt_status bt_plan_execute(bt_plan *plan, const bt_tensors *t) {
    if (!plan) return bt_fail(BT_EINVAL, "bt_plan_execute: plan is NULL");
    if (!t) return bt_fail(BT_EINVAL, "bt_plan_execute: tensors are NULL");
    int data = plan->shape.op == BT_FC_BWD_DATA || plan->shape.op == BT_CONV_BWD_DATA;
    if (data && (!t->w || !t->dy || !t->dx))
        return bt_fail(BT_EINVAL, "bt_plan_execute: %s needs w, dy and dx (%s is NULL)",
                       bt_op_name(plan->shape.op),
                       !t->w    ? "w"
                       : !t->dy ? "dy"
                                : "dx");
    if (!data && (!t->x || !t->dy || !t->dw))
        return bt_fail(BT_EINVAL, "bt_plan_execute: %s needs x, dy and dw (%s is NULL)",
                       bt_op_name(plan->shape.op),
                       !t->x    ? "x"
                       : !t->dy ? "dy"
                                : "dw");
    bt_status st = check_aliasing(plan, t);
    if (st != BT_OK) return st;
    if (plan->threads == 1) {
        unsigned csr = enter_ftz();
        plan->variant->run(plan, t, 0, 1);
        _mm_setcsr(csr);
    } else {
        on_team(plan, run_member, (void *)t);
    }
    return BT_OK;
}

const char *bt_plan_variant(const bt_plan *plan) {
    return plan ? plan->variant->name : NULL;
}
const char *bt_plan_params(const bt_plan *plan) {
    return plan ? plan->params_text : NULL;
}
const char *bt_plan_source(const bt_plan *plan) {
    return plan ? plan->source : NULL;
}
int bt_plan_threads(const bt_plan *plan) {
    return plan ? plan->threads : 0;
}

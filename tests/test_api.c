/* Validation at the public API: every bad argument gives the right status and a message,
 * never a crash and never a partial write; bt_last_error is per thread; plans report their
 * variant and parameters in a form that round-trips; dispatch picks a variant that fits;
 * BACKTUNE_VARIANT forces one; bt_tuning_load fails cleanly. */
#include "testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL 12345.0f

/* Expect status `want` with a non-empty message; returns 1 if so. */
static int expect_status(bt_status got, bt_status want, const char *what) {
    const char *msg = bt_last_error();
    int ok = got == want && msg && *msg;
    if (ok)
        tl_pass("%s -> %s: \"%s\"", what, bt_strerror(want), msg);
    else
        tl_fail("%s -> %s: got %s, message \"%s\"", what, bt_strerror(want), bt_strerror(got),
                msg ? msg : "(NULL)");
    return ok;
}

/* bt_plan_create must fail with `want`, leave *plan NULL, and create nothing. */
static void expect_create_fails(const bt_problem *p, const char *variant, const char *params,
                                bt_status want, const char *what) {
    bt_problem dummy;
    bt_plan *plan = (bt_plan *)&dummy;
    bt_clear_error();
    bt_status st = bt_plan_create(&plan, p, variant, params);
    expect_status(st, want, what);
    if (st == BT_OK)
        bt_plan_destroy(plan);
    else if (plan)
        tl_fail("%s: *plan is not NULL after the failure", what);
}

static void clear_error(void) {
    bt_clear_error();
}

/* ---- plan creation ---- */

static void plan_create_errors(void) {
    bt_problem good = tl_parse("conv_bwd_w mb2ic3ih7oc4kh3ph1");
    bt_plan *plan = (bt_plan *)&good; /* must be reset to NULL on failure */
    clear_error();
    expect_status(bt_plan_create(NULL, &good, NULL, NULL), BT_EINVAL, "bt_plan_create(NULL plan)");
    clear_error();
    expect_status(bt_plan_create(&plan, NULL, NULL, NULL), BT_EINVAL,
                  "bt_plan_create(NULL problem)");
    tl_expect(plan == NULL, "a failed bt_plan_create leaves *plan NULL");

    /* Fields set one at a time on a valid problem. */
    struct bad_field {
        const char *what;
        int64_t *field;
        int64_t value;
        bt_status want;
    };
    bt_problem p = good;
    struct bad_field fields[] = {
        {"n = 0", &p.n, 0, BT_EINVAL},
        {"c = -3", &p.c, -3, BT_EINVAL},
        {"h = 0", &p.h, 0, BT_EINVAL},
        {"k = -1", &p.k, -1, BT_EINVAL},
        {"r = 0", &p.r, 0, BT_EINVAL},
        {"stride_h = -2", &p.stride_h, -2, BT_EINVAL},
        {"pad_w = -1", &p.pad_w, -1, BT_EINVAL},
        {"dil_h = -1", &p.dil_h, -1, BT_EINVAL},
        {"groups = 2 (c = 3 not divisible)", &p.groups, 2, BT_EINVAL},
        {"n = INT64_MAX", &p.n, INT64_MAX, BT_EINVAL},
        {"c = INT64_MIN", &p.c, INT64_MIN, BT_EINVAL},
        {"r = 10 (kernel larger than the padded input)", &p.r, 10, BT_EINVAL},
        {"dil_h = 5 (dilated kernel larger than the padded input)", &p.dil_h, 5, BT_EINVAL},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        p = good;
        *fields[i].field = fields[i].value;
        plan = (bt_plan *)&good;
        clear_error();
        char what[160];
        snprintf(what, sizeof what, "bt_plan_create with %s", fields[i].what);
        expect_create_fails(&p, NULL, NULL, fields[i].want, what);
    }

    /* Sizes whose products overflow 64 bits while each is in range. */
    p = good;
    p.n = p.c = p.h = p.w = (int64_t)1 << 20;
    expect_create_fails(&p, NULL, NULL, BT_EINVAL, "bt_plan_create with N*C*H*W = 2^80");
    p = good;
    p.k = p.c = (int64_t)1 << 32;
    p.r = p.s = 1;
    expect_create_fails(&p, NULL, NULL, BT_EINVAL, "bt_plan_create with K*C = 2^64 weights");
    p = good;
    p.op = (bt_op)7;
    expect_create_fails(&p, NULL, NULL, BT_EINVAL, "bt_plan_create with op 7");
    p = good;
    p.layout = (bt_layout)-1;
    expect_create_fails(&p, NULL, NULL, BT_EINVAL, "bt_plan_create with layout -1");
    p = good;
    p.accumulate = 2;
    expect_create_fails(&p, NULL, NULL, BT_EINVAL, "bt_plan_create with accumulate 2");
    bt_problem fc = tl_parse("fc_bwd_d mb2ic3oc4");
    fc.h = 5;
    expect_create_fails(&fc, NULL, NULL, BT_EINVAL, "bt_plan_create of FC with h = 5");

    /* Variants. */
    expect_create_fails(&good, "no_such_variant", NULL, BT_EINVAL,
                        "bt_plan_create with an unknown variant name");
    expect_create_fails(&good, "", NULL, BT_EINVAL, "bt_plan_create with an empty variant name");
    for (int i = 0; i < bt_variant_count(); i++) {
        if (bt_variant_op(i) == good.op) continue;
        char what[160];
        snprintf(what, sizeof what, "bt_plan_create(conv_bwd_w problem, variant %s)",
                 bt_variant_name(i));
        expect_create_fails(&good, bt_variant_name(i), NULL, BT_EUNSUPPORTED, what);
    }
}

/* ---- parameters ---- */

/* Each declared parameter: an out-of-range or unknown value, and given twice. */
typedef struct bad_key_case {
    int vi;
    const bt_problem *p;
} bad_key_case;

static void bad_values_fail(const char *key, char *values, void *ctx) {
    const bad_key_case *c = ctx;
    values[strcspn(values, "|.")] = '\0';
    char text[3][200];
    snprintf(text[0], sizeof text[0], "%s=%s,%s=%s", key, values, key, values);
    snprintf(text[1], sizeof text[1], "%s=not_a_value", key);
    snprintf(text[2], sizeof text[2], "%s=-99999999", key);
    for (int t = 0; t < 3; t++) {
        char what[700];
        snprintf(what, sizeof what, "%s params '%s'", bt_variant_name(c->vi), text[t]);
        expect_create_fails(c->p, bt_variant_name(c->vi), text[t], BT_EINVAL, what);
    }
}

static void params_errors(void) {
    bt_problem good = tl_parse("conv_bwd_w mb2ic3ih7oc4kh3ph1");
    /* The parameters every variant takes are parsed by the core: checked through dispatch
     * and through the reference variant. */
    static const char *const bad[] = {
        "threads=0",
        "threads=-1",
        "threads=abc",
        "threads=",
        "threads=2x",
        "threads=1000000",
        "threads",
        "no_such_key=1",
        "bind=sideways",
        "threads=1,threads=2",
        "bind=close,bind=spread",
        "threads=99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int named = 0; named < 2; named++) {
            char what[200];
            snprintf(what, sizeof what, "%s params '%s'", named ? "conv_bwd_w__ref" : "dispatch",
                     bad[i]);
            expect_create_fails(&good, named ? "conv_bwd_w__ref" : NULL, bad[i], BT_EINVAL, what);
        }
    for (int vi = 0; vi < bt_variant_count(); vi++) {
        if (!bt_variant_cpu_ok(vi)) continue;
        bt_op op = bt_variant_op(vi);
        bt_problem p =
            op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS ? tl_parse("fc_bwd_w mb2ic3oc4") : good;
        p.op = op;
        if (bt_variant_supports(vi, &p) != BT_OK) continue;
        bad_key_case c = {vi, &p};
        tl_param_space_each(vi, bad_values_fail, &c);
    }
    char longtext[2000];
    memset(longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    expect_create_fails(&good, NULL, longtext, BT_EINVAL, "params text of 2000 characters");
}

/* ---- execution: NULL tensors, no partial write ---- */

/* One problem of each op, for the execution checks. */
static const char *const exec_texts[] = {"fc_bwd_d mb2ic3oc4", "fc_bwd_w mb2ic3oc4",
                                         "conv_bwd_d mb2ic3ih5oc4kh3ph1",
                                         "conv_bwd_w mb2ic3ih5oc4kh3ph1"};

static void execute_errors(void) {
    for (int ti = 0; ti < 4; ti++) {
        bt_problem p = tl_parse(exec_texts[ti]);
        size_t nx = bt_problem_x_elems(&p), nw = bt_problem_w_elems(&p),
               ndy = bt_problem_dy_elems(&p), nk = bt_problem_db_elems(&p);
        float *x = tl_alloc(nx), *w = tl_alloc(nw), *dy = tl_alloc(ndy);
        float *dx = tl_alloc(nx), *dw = tl_alloc(nw), *db = tl_alloc(nk);
        bt_fill_random(x, nx, 1), bt_fill_random(w, nw, 2), bt_fill_random(dy, ndy, 3);
        for (int vi = 0; vi < bt_variant_count(); vi++) {
            if (bt_variant_op(vi) != p.op || !bt_variant_cpu_ok(vi)) continue;
            bt_plan *plan;
            if (tl_plan(&plan, &p, bt_variant_name(vi), "threads=2", exec_texts[ti]) <= 0) continue;
            /* Each required tensor NULL in turn (index 0..2), then the tensors pointer. */
            for (int missing = 0; missing <= 3; missing++) {
                for (size_t i = 0; i < nx; i++) dx[i] = SENTINEL;
                for (size_t i = 0; i < nw; i++) dw[i] = SENTINEL;
                for (size_t i = 0; i < nk; i++) db[i] = SENTINEL;
                bt_tensors t = {.x = x, .w = w, .dy = dy, .dx = dx, .dw = dw, .db = db};
                const char *name = "tensors";
                if (tl_op_is_data(p.op)) {
                    const float **in[2] = {&t.w, &t.dy};
                    if (missing < 2) *in[missing] = NULL, name = missing ? "dy" : "w";
                    if (missing == 2) t.dx = NULL, name = "dx";
                } else {
                    const float **in[2] = {&t.x, &t.dy};
                    if (missing < 2) *in[missing] = NULL, name = missing ? "dy" : "x";
                    if (missing == 2) t.dw = NULL, name = "dw";
                }
                char what[200];
                snprintf(what, sizeof what, "%s execute with %s NULL", bt_variant_name(vi), name);
                clear_error();
                expect_status(bt_plan_execute(plan, missing == 3 ? NULL : &t), BT_EINVAL, what);
                int untouched = 1;
                for (size_t i = 0; i < nx; i++) untouched &= dx[i] == SENTINEL;
                for (size_t i = 0; i < nw; i++) untouched &= dw[i] == SENTINEL;
                for (size_t i = 0; i < nk; i++) untouched &= db[i] == SENTINEL;
                tl_expect(untouched, "%s: outputs untouched after the failed call", what);
            }
            /* Pointers the op does not use may be NULL. */
            bt_tensors t = tl_op_is_data(p.op) ? (bt_tensors){.w = w, .dy = dy, .dx = dx}
                                               : (bt_tensors){.x = x, .dy = dy, .dw = dw};
            clear_error();
            bt_status st = bt_plan_execute(plan, &t);
            tl_expect(st == BT_OK, "%s execute with only the op's tensors (db NULL) -> success",
                      bt_variant_name(vi));
            bt_plan_destroy(plan);
        }
        free(x), free(w), free(dy), free(dx), free(dw), free(db);
    }
    clear_error();
    expect_status(bt_plan_execute(NULL, NULL), BT_EINVAL, "bt_plan_execute(NULL plan)");
    tl_expect(bt_plan_variant(NULL) == NULL && bt_plan_params(NULL) == NULL &&
                  bt_plan_source(NULL) == NULL && bt_plan_threads(NULL) == 0,
              "plan accessors of NULL return NULL / 0");
    bt_plan_destroy(NULL);
    tl_pass("bt_plan_destroy(NULL) is a no-op");
}

/* ---- the registry and other entry points ---- */

static void registry_and_misc(void) {
    int n = bt_variant_count(), unique = 1, prefixed = 1;
    for (int i = 0; i < n; i++) {
        const char *name = bt_variant_name(i);
        const char *op = bt_op_name(bt_variant_op(i));
        if (strncmp(name, op, strlen(op)) || strncmp(name + strlen(op), "__", 2)) {
            prefixed = 0;
            tl_note("%s does not start with %s__", name, op);
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(name, bt_variant_name(j))) unique = 0;
        if (bt_variant_find(name) != i) unique = 0;
    }
    tl_expect(n > 0 && unique, "%d variants, names unique and found by bt_variant_find", n);
    tl_expect(prefixed, "every variant name starts with its op's name and '__'");
    for (int op = BT_FC_BWD_DATA; op <= BT_CONV_BWD_WEIGHTS; op++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            if ((int)bt_variant_op(i) == op && bt_variant_cpu_ok(i) &&
                bt_registry_get(i)->is_reference)
                found = 1;
        tl_expect(found, "%s has a reference variant that runs anywhere", bt_op_name((bt_op)op));
    }
    /* Every enumerator id is its variant's name, and the descriptor's family, op and ISA are
     * the parts of that name. */
#define BT_VARIANT(id) #id,
    static const char *const enumerated[] = {
#include "fc/fc_bwd_data.inc"
#include "fc/fc_bwd_weights.inc"
#include "conv/conv_bwd_data.inc"
#include "conv/conv_bwd_weights.inc"
    };
#undef BT_VARIANT
    int listed = (int)(sizeof enumerated / sizeof enumerated[0]);
    tl_expect(listed == n, "the enumerators list %d variants, the registry has %d", listed, n);
    for (int i = 0; i < n && i < listed; i++) {
        const bt_variant *v = bt_registry_get(i);
        char expect[160];
        snprintf(expect, sizeof expect, "%s__%s%s%s", bt_op_name(v->op), v->family,
                 v->isa == BT_ISA_SCALAR && !strstr(v->name, "_scalar") ? "" : "_",
                 v->isa == BT_ISA_SCALAR && !strstr(v->name, "_scalar") ? "" : bt_variant_isa(i));
        /* A build other than the ISA's plain one adds a tag (common/simd.h: avx512_ymm). */
        const size_t len = strlen(expect);
        const int parts =
            !strcmp(expect, v->name) || (!strncmp(expect, v->name, len) && v->name[len] == '_' &&
                                         v->isa != BT_ISA_SCALAR && v->name[len + 1]);
        tl_expect(!strcmp(enumerated[i], v->name) && parts,
                  "enumerator id %s names variant %s (op, family, ISA: %s)", enumerated[i], v->name,
                  expect);
    }
    /* Every parameter says what it means (backtune list shows it). */
    int documented = 1;
    for (int i = 0; i < n; i++)
        for (const bt_param_spec *p = bt_registry_get(i)->params; p && p->key; p++)
            if (!p->doc || !p->doc[0]) {
                documented = 0;
                tl_note("%s: parameter %s has no doc", bt_variant_name(i), p->key);
            }
    tl_expect(documented, "every parameter of every variant has a doc");
    clear_error();
    tl_expect(bt_variant_name(-1) == NULL && *bt_last_error(), "bt_variant_name(-1) -> NULL");
    clear_error();
    tl_expect(bt_variant_name(n) == NULL && *bt_last_error(), "bt_variant_name(count) -> NULL");
    clear_error();
    tl_expect((int)bt_variant_op(n) == -1 && *bt_last_error(), "bt_variant_op(count) -> -1");
    tl_expect(bt_variant_find(NULL) == -1 && bt_variant_find("nope") == -1,
              "bt_variant_find of NULL or an unknown name -> -1");
    tl_expect(bt_variant_isa(-1) == NULL && bt_variant_param_space(n) == NULL &&
                  !bt_variant_cpu_ok(n),
              "variant queries out of range");
    bt_problem good = tl_parse("conv_bwd_w mb2ic3ih7oc4kh3ph1");
    clear_error();
    expect_status(bt_variant_supports(-1, &good), BT_EINVAL, "bt_variant_supports(-1)");
    clear_error();
    expect_status(bt_variant_supports(0, NULL), BT_EINVAL, "bt_variant_supports(0, NULL)");
    int all_named = 1;
    for (int s = BT_OK; s <= BT_EIO; s++) all_named &= bt_strerror((bt_status)s)[0] != '\0';
    tl_expect(all_named && bt_strerror((bt_status)99) && bt_strerror((bt_status)99)[0],
              "bt_strerror names every status and survives an unknown one");
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", BT_VERSION_MAJOR, BT_VERSION_MINOR,
             BT_VERSION_PATCH);
    tl_expect(!strcmp(bt_version(), BT_VERSION_STRING) && !strcmp(version, BT_VERSION_STRING) &&
                  BT_VERSION_NUMBER ==
                      BT_VERSION_MAJOR * 10000 + BT_VERSION_MINOR * 100 + BT_VERSION_PATCH,
              "bt_version() '%s' is the header's BT_VERSION_STRING '%s' and its numbers %s",
              bt_version(), BT_VERSION_STRING, version);
    bt_problem out;
    clear_error();
    expect_status(bt_problem_normalize(NULL, &out), BT_EINVAL, "bt_problem_normalize(NULL)");
    tl_expect(bt_problem_x_elems(NULL) == 0 && bt_problem_w_elems(NULL) == 0 &&
                  bt_problem_dy_elems(NULL) == 0 && bt_problem_db_elems(NULL) == 0,
              "element counts of NULL are 0");
}

/* ---- NULL for every pointer argument of every function in backtune.h ---- */

/* A status function's NULL: `want` with a message. */
#define EXPECT_NULL_STATUS(call, want)                                                             \
    do {                                                                                           \
        clear_error();                                                                             \
        expect_status((call), (want), #call);                                                      \
    } while (0)
/* A function with a sentinel result: `cond` holds, and it did not crash. */
#define EXPECT_NULL_SENTINEL(cond) tl_expect((cond), "%s", #cond)

static void null_arguments(void) {
    bt_problem p = tl_parse("conv_bwd_d mb2ic3ih7oc4kh3ph1"), out;
    char buf[64], name[16];
    bt_plan *plan = NULL;
    EXPECT_NULL_STATUS(bt_problem_parse(NULL, &out), BT_EINVAL);
    EXPECT_NULL_STATUS(bt_problem_parse("fc_bwd_d mb2ic3oc4", NULL), BT_EINVAL);
    EXPECT_NULL_STATUS(bt_problem_parse_named(NULL, &out, name, sizeof name), BT_EINVAL);
    EXPECT_NULL_STATUS(bt_problem_parse_named("fc_bwd_d mb2ic3oc4n\"x\"", NULL, name, sizeof name),
                       BT_EINVAL);
    /* name is optional: NULL takes no name, whatever the size says. */
    EXPECT_NULL_SENTINEL(bt_problem_parse_named("fc_bwd_d mb2ic3oc4n\"x\"", &out, NULL, 16) ==
                         BT_OK);
    EXPECT_NULL_STATUS(bt_problem_normalize(NULL, &out), BT_EINVAL);
    EXPECT_NULL_STATUS(bt_problem_normalize(&p, NULL), BT_EINVAL);
    EXPECT_NULL_SENTINEL(bt_problem_format(NULL, buf, sizeof buf) == -1);
    EXPECT_NULL_SENTINEL(bt_problem_format(&p, NULL, sizeof buf) == -1);
    EXPECT_NULL_SENTINEL(bt_problem_format(&p, NULL, 0) > 0); /* the length, as snprintf */
    EXPECT_NULL_SENTINEL(bt_problem_flops(NULL) == 0.0);
    EXPECT_NULL_SENTINEL(bt_problem_out_h(NULL) == 0);
    EXPECT_NULL_SENTINEL(bt_problem_out_w(NULL) == 0);
    /* Not normalized: zero fields take their defaults (stride 0 divided before); invalid: 0. */
    bt_problem raw = {
        .op = BT_CONV_BWD_DATA, .n = 1, .c = 1, .h = 5, .w = 7, .k = 1, .r = 3, .s = 3};
    EXPECT_NULL_SENTINEL(bt_problem_out_h(&raw) == 3 && bt_problem_out_w(&raw) == 5);
    raw.stride_w = -2;
    EXPECT_NULL_SENTINEL(bt_problem_out_w(&raw) == 0);
    EXPECT_NULL_SENTINEL(bt_problem_x_elems(NULL) == 0 && bt_problem_w_elems(NULL) == 0 &&
                         bt_problem_dy_elems(NULL) == 0 && bt_problem_db_elems(NULL) == 0);
    EXPECT_NULL_STATUS(bt_plan_create(NULL, &p, NULL, NULL), BT_EINVAL);
    EXPECT_NULL_STATUS(bt_plan_create(&plan, NULL, NULL, NULL), BT_EINVAL);
    EXPECT_NULL_SENTINEL(plan == NULL);
    /* variant and params are optional: NULL dispatches with the defaults. */
    EXPECT_NULL_SENTINEL(bt_plan_create(&plan, &p, NULL, NULL) == BT_OK && plan);
    bt_tensors t = {0};
    EXPECT_NULL_STATUS(bt_plan_execute(NULL, &t), BT_EINVAL);
    EXPECT_NULL_STATUS(bt_plan_execute(plan, NULL), BT_EINVAL);
    EXPECT_NULL_STATUS(bt_plan_execute(plan, &t), BT_EINVAL); /* every tensor NULL */
    bt_plan_destroy(plan);
    EXPECT_NULL_SENTINEL(bt_plan_variant(NULL) == NULL && bt_plan_params(NULL) == NULL &&
                         bt_plan_source(NULL) == NULL && bt_plan_threads(NULL) == 0);
    bt_plan_destroy(NULL);
    EXPECT_NULL_STATUS(bt_tuning_load(NULL), BT_EINVAL);
    EXPECT_NULL_SENTINEL(bt_variant_find(NULL) == -1);
    EXPECT_NULL_STATUS(bt_variant_supports(0, NULL), BT_EINVAL);
}

/* ---- outputs overlapping inputs ---- */

/* Tensors laid end to end in one arena (touching, not overlapping) are accepted; an output
 * moved to overlap an input, or the other output, by one element is refused before anything
 * is written, with a reason naming both. */
static void aliasing(void) {
    for (int ti = 0; ti < 4; ti++) {
        bt_plan *plan;
        bt_problem p = tl_parse(exec_texts[ti]);
        if (tl_plan(&plan, &p, NULL, "threads=2", exec_texts[ti]) <= 0) continue;
        int data = tl_op_is_data(p.op);
        /* Arena [in0][dy][out0][db]: in0 is w (bwd_data) or x, out0 is dx or dw. */
        enum { IN0, DY, OUT0, DB };
        size_t n[4] = {data ? bt_problem_w_elems(&p) : bt_problem_x_elems(&p),
                       bt_problem_dy_elems(&p),
                       data ? bt_problem_x_elems(&p) : bt_problem_w_elems(&p),
                       data ? 0 : bt_problem_db_elems(&p)};
        const char *name[4] = {data ? "w" : "x", "dy", data ? "dx" : "dw", "db"};
        size_t total = n[IN0] + n[DY] + n[OUT0] + n[DB];
        float *arena = tl_alloc(total), *at[4] = {arena};
        for (int i = 1; i < 4; i++) at[i] = at[i - 1] + n[i - 1];
        bt_tensors t = {.dy = at[DY]};
        if (data)
            t.w = at[IN0], t.dx = at[OUT0], t.x = at[OUT0]; /* bwd_data does not use x */
        else
            t.x = at[IN0], t.dw = at[OUT0], t.db = at[DB];
        tl_expect(bt_plan_execute(plan, &t) == BT_OK, "%s: tensors end to end -> success",
                  exec_texts[ti]);
        /* (output, what it is moved over): its first element on the other's last, or (dw
         * over db) its last on db's first. */
        static const int pairs[][2] = {{OUT0, IN0}, {OUT0, DY}, {DB, IN0}, {DB, DY}, {OUT0, DB}};
        for (int k = 0; k < 5; k++) {
            int o = pairs[k][0], v = pairs[k][1];
            if (data && (o == DB || v == DB)) continue; /* bwd_data has no db */
            bt_tensors bad = t;
            float **slot = o == DB ? &bad.db : data ? &bad.dx : &bad.dw;
            *slot = v == DB ? at[DB] - n[o] + 1 : at[v] + n[v] - 1;
            for (size_t e = 0; e < total; e++) arena[e] = 1.0f;
            char what[200];
            snprintf(what, sizeof what, "%s: %s over %s", exec_texts[ti], name[o], name[v]);
            clear_error();
            if (expect_status(bt_plan_execute(plan, &bad), BT_EINVAL, what))
                tl_expect(strstr(bt_last_error(), name[o]) && strstr(bt_last_error(), name[v]),
                          "%s: the reason names both", what);
            int untouched = 1;
            for (size_t e = 0; e < total; e++) untouched &= arena[e] == 1.0f;
            tl_expect(untouched, "%s: nothing written", what);
        }
        free(arena);
        bt_plan_destroy(plan);
    }
}

/* ---- bt_last_error is per thread ---- */

static pthread_barrier_t barrier;

static void *error_thread(void *arg) {
    int id = *(int *)arg;
    bt_problem p;
    /* Different failures on the two threads, made at the same time, read after both. */
    if (id == 0)
        bt_problem_parse("conv_bwd_d mb2ic3ih7oc4kh3 thread_zero_junk", &p);
    else
        bt_problem_parse("conv_fwd_thread_one mb2ic3ih7oc4kh3", &p);
    pthread_barrier_wait(&barrier);
    const char *msg = bt_last_error();
    int ok = strstr(msg, id == 0 ? "thread_zero_junk" : "conv_fwd_thread_one") != NULL;
    pthread_barrier_wait(&barrier);
    return (void *)(intptr_t)ok;
}

static void last_error_per_thread(void) {
    pthread_t threads[2];
    int ids[2] = {0, 1};
    pthread_barrier_init(&barrier, NULL, 2);
    for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, error_thread, &ids[i]);
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(threads[i], &r);
        ok &= (int)(intptr_t)r;
    }
    pthread_barrier_destroy(&barrier);
    tl_expect(ok, "bt_last_error is per thread (two threads, two different errors)");
}

/* ---- variant and params round trip; dispatch; forcing ---- */

static const char *const plan_texts[] = {"fc_bwd_d mb3ic17oc5",
                                         "fc_bwd_w mb3ic17oc5",
                                         "conv_bwd_d_nhwc mb2ic3ih7oc4kh3ph1",
                                         "conv_bwd_w mb2ic3ih7oc4kh3ph1",
                                         "conv_bwd_d g4mb2ic4ih7oc4kh3ph1",
                                         "conv_bwd_w_nhwc g4mb2ic4ih7oc4kh3ph1",
                                         "conv_bwd_w mb1ic16ih5oc16kh1"};
enum { PLAN_TEXTS = (int)(sizeof plan_texts / sizeof plan_texts[0]) };

static bt_problem plan_problem(int i) {
    bt_problem p = tl_parse(plan_texts[i]);
    if (strstr(plan_texts[i], "_nhwc")) p.layout = BT_NHWC; /* independent of the parser */
    return p;
}

static void params_round_trip(void) {
    for (int ti = 0; ti < PLAN_TEXTS; ti++) {
        bt_problem p = plan_problem(ti);
        for (int vi = 0; vi < bt_variant_count(); vi++) {
            if (bt_variant_op(vi) != p.op || !bt_variant_cpu_ok(vi) ||
                bt_variant_supports(vi, &p) != BT_OK)
                continue;
            bt_plan *a, *b;
            const char *v = bt_variant_name(vi);
            if (tl_plan(&a, &p, v, NULL, plan_texts[ti]) <= 0) continue;
            char first[BT_PARAMS_TEXT];
            snprintf(first, sizeof first, "%s", bt_plan_params(a));
            int ok = tl_plan(&b, &p, v, first, plan_texts[ti]) > 0;
            if (!ok) {
                bt_plan_destroy(a);
                continue;
            }
            int same = !strcmp(bt_plan_variant(a), v) && !strcmp(bt_plan_variant(b), v) &&
                       !strcmp(first, bt_plan_params(b)) && !strcmp(bt_plan_source(a), "named");
            if (!tl_expect(same, "params round trip %s '%s': '%s'", v, plan_texts[ti], first))
                tl_note("second plan: %s '%s' (source %s)", bt_plan_variant(b), bt_plan_params(b),
                        bt_plan_source(b));
            bt_plan_destroy(a), bt_plan_destroy(b);
        }
    }
}

static void dispatch_fits(void) {
    for (int ti = 0; ti < PLAN_TEXTS; ti++) {
        bt_problem p = plan_problem(ti);
        bt_plan *plan;
        if (tl_plan(&plan, &p, NULL, "threads=2", plan_texts[ti]) <= 0) continue;
        int vi = bt_variant_find(bt_plan_variant(plan));
        const char *src = bt_plan_source(plan);
        int fits =
            vi >= 0 && bt_variant_op(vi) == p.op && bt_variant_cpu_ok(vi) &&
            bt_variant_supports(vi, &p) == BT_OK && bt_plan_threads(plan) == 2 && src &&
            (!strcmp(src, "heuristic") || !strcmp(src, "reference") || !strcmp(src, "table"));
        bt_check_options opt = {.mode = BT_CHECK_EXACT, .seed = 5, .with_bias = 1};
        bt_check_result res;
        int correct = bt_check_plan(plan, &opt, &res) == BT_OK && res.pass;
        if (!tl_expect(fits && correct, "dispatch '%s' -> %s (%s, %s) fits and is correct",
                       plan_texts[ti], bt_plan_variant(plan), src, bt_plan_params(plan)))
            tl_note("fits %d, correct %d %s", fits, correct, res.detail);
        bt_plan_destroy(plan);
    }
}

/* The heuristic's family per shape: as_fc where the kernel covers the image, winograd on dense
 * 3x3 stride-1 layers of 64 input channels and 32 filters or more, relayout_nhwc for
 * NCHW kernels larger than 1x1 on outputs of 14x14 or less without groups (1xk and kx1: 17x17
 * or less), the GEMM family on unpadded 1x1 convolutions without groups (bt_conv_gemm_leads:
 * bwd_d in NCHW only, bwd_w in both layouts), the direct family elsewhere, the unpacked FC up
 * to 2^25 FLOP;
 * never the naive loops, uneven padding and 1-D included. Whatever the ISA: the names are
 * matched without their suffix. */
static void heuristic_families(void) {
    static const struct {
        const char *problem, *family;
    } cases[] = {
        {"conv_bwd_d mb2ic64ih7oc128kh1", "conv_bwd_d__gemm_col2im_"},
        {"conv_bwd_d mb2ic64ih8oc128oh4kh1sh2", "conv_bwd_d__gemm_col2im_"},
        {"conv_bwd_w mb2ic64ih7oc128kh1", "conv_bwd_w__im2col_gemm_"},
        {"conv_bwd_w mb2ic64ih8oc128oh4kh1sh2", "conv_bwd_w__im2col_gemm_"},
        {"conv_bwd_w mb2ic64ih7oc64kh1", "conv_bwd_w__im2col_gemm_"},
        {"conv_bwd_d_nhwc mb2ic64ih7oc128kh1", "conv_bwd_d__as_fc_"},
        {"conv_bwd_w_nhwc mb2ic64ih7oc64kh1", "conv_bwd_w__as_fc_"},
        {"conv_bwd_d_nhwc mb2ic128ih5oc96kh5", "conv_bwd_d__as_fc_"},
        {"conv_bwd_w_nhwc mb2ic128ih5oc96kh5", "conv_bwd_w__as_fc_"},
        {"conv_bwd_d_nhwc mb2ic64ih8oc128oh4kh1sh2", "conv_bwd_d__direct_nhwc_"},
        {"conv_bwd_w_nhwc mb2ic64ih7oc128kh3sh2ph1", "conv_bwd_w__direct_nhwc_"},
        {"conv_bwd_d mb2ic64ih7oc128kh3ph1", "conv_bwd_d__winograd_"},
        {"conv_bwd_w_nhwc mb2ic64ih56oc64kh3ph1", "conv_bwd_w__winograd_"},
        {"conv_bwd_w mb2ic64ih56oc64kh3ph1", "conv_bwd_w__winograd_"},
        {"conv_bwd_d mb2ic128ih7oc32kh3ph1", "conv_bwd_d__winograd_"},
        {"conv_bwd_w_nhwc mb2ic128ih14oc32kh3ph1", "conv_bwd_w__winograd_"},
        {"conv_bwd_d mb2ic128ih28oc16kh3ph1", "conv_bwd_d__direct_nchw_"},
        {"conv_bwd_d mb2ic64ih7oc128kh5ph2", "conv_bwd_d__relayout_nhwc_"},
        {"conv_bwd_w mb2ic64ih14oc128oh7kh3sh2ph1", "conv_bwd_w__relayout_nhwc_"},
        {"conv_bwd_d mb2ic64ih28oc128kh5ph2", "conv_bwd_d__direct_nchw_"},
        {"conv_bwd_d mb2ic64ih17iw17oc96kh1kw7ph0pw3", "conv_bwd_d__relayout_nhwc_"},
        {"conv_bwd_w mb2ic64ih17iw17oc96kh7kw1ph3pw0", "conv_bwd_w__relayout_nhwc_"},
        {"conv_bwd_d mb2ic64ih28iw28oc96kh1kw7ph0pw3", "conv_bwd_d__direct_nchw_"},
        {"conv_bwd_d g2mb2ic64ih7oc128kh5ph2", "conv_bwd_d__direct_nchw_"},
        {"fc_bwd_d mb32ic128oc128", "fc_bwd_d__unpacked_"},
        {"fc_bwd_w mb64ic1024oc1024", "fc_bwd_w__gemm_"},
        {"conv_bwd_d g2mb2ic64ih7oc128kh1", "conv_bwd_d__direct_nchw_"},
        {"conv_bwd_d mb2ic64ih7oc128oh9kh1ph1", "conv_bwd_d__direct_nchw_"},
        /* Uneven padding and 1-D take the fast family of their symmetric 2-D twins. */
        {"conv_bwd_d mb2ic64ih56oc64oh28kh3sh2", "conv_bwd_d__direct_nchw_"},
        {"conv_bwd_w_nhwc mb2ic64ih56oc64oh28kh3sh2", "conv_bwd_w__direct_nhwc_"},
        {"conv_bwd_d_nhwc g96mb2ic96ih112oc96oh56kh3sh2", "conv_bwd_d__depthwise_nhwc_"},
        {"conv_bwd_w g144mb2ic144ih56oc144oh28kh5sh2ph1", "conv_bwd_w__depthwise_nchw_"},
        {"conv_bwd_w mb2ic64ih8oc128oh9kh1ph0", "conv_bwd_w__direct_nchw_"},
        {"conv_bwd_d mb2ic64iw400oc64kw3pw1", "conv_bwd_d__direct_nchw_"},
        {"conv_bwd_w_nhwc mb2ic64iw1000oc128ow1000kw2pw32dw31", "conv_bwd_w__direct_nhwc_"},
        {"conv_bwd_d g256mb2ic256iw400oc256kw33pw16", "conv_bwd_d__depthwise_nchw_"},
        /* One input channel, no groups: bwd_data direct, bwd_weights depthwise. */
        {"conv_bwd_d mb1ic1ih20oc64kh3", "conv_bwd_d__direct_nchw_"},
        {"conv_bwd_w mb1ic1ih20oc64kh3", "conv_bwd_w__depthwise_nchw_"},
        {"conv_bwd_d g3mb1ic3ih6oc6kh3ph1", "conv_bwd_d__depthwise_nchw_"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bt_problem p = tl_parse(cases[i].problem);
        bt_plan *plan;
        if (tl_plan(&plan, &p, NULL, "threads=2", cases[i].problem) <= 0) continue;
        const char *v = bt_plan_variant(plan);
        tl_expect(!strncmp(v, cases[i].family, strlen(cases[i].family)) &&
                      !strcmp(bt_plan_source(plan), "heuristic"),
                  "heuristic on '%s': %s (%s), family %s*", cases[i].problem, v,
                  bt_plan_source(plan), cases[i].family);
        bt_plan_destroy(plan);
    }
}

static void forced_variant(void) {
    for (int ti = 0; ti < PLAN_TEXTS; ti++) {
        bt_problem p = plan_problem(ti);
        char ref[64];
        snprintf(ref, sizeof ref, "%s__ref", bt_op_name(p.op));
        setenv("BACKTUNE_VARIANT", ref, 1);
        bt_plan *plan;
        if (tl_plan(&plan, &p, NULL, NULL, plan_texts[ti]) > 0) {
            tl_expect(!strcmp(bt_plan_variant(plan), ref) &&
                          !strcmp(bt_plan_source(plan), "forced"),
                      "BACKTUNE_VARIANT=%s forces it for '%s' (got %s, %s)", ref, plan_texts[ti],
                      bt_plan_variant(plan), bt_plan_source(plan));
            bt_plan_destroy(plan);
        }
    }
    bt_problem p = plan_problem(0);
    setenv("BACKTUNE_VARIANT", "no_such_variant", 1);
    bt_plan *plan = NULL;
    expect_create_fails(&p, NULL, NULL, BT_EINVAL, "BACKTUNE_VARIANT=no_such_variant");
    setenv("BACKTUNE_VARIANT", "conv_bwd_w__ref", 1);
    expect_create_fails(&p, NULL, NULL, BT_EUNSUPPORTED,
                        "BACKTUNE_VARIANT of another op (conv_bwd_w__ref for fc_bwd_d)");
    unsetenv("BACKTUNE_VARIANT");
    tl_expect(bt_plan_create(&plan, &p, NULL, NULL) == BT_OK &&
                  strcmp(bt_plan_source(plan), "forced"),
              "without BACKTUNE_VARIANT dispatch is back to normal (%s)",
              plan ? bt_plan_source(plan) : "no plan");
    bt_plan_destroy(plan);
}

static void tuning_load(void) {
    const char *path = "/nonexistent/backtune/table.json";
    clear_error();
    bt_status st = bt_tuning_load(path);
    const char *msg = bt_last_error();
    tl_expect(st != BT_OK && msg && *msg && strstr(msg, path),
              "bt_tuning_load of a missing file fails with a message naming it: %s: \"%s\"",
              bt_strerror(st), msg);
    clear_error();
    expect_status(bt_tuning_load(NULL), BT_EINVAL, "bt_tuning_load(NULL)");
    /* A failed load leaves dispatch working. */
    bt_problem p = plan_problem(3);
    bt_plan *plan = NULL;
    tl_expect(bt_plan_create(&plan, &p, NULL, NULL) == BT_OK,
              "dispatch still works after a failed bt_tuning_load");
    bt_plan_destroy(plan);
}

/* A plan takes fewer threads than asked where each would get little work (by default under
 * 256 KFLOP a thread, a byte of the tensors counting 4 FLOPs when that is more), says so in
 * its parameters, and computes the same. */
static void small_problems_fewer_threads(void) {
    char keep[32] = "", keep_wait[32] = "";
    const char *saved = getenv("BACKTUNE_THREAD_MIN_FLOPS"), *wait = getenv("OMP_WAIT_POLICY");
    if (saved) snprintf(keep, sizeof keep, "%s", saved);
    if (wait) snprintf(keep_wait, sizeof keep_wait, "%s", wait);
    unsetenv("BACKTUNE_THREAD_MIN_FLOPS");
    /* Threads for 8 asked: 256 KFLOP each with spinning OpenMP threads, 6 MFLOP each when
     * they sleep between regions (OMP_WAIT_POLICY=passive). */
    static const struct {
        const char *problem;
        int threads, threads_passive;
    } cases[] = {{"conv_bwd_d mb8ic32ih1oc8kh1", 1, 1},      /* 4 KFLOP */
                 {"fc_bwd_w mb8ic256oc256", 4, 1},           /* 1 MFLOP */
                 {"fc_bwd_w mb64ic512oc256", 8, 2},          /* 16.8 MFLOP */
                 {"conv_bwd_w mb2ic64ih28oc64kh3ph1", 8, 8}, /* 116 MFLOP */
                 /* 6.8 MFLOP, but 3 MB of tensors at 4 FLOPs a byte: memory-bound work counts */
                 {"conv_bwd_d g960mb8ic960ih7oc960oh7kh3ph1", 8, 2}};
    for (int passive = 0; passive < 2; passive++) {
        if (passive)
            setenv("OMP_WAIT_POLICY", "passive", 1);
        else
            unsetenv("OMP_WAIT_POLICY");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            bt_problem p = tl_parse(cases[i].problem);
            bt_plan *plan;
            if (tl_plan(&plan, &p, NULL, "threads=8", cases[i].problem) <= 0) continue;
            int expect = passive ? cases[i].threads_passive : cases[i].threads;
            char want[32];
            snprintf(want, sizeof want, "threads=%d,", expect);
            tl_expect(bt_plan_threads(plan) == expect && strstr(bt_plan_params(plan), want),
                      "'%s' asked for 8 threads runs on %d%s (%s)", cases[i].problem,
                      bt_plan_threads(plan), passive ? " under OMP_WAIT_POLICY=passive" : "",
                      bt_plan_params(plan));
            bt_plan_destroy(plan);
        }
    }
    setenv("BACKTUNE_THREAD_MIN_FLOPS", "0", 1);
    bt_problem p = tl_parse(cases[0].problem);
    bt_plan *plan;
    if (tl_plan(&plan, &p, NULL, "threads=3", "BACKTUNE_THREAD_MIN_FLOPS=0") > 0) {
        tl_expect(bt_plan_threads(plan) == 3,
                  "BACKTUNE_THREAD_MIN_FLOPS=0: every thread asked "
                  "for (%d)",
                  bt_plan_threads(plan));
        bt_plan_destroy(plan);
    }
    if (keep[0])
        setenv("BACKTUNE_THREAD_MIN_FLOPS", keep, 1);
    else
        unsetenv("BACKTUNE_THREAD_MIN_FLOPS");
    if (keep_wait[0])
        setenv("OMP_WAIT_POLICY", keep_wait, 1);
    else
        unsetenv("OMP_WAIT_POLICY");
}

/* A convolution whose kernel covers its whole unpadded image is dispatched to the FC it is
 * (the as_fc family; in NHWC through an NCHW copy of x or dx), accumulating or not;
 * checked against the convolution's own reference (not the FC's): integer inputs, exact. */
static void conv_as_fc(void) {
    static const char *const problems[] = {
        "conv_bwd_d mb3ic5ih3iw2oc7kh3kw2",
        "conv_bwd_w mb3ic5ih3iw2oc7kh3kw2",
        "conv_bwd_d_nhwc mb8ic32ih1oc8kh1",
        "conv_bwd_w_nhwc mb8ic32ih1oc8kh1 accumulate",
        "conv_bwd_d_nhwc mb3ic5ih3iw2oc7kh3kw2",
        "conv_bwd_d_nhwc mb3ic5ih3iw2oc7kh3kw2 accumulate",
        "conv_bwd_w_nhwc mb5ic33ih2iw3oc17kh2kw3",
        "conv_bwd_w_nhwc mb5ic33ih2iw3oc17kh2kw3 accumulate",
        "conv_bwd_w mb2ic4ih5oc3kh5sh2",
        "conv_bwd_d_nhwc mb2ic4ih3oc3kh3ph1", /* not FC */
    };
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++) {
        bt_problem p = tl_parse(problems[i]);
        int data = p.op == BT_CONV_BWD_DATA,
            expect_fc = i + 1 < sizeof problems / sizeof problems[0];
        bt_plan *fast, *ref;
        if (tl_plan(&fast, &p, NULL, "threads=2", problems[i]) <= 0) continue;
        if (tl_plan(&ref, &p, data ? "conv_bwd_d__ref" : "conv_bwd_w__ref", "threads=1",
                    problems[i]) <= 0) {
            bt_plan_destroy(fast);
            continue;
        }
        size_t nx = bt_problem_x_elems(&p), nw = bt_problem_w_elems(&p),
               ny = bt_problem_dy_elems(&p), nb = bt_problem_db_elems(&p);
        float *in = calloc(nx + nw + ny, sizeof *in), *out[2];
        size_t nout = data ? nx : nw + nb;
        out[0] = calloc(nout, sizeof(float)), out[1] = calloc(nout, sizeof(float));
        for (size_t j = 0; in && j < nx + nw + ny; j++) in[j] = (float)((int)(j * 7 % 11) - 5);
        for (int o = 0; o < 2 && out[o]; o++)
            for (size_t j = 0; j < nout; j++) out[o][j] = (float)(j % 3); /* accumulate into */
        int same = 0;
        if (in && out[0] && out[1]) {
            for (int o = 0; o < 2; o++) {
                bt_tensors t = {.x = in, .w = in + nx, .dy = in + nx + nw};
                if (data)
                    t.dx = out[o];
                else
                    t.dw = out[o], t.db = out[o] + nw;
                bt_plan_execute(o ? ref : fast, &t);
            }
            same = !memcmp(out[0], out[1], nout * sizeof(float));
        }
        int is_fc = strstr(bt_plan_variant(fast), "__as_fc_") != NULL;
        tl_expect(same && is_fc == expect_fc,
                  "'%s' dispatched to %s (%s FC) equals the convolution's reference exactly",
                  problems[i], bt_plan_variant(fast), expect_fc ? "an" : "not an");
        free(in), free(out[0]), free(out[1]);
        bt_plan_destroy(fast);
        bt_plan_destroy(ref);
    }
}

int main(void) {
    unsetenv("BACKTUNE_VARIANT");
    unsetenv("BACKTUNE_TABLE");
    plan_create_errors();
    params_errors();
    execute_errors();
    registry_and_misc();
    null_arguments();
    aliasing();
    last_error_per_thread();
    params_round_trip();
    dispatch_fits();
    heuristic_families();
    forced_variant();
    tuning_load();
    small_problems_fewer_threads();
    conv_as_fc();
    return tl_finish();
}

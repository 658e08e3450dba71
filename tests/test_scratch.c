/* Plan scratch is bounded by the problem (bt_scratch_bound, internal.h): every registered
 * variant, on small and degenerate problems (huge strides, a 1x1 image, huge padding or
 * dilation around a tiny input, one channel, a large kernel on a tiny image) with its default
 * parameters, each integer parameter alone at its declared maximum and all of them at once,
 * at 1 and 4 threads. Plans are sized without allocating (bt_plan_create_sized), so a
 * variant that would ask for gigabytes fails here instead of swapping.
 *
 * Also: the parameters a plan reports are the ones it runs with (recreating the plan from
 * bt_plan_params gives the same parameters and scratch), and every value
 * bt_variant_param_space advertises, every range's ends included, is accepted alone on
 * every problem the variant takes.
 *
 * usage: test_scratch [-v]   (-v: the largest scratch / tensors ratio of each variant) */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const conv_problems[] = {
    "mb2ic3ih7oc4kh3sh1000000000ph1",                      /* the issue's: 432 FLOPs */
    "mb2ic3ih7iw7oc4kh3kw3sh2147483647sw2147483647ph1pw1", /* strides past int32 */
    "mb1ic2ih9iw1000oc2kh1kw3sw1000",                      /* a wide row, one output column */
    "mb1ic1ih1oc1kh1",                                     /* everything 1 */
    "mb1ic3ih1oc5kh3ph1",                                  /* 1x1 image, 3x3 kernel over padding */
    "mb2ic1ih1oc1kh15ph7",                                 /* 15x15 kernel on a 1x1 image */
    "mb1ic2ih3oc2kh3sh1000000ph500000",                    /* huge padding, huge stride */
    "mb1ic2ih1oc2kh3dh999999ph1000000",                    /* huge dilation inside huge padding */
    "g4mb1ic4ih1oc4kh3ph1",                                /* depthwise, 1x1 image */
    "g4mb1ic4ih2oc8kh3sh1000000ph1",       /* depthwise, multiplier 2, huge stride */
    "mb3ic1ih5oc1kh3ph1",                  /* one channel in, one out */
    "g2mb1ic2ih5iw3oc2kh5kw3sh7sw9ph2pw1", /* groups of one, strides past the image */
    "g2mb1ic2ih3oc2kh3sh1000000ph500000",  /* depthwise, huge padding and stride */
    "g2mb1ic2ih2iw100oc2kh1kw3pw1",        /* depthwise, a row of many vectors */
    "mb1ic1ih64oc64kh3dh30",               /* dilation 31: dy rows far apart */
};
static const char *const fc_problems[] = {"mb1ic1oc1", "mb1ic1oc1000", "mb1000ic1oc1",
                                          "mb1ic1000oc1", "mb3ic5oc7"};

static int verbose;

/* The variant's integer parameters: "k1=max1,k2=max2,..." (all) or only the i-th (which >= 0);
 * returns how many there are. */
static int max_params(const bt_variant *v, int which, char *buf, size_t size) {
    int count = 0;
    buf[0] = '\0';
    for (int j = 0; v->params && v->params[j].key; j++) {
        const bt_param_spec *ps = &v->params[j];
        if (ps->choices) continue;
        if (which < 0 || which == count)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%s=%lld", buf[0] ? "," : "", ps->key,
                     (long long)ps->max);
        count++;
    }
    return count;
}

static double tensor_bytes(const bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    return 4.0 * (double)(bt_shape_x_elems(s) + bt_shape_w_elems(s) + bt_shape_dy_elems(s));
}

/* Per variant: the largest scratch / (threads x tensor bytes) seen. */
static double worst_ratio[256];
static char worst_case[256][200];

/* The plan's scratch within the bound, and its reported parameters giving the same plan. */
/* combined: several parameters at their maxima together, which may be a combination the
 * variant refuses (a register tile too large); refusing is allowed, allocating is not. Each
 * parameter alone at its maximum must be accepted. */
static void check_plan(int vi, const bt_problem *p, const char *params, const char *label,
                       int combined) {
    const char *name = bt_variant_name(vi);
    bt_plan *plan = NULL;
    bt_status st = bt_plan_create_sized(&plan, p, name, params);
    if (st == BT_EUNSUPPORTED) return; /* the variant does not take the shape */
    if (st == BT_EINVAL && combined) {
        if (verbose) tl_note("%s %s [%s] refused: %s", name, label, params, bt_last_error());
        return;
    }
    if (!tl_expect(st == BT_OK, "%s %s [%s] sized", name, label, params)) {
        tl_note("%s: %s", bt_strerror(st), bt_last_error());
        return;
    }
    size_t bound = bt_scratch_bound(&plan->shape, plan->threads);
    double ratio = (double)plan->scratch_bytes / (plan->threads * tensor_bytes(plan));
    if (ratio > worst_ratio[vi]) {
        worst_ratio[vi] = ratio;
        snprintf(worst_case[vi], sizeof worst_case[vi], "%s [%s]", label, params);
    }
    if (!tl_expect(plan->scratch_bytes <= bound, "%s %s [%s]: scratch %zu <= bound %zu", name,
                   label, params, plan->scratch_bytes, bound))
        tl_note("params in effect: %s", bt_plan_params(plan));

    /* The reported parameters are the ones in effect. */
    char reported[BT_PARAMS_TEXT];
    snprintf(reported, sizeof reported, "%s", bt_plan_params(plan));
    bt_plan *again = NULL;
    st = bt_plan_create_sized(&again, p, name, reported);
    if (!tl_expect(st == BT_OK && !strcmp(bt_plan_params(again), reported) &&
                       again->scratch_bytes == plan->scratch_bytes,
                   "%s %s [%s]: recreated from its reported parameters", name, label, params))
        tl_note("reported '%s'; recreated: %s '%s', %zu bytes against %zu", reported,
                bt_strerror(st), st == BT_OK ? bt_plan_params(again) : bt_last_error(),
                st == BT_OK ? again->scratch_bytes : 0, plan->scratch_bytes);
    bt_plan_destroy(again);
    bt_plan_destroy(plan);
}

static void bounded_scratch(int vi, const bt_problem *p, const char *label) {
    const bt_variant *v = bt_registry_get(vi);
    static const int threads[] = {1, 4};
    for (int ti = 0; ti < 2; ti++) {
        char maxima[BT_PARAMS_TEXT], params[BT_PARAMS_TEXT + 32];
        snprintf(params, sizeof params, "threads=%d", threads[ti]);
        check_plan(vi, p, params, label, 0);
        int count = max_params(v, -1, maxima, sizeof maxima);
        for (int which = count > 1 ? -1 : 0; which < count; which++) {
            max_params(v, which, maxima, sizeof maxima);
            snprintf(params, sizeof params, "%s,threads=%d", maxima, threads[ti]);
            check_plan(vi, p, params, label, which < 0);
        }
    }
}

/* The plan, allocated and run, matches the reference (exact mode): clamped parameters and
 * trimmed windows compute what the problem asks. */
static void runs_correctly(int vi, const bt_problem *p, const char *params, const char *label,
                           int combined) {
    const char *name = bt_variant_name(vi);
    bt_plan *plan = NULL;
    bt_status st = bt_plan_create(&plan, p, name, params);
    if (st == BT_EUNSUPPORTED || (st == BT_EINVAL && combined)) return;
    if (!tl_expect(st == BT_OK, "%s %s [%s] created", name, label, params)) {
        tl_note("%s: %s", bt_strerror(st), bt_last_error());
        return;
    }
    bt_check_options opt = {.mode = BT_CHECK_EXACT, .seed = 7, .with_bias = 1};
    bt_check_result res;
    st = bt_check_plan(plan, &opt, &res);
    if (!tl_expect(st == BT_OK && res.pass, "%s %s [%s] matches the reference", name, label,
                   bt_plan_params(plan)))
        tl_note("%s", st == BT_OK ? res.detail : bt_last_error());
    bt_plan_destroy(plan);
}

/* Every value the parameter space lists (a range: both ends) is accepted alone. */
typedef struct space_case {
    int vi;
    const bt_problem *p;
    const char *label;
} space_case;

static void key_accepted(const char *key, char *values, void *ctx) {
    const space_case *c = ctx;
    char *dots = strstr(values, "..");
    if (dots) *dots = '|', memmove(dots + 1, dots + 2, strlen(dots + 2) + 1);
    for (char *save = NULL, *val = strtok_r(values, "|", &save); val;
         val = strtok_r(NULL, "|", &save)) {
        char params[600];
        snprintf(params, sizeof params, "%s=%s,threads=2", key, val);
        bt_plan *plan = NULL;
        bt_status st = bt_plan_create_sized(&plan, c->p, bt_variant_name(c->vi), params);
        if (st != BT_EUNSUPPORTED && !tl_expect(st == BT_OK, "%s %s: listed %s accepted",
                                                bt_variant_name(c->vi), c->label, params))
            tl_note("%s: %s", bt_strerror(st), bt_last_error());
        bt_plan_destroy(plan);
    }
}

static void space_accepted(int vi, const bt_problem *p, const char *label) {
    space_case c = {vi, p, label};
    tl_param_space_each(vi, key_accepted, &c);
}

/* Dispatch (variant NULL) plans every problem within its bound; and when the variant it
 * would choose cannot allocate its scratch, it takes the next one. */
static void dispatch_falls_back(const bt_problem *p, const char *label) {
    bt_plan *plan = NULL;
    bt_status st = bt_plan_create(&plan, p, NULL, "threads=2");
    if (!tl_expect(st == BT_OK, "dispatch %s", label)) {
        tl_note("%s: %s", bt_strerror(st), bt_last_error());
        return;
    }
    tl_expect(plan->scratch_bytes <= bt_scratch_bound(&plan->shape, plan->threads),
              "dispatch %s: %s with %zu bytes of scratch", label, bt_plan_variant(plan),
              plan->scratch_bytes);
    char first[128];
    snprintf(first, sizeof first, "%s", bt_plan_variant(plan));
    int had_scratch = plan->scratch_bytes > 0;
    bt_plan_destroy(plan);
    if (!had_scratch) return;
    bt_test_scratch_fails = first;
    plan = NULL;
    st = bt_plan_create(&plan, p, NULL, "threads=2");
    bt_test_scratch_fails = NULL;
    if (tl_expect(st == BT_OK && strcmp(bt_plan_variant(plan), first),
                  "dispatch %s, %s out of memory: %s instead", label, first,
                  st == BT_OK ? bt_plan_variant(plan) : bt_last_error()))
        tl_expect(plan->scratch != NULL || plan->scratch_bytes == 0,
                  "dispatch %s: the fallback's scratch is allocated", label);
    bt_plan_destroy(plan);
}

/* The case: blocks at their declared maxima on a one-element FC layer are reported as
 * the blocks the plan uses. */
static void reports_clamped(void) {
    bt_problem p = tl_parse("fc_bwd_w mb1ic1oc1");
    for (int vi = 0; vi < bt_variant_count(); vi++) {
        if (bt_variant_op(vi) != BT_FC_BWD_WEIGHTS || !strstr(bt_variant_name(vi), "gemm"))
            continue;
        bt_plan *plan = NULL;
        if (bt_plan_create_sized(&plan, &p, bt_variant_name(vi),
                                 "mc=1048576,nc=1048576,kc=1048576") != BT_OK)
            continue;
        tl_expect(!strstr(bt_plan_params(plan), "1048576"), "%s mb1ic1oc1 at the maxima reports %s",
                  bt_variant_name(vi), bt_plan_params(plan));
        bt_plan_destroy(plan);
    }
}

int main(int argc, char **argv) {
    verbose = argc > 1 && !strcmp(argv[1], "-v");
    reports_clamped();
    for (int vi = 0; vi < bt_variant_count() && vi < 256; vi++) {
        bt_op op = bt_variant_op(vi);
        if (!tl_variant_selected(vi, op)) continue;
        int fc = op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS;
        int count = fc ? (int)(sizeof fc_problems / sizeof *fc_problems)
                       : (int)(sizeof conv_problems / sizeof *conv_problems);
        for (int pi = 0; pi < count; pi++)
            for (int layout = BT_NCHW; layout <= (fc ? BT_NCHW : BT_NHWC); layout++) {
                bt_problem p =
                    tl_problem(op, (bt_layout)layout, fc ? fc_problems[pi] : conv_problems[pi], 0);
                char label[200];
                bt_problem_format(&p, label, sizeof label);
                if (vi == 0 || bt_variant_op(vi - 1) != op) dispatch_falls_back(&p, label);
                bounded_scratch(vi, &p, label);
                space_accepted(vi, &p, label);
                if (!bt_variant_cpu_ok(vi)) continue;
                char maxima[BT_PARAMS_TEXT], params[BT_PARAMS_TEXT + 32];
                runs_correctly(vi, &p, "threads=2", label, 0);
                if (max_params(bt_registry_get(vi), -1, maxima, sizeof maxima)) {
                    snprintf(params, sizeof params, "%s,threads=2", maxima);
                    runs_correctly(vi, &p, params, label, 1);
                }
            }
        if (verbose)
            tl_note("%s: largest scratch / (threads x tensor bytes) %.2f on %s",
                    bt_variant_name(vi), worst_ratio[vi], worst_case[vi]);
    }
    return tl_finish();
}

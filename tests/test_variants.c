/* Every registered variant against the double reference on the covering shape matrix of
 * testlib.c (both check modes, accumulate on/off with garbage-filled outputs, db NULL or
 * not, 1, 2 and more-than-cores threads), each case also rerun for bit-identical output;
 * then every tuner candidate of every parameter of the variant over the shape list.
 *
 * usage: test_variants [OP...] [--layout nchw|nhwc]
 *   OP: fc_bwd_d fc_bwd_w conv_bwd_d conv_bwd_w (default all); --layout restricts conv
 *   cases to one layout (ctest splits the work this way). BT_TEST_VARIANTS=glob[,glob]
 *   restricts the variants. */
#include "testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The case being run, with its repro command: a variant that touches memory past a tensor
 * (its guard page) ends the process, and the output would otherwise stop at an earlier case. */
static char running_case[1200];

/* AddressSanitizer's own handler reports more; elsewhere ours names the case. */
#if !defined(__SANITIZE_ADDRESS__)
static void report_crash(int sig) {
    static const char head[] = "CRASH (fatal signal) while running: ";
    size_t n = 0;
    while (n < sizeof running_case && running_case[n]) n++;
    if (write(STDERR_FILENO, head, sizeof head - 1) < 0 ||
        write(STDERR_FILENO, running_case, n) < 0 || write(STDERR_FILENO, "\n", 1) < 0) {
        /* nothing more can be said */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_crashes(void) {
    signal(SIGSEGV, report_crash);
    signal(SIGBUS, report_crash);
    signal(SIGFPE, report_crash);
    signal(SIGILL, report_crash);
}
#else
static void catch_crashes(void) {}
#endif

/* What an approximate algorithm's line says about its check: the exact comparison does
 * not apply to it, so both modes compare with its wider bound. */
static const char *approximate_note(const tl_case *c, const bt_check_result *res,
                                    const char *params) {
    static char note[200];
    if (!res->approximate) return "";
    snprintf(note, sizeof note, " (approximate algorithm, %s: %sbound %g x the direct one)", params,
             c->mode == BT_CHECK_EXACT ? "exact mode does not apply, checked to its " : "",
             res->error_factor);
    return note;
}

/* One case: the check against the reference and the rerun check, reported as one line. */
static void run_case(int vi, const tl_case *c, const char *extra_params) {
    const char *variant = bt_variant_name(vi);
    char params[BT_PARAMS_TEXT], what[400];
    snprintf(params, sizeof params, "%s%sthreads=%d", extra_params ? extra_params : "",
             extra_params ? "," : "", c->threads);
    tl_case_describe(c, what, sizeof what);
    if (extra_params)
        snprintf(what + strlen(what), sizeof what - strlen(what), " [%s]", extra_params);
    bt_plan *plan;
    if (tl_plan(&plan, &c->problem, variant, params, what) <= 0) return;
    char repro[700];
    tl_case_repro(c, variant, bt_plan_params(plan), repro, sizeof repro);
    snprintf(running_case, sizeof running_case, "%s %s; repro: %s", variant, what, repro);

    bt_check_options opt = {.mode = c->mode, .seed = c->seed, .with_bias = c->with_bias};
    bt_check_result res;
    bt_status st = bt_check_plan(plan, &opt, &res);
    char rerun[256] = "";
    int identical =
        st == BT_OK && tl_rerun_identical(plan, c->seed, c->with_bias, rerun, sizeof rerun);
    if (st != BT_OK) {
        tl_fail("%s %s: check could not run: %s: %s", variant, what, bt_strerror(st),
                bt_last_error());
    } else if (!tl_expect(res.pass && identical, "%s %s max_err=%.3g%s%s", variant, what,
                          res.max_abs_err, approximate_note(c, &res, bt_plan_params(plan)),
                          identical ? "" : " (rerun check failed)")) {
        if (!res.pass) tl_note("%s (%lld outputs wrong)", res.detail, (long long)res.bad_count);
        if (!identical) tl_note("%s", rerun);
        tl_note("repro: %s", repro);
    }
    bt_plan_destroy(plan);
    running_case[0] = '\0';
}

static void run_matrix(int vi, bt_op op, int layout_mask) {
    int n = tl_case_count(op, layout_mask);
    for (int ci = 0; ci < n; ci++) {
        tl_case c;
        tl_case_get(op, layout_mask, ci, &c);
        run_case(vi, &c, NULL);
    }
}

/* The variant's parameter space, "key=a|b|c;key2=lo..hi": every listed candidate of every
 * key (one key varied at a time, the others at their defaults) over the shape list, with
 * layout, threads and the other choices rotating. A range without candidates is left to
 * the defaults. */
typedef struct sweep {
    int vi, layout_mask, salt;
    bt_op op;
} sweep;

static void sweep_key(const char *key, char *values, void *ctx) {
    sweep *w = ctx;
    if (strstr(values, "..")) return;
    for (char *save = NULL, *val = strtok_r(values, "|", &save); val;
         val = strtok_r(NULL, "|", &save), w->salt++) {
        char extra[128];
        snprintf(extra, sizeof extra, "%s=%s", key, val);
        for (int si = 0; si < tl_shape_count(w->op); si++) {
            tl_case c;
            tl_case_rotated(w->op, si, w->salt, w->layout_mask, &c);
            run_case(w->vi, &c, extra);
        }
    }
}

static void run_param_sweep(int vi, bt_op op, int layout_mask) {
    sweep w = {vi, layout_mask, 0, op};
    tl_param_space_each(vi, sweep_key, &w);
}

static int usage(void) {
    fprintf(stderr, "usage: test_variants [fc_bwd_d|fc_bwd_w|conv_bwd_d|conv_bwd_w]... "
                    "[--layout nchw|nhwc]\n");
    return 2;
}

int main(int argc, char **argv) {
    catch_crashes();
    int ops = 0, layout_mask = 3;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--layout") && a + 1 < argc) {
            a++;
            if (!strcmp(argv[a], "nchw"))
                layout_mask = 1;
            else if (!strcmp(argv[a], "nhwc"))
                layout_mask = 2;
            else
                return usage();
            continue;
        }
        int found = 0;
        for (int op = BT_FC_BWD_DATA; op <= BT_CONV_BWD_WEIGHTS; op++)
            if (!strcmp(argv[a], bt_op_name((bt_op)op))) ops |= 1 << op, found = 1;
        if (!found) return usage();
    }
    if (!ops) ops = 0xf;
    for (int op = BT_FC_BWD_DATA; op <= BT_CONV_BWD_WEIGHTS; op++) {
        if (!(ops & (1 << op))) continue;
        int tested = 0;
        for (int vi = 0; vi < bt_variant_count(); vi++) {
            if (!tl_variant_selected(vi, (bt_op)op)) continue;
            tested++;
            if (!tl_variant_runnable(vi, "every case")) continue;
            run_matrix(vi, (bt_op)op, layout_mask);
            run_param_sweep(vi, (bt_op)op, layout_mask);
        }
        if (!tested) tl_skip("%s: no variant selected (BT_TEST_VARIANTS)", bt_op_name((bt_op)op));
    }
    return tl_finish();
}

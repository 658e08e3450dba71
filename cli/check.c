/* backtune check: variants against the reference on given problems, PASS/FAIL per run. */
#include "check.h"
#include "cmdline.h"
#include "commands.h"
#include "selection.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char check_help[] =
    "usage: backtune check [options] [PROBLEM...]\n"
    "Runs every variant of each problem's op (or those matching --variant) on each problem\n"
    "and compares with the double reference. Prints PASS/FAIL/SKIP per variant with the\n"
    "max error and a repro line; exits 1 if anything failed, 2 on bad usage.\n\n"
    "  PROBLEM                 as --problem: '<op>[_nhwc] <descriptor> [accumulate]',\n"
    "                          e.g. \"conv_bwd_w mb2ic3ih7oc4kh3ph1\", or a bare "
    "descriptor\n" BT_CLI_SELECTION_HELP_SUITE_PROBLEM BT_CLI_SELECTION_HELP_OPS_LAYOUTS
    "  -t, --threads LIST      thread counts (default: OpenMP's)\n" BT_CLI_SELECTION_HELP_MB
    "  -v, --variant GLOBS     variants to check: comma-separated shell globs, '!' excludes\n"
    "                          (default all of the op, and 'dispatch': what variant NULL\n"
    "                          picks, from BACKTUNE_TABLE or the heuristic)\n"
    "      --params TEXT       parameters for the variant (key=value,...)\n"
    "  -m, --mode MODE         exact (integer inputs, threshold 0), random, or both (default)\n"
    "      --seed N            seed of the input fill (default 1)\n"
    "      --no-bias           do not compute db in bwd_weights\n"
    "  -h, --help              this text\n";

static int check_one(const bt_problem *p, const char *text, const char *variant, int threads,
                     const char *params, bt_check_mode mode, uint64_t seed, int bias) {
    char ptext[512];
    if (threads > 0)
        snprintf(ptext, sizeof ptext, "%s%sthreads=%d", params ? params : "", params ? "," : "",
                 threads);
    else
        snprintf(ptext, sizeof ptext, "%s", params ? params : "");
    bt_plan *plan;
    bt_status st = bt_plan_create(&plan, p, variant, ptext);
    char dispatched[160];
    if (!variant) { /* dispatch: name the variant it picked */
        snprintf(dispatched, sizeof dispatched, "dispatch:%s",
                 st == BT_OK ? bt_plan_variant(plan) : "?");
        variant = dispatched;
    }
    if (st == BT_EUNSUPPORTED) {
        printf("SKIP %-40s %s\n", variant, bt_last_error());
        return 0;
    }
    if (st != BT_OK) {
        printf("FAIL %-40s plan: %s\n", variant, bt_last_error());
        return 1;
    }
    bt_check_options opt = {.mode = mode, .seed = seed, .with_bias = bias};
    bt_check_result res;
    st = bt_check_plan(plan, &opt, &res);
    const char *mode_name = mode == BT_CHECK_EXACT ? "exact" : "random";
    if (st != BT_OK) {
        printf("FAIL %-40s %s: %s\n", variant, mode_name, bt_last_error());
        bt_plan_destroy(plan);
        return 1;
    }
    printf("%s %-40s %-6s max_err=%-10.3g %s\n", res.pass ? "PASS" : "FAIL", variant, mode_name,
           res.max_abs_err, bt_plan_params(plan));
    if (res.approximate) /* the exact comparison does not apply: both modes use its bound */
        printf("     approximate algorithm: %schecked to its bound (%g x the direct one), "
               "worst error %.3g of it; max|err|/max|ref| = %.3g\n",
               mode == BT_CHECK_EXACT ? "exact mode does not apply, " : "", res.error_factor,
               res.worst_ratio, res.max_abs_ref > 0 ? res.max_abs_err / res.max_abs_ref : 0.0);
    if (!res.pass)
        printf("     %s (%lld bad)\n     repro: backtune check --variant %s --params '%s' "
               "--mode %s --seed %llu '%s'\n",
               res.detail, (long long)res.bad_count, variant, bt_plan_params(plan), mode_name,
               (unsigned long long)seed, text);
    bt_plan_destroy(plan);
    return !res.pass;
}

int bt_cmd_check(int argc, char **argv) {
    enum { O_PARAMS = 256, O_SEED, O_NO_BIAS };
    static const struct option opts[] = {{"variant", required_argument, NULL, 'v'},
                                         {"params", required_argument, NULL, O_PARAMS},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"no-bias", no_argument, NULL, O_NO_BIAS},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    bt_cli_selection sel;
    bt_cli_parser parser;
    if (bt_cli_parser_init(&parser, &sel, "backtune check", argc, "v:m:h", opts)) return 2;
    const char *glob = "*", *params = NULL;
    int modes = 3, bias = 1; /* bit 0: exact, bit 1: random */
    uint64_t seed = 1;
    int rc = 2;
    bt_cli_problem_list list = {0};
    for (int c; (c = bt_cli_getopt(&parser, argc, argv)) != -1;) {
        switch (c) {
        case 'v':
            glob = optarg;
            break;
        case O_PARAMS:
            params = optarg;
            break;
        case 'm':
            if (!strcmp(optarg, "exact"))
                modes = 1;
            else if (!strcmp(optarg, "random"))
                modes = 2;
            else if (!strcmp(optarg, "both"))
                modes = 3;
            else {
                fprintf(stderr, "backtune check: --mode takes exact, random or both\n");
                bt_cli_try_help("backtune check");
                goto done;
            }
            break;
        case O_SEED:
            seed = strtoull(optarg, NULL, 10);
            break;
        case O_NO_BIAS:
            bias = 0;
            break;
        case 'h':
            fputs(check_help, stdout);
            rc = 0;
            goto done;
        case BT_CLI_BAD_VALUE:
            goto done;
        default:
            bt_cli_try_help("backtune check");
            goto done;
        }
    }
    for (int a = optind; a < argc; a++) bt_cli_selection_add_problem(&sel, argv[a]);
    if (!sel.nsuites && !sel.nproblems) {
        fprintf(stderr, "backtune check: no problem given\n");
        bt_cli_try_help("backtune check");
        goto done;
    }
    if (!sel.nthreads) sel.threads[sel.nthreads++] = 0; /* 0: OpenMP's default */
    if (bt_cli_selection_problems(&sel, &list)) goto done;
    int failures = 0, runs = 0;
    for (int pi = 0; pi < list.count; pi++) {
        const bt_problem p = list.items[pi].problem;
        char canon[512];
        bt_problem_format(&p, canon, sizeof canon);
        printf("problem: %s\n", canon);
        int matched = 0;
        /* The op's variants, then "dispatch" (variant NULL: the table or the heuristic). */
        for (int i = 0; i <= bt_variant_count(); i++) {
            int dispatch = i == bt_variant_count();
            const char *name = dispatch ? NULL : bt_variant_name(i);
            if (!dispatch && bt_variant_op(i) != p.op) continue;
            if (!bt_cli_name_selected(dispatch ? "dispatch" : name, glob)) continue;
            matched++;
            for (int ti = 0; ti < sel.nthreads; ti++)
                for (int m = 0; m < 2; m++)
                    if (modes & (1 << m)) {
                        failures += check_one(&p, canon, name, sel.threads[ti], params,
                                              m ? BT_CHECK_RANDOM : BT_CHECK_EXACT, seed, bias);
                        runs++;
                    }
        }
        if (!matched) {
            fprintf(stderr, "backtune check: no %s variant matches '%s'\n", bt_op_name(p.op), glob);
            goto done;
        }
    }
    printf("%d checks, %d failed\n", runs, failures);
    rc = failures ? 1 : 0;
done:
    bt_cli_problem_list_free(&list);
    bt_cli_selection_free(&sel);
    return rc;
}

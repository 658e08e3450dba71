/* backtune list: which variants exist, and what their parameters mean (the meanings are the
 * `doc` of each variant's bt_param_spec, so they cannot drift from the code). */
#include "cmdline.h"
#include "commands.h"
#include "internal.h"
#include "suite.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char list_help[] =
    "usage: backtune list [--names | --suites | --params | VARIANT-GLOB...]\n"
    "Without arguments: every registered variant, its op, ISA, whether this CPU runs it, and\n"
    "its tunable parameters with the tuner's candidate values, then what the approximate\n"
    "families' error is.\n"
    "  VARIANT-GLOB...  the variants whose names match the shell globs, each parameter with\n"
    "                   its range or choices, what it means and the tuner's candidates\n"
    "      --params     the same for one variant of each family and op (the other builds of\n"
    "                   a family take the same parameters; their ranges and candidates may\n"
    "                   differ: name them to see)\n"
    "  -n, --names      the variant names only, one a line\n"
    "      --suites     the suites that --suite NAME finds, one a line\n"
    "  -h, --help       this text\n"
    "Every variant also takes threads=N, bind=none|close|spread and algorithms=all|direct\n"
    "(kernels/include/backtune.h).\n";

/* One variant's parameters, one line each: "  key  values  [tune: ...]  meaning". */
static void print_params(const bt_variant *v) {
    printf("%s  (%s, family %s, %s)\n", v->name, bt_op_name(v->op), v->family, bt_isa_name(v->isa));
    if (v->numerics) printf("  %s\n", v->numerics);
    int any = 0;
    for (const bt_param_spec *p = v->params; p && p->key; p++, any = 1) {
        char values[160];
        size_t used = 0;
        values[0] = '\0';
        if (p->choices)
            for (int c = 0; p->choices[c] && used < sizeof values; c++)
                used += (size_t)snprintf(values + used, sizeof values - used, "%s%s", c ? "|" : "",
                                         p->choices[c]);
        else
            snprintf(values, sizeof values, "%lld..%lld", (long long)p->min, (long long)p->max);
        printf("  %-5s %-24s %s%s%s%s\n", p->key, values, p->doc ? p->doc : "(undocumented)",
               p->tune ? " [tuner: " : "", p->tune ? p->tune : "", p->tune ? "]" : "");
    }
    if (!any) printf("  (no parameters of its own)\n");
}

int bt_cmd_list(int argc, char **argv) {
    enum { OPT_SUITES = 256, OPT_PARAMS };
    static const struct option opts[] = {{"names", no_argument, NULL, 'n'},
                                         {"suites", no_argument, NULL, OPT_SUITES},
                                         {"params", no_argument, NULL, OPT_PARAMS},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int names = 0, suites = 0, families = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":nh", opts, NULL)) != -1) {
        if (c == 'n') {
            names = 1;
        } else if (c == OPT_SUITES) {
            suites = 1;
        } else if (c == OPT_PARAMS) {
            families = 1;
        } else if (c == 'h') {
            return fputs(list_help, stdout), 0;
        } else {
            bt_cli_bad_option("backtune list", c, argv);
            return 2;
        }
    }
    if (names + suites + families > 1 || ((names || suites) && optind < argc)) {
        fprintf(stderr, "backtune list: give one of --names, --suites, --params and globs\n");
        bt_cli_try_help("backtune list");
        return 2;
    }
    if (suites) {
        bt_suite_print_names(stdout);
        return 0;
    }
    if (names) {
        for (int i = 0; i < bt_variant_count(); i++) printf("%s\n", bt_variant_name(i));
        return 0;
    }
    if (!families && optind == argc) {
        printf("%-40s %-11s %-7s %-4s %s\n", "variant", "op", "isa", "cpu", "parameters");
        for (int i = 0; i < bt_variant_count(); i++)
            printf("%-40s %-11s %-7s %-4s %s\n", bt_variant_name(i), bt_op_name(bt_variant_op(i)),
                   bt_variant_isa(i), bt_variant_cpu_ok(i) ? "yes" : "no",
                   bt_variant_param_space(i));
        /* The families whose results are approximate, once each, with their error. */
        const char *said = NULL;
        for (int i = 0; i < bt_variant_count(); i++) {
            const bt_variant *v = bt_registry_get(i);
            if (!v->numerics || (said && !strcmp(said, v->family))) continue;
            printf("\n%s: %s\n", v->family, v->numerics);
            said = v->family;
        }
        return 0;
    }
    int shown = 0;
    for (int i = 0; i < bt_variant_count(); i++) {
        const bt_variant *v = bt_registry_get(i);
        int selected = 0;
        for (int a = optind; a < argc && !selected; a++)
            selected = bt_cli_name_selected(v->name, argv[a]);
        if (families && optind == argc) {
            /* The first registered build of its (op, family). */
            selected = 1;
            for (int j = 0; j < i && selected; j++)
                selected = bt_registry_get(j)->op != v->op ||
                           strcmp(bt_registry_get(j)->family, v->family);
        }
        if (!selected) continue;
        if (shown++) printf("\n");
        print_params(v);
    }
    if (!shown) {
        fprintf(stderr, "backtune list: no variant matches");
        for (int a = optind; a < argc; a++) fprintf(stderr, " '%s'", argv[a]);
        fprintf(stderr, " (backtune list names them all)\n");
        return 2;
    }
    printf("\nEvery variant also takes threads=N, bind=none|close|spread and "
           "algorithms=all|direct.\n");
    return 0;
}

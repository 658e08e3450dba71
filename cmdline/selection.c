/* The problem-selection options and their expansion into problems (see selection.h). */
#include "selection.h"

#include "cmdline.h"
#include "suite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MB (1 << 20)

static const struct option selection_longopts[] = {
    {"suite", required_argument, NULL, 's'},   {"problem", required_argument, NULL, 'p'},
    {"ops", required_argument, NULL, 'o'},     {"layouts", required_argument, NULL, 'l'},
    {"threads", required_argument, NULL, 't'}, {"mb", required_argument, NULL, BT_CLI_OPT_MB}};
static const char selection_shortopts[] = "s:p:o:l:t:";

int bt_cli_parser_init(bt_cli_parser *parser, bt_cli_selection *sel, const char *command, int argc,
                       const char *shortopts, const struct option *longopts) {
    memset(sel, 0, sizeof *sel);
    memset(parser, 0, sizeof *parser);
    sel->command = command;
    for (int op = 0; op < 4; op++) sel->op_selected[op] = 1;
    sel->layout_selected[BT_NCHW] = sel->layout_selected[BT_NHWC] = 1;
    sel->suites = calloc((size_t)argc + 1, sizeof *sel->suites);
    sel->problems = calloc((size_t)argc + 1, sizeof *sel->problems);
    if (!sel->suites || !sel->problems) {
        bt_cli_selection_free(sel);
        return -1;
    }
    parser->sel = sel;
    /* ':' first: getopt reports a missing value as ':' and prints nothing (bt_cli_getopt
     * does, in one line). */
    snprintf(parser->shortopts, sizeof parser->shortopts, ":%s%s", selection_shortopts, shortopts);
    size_t n = 0, own = 0;
    while (longopts[own].name) own++;
    if (own + sizeof selection_longopts / sizeof *selection_longopts > BT_CLI_MAX_OPTIONS) abort();
    for (size_t i = 0; i < sizeof selection_longopts / sizeof *selection_longopts; i++)
        parser->longopts[n++] = selection_longopts[i];
    for (size_t i = 0; i < own; i++) parser->longopts[n++] = longopts[i];
    optind = 1;
    opterr = 0;
    return 0;
}

void bt_cli_selection_free(bt_cli_selection *sel) {
    free(sel->suites);
    free(sel->problems);
    sel->suites = sel->problems = NULL;
    sel->nsuites = sel->nproblems = 0;
}

void bt_cli_selection_add_problem(bt_cli_selection *sel, const char *text) {
    sel->problems[sel->nproblems++] = text;
}

static int parse_ops(bt_cli_selection *sel, const char *text) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    memset(sel->op_selected, 0, sizeof sel->op_selected);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int op = 0; op < 4; op++)
            if (!strcmp(tok, bt_op_name((bt_op)op)) || !strcmp(tok, "all"))
                found = sel->op_selected[op] = 1;
        if (!found) {
            fprintf(stderr,
                    "%s: unknown op '%s' (conv_bwd_d, conv_bwd_w, fc_bwd_d, fc_bwd_w, all)\n",
                    sel->command, tok);
            return -1;
        }
    }
    return 0;
}

static int parse_layouts(bt_cli_selection *sel, const char *text) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    sel->layout_selected[BT_NCHW] = sel->layout_selected[BT_NHWC] = 0;
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save), n++) {
        if (!strcmp(tok, "nchw"))
            sel->layout_selected[BT_NCHW] = 1;
        else if (!strcmp(tok, "nhwc"))
            sel->layout_selected[BT_NHWC] = 1;
        else {
            fprintf(stderr, "%s: unknown layout '%s' (nchw, nhwc)\n", sel->command, tok);
            return -1;
        }
    }
    if (!n) {
        fprintf(stderr, "%s: --layouts takes nchw and/or nhwc\n", sel->command);
        return -1;
    }
    return 0;
}

static int parse_mb(bt_cli_selection *sel, const char *text) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*end || v < 1 || v > MAX_MB) {
        fprintf(stderr, "%s: bad --mb '%s' (1..%d)\n", sel->command, text, MAX_MB);
        return -1;
    }
    sel->mb = v;
    return 0;
}

int bt_cli_getopt(bt_cli_parser *parser, int argc, char **argv) {
    bt_cli_selection *sel = parser->sel;
    for (;;) {
        int c = getopt_long(argc, argv, parser->shortopts, parser->longopts, NULL);
        int bad = 0;
        switch (c) {
        case 's':
            sel->suites[sel->nsuites++] = optarg;
            break;
        case 'p':
            bt_cli_selection_add_problem(sel, optarg);
            break;
        case 'o':
            bad = parse_ops(sel, optarg);
            break;
        case 'l':
            bad = parse_layouts(sel, optarg);
            break;
        case 't':
            bad = bt_cli_parse_threads(sel->command, optarg, 1024, BT_CLI_MAX_THREAD_COUNTS,
                                       sel->threads, &sel->nthreads);
            break;
        case BT_CLI_OPT_MB:
            bad = parse_mb(sel, optarg);
            break;
        case '?':
        case ':':
            bt_cli_bad_option(sel->command, c, argv);
            return BT_CLI_BAD_VALUE;
        default:
            return c;
        }
        if (bad) {
            bt_cli_try_help(sel->command);
            return BT_CLI_BAD_VALUE;
        }
    }
}

/* ---- expansion ---- */

static int has_op(const char *text) {
    while (*text == ' ' || *text == '\t') text++;
    return !strncmp(text, "conv_bwd_", 9) || !strncmp(text, "fc_bwd_", 7);
}

static int op_is_fc(bt_op op) {
    return op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS;
}

static int append(const bt_cli_selection *sel, bt_cli_problem_list *out, const bt_problem *p,
                  const char *name, int count) {
    if (out->count == out->cap) {
        int cap = out->cap ? 2 * out->cap : 32;
        bt_cli_problem *items = realloc(out->items, (size_t)cap * sizeof *items);
        if (!items) {
            fprintf(stderr, "%s: out of memory\n", sel->command);
            return -1;
        }
        out->items = items;
        out->cap = cap;
    }
    bt_cli_problem *e = &out->items[out->count++];
    memset(e, 0, sizeof *e);
    e->problem = *p;
    if (sel->mb) e->problem.n = sel->mb;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->count = count;
    return 0;
}

int bt_cli_expand(const bt_cli_selection *sel, const char *text, int count, const char *where,
                  bt_cli_problem_list *out) {
    bt_problem p;
    char name[128];
    if (has_op(text)) {
        if (bt_problem_parse_named(text, &p, name, sizeof name) != BT_OK) {
            fprintf(stderr, "%s: %s: '%s': %s\n", sel->command, where, text, bt_last_error());
            return -1;
        }
        return append(sel, out, &p, name, count) ? -1 : 1;
    }
    int fc = !bt_cli_descriptor_is_conv(text);
    char probe[BT_SUITE_TEXT + 16];
    snprintf(probe, sizeof probe, "%s %s", fc ? "fc_bwd_d" : "conv_bwd_d", text);
    if (bt_problem_parse_named(probe, &p, name, sizeof name) != BT_OK) {
        fprintf(stderr, "%s: %s: '%s': %s\n", sel->command, where, text, bt_last_error());
        return -1;
    }
    int added = 0;
    for (int op = 0; op < 4; op++) {
        if (!sel->op_selected[op] || op_is_fc((bt_op)op) != fc) continue;
        for (int layout = BT_NCHW; layout <= BT_NHWC; layout++) {
            if (!fc && !sel->layout_selected[layout]) continue;
            p.op = (bt_op)op;
            p.layout = (bt_layout)layout;
            if (append(sel, out, &p, name, count)) return -1;
            added++;
            if (fc) break; /* FC has no layout */
        }
    }
    if (!added && sel->verbose)
        fprintf(stderr, "%s: %s: no selected op takes '%s'\n", sel->command, where, text);
    return added;
}

int bt_cli_selection_problems(const bt_cli_selection *sel, bt_cli_problem_list *out) {
    for (int s = 0; s < sel->nsuites; s++) {
        bt_suite suite;
        if (bt_suite_load(sel->suites[s], &suite) != BT_OK) {
            fprintf(stderr, "%s: %s\n", sel->command, bt_last_error());
            return -1;
        }
        int rc = 0;
        for (int i = 0; i < suite.count && rc >= 0; i++) {
            char where[BT_SUITE_TEXT + 16];
            snprintf(where, sizeof where, "%s:%d", suite.path, suite.entries[i].line);
            rc =
                bt_cli_expand(sel, suite.entries[i].descriptor, suite.entries[i].count, where, out);
        }
        bt_suite_free(&suite);
        if (rc < 0) return -1;
    }
    for (int i = 0; i < sel->nproblems; i++)
        if (bt_cli_expand(sel, sel->problems[i], 1, "--problem", out) < 0) return -1;
    if (!out->count) {
        fprintf(stderr, "%s: no problem for the selected ops (check --ops and --layouts)\n",
                sel->command);
        return -1;
    }
    return 0;
}

void bt_cli_problem_list_free(bt_cli_problem_list *list) {
    free(list->items);
    memset(list, 0, sizeof *list);
}

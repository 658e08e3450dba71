/* The problem-selection options that bench, tune and check share, with one meaning:
 *
 *   -s, --suite NAME|FILE   the descriptors of a suite (suite.h); repeatable
 *   -p, --problem TEXT      a full problem ('<op>[_nhwc] <descriptor> [accumulate]': that
 *                           problem) or a bare descriptor (expanded over the ops and
 *                           layouts below); repeatable
 *   -o, --ops LIST          ops a bare descriptor is expanded over, of its kind (conv or FC)
 *   -l, --layouts LIST      layouts a bare convolution descriptor is expanded over
 *   -t, --threads LIST      thread counts (each command has its own default)
 *       --mb N              replace every problem's minibatch
 *
 * A command parses its own options on top of these: bt_cli_getopt is getopt_long over the
 * command's table and this one, and handles the selection options itself. Then
 * bt_cli_selection_problems expands the suites and problems into a list of bt_problem. */
#ifndef BT_CMDLINE_SELECTION_H
#define BT_CMDLINE_SELECTION_H

#include "backtune.h"

#include <getopt.h>
#include <stdint.h>

#define BT_CLI_MAX_THREAD_COUNTS 16
#define BT_CLI_MAX_OPTIONS 48 /* the command's long options and these */

/* getopt codes of the selection's long-only options, and what bt_cli_getopt returns after a
 * bad value of a selection option (the message printed). A command's own long-only codes
 * stay below BT_CLI_OPT_FIRST. */
enum { BT_CLI_OPT_FIRST = 0x1000, BT_CLI_OPT_MB = BT_CLI_OPT_FIRST, BT_CLI_BAD_VALUE };

/* The --help lines of the selection options, for a command's help text (each command writes
 * its own --threads line: the default differs). */
#define BT_CLI_SELECTION_HELP_SUITE_PROBLEM                                                        \
    "  -s, --suite NAME|FILE   the descriptors of a suite: bench/suites/NAME.txt (quick,\n"        \
    "                          resnet50, fc, conv1d, same_padding, ...) or FILE; repeatable\n"     \
    "  -p, --problem TEXT      a full problem ('conv_bwd_w_nhwc mb2ic3ih7oc4kh3ph1': that op\n"    \
    "                          and layout only, 'accumulate' may follow) or a bare descriptor\n"   \
    "                          ('mb32ic64ih56oc64kh3ph1': expanded over --ops and --layouts);\n"   \
    "                          repeatable\n"
#define BT_CLI_SELECTION_HELP_OPS_LAYOUTS                                                          \
    "  -o, --ops LIST          ops for bare descriptors: conv_bwd_d,conv_bwd_w,fc_bwd_d,\n"        \
    "                          fc_bwd_w or all (default all; a descriptor goes with the ops\n"     \
    "                          of its kind, conv or FC)\n"                                         \
    "  -l, --layouts LIST      nchw,nhwc: layouts for bare conv descriptors (default both)\n"
#define BT_CLI_SELECTION_HELP_MB "      --mb N              replace every problem's minibatch\n"

typedef struct bt_cli_selection {
    const char *command; /* "backtune bench": the prefix of messages */
    const char **suites;
    int nsuites;
    const char **problems;
    int nproblems;
    int op_selected[4]; /* indexed by bt_op; default all */
    int layout_selected[2];
    int threads[BT_CLI_MAX_THREAD_COUNTS];
    int nthreads; /* 0: not given, the command's default */
    int64_t mb;   /* 0: not given */
    int verbose;  /* say when no selected op takes a descriptor */
} bt_cli_selection;

/* One option parse: the command's options and the selection's. */
typedef struct bt_cli_parser {
    bt_cli_selection *sel;
    char shortopts[64];
    struct option longopts[BT_CLI_MAX_OPTIONS + 1];
} bt_cli_parser;

/* Prepares sel (defaults; room for argc suites and problems) and the merged option tables,
 * and resets getopt. `shortopts` and `longopts` are the command's own (longopts ends with a
 * zero entry) and must not use s, p, o, l, t or the names above. 0, or -1 out of memory. */
int bt_cli_parser_init(bt_cli_parser *parser, bt_cli_selection *sel, const char *command, int argc,
                       const char *shortopts, const struct option *longopts);

/* getopt_long over both tables: the selection's options are taken into sel; returns the
 * command's option codes, BT_CLI_BAD_VALUE for an unknown option, a missing value or a bad
 * value of a selection option (a one-line message and "try '<command> --help'" printed), -1
 * at the end. */
int bt_cli_getopt(bt_cli_parser *parser, int argc, char **argv);

/* Adds a problem text as --problem does (check's positional problems). */
void bt_cli_selection_add_problem(bt_cli_selection *sel, const char *text);

void bt_cli_selection_free(bt_cli_selection *sel);

/* One problem selected. */
typedef struct bt_cli_problem {
    bt_problem problem; /* --mb applied; as parsed, not normalized */
    char name[128];     /* the descriptor's n"..." or "" */
    int count;          /* occurrences in the model (the suite's xN), 1 for --problem */
} bt_cli_problem;

typedef struct bt_cli_problem_list {
    bt_cli_problem *items;
    int count, cap;
} bt_cli_problem_list;

/* Appends the problems of one text: a full problem (it starts with its op) is that problem;
 * a bare descriptor is one problem per selected op of its kind, in bt_op order, and for a
 * convolution per selected layout (NCHW first); FC problems have layout NCHW. `where` names
 * the text in messages ("--problem", "FILE:LINE"). Returns how many were added (0 when no
 * selected op takes it), or -1 with the message printed. */
int bt_cli_expand(const bt_cli_selection *sel, const char *text, int count, const char *where,
                  bt_cli_problem_list *out);

/* The selection's problems: every suite's descriptors in order, then the --problem texts.
 * No problem at all is an error ("no problem for the selected ops"). 0, or -1 with the
 * message printed. Duplicates are kept: the command decides. */
int bt_cli_selection_problems(const bt_cli_selection *sel, bt_cli_problem_list *out);

void bt_cli_problem_list_free(bt_cli_problem_list *list);

#endif

/* The parts of `backtune report` (report.c: the page, result sets, machine against machine,
 * rooflines, variants; report_fleet.c: the verdict, model totals, efficiency, thread scaling,
 * tuned against default) and the HTML helpers they share. */
#ifndef BT_COMPARE_REPORT_H
#define BT_COMPARE_REPORT_H

#include "compare.h"
#include "fleet.h"

#include <stdio.h>

#define NAME 160
#define LABEL 200

typedef struct report {
    const bt_cmp_args *args;
    const bt_cmp_set *sets;
    int nsets;
    const char *dir;
    FILE *html;
    int charts, failed_charts;
    char first_failure[512];
} report;

/* HTML: text escaped; table cells (a number formatted, or '-' when negative or NaN). */
void report_html_text(FILE *f, const char *s);
void report_td(FILE *h, const char *text);
void report_td_num(FILE *h, const char *cls, const char *fmt, double v);
void report_td_gflops(FILE *h, const char *cls, double v);
/* A chart file name from free text: [a-z0-9_] only. */
void report_file_name(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Shows a chart in the page (PNG linking to its SVG, script and data), or says why it was
 * not drawn. */
void report_chart(report *r, const char *name, bt_status drawn, const char *caption);
/* The descriptor of a problem text (after its op). */
const char *report_descriptor(const char *problem);
/* Row ranges of a match: the group starting at begin; the op block starting at begin. */
int report_group_end(const bt_cmp_rows *rows, int begin);
int report_op_block_end(const bt_cmp_rows *rows, int begin, int group_end);
int report_present_count(const bt_cmp_row *row, int nsets);
/* A table of matched rows [begin, end) with geomeans per op and of all (tables: tuning-table
 * rows, with each set's gain over its default dispatch). */
void report_rows_table(report *r, const bt_cmp_rows *rows, int begin, int end, int tables);
/* Match options for set s alone (its own thread count when each set has one). */
bt_cmp_options report_single_set_options(const report *r, int s, int by_variant,
                                         const char *variants);

/* report_fleet.c: sections of the page, in this order after the result sets. */
void report_verdict(report *r, const bt_cmp_rows *bench, const bt_cmp_rows *tables);
void report_model_totals(report *r, const bt_cmp_rows *bench);
void report_scaling(report *r);
void report_tuning(report *r, const bt_cmp_rows *tables);

#endif

/* What `backtune compare` and `backtune report` share: their command line, loading the
 * result sets, and the comparison tables as text. */
#ifndef BT_COMPARE_H
#define BT_COMPARE_H

#include "match.h"

#include <stdio.h>

typedef struct bt_cmp_args {
    bt_cmp_options match;
    const char *paths[BT_CMP_MAX_SETS];
    int npaths;
    char fleet[BT_CMP_MAX_SETS][1024]; /* the machine folders a fleet's folder stands for */
    const char *out_dir;               /* report: -o DIR */
    const char *command;               /* the command line, for the report */
} bt_cmp_args;

/* Parses `compare` (report = 0) or `report` (report = 1) arguments; argv[0] is the command's
 * name. 0: ok, 1: help printed, -1: bad usage (message on stderr). */
int bt_cmp_parse_args(int argc, char **argv, int report, bt_cmp_args *a);

/* Loads every path of a into sets (a->npaths of them); on failure prints the reason to err,
 * frees what was loaded and returns -1. */
int bt_cmp_load_sets(const bt_cmp_args *a, bt_cmp_set *sets, FILE *err);
void bt_cmp_free_sets(bt_cmp_set *sets, int nsets);

/* Letter of set i: "A", "B", ... */
const char *bt_cmp_set_letter(int i);
/* A variant's name without its op ("direct_nchw_avx512" of "conv_bwd_w__direct_nchw_avx512"). */
const char *bt_cmp_short_variant(const char *variant);
/* "~" inside the noise, "?" unknown, "" outside. */
const char *bt_cmp_noise_mark(bt_cmp_noise n);
/* GFLOP/s with three significant digits at least ("105.6", "13.83", "0.0214"). */
const char *bt_cmp_format_gflops(double gflops, char *buf, size_t size);
/* Percentage of peak of a cell, or a negative value when its peak is unknown. */
double bt_cmp_cell_pct_peak(const bt_cmp_cell *c);

/* The comparison as text: the sets, then the bench rows group by group with geomeans, then the
 * tuning tables. Returns the number of rows present in at least two sets. */
int bt_cmp_print(FILE *out, const bt_cmp_set *sets, int nsets, const bt_cmp_rows *bench,
                 const bt_cmp_rows *tables, const bt_cmp_options *o);

/* `backtune compare` once its arguments are parsed: 0 ok, 1 nothing in common, 2 bad input. */
int bt_compare_run(const bt_cmp_args *a, FILE *out, FILE *err);

#endif

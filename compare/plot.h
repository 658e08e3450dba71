/* Charts for `backtune report`, drawn by gnuplot: each chart is a script (<name>.gp) and its
 * data (<name>.dat) written into the report folder; gnuplot is then run on the script, with a
 * fixed argument list and no shell, to draw <name>.png and <name>.svg.
 *
 * Text from result files (problem texts, variant and machine names) reaches gnuplot only
 * through bt_plot_safe, which keeps a small set of characters: no quote, backquote, '@',
 * '$', '\\' or '#' can reach a script (gnuplot expands backquotes and macros) or a data file. */
#ifndef BT_COMPARE_PLOT_H
#define BT_COMPARE_PLOT_H

#include "backtune.h"

#include <stdio.h>

/* Copies text, each character outside [A-Za-z0-9 ._:,;=+()/%<>*!-] replaced by '_'. */
void bt_plot_safe(const char *text, char *out, size_t size);

/* Opens dir/name.ext for writing (BT_EIO with a message on failure). */
bt_status bt_plot_open(const char *dir, const char *name, const char *ext, FILE **out);

/* The start of a chart script: PNG terminal (width x height pixels), its output, the title
 * (made safe here) and the settings every chart shares. */
void bt_plot_begin(FILE *gp, const char *name, int width, int height, const char *title);
/* The end: the same chart again as SVG. */
void bt_plot_end(FILE *gp, const char *name, int width, int height);

/* Runs gnuplot on dir/name.gp inside dir; its messages go to dir/gnuplot.log. BT_EIO with a
 * message if gnuplot is missing or fails. */
bt_status bt_plot_draw(const char *dir, const char *name);

/* "set <axis> (...)" with readable tics for a log axis over [lo, hi]. */
void bt_plot_log_tics(FILE *gp, const char *axis, double lo, double hi);

/* Horizontal grouped bars: one row per label (first at the top), one bar per series. */
typedef struct bt_hbar_chart {
    const char *name, *title, *xlabel;
    int nrows, nseries;
    const char *const *row_labels;
    const char *const *series_labels;
    const double *value;      /* [row * nseries + series]; <= 0 or NaN: no bar */
    const double *low, *high; /* whisker ends, same layout (NULL or NaN: none) */
    double reference;         /* bars start there (0, or 1 for ratios) and a line marks it */
    int log_x;
} bt_hbar_chart;
bt_status bt_plot_hbars(const char *dir, const bt_hbar_chart *c);

/* A table of values as colored cells, each colored by its value over the best of its row
 * and labelled with the value. */
typedef struct bt_heat_chart {
    const char *name, *title, *colorbar_label;
    int nrows, ncols;
    const char *const *row_labels, *const *col_labels;
    const double *value; /* [row * ncols + col]; <= 0 or NaN: empty cell */
    int separator;       /* a line before this column (e.g. between ours and peers); 0 none */
} bt_heat_chart;
bt_status bt_plot_heat(const char *dir, const bt_heat_chart *c);

#endif

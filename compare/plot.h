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
/* The end: the same chart again as SVG; with hover, an SVG whose hypertext labels show when
 * the mouse is over their points (gnuplot's script embedded: opened on its own, not as an
 * <img>). */
void bt_plot_end(FILE *gp, const char *name, int width, int height, int hover);

/* Runs gnuplot on dir/name.gp inside dir; its messages go to dir/gnuplot.log. BT_EIO with a
 * message if gnuplot is missing or fails. */
bt_status bt_plot_draw(const char *dir, const char *name);

/* Ends a data block (two blank lines). A block without data lines gets one line of NaN in
 * each of its columns first: gnuplot's `index` skips empty blocks, which would shift every
 * later series onto the wrong data. */
void bt_plot_end_block(FILE *dat, int lines, int columns);

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

/* Sorted distributions: per series, its values sorted, each at the fraction of the series at
 * or below it (an empirical CDF, drawn as steps with points); a value may carry a label
 * (the worst and best keys, say): the point is ringed and numbered, and the numbered labels
 * are listed in the lower right corner in the series' colors. */
typedef struct bt_cdf_chart {
    const char *name, *title, *xlabel;
    int nseries;
    const char *const *series_labels;
    const int *counts;                      /* [series] */
    const double *const *values;            /* [series][i], any order; <= 0 or NaN: left out */
    const char *const *const *point_labels; /* [series][i] or NULL (none at all) */
    double reference;                       /* a vertical line there (1 for ratios); 0 none */
    int log_x;
    int width, height; /* 0: 1000 x 520 */
} bt_cdf_chart;
bt_status bt_plot_cdf(const char *dir, const bt_cdf_chart *c);

/* Lines through points with whiskers, per series (x ascending), on log2 axes; with ideal
 * set, the line y = x dashed (perfect scaling when x is a thread count and y a speedup). */
typedef struct bt_line_chart {
    const char *name, *title, *xlabel, *ylabel;
    int nseries;
    const char *const *series_labels;
    const int *counts;                      /* points per series */
    const double *const *x, *const *y;      /* [series][point] */
    const double *const *low, *const *high; /* whisker ends, or NULL */
    int ideal;
} bt_line_chart;
bt_status bt_plot_lines(const char *dir, const bt_line_chart *c);

#endif

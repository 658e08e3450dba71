/* gnuplot charts (see plot.h). */
#include "plot.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FONT "DejaVu Sans"
#define LABEL 200

/* Bar colors, distinguishable and readable on white (Tableau 10 and its light variants). */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
                                      "#a0cbe8", "#ffbe7d", "#8cd17d", "#ff9d9a", "#86bcb6",
                                      "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e"};
#define NCOLORS ((int)(sizeof palette / sizeof palette[0]))

void bt_plot_safe(const char *text, char *out, size_t size) {
    static const char allowed[] = " ._:,;=+()/%<>*!-";
    size_t n = 0;
    for (const char *s = text ? text : ""; *s && n + 1 < size; s++) {
        unsigned char c = (unsigned char)*s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c && strchr(allowed, c));
        out[n++] = ok ? (char)c : '_';
    }
    if (size) out[n] = '\0';
}

bt_status bt_plot_open(const char *dir, const char *name, const char *ext, FILE **out) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    *out = fopen(path, "w");
    if (!*out) return bt_fail(BT_EIO, "cannot write %s: %s", path, strerror(errno));
    return BT_OK;
}

static bt_status close_checked(FILE *f, const char *dir, const char *name, const char *ext) {
    int failed = ferror(f);
    failed |= fclose(f) != 0;
    if (failed) return bt_fail(BT_EIO, "cannot write %s/%s.%s", dir, name, ext);
    return BT_OK;
}

void bt_plot_begin(FILE *gp, const char *name, int width, int height, const char *title) {
    char safe[LABEL * 2];
    bt_plot_safe(title, safe, sizeof safe);
    fprintf(gp,
            "# Drawn by backtune report: gnuplot %s.gp (in this folder) redraws %s.png and "
            "%s.svg.\n"
            "set terminal pngcairo size %d,%d noenhanced font \"" FONT ",10\" background "
            "\"white\"\n"
            "set output \"%s.png\"\n"
            "set datafile separator \"\\t\"\n"
            "set title \"%s\" font \"" FONT ",12\"\n"
            "set grid back lc rgb \"#dddddd\"\n"
            "set border lc rgb \"#555555\"\n",
            name, name, name, width, height, name, safe);
    for (int i = 0; i < NCOLORS; i++)
        fprintf(gp, "set linetype %d lc rgb \"%s\" lw 2 pt 7 ps 1.2\n", i + 1, palette[i]);
}

void bt_plot_end(FILE *gp, const char *name, int width, int height, int hover) {
    fprintf(gp,
            "set terminal svg size %d,%d noenhanced font \"" FONT ",10\" background \"white\"%s\n"
            "set output \"%s.svg\"\n"
            "replot\n"
            "unset output\n",
            width, height, hover ? " mouse standalone" : "", name);
}

bt_status bt_plot_draw(const char *dir, const char *name) {
    char script[300], log_path[1200];
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(log_path, sizeof log_path, "%s/gnuplot.log", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return bt_fail(BT_EIO, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        /* Only async-signal-safe calls here. */
        int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null_fd = open("/dev/null", O_RDWR);
        if (log_fd >= 0) dup2(log_fd, 2);
        if (null_fd >= 0) dup2(null_fd, 0), dup2(null_fd, 1);
        if (chdir(dir) != 0) _exit(126);
        char *const argv[] = {"gnuplot", script, NULL};
        execvp("gnuplot", argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return bt_fail(BT_EIO, "waiting for gnuplot: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return BT_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return bt_fail(BT_EIO, "gnuplot not found: install it (Debian: apt-get install "
                               "gnuplot-nox) to draw the plots");
    return bt_fail(BT_EIO, "gnuplot failed on %s/%s (messages in %s)", dir, script, log_path);
}

void bt_plot_end_block(FILE *dat, int lines, int columns) {
    for (int c = 0; !lines && c < columns; c++) fprintf(dat, "%sNaN", c ? "\t" : "");
    fprintf(dat, "%s\n\n", lines ? "" : "\n");
}

static int usable(const double *v, int i) {
    return v && isfinite(v[i]) && v[i] > 0;
}

/* "set ytics (...)" (or xtics) with the labels made safe. */
static void write_tics(FILE *gp, const char *axis, const char *const *labels, int n, int reverse,
                       const char *extra) {
    fprintf(gp, "set %s (", axis);
    for (int i = 0; i < n; i++) {
        char safe[LABEL];
        bt_plot_safe(labels[i], safe, sizeof safe);
        fprintf(gp, "%s\"%s\" %d", i ? ", " : "", safe, reverse ? n - 1 - i : i);
    }
    fprintf(gp, ") %s\n", extra);
}

void bt_plot_log_tics(FILE *gp, const char *axis, double lo, double hi) {
    /* ratios close to 1: steps of 0.1 (or 0.05); wider: 1-1.25-1.5-2-... or 1-2-5 per
     * decade */
    double ratio = hi / lo;
    fprintf(gp, "set %s (", axis);
    int n = 0;
    if (ratio < 3) {
        double step = ratio < 1.6 ? 0.05 : 0.1;
        for (double v = ceil(lo / step) * step; v <= hi * 1.0001; v += step)
            fprintf(gp, "%s\"%.2f\" %.6g", n++ ? ", " : "", v, v);
    } else {
        /* finer steps for a narrower range */
        static const double fine[] = {1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8}, coarse[] = {1, 2, 5};
        const double *mantissa = ratio < 20 ? fine : coarse;
        int nm = ratio < 20 ? 10 : 3;
        for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)); e++)
            for (int m = 0; m < nm; m++) {
                double v = mantissa[m] * pow(10, e);
                if (v >= lo && v <= hi) fprintf(gp, "%s\"%g\" %.6g", n++ ? ", " : "", v, v);
            }
    }
    fprintf(gp, ")\n");
}

bt_status bt_plot_hbars(const char *dir, const bt_hbar_chart *c) {
    FILE *dat, *gp;
    bt_status st = bt_plot_open(dir, c->name, "dat", &dat);
    if (st != BT_OK) return st;
    double lo = c->log_x ? c->reference : 0, hi = c->reference;
    double thickness = 0.8 / c->nseries;
    /* One block per series: y, value, box x from/to, box y from/to, whisker ends, whether it
     * has whiskers. */
    for (int s = 0; s < c->nseries; s++) {
        fprintf(dat, "# series %d\n", s);
        int lines = 0;
        for (int r = 0; r < c->nrows; r++) {
            int i = r * c->nseries + s;
            if (!usable(c->value, i)) continue;
            lines++;
            double v = c->value[i], y = c->nrows - 1 - r + 0.4 - thickness * (s + 0.5);
            int whiskers = usable(c->low, i) && usable(c->high, i);
            double wl = whiskers ? c->low[i] : v, wh = whiskers ? c->high[i] : v;
            fprintf(dat, "%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%d\n", y, v,
                    fmin(v, c->reference), fmax(v, c->reference), y - 0.45 * thickness,
                    y + 0.45 * thickness, wl, wh, whiskers);
            lo = fmin(lo, fmin(v, wl));
            hi = fmax(hi, fmax(v, wh));
        }
        bt_plot_end_block(dat, lines, 9);
    }
    if ((st = close_checked(dat, dir, c->name, "dat")) != BT_OK) return st;
    if ((st = bt_plot_open(dir, c->name, "gp", &gp)) != BT_OK) return st;
    int width = 1100, height = 170 + c->nrows * (c->nseries > 1 ? 12 * c->nseries + 6 : 22);
    if (height < 260) height = 260;
    bt_plot_begin(gp, c->name, width, height, c->title);
    char xlabel[LABEL];
    bt_plot_safe(c->xlabel, xlabel, sizeof xlabel);
    /* The key right of the plot when its entries are short, else below, spaced from the axis
     * label. */
    size_t longest = 0;
    for (int s = 0; s < c->nseries; s++)
        if (strlen(c->series_labels[s]) > longest) longest = strlen(c->series_labels[s]);
    const char *key = c->nseries < 2  ? "unset key"
                      : longest <= 40 ? "set key outside right top vertical"
                                      : "set key outside bottom center horizontal height 1";
    if (c->log_x) {
        /* room for the value labels right of the bars */
        fprintf(gp, "set logscale x 2\nset xrange [%.6g:%.6g]\n", lo / 1.1, hi * 1.35);
        bt_plot_log_tics(gp, "xtics", lo / 1.1, hi * 1.35);
    } else {
        fprintf(gp, "set xrange [0:%.6g]\n", hi * 1.15);
    }
    fprintf(gp,
            "set xlabel \"%s\"\n"
            "set yrange [-0.6:%d-0.4]\n"
            "set grid noytics\n"
            "%s\n"
            "set style fill solid 0.85 noborder\n"
            "set arrow from %.6g, graph 0 to %.6g, graph 1 nohead lc rgb \"#333333\" lw 1.5 "
            "front\n",
            xlabel, c->nrows, key, c->reference, c->reference);
    write_tics(gp, "ytics", c->row_labels, c->nrows, 1, "scale 0 font \"" FONT ",9\"");
    fprintf(gp, "plot \\\n");
    for (int s = 0; s < c->nseries; s++) {
        char series[LABEL];
        bt_plot_safe(c->series_labels[s], series, sizeof series);
        fprintf(
            gp,
            "  \"%s.dat\" index %d using 3:1:3:4:5:6 with boxxyerror lt %d title \"%s\", \\\n"
            "  \"%s.dat\" index %d using 2:(column(9) > 0 ? column(1) : NaN):7:8 with xerrorbars "
            "lc rgb \"#333333\" lw 1 pt -1 notitle, \\\n"
            "  \"%s.dat\" index %d using (column(2) > column(8) ? column(2) : column(8)):1:"
            "(sprintf(\"%%.2f\", column(2))) with labels left offset 0.6,0 font \"" FONT
            ",8\" notitle%s\n",
            c->name, s, s % NCOLORS + 1, series, c->name, s, c->name, s,
            s + 1 < c->nseries ? ", \\" : "");
    }
    bt_plot_end(gp, c->name, width, height, 0);
    if ((st = close_checked(gp, dir, c->name, "gp")) != BT_OK) return st;
    return bt_plot_draw(dir, c->name);
}

bt_status bt_plot_heat(const char *dir, const bt_heat_chart *c) {
    FILE *dat, *gp;
    bt_status st = bt_plot_open(dir, c->name, "dat", &dat);
    if (st != BT_OK) return st;
    /* x, y, value over the row's best (-1: empty; not NaN, which would make gnuplot's
     * expressions on the line undefined), the value as text */
    for (int r = 0; r < c->nrows; r++) {
        double best = 0;
        for (int k = 0; k < c->ncols; k++)
            if (usable(c->value, r * c->ncols + k)) best = fmax(best, c->value[r * c->ncols + k]);
        for (int k = 0; k < c->ncols; k++) {
            int i = r * c->ncols + k;
            if (usable(c->value, i))
                fprintf(dat, "%d\t%d\t%.4f\t%.3g\n", k, c->nrows - 1 - r, c->value[i] / best,
                        c->value[i]);
            else
                fprintf(dat, "%d\t%d\t-1\t-\n", k, c->nrows - 1 - r);
        }
        fprintf(dat, "\n");
    }
    if ((st = close_checked(dat, dir, c->name, "dat")) != BT_OK) return st;
    if ((st = bt_plot_open(dir, c->name, "gp", &gp)) != BT_OK) return st;
    int longest = 0;
    for (int r = 0; r < c->nrows; r++) {
        int n = (int)strlen(c->row_labels[r]);
        if (n > longest) longest = n;
    }
    int width = 200 + 7 * longest + 64 * c->ncols, height = 230 + 24 * c->nrows;
    if (width < 900) width = 900;
    if (height < 340) height = 340; /* room for the color bar's label */
    bt_plot_begin(gp, c->name, width, height, c->title);
    char cb[LABEL];
    bt_plot_safe(c->colorbar_label, cb, sizeof cb);
    fprintf(gp,
            "set xrange [-0.5:%d-0.5]\nset yrange [-0.5:%d-0.5]\n"
            "unset grid\n"
            "set palette defined (0 \"#fff5eb\", 0.5 \"#fdae6b\", 0.8 \"#e6550d\", 1 \"#7f2704\")\n"
            "set cbrange [0:1]\nset cblabel \"%s\"\nset cbtics 0.2\n"
            "set tics scale 0\nunset key\n",
            c->ncols, c->nrows, cb);
    if (c->separator > 0 && c->separator < c->ncols)
        fprintf(gp,
                "set arrow from %d-0.5, graph 0 to %d-0.5, graph 1 nohead lc rgb \"#222222\" "
                "lw 3 front\n",
                c->separator, c->separator);
    write_tics(gp, "ytics", c->row_labels, c->nrows, 1, "font \"" FONT ",9\"");
    write_tics(gp, "xtics", c->col_labels, c->ncols, 0, "rotate by 35 right font \"" FONT ",9\"");
    fprintf(gp,
            "plot \"%s.dat\" using 1:2:(column(3) < 0 ? NaN : column(3)) with image, \\\n"
            "  \"%s.dat\" using 1:2:(column(3) >= 0.6 ? stringcolumn(4) : \"\") with labels "
            "tc rgb \"white\" font \"" FONT ",8\", \\\n"
            "  \"%s.dat\" using 1:2:(column(3) >= 0.6 ? \"\" : stringcolumn(4)) with labels "
            "tc rgb \"black\" font \"" FONT ",8\"\n",
            c->name, c->name, c->name);
    bt_plot_end(gp, c->name, width, height, 0);
    if ((st = close_checked(gp, dir, c->name, "gp")) != BT_OK) return st;
    return bt_plot_draw(dir, c->name);
}

typedef struct sort_item {
    double value;
    int index;
} sort_item;

static int compare_items(const void *a, const void *b) {
    double x = ((const sort_item *)a)->value, y = ((const sort_item *)b)->value;
    return (x > y) - (x < y);
}

bt_status bt_plot_cdf(const char *dir, const bt_cdf_chart *c) {
    FILE *dat, *gp;
    bt_status st = bt_plot_open(dir, c->name, "dat", &dat);
    if (st != BT_OK) return st;
    double lo = c->reference > 0 ? c->reference : INFINITY, hi = c->reference;
    /* One block per series: value, fraction at or below it, the number of its label ("" for
     * none), the height of its ring (NaN for none). The labels themselves are listed in the lower
     * right corner, numbered, in their series' color: beside the points, long labels would cover
     * the curves. */
    char(*notes)[LABEL] = NULL;
    int *note_series = NULL, nnotes = 0, cap = 0;
    for (int s = 0; s < c->nseries; s++) cap += c->counts[s];
    notes = calloc((size_t)cap + 1, sizeof *notes);
    note_series = calloc((size_t)cap + 1, sizeof *note_series);
    sort_item *items = calloc((size_t)cap + 1, sizeof *items);
    if (!notes || !note_series || !items) {
        free(notes), free(note_series), free(items);
        fclose(dat);
        return bt_fail(BT_ENOMEM, "report: out of memory");
    }
    for (int s = 0; s < c->nseries; s++) {
        fprintf(dat, "# series %d\n", s);
        int n = 0;
        for (int i = 0; i < c->counts[s]; i++)
            if (usable(c->values[s], i)) items[n++] = (sort_item){c->values[s][i], i};
        qsort(items, (size_t)n, sizeof *items, compare_items);
        for (int k = 0; k < n; k++) {
            const char *label =
                c->point_labels && c->point_labels[s] ? c->point_labels[s][items[k].index] : NULL;
            char tag[16] = "";
            if (label) {
                bt_plot_safe(label, notes[nnotes], LABEL);
                note_series[nnotes] = s;
                snprintf(tag, sizeof tag, "%d", ++nnotes);
            }
            /* the ring's height (NaN: no ring) */
            char ring[32] = "NaN";
            if (tag[0]) snprintf(ring, sizeof ring, "%.6g", (k + 1.0) / n);
            fprintf(dat, "%.6g\t%.6g\t%s\t%s\n", items[k].value, (k + 1.0) / n, tag, ring);
            lo = fmin(lo, items[k].value), hi = fmax(hi, items[k].value);
        }
        bt_plot_end_block(dat, n, 4);
    }
    free(items);
    if ((st = close_checked(dat, dir, c->name, "dat")) != BT_OK ||
        (st = bt_plot_open(dir, c->name, "gp", &gp)) != BT_OK) {
        free(notes), free(note_series);
        return st;
    }
    int width = c->width ? c->width : 1000, height = c->height ? c->height : 520;
    if (!isfinite(lo)) lo = 0.5, hi = 2;
    bt_plot_begin(gp, c->name, width, height, c->title);
    char xlabel[LABEL];
    bt_plot_safe(c->xlabel, xlabel, sizeof xlabel);
    if (c->log_x) {
        double xlo = lo / 1.15, xhi = hi * 1.15;
        fprintf(gp, "set logscale x 2\nset xrange [%.6g:%.6g]\n", xlo, xhi);
        bt_plot_log_tics(gp, "xtics", xlo, xhi);
    } else {
        fprintf(gp, "set xrange [%.6g:%.6g]\n", fmin(0, lo), hi * 1.1);
    }
    fprintf(gp,
            "set xlabel \"%s\"\nset ylabel \"fraction of the keys at or below\"\n"
            "set yrange [0:1.04]\nset ytics 0.1\n"
            "set key inside left top box opaque\nset style textbox opaque noborder\n",
            xlabel);
    for (int k = 0; k < nnotes; k++)
        fprintf(gp,
                "set label %d \"%d: %s\" at graph 0.985, graph %.3f right tc lt %d boxed front "
                "font \"" FONT ",9\"\n",
                k + 1, k + 1, notes[k], 0.05 + 0.055 * (nnotes - 1 - k),
                note_series[k] % NCOLORS + 1);
    free(notes), free(note_series);
    if (c->reference > 0)
        fprintf(gp,
                "set arrow from %.6g, graph 0 to %.6g, graph 1 nohead lc rgb \"#333333\" lw 1.5 "
                "back\n",
                c->reference, c->reference);
    fprintf(gp, "plot \\\n");
    for (int s = 0; s < c->nseries; s++) {
        char series[LABEL];
        bt_plot_safe(c->series_labels[s], series, sizeof series);
        int lt = s % NCOLORS + 1;
        fprintf(gp,
                "  \"%s.dat\" index %d using 1:2 with steps lt %d title \"%s\", \\\n"
                "  \"%s.dat\" index %d using 1:2 with points lt %d pt 7 ps 0.6 notitle, \\\n"
                "  \"%s.dat\" index %d using 1:4 with points "
                "lt %d pt 6 ps 2.2 notitle, \\\n"
                "  \"%s.dat\" index %d using 1:2:3 with labels %s offset %s font \"" FONT
                ",10\" tc lt %d notitle%s\n",
                c->name, s, lt, series, c->name, s, lt, c->name, s, lt, c->name, s,
                s % 2 ? "left" : "right", s % 2 ? "1.2,-0.6" : "-1.2,0.6", lt,
                s + 1 < c->nseries ? ", \\" : "");
    }
    bt_plot_end(gp, c->name, width, height, 0);
    if ((st = close_checked(gp, dir, c->name, "gp")) != BT_OK) return st;
    return bt_plot_draw(dir, c->name);
}

bt_status bt_plot_lines(const char *dir, const bt_line_chart *c) {
    FILE *dat, *gp;
    bt_status st = bt_plot_open(dir, c->name, "dat", &dat);
    if (st != BT_OK) return st;
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    for (int s = 0; s < c->nseries; s++) {
        fprintf(dat, "# series %d: x, y, low, high\n", s);
        int lines = 0;
        for (int i = 0; i < c->counts[s]; i++) {
            double x = c->x[s][i], y = c->y[s][i];
            double l = c->low && usable(c->low[s], i) ? c->low[s][i] : y;
            double h = c->high && usable(c->high[s], i) ? c->high[s][i] : y;
            if (!(x > 0) || !(y > 0)) continue;
            fprintf(dat, "%.6g\t%.6g\t%.6g\t%.6g\n", x, y, l, h);
            lines++;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x);
            ylo = fmin(ylo, l), yhi = fmax(yhi, h);
        }
        bt_plot_end_block(dat, lines, 4);
    }
    if ((st = close_checked(dat, dir, c->name, "dat")) != BT_OK) return st;
    if ((st = bt_plot_open(dir, c->name, "gp", &gp)) != BT_OK) return st;
    if (!isfinite(xlo)) xlo = 1, xhi = 2, ylo = 1, yhi = 2;
    if (c->ideal) ylo = fmin(ylo, xlo), yhi = fmax(yhi, xhi);
    int width = 1000, height = 560;
    bt_plot_begin(gp, c->name, width, height, c->title);
    char xlabel[LABEL], ylabel[LABEL];
    bt_plot_safe(c->xlabel, xlabel, sizeof xlabel);
    bt_plot_safe(c->ylabel, ylabel, sizeof ylabel);
    fprintf(gp,
            "set logscale xy 2\nset xrange [%.6g:%.6g]\nset yrange [%.6g:%.6g]\n"
            "set xlabel \"%s\"\nset ylabel \"%s\"\nset key inside left top box opaque\n",
            xlo / 1.15, xhi * 1.15, ylo / 1.15, yhi * 1.15, xlabel, ylabel);
    fprintf(gp, "set xtics (");
    for (double x = 1; x <= xhi * 1.0001; x *= 2)
        fprintf(gp, "%s\"%g\" %g", x > 1 ? ", " : "", x, x);
    fprintf(gp, ")\n");
    bt_plot_log_tics(gp, "ytics", ylo / 1.15, yhi * 1.15);
    fprintf(gp, "plot \\\n");
    if (c->ideal)
        fprintf(gp, "  x with lines lc rgb \"#999999\" dt 2 lw 1.5 title \"ideal (y = x)\", \\\n");
    for (int s = 0; s < c->nseries; s++) {
        char series[LABEL];
        bt_plot_safe(c->series_labels[s], series, sizeof series);
        /* series side by side around each x (by 1.2% of a doubling), so their whiskers do not
         * hide each other */
        double shift = pow(2, 0.012 * (s - (c->nseries - 1) / 2.0));
        fprintf(gp,
                "  \"%s.dat\" index %d using (column(1) > 1 ? column(1) * %.6f : column(1)):2:3:4 "
                "with yerrorlines lt %d pt 7 title \"%s\"%s\n",
                c->name, s, shift, s % NCOLORS + 1, series, s + 1 < c->nseries ? ", \\" : "");
    }
    bt_plot_end(gp, c->name, width, height, 0);
    if ((st = close_checked(gp, dir, c->name, "gp")) != BT_OK) return st;
    return bt_plot_draw(dir, c->name);
}

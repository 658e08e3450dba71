/* backtune report: an HTML page with plots (gnuplot, PNG and SVG) and tables of one or more
 * result sets: machine against machine, a roofline per set, every variant per problem, and
 * the tuned over the default dispatch. */
#include "compare.h"
#include "cmdline.h"
#include "compare_cmd.h"
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

/* ---- small helpers ---- */

static void html_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A chart file name from free text: [a-z0-9_] only. */
static void file_name(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void file_name(char *out, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
    for (char *c = out; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))) *c = '_';
    }
}

static const char *descriptor_of(const char *problem) {
    const char *space = strchr(problem, ' ');
    return space ? space + 1 : problem;
}

/* Shows a chart in the page, or says why it was not drawn. */
static void show_chart(report *r, const char *name, bt_status drawn, const char *caption) {
    r->charts++;
    if (drawn != BT_OK) {
        r->failed_charts++;
        if (!r->first_failure[0])
            snprintf(r->first_failure, sizeof r->first_failure, "%s", bt_last_error());
        fprintf(r->html, "<p class=\"missing\">Plot %s.png not drawn: ", name);
        html_text(r->html, bt_last_error());
        fprintf(r->html, " (script: <a href=\"%s.gp\">%s.gp</a>)</p>\n", name, name);
        return;
    }
    fprintf(r->html, "<figure><a href=\"%s.svg\"><img src=\"%s.png\" alt=\"%s\"></a><figcaption>",
            name, name, name);
    html_text(r->html, caption);
    fprintf(r->html,
            " (<a href=\"%s.svg\">SVG</a>, <a href=\"%s.gp\">script</a>, "
            "<a href=\"%s.dat\">data</a>)</figcaption></figure>\n",
            name, name, name);
}

/* Rows [begin, end) of the group g and, within it, runs of one op: the next op block. */
static int op_block_end(const bt_cmp_rows *rows, int begin, int group_end) {
    int end = begin;
    while (end < group_end && !strcmp(rows->rows[end].op, rows->rows[begin].op)) end++;
    return end;
}

static int group_end(const bt_cmp_rows *rows, int begin) {
    int end = begin;
    while (end < rows->nrows && rows->rows[end].group == rows->rows[begin].group) end++;
    return end;
}

static int present_count(const bt_cmp_row *row, int nsets) {
    int n = 0;
    for (int s = 0; s < nsets; s++) n += row->cell[s].present;
    return n;
}

static int row_threads(const bt_cmp_row *row, int nsets) {
    for (int s = 0; s < nsets; s++)
        if (row->cell[s].present) return row->cell[s].threads;
    return 0;
}

/* Options for one set alone (its own thread count when each set has one). */
static bt_cmp_options single_set_options(const report *r, int s, int by_variant,
                                         const char *variants) {
    bt_cmp_options o = r->args->match;
    o.by_variant = by_variant;
    o.variants = variants;
    if (o.nthreads == r->nsets && r->nsets > 1) {
        o.threads[0] = o.threads[s];
        o.nthreads = 1;
    }
    return o;
}

/* ---- the page's parts ---- */

static void page_start(report *r) {
    FILE *h = r->html;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>backtune report</title>\n<style>\n"
          "body{font-family:sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;"
          "color:#222}\n"
          "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}\n"
          "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}\n"
          "th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
          "tr.geo td{background:#f7f7f7;font-style:italic}\n"
          "td.best{font-weight:bold}figure{margin:1em 0}img{max-width:100%;border:1px solid "
          "#eee}\n"
          "figcaption{font-size:13px;color:#555}.missing{color:#a00}code{font-size:12px}\n"
          "</style></head><body>\n<h1>backtune report</h1>\n",
          h);
    fprintf(h, "<p>Made %s by <code>", date);
    html_text(h, r->args->command);
    fputs("</code>. GFLOP/s is the median over a run's repetitions; % of peak is of the set's "
          "own measured peak for the variant's ISA and thread count. A speedup marked ~ is "
          "inside the measured noise (|ln X/A| &le; 2&radic;(cv<sub>A</sub>&sup2; + "
          "cv<sub>X</sub>&sup2;), cv: coefficient of variation over the repetitions); ? means "
          "the noise is unknown (measured once). Results of separate runs also differ by "
          "run-to-run noise that repetitions within one run do not show.</p>\n",
          h);
    fputs("<ul><li><a href=\"#sets\">Result sets</a></li>", h);
    if (r->nsets > 1) fputs("<li><a href=\"#versus\">Machine against machine</a></li>", h);
    fputs("<li><a href=\"#roofline\">Rooflines</a></li><li><a href=\"#variants\">Variants per "
          "problem</a></li><li><a href=\"#tuning\">Tuned against default dispatch</a></li></ul>\n",
          h);
}

static void td(FILE *h, const char *text) {
    fputs("<td>", h);
    html_text(h, text);
    fputs("</td>", h);
}

static void td_num(FILE *h, const char *cls, const char *fmt, double v) {
    fprintf(h, "<td class=\"n%s%s\">", cls ? " " : "", cls ? cls : "");
    if (isfinite(v) && v >= 0)
        fprintf(h, fmt, v);
    else
        fputs("-", h);
    fputs("</td>", h);
}

static void td_gflops(FILE *h, const char *cls, double v) {
    char g[32];
    fprintf(h, "<td class=\"n%s%s\">%s</td>", cls ? " " : "", cls ? cls : "",
            isfinite(v) && v > 0 ? bt_cmp_format_gflops(v, g, sizeof g) : "-");
}

static void context_row(FILE *h, const bt_cmp_set *set, const char *what, const char *key) {
    const char *v = bt_cmp_set_context(set, key);
    if (!v) return;
    fputs("<tr><th>", h);
    html_text(h, what);
    fputs("</th>", h);
    td(h, v);
    fputs("</tr>\n", h);
}

static void section_sets(report *r) {
    FILE *h = r->html;
    fputs("<h2 id=\"sets\">Result sets</h2>\n", h);
    for (int s = 0; s < r->nsets; s++) {
        const bt_cmp_set *set = &r->sets[s];
        fprintf(h, "<h3>%s: ", bt_cmp_set_letter(s));
        html_text(h, set->path);
        fputs("</h3>\n<table>\n<tr><th>machine</th>", h);
        char machine[400];
        snprintf(machine, sizeof machine, "%s (fingerprint %s)%s%s", set->machine_id,
                 set->fingerprint_hash, set->cpu_model[0] ? ", " : "", set->cpu_model);
        td(h, machine);
        fputs("</tr>\n", h);
        context_row(h, set, "ISA used", "machine_isa");
        context_row(h, set, "BACKTUNE_ISA_CAP", "machine_backtune_isa_cap");
        context_row(h, set, "cores", "machine_cores");
        context_row(h, set, "PUs allowed", "machine_pus_allowed");
        context_row(h, set, "L2 bytes", "machine_l2_bytes");
        context_row(h, set, "compiler", "build_compiler");
        context_row(h, set, "build", "build_type");
        context_row(h, set, "flags", "build_flags");
        context_row(h, set, "OpenMP binding", "omp_proc_bind");
        context_row(h, set, "bench command", "backtune_command");
        int counts[64], n = bt_cmp_set_thread_counts(set, counts, 64);
        for (int t = 0; t < n; t++) {
            char what[64], text[200];
            snprintf(what, sizeof what, "peak, bandwidth (%d thread%s)", counts[t],
                     counts[t] > 1 ? "s" : "");
            double avx512 = bt_cmp_set_peak(set, "avx512", counts[t]),
                   avx2 = bt_cmp_set_peak(set, "avx2", counts[t]),
                   scalar = bt_cmp_set_peak(set, "scalar", counts[t]);
            if (!(avx512 + avx2 + scalar > 0)) continue;
            snprintf(text, sizeof text,
                     "%.3g (avx512), %.3g (avx2), %.3g (scalar) GFLOP/s; read %.3g GB/s, triad "
                     "%.3g GB/s",
                     avx512, avx2, scalar, bt_cmp_set_bandwidth(set, counts[t], 0),
                     bt_cmp_set_bandwidth(set, counts[t], 1));
            fputs("<tr><th>", h);
            html_text(h, what);
            fputs("</th>", h);
            td(h, text);
            fputs("</tr>\n", h);
        }
        for (int f = 0; f < set->nfiles; f++) {
            const bt_cmp_file *file = &set->files[f];
            char text[BT_CMP_PATH + 200];
            if (file->kind == BT_CMP_BENCH)
                snprintf(text, sizeof text, "%s: suite %s, %s cache, %s", file->path, file->suite,
                         file->cache, file->date);
            else
                snprintf(text, sizeof text, "%s: tuning table, updated %s", file->path, file->date);
            fputs("<tr><th>file</th>", h);
            td(h, text);
            fputs("</tr>\n", h);
        }
        fputs("</table>\n", h);
    }
}

static void geomean_row(FILE *h, const bt_cmp_rows *rows, int begin, int end, const char *what,
                        int tables) {
    int n = rows->nsets;
    fprintf(h, "<tr class=\"geo\"><td colspan=\"%d\">geomean ", 2 + (tables ? 4 : 3) * n);
    html_text(h, what);
    fputs("</td>", h);
    for (int s = 1; s < n; s++) {
        bt_cmp_geomean g = bt_cmp_geomean_of(rows, begin, end, s);
        if (g.count)
            fprintf(h, "<td class=\"n\">%.3fx over %d (%d ~%s)</td>", g.value, g.count, g.inside,
                    g.unknown ? ", some ?" : "");
        else
            fputs("<td>-</td>", h);
    }
    fputs("</tr>\n", h);
}

/* An HTML table of matched rows [begin, end), with geomeans per op and for all. */
static void rows_table(report *r, const bt_cmp_rows *rows, int begin, int end, int tables) {
    FILE *h = r->html;
    int n = rows->nsets;
    fputs("<table>\n<tr><th>problem</th><th>T</th>", h);
    for (int s = 0; s < n; s++) {
        const char *l = bt_cmp_set_letter(s);
        fprintf(h, "<th>%s GFLOP/s</th><th>%s %% peak</th><th>%s variant</th>", l, l, l);
        if (tables) fprintf(h, "<th>%s over default</th>", l);
    }
    for (int s = 1; s < n; s++) fprintf(h, "<th>%s/A</th>", bt_cmp_set_letter(s));
    fputs("</tr>\n", h);
    for (int i = begin; i < end;) {
        int j = op_block_end(rows, i, end);
        for (int k = i; k < j; k++) {
            const bt_cmp_row *row = &rows->rows[k];
            if (present_count(row, n) < 2 && n > 1) continue;
            fputs("<tr>", h);
            td(h, row->problem);
            td_num(h, NULL, "%.0f", row_threads(row, n));
            for (int s = 0; s < n; s++) {
                const bt_cmp_cell *c = &row->cell[s];
                td_gflops(h, NULL, c->present ? c->gflops : -1);
                td_num(h, NULL, "%.1f", bt_cmp_cell_pct_peak(c));
                td(h, c->present ? bt_cmp_short_variant(c->variant) : "-");
                if (tables)
                    td_num(h, NULL, "%.2fx",
                           c->choice && c->choice->default_gflops > 0
                               ? c->choice->gflops / c->choice->default_gflops
                               : -1);
            }
            for (int s = 1; s < n; s++) {
                fputs("<td class=\"n\">", h);
                if (row->speedup[s] > 0)
                    fprintf(h, "%.2fx %s", row->speedup[s], bt_cmp_noise_mark(row->noise[s]));
                else
                    fputs("-", h);
                fputs("</td>", h);
            }
            fputs("</tr>\n", h);
        }
        if (n > 1 && (i > begin || j < end)) geomean_row(h, rows, i, j, rows->rows[i].op, tables);
        i = j;
    }
    if (n > 1) geomean_row(h, rows, begin, end, "of all", tables);
    fputs("</table>\n", h);
}

/* Machine against machine: per group and op, the speedup of each set over A. */
static void section_versus(report *r, const bt_cmp_rows *rows) {
    FILE *h = r->html;
    fputs("<h2 id=\"versus\">Machine against machine</h2>\n<p>The best of our variants per "
          "problem on each set (whichever variant it is), and the speedup of each set over A; "
          "whiskers: the noise band (2 sigma of the ratio), absent when a side was measured "
          "once.</p>\n",
          h);
    if (!rows->matched) {
        fputs("<p>No problem was measured by two of the sets.</p>\n", h);
        return;
    }
    int n = rows->nsets;
    for (int b = 0; b < rows->nrows;) {
        int ge = group_end(rows, b);
        const bt_cmp_group *g = &rows->groups[rows->rows[b].group];
        fprintf(h, "<h3>");
        html_text(h, g->suite);
        fprintf(h, ", %s cache</h3>\n", g->cache);
        for (int i = b; i < ge;) {
            int j = op_block_end(rows, i, ge), count = 0;
            for (int k = i; k < j; k++) count += present_count(&rows->rows[k], n) >= 2;
            if (!count) {
                i = j;
                continue;
            }
            char(*labels)[LABEL] = calloc((size_t)count, sizeof *labels);
            const char **label_ptrs = calloc((size_t)count, sizeof *label_ptrs);
            double *value = calloc((size_t)(count * (n - 1)), sizeof *value),
                   *low = calloc((size_t)(count * (n - 1)), sizeof *low),
                   *high = calloc((size_t)(count * (n - 1)), sizeof *high);
            char series[BT_CMP_MAX_SETS][LABEL];
            const char *series_ptrs[BT_CMP_MAX_SETS];
            if (!labels || !label_ptrs || !value || !low || !high) {
                free(labels), free(label_ptrs), free(value), free(low), free(high);
                return;
            }
            for (int s = 1; s < n; s++) {
                snprintf(series[s - 1], LABEL, "%s/A: %.80s over %.80s", bt_cmp_set_letter(s),
                         r->sets[s].name, r->sets[0].name);
                series_ptrs[s - 1] = series[s - 1];
            }
            int row = 0;
            for (int k = i; k < j; k++) {
                const bt_cmp_row *x = &rows->rows[k];
                if (present_count(x, n) < 2) continue;
                snprintf(labels[row], LABEL, "%.180s T%d", descriptor_of(x->problem),
                         row_threads(x, n));
                label_ptrs[row] = labels[row];
                for (int s = 1; s < n; s++) {
                    int v = row * (n - 1) + s - 1;
                    value[v] = x->speedup[s];
                    low[v] = high[v] = NAN;
                    double cva = x->cell[0].cv, cvx = x->cell[s].cv;
                    if (x->speedup[s] > 0 && cva >= 0 && cvx >= 0) {
                        double band = BT_CMP_NOISE_SIGMAS * sqrt(cva * cva + cvx * cvx);
                        low[v] = x->speedup[s] * exp(-band);
                        high[v] = x->speedup[s] * exp(band);
                    }
                }
                row++;
            }
            char name[NAME], title[LABEL];
            file_name(name, sizeof name, "versus_%d_%s", rows->rows[b].group, rows->rows[i].op);
            if (n == 2)
                snprintf(title, sizeof title, "%s (%.50s, %s cache): B (%.30s) over A (%.30s)",
                         rows->rows[i].op, g->suite, g->cache, r->sets[1].name, r->sets[0].name);
            else
                snprintf(title, sizeof title, "%s (%.50s, %s cache): speedup over A (%.30s)",
                         rows->rows[i].op, g->suite, g->cache, r->sets[0].name);
            bt_hbar_chart chart = {.name = name,
                                   .title = title,
                                   .xlabel = "speedup over A (log scale; > 1: faster than A)",
                                   .nrows = count,
                                   .nseries = n - 1,
                                   .row_labels = label_ptrs,
                                   .series_labels = series_ptrs,
                                   .value = value,
                                   .low = low,
                                   .high = high,
                                   .reference = 1,
                                   .log_x = 1};
            show_chart(r, name, bt_plot_hbars(r->dir, &chart), title);
            free(labels), free(label_ptrs), free(value), free(low), free(high);
            i = j;
        }
        rows_table(r, rows, b, ge, 0);
        b = ge;
    }
}

/* One set's roofline: its best variant (and best peer) per problem at their arithmetic
 * intensity, under the measured peak and bandwidth of each thread count. */
static void roofline(report *r, int s) {
    const bt_cmp_set *set = &r->sets[s];
    FILE *h = r->html;
    bt_cmp_rows ours = {0}, peers = {0};
    bt_cmp_options o_ours = single_set_options(r, s, 0, r->args->match.variants),
                   o_peers = single_set_options(r, s, 0, "peer:*");
    if (bt_cmp_match_runs(set, 1, &o_ours, &ours) != BT_OK ||
        bt_cmp_match_runs(set, 1, &o_peers, &peers) != BT_OK) {
        bt_cmp_rows_free(&ours);
        fprintf(h, "<p class=\"missing\">%s</p>\n", bt_last_error());
        return;
    }
    fprintf(h, "<h3>%s: ", bt_cmp_set_letter(s));
    html_text(h, set->machine_id);
    fputs(" (", h);
    html_text(h, set->path);
    fputs(")</h3>\n", h);
    if (!ours.nrows && !peers.nrows) {
        fputs("<p>No bench results in this set.</p>\n", h);
        bt_cmp_rows_free(&ours);
        bt_cmp_rows_free(&peers);
        return;
    }
    int counts[16], nt = bt_cmp_set_thread_counts(set, counts, 16);
    char name[NAME], title[LABEL];
    file_name(name, sizeof name, "roofline_%s", bt_cmp_set_letter(s));
    snprintf(title, sizeof title, "Roofline of %s: %s, best variant and best peer per problem",
             bt_cmp_set_letter(s), set->machine_id);
    FILE *dat, *gp;
    bt_status st = bt_plot_open(r->dir, name, "dat", &dat);
    double ai_lo = INFINITY, ai_hi = 0, g_lo = INFINITY, g_hi = 0;
    /* blocks: for each thread count, ours then peers: ai, GFLOP/s */
    for (int t = 0; st == BT_OK && t < nt; t++)
        for (int kind = 0; kind < 2; kind++) {
            const bt_cmp_rows *rows = kind ? &peers : &ours;
            fprintf(dat, "# %s, %d threads\n", kind ? "best peer" : "ours", counts[t]);
            for (int i = 0; i < rows->nrows; i++) {
                const bt_cmp_cell *c = &rows->rows[i].cell[0];
                if (c->threads != counts[t] || !(c->ai > 0) || !(c->gflops > 0)) continue;
                fprintf(dat, "%.6g\t%.6g\n", c->ai, c->gflops);
                ai_lo = fmin(ai_lo, c->ai), ai_hi = fmax(ai_hi, c->ai);
                g_lo = fmin(g_lo, c->gflops), g_hi = fmax(g_hi, c->gflops);
            }
            fprintf(dat, "\n\n");
        }
    if (st == BT_OK && fclose(dat) != 0)
        st = bt_fail(BT_EIO, "cannot write %s/%s.dat", r->dir, name);
    if (st == BT_OK) st = bt_plot_open(r->dir, name, "gp", &gp);
    if (st == BT_OK) {
        int width = 1000, height = 700;
        bt_plot_begin(gp, name, width, height, title);
        for (int t = 0; t < nt; t++) {
            double peak = bt_cmp_set_best_peak(set, counts[t]),
                   bw = bt_cmp_set_bandwidth(set, counts[t], 0);
            if (peak > 0) g_hi = fmax(g_hi, peak);
            if (peak > 0 && bw > 0) ai_hi = fmax(ai_hi, 2 * peak / bw);
            fprintf(gp, "peak%d = %.6g\nbw%d = %.6g\n", t, peak, t, bw);
        }
        if (!isfinite(ai_lo)) ai_lo = 0.1, ai_hi = 100, g_lo = 1, g_hi = 100;
        bt_plot_log_tics(gp, "xtics", ai_lo / 2, ai_hi * 2);
        bt_plot_log_tics(gp, "ytics", g_lo / 2, g_hi * 1.6);
        fprintf(gp,
                "set logscale xy 10\nset xrange [%.6g:%.6g]\nset yrange [%.6g:%.6g]\n"
                "set xlabel \"arithmetic intensity (flop per byte of the tensors, each touched "
                "once)\"\n"
                "set ylabel \"GFLOP/s\"\n"
                "set key outside bottom center horizontal maxrows %d\nset samples 400\n"
                "roof(x, p, b) = (b > 0 && x * b < p) ? x * b : p\n"
                "plot \\\n",
                ai_lo / 2, ai_hi * 2, g_lo / 2, g_hi * 1.6, nt);
        for (int t = 0; t < nt; t++) {
            int lt = t % 10 + 1;
            fprintf(gp,
                    "  peak%d > 0 ? roof(x, peak%d, bw%d) : 1/0 with lines lt %d dt 2 title "
                    "sprintf(\"roof, %d thread%s: %%.3g GFLOP/s, %%.3g GB/s\", peak%d, bw%d), \\\n"
                    "  \"%s.dat\" index %d using 1:2 with points lt %d pt 7 title \"ours, %d "
                    "thread%s\", \\\n"
                    "  \"%s.dat\" index %d using 1:2 with points lt %d pt 9 ps 1.5 title \"best "
                    "peer, %d thread%s\"%s\n",
                    t, t, t, lt, counts[t], counts[t] > 1 ? "s" : "", t, t, name, 2 * t, lt,
                    counts[t], counts[t] > 1 ? "s" : "", name, 2 * t + 1, lt, counts[t],
                    counts[t] > 1 ? "s" : "", t + 1 < nt ? ", \\" : "");
        }
        bt_plot_end(gp, name, width, height);
        if (fclose(gp) != 0) st = bt_fail(BT_EIO, "cannot write %s/%s.gp", r->dir, name);
    }
    if (st == BT_OK) st = bt_plot_draw(r->dir, name);
    show_chart(r, name, st, title);
    /* the points as a table: how close each is to its roof */
    fputs("<table>\n<tr><th>problem</th><th>T</th><th>best variant</th><th>GFLOP/s</th>"
          "<th>AI (flop/B)</th><th>roof GFLOP/s</th><th>% of roof</th><th>best peer</th>"
          "<th>GFLOP/s</th></tr>\n",
          h);
    for (int i = 0; i < ours.nrows; i++) {
        const bt_cmp_cell *c = &ours.rows[i].cell[0];
        const bt_cmp_cell *p = NULL;
        for (int k = 0; k < peers.nrows && !p; k++)
            if (!strcmp(peers.rows[k].problem, ours.rows[i].problem) &&
                peers.rows[k].cell[0].threads == c->threads &&
                peers.rows[k].group == ours.rows[i].group)
                p = &peers.rows[k].cell[0];
        double peak = bt_cmp_set_best_peak(set, c->threads),
               bw = bt_cmp_set_bandwidth(set, c->threads, 0);
        double roof = peak > 0 ? (bw > 0 && c->ai * bw < peak ? c->ai * bw : peak) : -1;
        fputs("<tr>", h);
        td(h, ours.rows[i].problem);
        td_num(h, NULL, "%.0f", c->threads);
        td(h, bt_cmp_short_variant(c->variant));
        td_gflops(h, NULL, c->gflops);
        td_num(h, NULL, "%.2f", c->ai);
        td_num(h, NULL, "%.1f", roof);
        td_num(h, NULL, "%.1f", roof > 0 ? 100 * c->gflops / roof : -1);
        td(h, p ? p->variant : "-");
        td_gflops(h, NULL, p ? p->gflops : -1);
        fputs("</tr>\n", h);
    }
    fputs("</table>\n", h);
    bt_cmp_rows_free(&ours);
    bt_cmp_rows_free(&peers);
}

/* Distinct strings in order of appearance; returns the index of s (added if new). */
static int intern(char (*names)[BT_CMP_NAME], int *n, const char *s) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s)) return i;
    snprintf(names[*n], BT_CMP_NAME, "%s", s);
    return (*n)++;
}

/* Every variant and peer of one (set, group, op): a heat map and a table, problems x
 * variants. rows [b, e) of a by-variant match of the set alone. */
static void variants_block(report *r, int s, const bt_cmp_rows *rows, int b, int e) {
    FILE *h = r->html;
    int cap = e - b;
    char(*cols)[BT_CMP_NAME] = calloc((size_t)cap, sizeof *cols);
    char(*keys)[BT_CMP_NAME] = calloc((size_t)cap, sizeof *keys);
    char(*row_labels)[LABEL] = calloc((size_t)cap, sizeof *row_labels);
    const char **row_ptrs = calloc((size_t)cap, sizeof *row_ptrs),
               **col_ptrs = calloc((size_t)cap, sizeof *col_ptrs);
    double *value = NULL;
    int ncols = 0, nrows = 0;
    if (!cols || !keys || !row_labels || !row_ptrs || !col_ptrs) goto done;
    /* columns: ours in order of appearance, then the peers */
    int nours = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = b; i < e; i++) {
            int peer = !strncmp(rows->rows[i].variant, "peer:", 5);
            if (peer == pass) intern(cols, &ncols, rows->rows[i].variant);
        }
        if (!pass) nours = ncols;
    }
    for (int i = b; i < e; i++) {
        char key[BT_CMP_NAME];
        snprintf(key, sizeof key, "%.100s T%d", descriptor_of(rows->rows[i].problem),
                 rows->rows[i].cell[0].threads);
        intern(keys, &nrows, key);
    }
    value = calloc((size_t)(nrows * ncols), sizeof *value);
    if (!value) goto done;
    for (int i = 0; i < nrows * ncols; i++) value[i] = NAN;
    for (int i = b; i < e; i++) {
        char key[BT_CMP_NAME];
        snprintf(key, sizeof key, "%.100s T%d", descriptor_of(rows->rows[i].problem),
                 rows->rows[i].cell[0].threads);
        int row = intern(keys, &nrows, key);
        int col = intern(cols, &ncols, rows->rows[i].variant);
        value[row * ncols + col] = rows->rows[i].cell[0].gflops;
    }
    for (int i = 0; i < nrows; i++) {
        snprintf(row_labels[i], LABEL, "%s", (keys)[i]);
        row_ptrs[i] = row_labels[i];
    }
    for (int k = 0; k < ncols; k++) col_ptrs[k] = bt_cmp_short_variant(cols[k]);
    const bt_cmp_group *g = &rows->groups[rows->rows[b].group];
    char name[NAME], title[LABEL];
    file_name(name, sizeof name, "variants_%s_%d_%s", bt_cmp_set_letter(s), rows->rows[b].group,
              rows->rows[b].op);
    snprintf(title, sizeof title, "%s: %s (%.80s, %s cache), GFLOP/s of every variant and peer",
             bt_cmp_set_letter(s), rows->rows[b].op, g->suite, g->cache);
    bt_heat_chart chart = {.name = name,
                           .title = title,
                           .colorbar_label = "fraction of the best in its row",
                           .nrows = nrows,
                           .ncols = ncols,
                           .row_labels = row_ptrs,
                           .col_labels = col_ptrs,
                           .value = value,
                           .separator = nours};
    show_chart(r, name, bt_plot_heat(r->dir, &chart), title);
    fputs("<table>\n<tr><th>problem, threads</th>", h);
    for (int k = 0; k < ncols; k++) {
        fputs("<th>", h);
        html_text(h, col_ptrs[k]);
        fputs("</th>", h);
    }
    fputs("</tr>\n", h);
    for (int i = 0; i < nrows; i++) {
        fputs("<tr>", h);
        td(h, row_ptrs[i]);
        double best = 0;
        for (int k = 0; k < ncols; k++)
            if (value[i * ncols + k] > best) best = value[i * ncols + k];
        for (int k = 0; k < ncols; k++) {
            double v = value[i * ncols + k];
            td_gflops(h, v == best ? "best" : NULL, v);
        }
        fputs("</tr>\n", h);
    }
    fputs("</table>\n", h);
done:
    free(cols), free(keys), free(row_labels), free(row_ptrs), free(col_ptrs), free(value);
}

static void section_variants(report *r) {
    FILE *h = r->html;
    fputs("<h2 id=\"variants\">Variants per problem</h2>\n<p>GFLOP/s of every variant and peer "
          "(<code>peer:*</code>: other libraries on the same work) per problem and thread count; "
          "the color is the fraction of the row's best, '-' where the variant does not take the "
          "problem or was not run.</p>\n",
          h);
    for (int s = 0; s < r->nsets; s++) {
        bt_cmp_rows rows = {0};
        bt_cmp_options o = single_set_options(r, s, 1, r->args->match.variants);
        if (bt_cmp_match_runs(&r->sets[s], 1, &o, &rows) != BT_OK) {
            fprintf(h, "<p class=\"missing\">%s</p>\n", bt_last_error());
            continue;
        }
        if (!rows.nrows) {
            bt_cmp_rows_free(&rows);
            continue;
        }
        fprintf(h, "<h3>%s: ", bt_cmp_set_letter(s));
        html_text(h, r->sets[s].machine_id);
        fputs("</h3>\n", h);
        for (int b = 0; b < rows.nrows;) {
            int ge = group_end(&rows, b);
            for (int i = b; i < ge;) {
                int j = op_block_end(&rows, i, ge);
                variants_block(r, s, &rows, i, j);
                i = j;
            }
            b = ge;
        }
        bt_cmp_rows_free(&rows);
    }
}

/* Tuned over default dispatch, per set with a tuning table; the tables side by side. */
static void section_tuning(report *r, const bt_cmp_rows *tables) {
    FILE *h = r->html;
    fputs("<h2 id=\"tuning\">Tuned against default dispatch</h2>\n<p>From the tuning tables: "
          "GFLOP/s of the variant and parameters the tuner picked (best time) over the "
          "default dispatch (heuristic, no table), per problem and thread count.</p>\n",
          h);
    int any = 0;
    for (int s = 0; s < r->nsets; s++) {
        const bt_cmp_set *set = &r->sets[s];
        int n = 0;
        for (int i = 0; i < set->nchoices; i++) n += set->choices[i].default_gflops > 0;
        if (!n) continue;
        any = 1;
        char(*labels)[LABEL] = calloc((size_t)n, sizeof *labels);
        const char **ptrs = calloc((size_t)n, sizeof *ptrs);
        double *value = calloc((size_t)n, sizeof *value);
        if (!labels || !ptrs || !value) {
            free(labels), free(ptrs), free(value);
            return;
        }
        fprintf(h, "<h3>%s: ", bt_cmp_set_letter(s));
        html_text(h, set->machine_id);
        fputs("</h3>\n", h);
        int row = 0;
        double log_sum = 0;
        for (int i = 0; i < set->nchoices; i++) {
            const bt_cmp_choice *c = &set->choices[i];
            if (!(c->default_gflops > 0)) continue;
            snprintf(labels[row], LABEL, "%.180s T%d", c->problem, c->threads);
            ptrs[row] = labels[row];
            value[row] = c->gflops / c->default_gflops;
            log_sum += log(value[row]);
            row++;
        }
        char name[NAME], title[LABEL], series[LABEL];
        file_name(name, sizeof name, "tuned_%s", bt_cmp_set_letter(s));
        snprintf(title, sizeof title,
                 "%s: %.60s, tuned over default dispatch (geomean %.3fx over %d)",
                 bt_cmp_set_letter(s), set->machine_id, exp(log_sum / n), n);
        snprintf(series, sizeof series, "%s: tuned GFLOP/s over default GFLOP/s", set->machine_id);
        const char *series_ptr = series;
        bt_hbar_chart chart = {.name = name,
                               .title = title,
                               .xlabel = "speedup of the tuned over the default dispatch (log "
                                         "scale)",
                               .nrows = n,
                               .nseries = 1,
                               .row_labels = ptrs,
                               .series_labels = &series_ptr,
                               .value = value,
                               .reference = 1,
                               .log_x = 1};
        show_chart(r, name, bt_plot_hbars(r->dir, &chart), title);
        fputs("<table>\n<tr><th>problem</th><th>T</th><th>default variant</th><th>GFLOP/s</th>"
              "<th>tuned variant</th><th>parameters</th><th>GFLOP/s</th><th>speedup</th></tr>\n",
              h);
        for (int i = 0; i < set->nchoices; i++) {
            const bt_cmp_choice *c = &set->choices[i];
            if (!(c->default_gflops > 0)) continue;
            fputs("<tr>", h);
            td(h, c->problem);
            td_num(h, NULL, "%.0f", c->threads);
            td(h, bt_cmp_short_variant(c->default_variant));
            td_gflops(h, NULL, c->default_gflops);
            td(h, bt_cmp_short_variant(c->variant));
            td(h, c->params);
            td_gflops(h, NULL, c->gflops);
            td_num(h, NULL, "%.2fx", c->gflops / c->default_gflops);
            fputs("</tr>\n", h);
        }
        fputs("</table>\n", h);
        free(labels), free(ptrs), free(value);
    }
    if (!any) fputs("<p>No tuning table with default-dispatch timings in these sets.</p>\n", h);
    if (r->nsets > 1 && tables->matched) {
        fputs("<h3>The tables side by side: the variant each set picked</h3>\n", h);
        rows_table(r, tables, 0, tables->nrows, 1);
    }
}

int bt_cmd_report(int argc, char **argv) {
    bt_cmp_args a;
    int parsed = bt_cmp_parse_args(argc, argv, 1, &a);
    if (parsed) return parsed > 0 ? 0 : 2;
    char command[2048] = "backtune";
    size_t used = strlen(command);
    for (int i = 0; i < argc && used < sizeof command; i++)
        used += (size_t)snprintf(command + used, sizeof command - used, " %s", argv[i]);
    a.command = command;

    bt_cmp_set sets[BT_CMP_MAX_SETS];
    if (bt_cmp_load_sets(&a, sets, stderr)) return 2;
    bt_cmp_rows versus = {0}, tables = {0};
    int rc = 2;
    report r = {.args = &a, .sets = sets, .nsets = a.npaths, .dir = a.out_dir};
    char index[1100];
    snprintf(index, sizeof index, "%s/index.html", a.out_dir);
    if (bt_mkdirs(a.out_dir) != BT_OK) {
        fprintf(stderr, "backtune report: %s\n", bt_last_error());
        goto done;
    }
    if (bt_cmp_match_runs(sets, a.npaths, &a.match, &versus) != BT_OK ||
        bt_cmp_match_choices(sets, a.npaths, &a.match, &tables) != BT_OK) {
        fprintf(stderr, "backtune report: %s\n", bt_last_error());
        goto done;
    }
    char log_path[1100];
    snprintf(log_path, sizeof log_path, "%s/gnuplot.log", a.out_dir);
    remove(log_path); /* messages of this run only */
    if (!(r.html = fopen(index, "w"))) {
        fprintf(stderr, "backtune report: cannot write %s: %s\n", index, strerror(errno));
        goto done;
    }
    page_start(&r);
    section_sets(&r);
    if (r.nsets > 1) section_versus(&r, &versus);
    fputs("<h2 id=\"roofline\">Rooflines</h2>\n<p>Each problem's best variant (circles) and best "
          "peer (triangles) at its arithmetic intensity, under the roof of the set's measured "
          "peak (best ISA) and read bandwidth, per thread count. With warm caches a small "
          "problem can sit above the memory roof: its tensors stay in cache.</p>\n",
          r.html);
    for (int s = 0; s < r.nsets; s++) roofline(&r, s);
    section_variants(&r);
    section_tuning(&r, &tables);
    fputs("</body></html>\n", r.html);
    int write_failed = ferror(r.html);
    write_failed |= fclose(r.html) != 0;
    if (write_failed) {
        fprintf(stderr, "backtune report: cannot write %s\n", index);
        goto done;
    }
    if (r.failed_charts) {
        fprintf(stderr, "backtune report: %d of %d plots not drawn: %s\n", r.failed_charts,
                r.charts, r.first_failure);
        rc = 1;
    } else {
        rc = 0;
    }
    fprintf(stderr, "backtune report: %s (%d of %d plots drawn, PNG and SVG)\n", index,
            r.charts - r.failed_charts, r.charts);
done:
    bt_cmp_rows_free(&versus);
    bt_cmp_rows_free(&tables);
    bt_cmp_free_sets(sets, a.npaths);
    return rc;
}

/* backtune report: an HTML page with plots (gnuplot, PNG and SVG) and tables of one or more
 * result sets: the verdict, model totals, efficiency, tuning gains and thread scaling
 * (report_fleet.c), machine against machine, a roofline per set, every variant per problem. */
#include "report.h"

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

/* ---- small helpers ---- */

void report_html_text(FILE *f, const char *s) {
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

void report_file_name(char *out, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
    for (char *c = out; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))) *c = '_';
    }
}

const char *report_descriptor(const char *problem) {
    const char *space = strchr(problem, ' ');
    return space ? space + 1 : problem;
}

void report_chart(report *r, const char *name, bt_status drawn, const char *caption) {
    r->charts++;
    if (drawn != BT_OK) {
        r->failed_charts++;
        if (!r->first_failure[0])
            snprintf(r->first_failure, sizeof r->first_failure, "%s", bt_last_error());
        fprintf(r->html, "<p class=\"missing\">Plot %s.png not drawn: ", name);
        report_html_text(r->html, bt_last_error());
        fprintf(r->html, " (script: <a href=\"%s.gp\">%s.gp</a>)</p>\n", name, name);
        return;
    }
    fprintf(r->html, "<figure><a href=\"%s.svg\"><img src=\"%s.png\" alt=\"%s\"></a><figcaption>",
            name, name, name);
    report_html_text(r->html, caption);
    fprintf(r->html,
            " (<a href=\"%s.svg\">SVG</a>, <a href=\"%s.gp\">script</a>, "
            "<a href=\"%s.dat\">data</a>)</figcaption></figure>\n",
            name, name, name);
}

/* Rows [begin, end) of the group g and, within it, runs of one op: the next op block. */
int report_op_block_end(const bt_cmp_rows *rows, int begin, int group_end) {
    int end = begin;
    while (end < group_end && !strcmp(rows->rows[end].op, rows->rows[begin].op)) end++;
    return end;
}

int report_group_end(const bt_cmp_rows *rows, int begin) {
    int end = begin;
    while (end < rows->nrows && rows->rows[end].group == rows->rows[begin].group) end++;
    return end;
}

int report_present_count(const bt_cmp_row *row, int nsets) {
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
bt_cmp_options report_single_set_options(const report *r, int s, int by_variant,
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
          ".verdict{font-size:15px;line-height:1.6;background:#f6f8fa;border-left:4px solid "
          "#4e79a7;padding:.6em 1em}\n"
          "</style></head><body>\n<h1>backtune report</h1>\n",
          h);
    fprintf(h, "<p>Made %s by <code>", date);
    report_html_text(h, r->args->command);
    fputs("</code>. GFLOP/s is the median over a run's repetitions; % of peak is of the set's "
          "own measured peak for the variant's ISA and thread count. A speedup marked ~ is "
          "inside the measured noise (|ln X/A| &le; 2&radic;(cv<sub>A</sub>&sup2; + "
          "cv<sub>X</sub>&sup2;), cv: coefficient of variation over the repetitions); ? means "
          "the noise is unknown (measured once). Results of separate runs also differ by "
          "run-to-run noise that repetitions within one run do not show.</p>\n",
          h);
    fputs("<ul><li><a href=\"#verdict\">Verdict</a></li><li><a href=\"#sets\">Result "
          "sets</a></li><li><a href=\"#totals\">Model totals and efficiency</a></li>"
          "<li><a href=\"#tuning\">Tuned against default dispatch</a></li><li><a "
          "href=\"#scaling\">Thread scaling</a></li>",
          h);
    if (r->nsets > 1) fputs("<li><a href=\"#versus\">Machine against machine</a></li>", h);
    fputs("<li><a href=\"#roofline\">Rooflines</a></li><li><a href=\"#variants\">Variants per "
          "problem</a></li></ul>\n",
          h);
}

void report_td(FILE *h, const char *text) {
    fputs("<td>", h);
    report_html_text(h, text);
    fputs("</td>", h);
}

void report_td_num(FILE *h, const char *cls, const char *fmt, double v) {
    fprintf(h, "<td class=\"n%s%s\">", cls ? " " : "", cls ? cls : "");
    if (isfinite(v) && v >= 0)
        fprintf(h, fmt, v);
    else
        fputs("-", h);
    fputs("</td>", h);
}

void report_td_gflops(FILE *h, const char *cls, double v) {
    char g[32];
    fprintf(h, "<td class=\"n%s%s\">%s</td>", cls ? " " : "", cls ? cls : "",
            isfinite(v) && v > 0 ? bt_cmp_format_gflops(v, g, sizeof g) : "-");
}

static void context_row(FILE *h, const bt_cmp_set *set, const char *what, const char *key) {
    const char *v = bt_cmp_set_context(set, key);
    if (!v) return;
    fputs("<tr><th>", h);
    report_html_text(h, what);
    fputs("</th>", h);
    report_td(h, v);
    fputs("</tr>\n", h);
}

static void section_sets(report *r) {
    FILE *h = r->html;
    fputs("<h2 id=\"sets\">Result sets</h2>\n", h);
    for (int s = 0; s < r->nsets; s++) {
        const bt_cmp_set *set = &r->sets[s];
        fprintf(h, "<h3>%s: ", bt_cmp_set_letter(s));
        report_html_text(h, set->path);
        fputs("</h3>\n<table>\n<tr><th>machine</th>", h);
        char machine[400];
        snprintf(machine, sizeof machine, "%s (fingerprint %s)%s%s", set->machine_id,
                 set->fingerprint_hash, set->cpu_model[0] ? ", " : "", set->cpu_model);
        report_td(h, machine);
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
            report_html_text(h, what);
            fputs("</th>", h);
            report_td(h, text);
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
            report_td(h, text);
            fputs("</tr>\n", h);
        }
        fputs("</table>\n", h);
    }
}

static void geomean_row(FILE *h, const bt_cmp_rows *rows, int begin, int end, const char *what,
                        int tables) {
    int n = rows->nsets;
    fprintf(h, "<tr class=\"geo\"><td colspan=\"%d\">geomean ", 2 + (tables ? 4 : 3) * n);
    report_html_text(h, what);
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
void report_rows_table(report *r, const bt_cmp_rows *rows, int begin, int end, int tables) {
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
        int j = report_op_block_end(rows, i, end);
        for (int k = i; k < j; k++) {
            const bt_cmp_row *row = &rows->rows[k];
            if (report_present_count(row, n) < 2 && n > 1) continue;
            fputs("<tr>", h);
            report_td(h, row->problem);
            report_td_num(h, NULL, "%.0f", row_threads(row, n));
            for (int s = 0; s < n; s++) {
                const bt_cmp_cell *c = &row->cell[s];
                report_td_gflops(h, NULL, c->present ? c->gflops : -1);
                report_td_num(h, NULL, "%.1f", bt_cmp_cell_pct_peak(c));
                report_td(h, c->present ? bt_cmp_short_variant(c->variant) : "-");
                if (tables)
                    report_td_num(h, NULL, "%.2fx",
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
        int ge = report_group_end(rows, b);
        const bt_cmp_group *g = &rows->groups[rows->rows[b].group];
        fprintf(h, "<h3>");
        report_html_text(h, g->suite);
        fprintf(h, ", %s cache</h3>\n", g->cache);
        for (int i = b; i < ge;) {
            int j = report_op_block_end(rows, i, ge), count = 0;
            for (int k = i; k < j; k++) count += report_present_count(&rows->rows[k], n) >= 2;
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
                if (report_present_count(x, n) < 2) continue;
                snprintf(labels[row], LABEL, "%.180s T%d", report_descriptor(x->problem),
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
            report_file_name(name, sizeof name, "versus_%d_%s", rows->rows[b].group,
                             rows->rows[i].op);
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
            report_chart(r, name, bt_plot_hbars(r->dir, &chart), title);
            free(labels), free(label_ptrs), free(value), free(low), free(high);
            i = j;
        }
        report_rows_table(r, rows, b, ge, 0);
        b = ge;
    }
}

/* Points of each (thread count, ours or peers) named in the roofline's PNG. */
#define ROOF_LABELS 4

/* Whether a label anchored at (ai, gflops) would overwrite one already placed (within 25% in
 * AI and 15% in GFLOP/s: a label's size at the roofline's scale); if not, it is placed. */
static int crowded(double (*placed)[2], int *n, double ai, double gflops) {
    for (int k = 0; k < *n; k++)
        if (fabs(log10(ai / placed[k][0])) < 0.1 && fabs(log10(gflops / placed[k][1])) < 0.06)
            return 1;
    placed[*n][0] = ai, placed[*n][1] = gflops;
    (*n)++;
    return 0;
}

/* The peak under a roofline at `threads`: the highest measured peak of the ISAs its points
 * (our best variants) ran, so a set whose files ran under different ISA caps gets the roof of
 * its fastest code; the set's best ISA's peak when no point says. */
static double roof_peak(const bt_cmp_set *set, const bt_cmp_rows *ours, int threads) {
    double peak = 0;
    for (int i = 0; i < ours->nrows; i++)
        if (ours->rows[i].cell[0].threads == threads)
            peak = fmax(peak, bt_cmp_cell_peak(set, &ours->rows[i].cell[0]));
    return peak > 0 ? peak : bt_cmp_set_best_peak(set, threads);
}

/* The roof at arithmetic intensity ai: that peak or the set's read bandwidth times ai, the
 * lower; -1 when the peak is unknown. */
static double roof_of(const bt_cmp_set *set, const bt_cmp_rows *ours, int threads, double ai) {
    double peak = roof_peak(set, ours, threads), bw = bt_cmp_set_bandwidth(set, threads, 0);
    return peak > 0 ? (bw > 0 && ai * bw < peak ? ai * bw : peak) : -1;
}

/* One set's roofline: its best variant (and best peer) per problem at their arithmetic
 * intensity, under the measured peak and bandwidth of each thread count. */
static void roofline(report *r, int s) {
    const bt_cmp_set *set = &r->sets[s];
    FILE *h = r->html;
    bt_cmp_rows ours = {0}, peers = {0};
    bt_cmp_options o_ours = report_single_set_options(r, s, 0, r->args->match.variants),
                   o_peers = report_single_set_options(r, s, 0, "peer:*");
    if (bt_cmp_match_runs(set, 1, &o_ours, &ours) != BT_OK ||
        bt_cmp_match_runs(set, 1, &o_peers, &peers) != BT_OK) {
        bt_cmp_rows_free(&ours);
        fprintf(h, "<p class=\"missing\">%s</p>\n", bt_last_error());
        return;
    }
    fprintf(h, "<h3>%s: ", bt_cmp_set_letter(s));
    report_html_text(h, set->machine_id);
    fputs(" (", h);
    report_html_text(h, set->path);
    fputs(")</h3>\n", h);
    if (!ours.nrows && !peers.nrows) {
        fputs("<p>No bench results in this set.</p>\n", h);
        bt_cmp_rows_free(&ours);
        bt_cmp_rows_free(&peers);
        return;
    }
    int counts[16], nt = bt_cmp_set_thread_counts(set, counts, 16);
    char name[NAME], title[LABEL];
    report_file_name(name, sizeof name, "roofline_%s", bt_cmp_set_letter(s));
    snprintf(title, sizeof title, "Roofline of %s: %s, best variant and best peer per problem",
             bt_cmp_set_letter(s), set->machine_id);
    /* Each point is numbered as its problem's row in the table below (a peer's by the row of
     * its problem); the PNG names the points furthest below their roof, and in the SVG every
     * point names its problem, variant and GFLOP/s on hover. */
    int *number[2] = {calloc((size_t)ours.nrows + 1, sizeof(int)),
                      calloc((size_t)peers.nrows + 1, sizeof(int))};
    double *frac[2] = {calloc((size_t)ours.nrows + 1, sizeof(double)),
                       calloc((size_t)peers.nrows + 1, sizeof(double))};
    bt_status st = number[0] && number[1] && frac[0] && frac[1]
                       ? BT_OK
                       : bt_fail(BT_ENOMEM, "report: out of memory");
    for (int kind = 0; st == BT_OK && kind < 2; kind++) {
        const bt_cmp_rows *rows = kind ? &peers : &ours;
        for (int i = 0; i < rows->nrows; i++) {
            const bt_cmp_cell *c = &rows->rows[i].cell[0];
            double roof = roof_of(set, &ours, c->threads, c->ai);
            frac[kind][i] = roof > 0 && c->gflops > 0 ? c->gflops / roof : INFINITY;
            number[kind][i] = kind ? 0 : i + 1;
            for (int k = 0; kind && k < ours.nrows && !number[kind][i]; k++)
                if (!strcmp(ours.rows[k].problem, rows->rows[i].problem) &&
                    ours.rows[k].cell[0].threads == c->threads &&
                    ours.rows[k].group == rows->rows[i].group)
                    number[kind][i] = k + 1;
        }
    }
    FILE *dat = NULL, *gp;
    if (st == BT_OK) st = bt_plot_open(r->dir, name, "dat", &dat);
    double ai_lo = INFINITY, ai_hi = 0, g_lo = INFINITY, g_hi = 0;
    int points[16][2] = {{0}}; /* per thread count and kind: a key entry only when there are */
    double placed[ROOF_LABELS * 2 * 16][2];
    int nplaced = 0;
    /* blocks: for each thread count, ours then peers: ai, GFLOP/s, "#n" above the point, the
     * hover text, "#n" below it (the outliers' labels alternate, as close ones often pair) */
    for (int t = 0; st == BT_OK && t < nt; t++)
        for (int kind = 0; kind < 2; kind++) {
            const bt_cmp_rows *rows = kind ? &peers : &ours;
            fprintf(dat, "# %s, %d threads\n", kind ? "best peer" : "ours", counts[t]);
            /* the ROOF_LABELS points of this block furthest below their roof */
            int lowest[ROOF_LABELS], nlowest = 0;
            for (; nlowest < ROOF_LABELS; nlowest++) {
                int pick = -1;
                for (int i = 0; i < rows->nrows; i++) {
                    int taken =
                        rows->rows[i].cell[0].threads != counts[t] || !isfinite(frac[kind][i]);
                    for (int k = 0; k < nlowest; k++) taken |= lowest[k] == i;
                    if (!taken && (pick < 0 || frac[kind][i] < frac[kind][pick])) pick = i;
                }
                if (pick < 0) break;
                lowest[nlowest] = pick;
            }
            int lines = 0;
            for (int i = 0; i < rows->nrows; i++) {
                const bt_cmp_cell *c = &rows->rows[i].cell[0];
                if (c->threads != counts[t] || !(c->ai > 0) || !(c->gflops > 0)) continue;
                lines++;
                int rank = -1; /* among the lowest: labels alternate above and below */
                for (int k = 0; k < nlowest; k++)
                    if (lowest[k] == i) rank = k;
                char hover[2 * BT_CMP_TEXT], safe[2 * BT_CMP_TEXT], gflops[32];
                snprintf(hover, sizeof hover, "#%d %s, %s: %s GFLOP/s", number[kind][i],
                         rows->rows[i].problem, bt_cmp_short_variant(c->variant),
                         bt_cmp_format_gflops(c->gflops, gflops, sizeof gflops));
                bt_plot_safe(hover, safe, sizeof safe);
                char tag[16] = "";
                /* labels sit half a line above the point (even ranks) or below (odd) */
                if (rank >= 0 && number[kind][i] &&
                    !crowded(placed, &nplaced, c->ai, c->gflops * (rank % 2 ? 0.92 : 1.08)))
                    snprintf(tag, sizeof tag, "#%d", number[kind][i]);
                fprintf(dat, "%.6g\t%.6g\t%s\t%s\t%s\n", c->ai, c->gflops, rank % 2 ? "" : tag,
                        safe, rank % 2 ? tag : "");
                ai_lo = fmin(ai_lo, c->ai), ai_hi = fmax(ai_hi, c->ai);
                g_lo = fmin(g_lo, c->gflops), g_hi = fmax(g_hi, c->gflops);
            }
            bt_plot_end_block(dat, lines, 5);
            if (t < 16) points[t][kind] = lines;
        }
    if (dat && fclose(dat) != 0 && st == BT_OK)
        st = bt_fail(BT_EIO, "cannot write %s/%s.dat", r->dir, name);
    if (st == BT_OK) st = bt_plot_open(r->dir, name, "gp", &gp);
    if (st == BT_OK) {
        int width = 1300, height = 720;
        bt_plot_begin(gp, name, width, height, title);
        for (int t = 0; t < nt; t++) {
            double peak = roof_peak(set, &ours, counts[t]),
                   bw = bt_cmp_set_bandwidth(set, counts[t], 0);
            if (peak > 0) g_hi = fmax(g_hi, peak);
            if (peak > 0 && bw > 0) ai_hi = fmax(ai_hi, 2 * peak / bw);
            fprintf(gp, "peak%d = %.6g\nbw%d = %.6g\n", t, peak, t, bw);
        }
        if (!isfinite(ai_lo)) ai_lo = 0.1, ai_hi = 100, g_lo = 1, g_hi = 100;
        bt_plot_log_tics(gp, "xtics", ai_lo / 2, ai_hi * 2);
        bt_plot_log_tics(gp, "ytics", g_lo / 2, g_hi * 1.6);
        /* the key right of the plot, clear of the axis label */
        fprintf(gp,
                "set logscale xy 10\nset xrange [%.6g:%.6g]\nset yrange [%.6g:%.6g]\n"
                "set xlabel \"arithmetic intensity (flop per byte of the tensors, each touched "
                "once)\"\n"
                "set ylabel \"GFLOP/s\"\n"
                "set key outside right top vertical Left reverse samplen 2\nset samples 400\n"
                "roof(x, p, b) = (b > 0 && x * b < p) ? x * b : p\n"
                "plot \\\n",
                ai_lo / 2, ai_hi * 2, g_lo / 2, g_hi * 1.6);
        for (int t = 0; t < nt; t++) {
            int lt = t % 10 + 1;
            const char *plural = counts[t] > 1 ? "s" : "";
            if (roof_peak(set, &ours, counts[t]) > 0) /* else no roof, nor its key entry */
                fprintf(gp,
                        "  roof(x, peak%d, bw%d) with lines lt %d dt 2 title "
                        "sprintf(\"roof, %d thread%s: %%.3g GFLOP/s, %%.3g GB/s\", peak%d, bw%d), "
                        "\\\n",
                        t, t, lt, counts[t], plural, t, t);
            for (int kind = 0; kind < 2; kind++)
                fprintf(gp,
                        "  \"%s.dat\" index %d using 1:2:4 with labels hypertext point lt %d "
                        "pt %d ps %s title \"%s%s, %d thread%s\", \\\n"
                        "  \"%s.dat\" index %d using 1:2:3 with labels left offset 0.5,0.5 "
                        "font \"DejaVu Sans,8\" tc lt %d notitle, \\\n"
                        "  \"%s.dat\" index %d using 1:2:5 with labels left offset 0.5,-0.6 "
                        "font \"DejaVu Sans,8\" tc lt %d notitle%s\n",
                        name, 2 * t + kind, lt, kind ? 9 : 7, kind ? "1.5" : "1.2",
                        kind ? "best peer" : "ours", points[t][kind] ? "" : " (none)", counts[t],
                        plural, name, 2 * t + kind, lt, name, 2 * t + kind, lt,
                        t + 1 < nt || !kind ? ", \\" : "");
        }
        bt_plot_end(gp, name, width, height, 1);
        if (fclose(gp) != 0) st = bt_fail(BT_EIO, "cannot write %s/%s.gp", r->dir, name);
    }
    free(number[0]), free(number[1]), free(frac[0]), free(frac[1]);
    if (st == BT_OK) st = bt_plot_draw(r->dir, name);
    report_chart(r, name, st, title);
    /* the points as a table: how close each is to its roof */
    fputs("<table>\n<tr><th>#</th><th>problem</th><th>T</th><th>best variant</th><th>GFLOP/s</th>"
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
        double roof = roof_of(set, &ours, c->threads, c->ai);
        fputs("<tr>", h);
        report_td_num(h, NULL, "%.0f", i + 1);
        report_td(h, ours.rows[i].problem);
        report_td_num(h, NULL, "%.0f", c->threads);
        report_td(h, bt_cmp_short_variant(c->variant));
        report_td_gflops(h, NULL, c->gflops);
        report_td_num(h, NULL, "%.2f", c->ai);
        report_td_num(h, NULL, "%.1f", roof);
        report_td_num(h, NULL, "%.1f", roof > 0 ? 100 * c->gflops / roof : -1);
        report_td(h, p ? p->variant : "-");
        report_td_gflops(h, NULL, p ? p->gflops : -1);
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
        snprintf(key, sizeof key, "%.100s T%d", report_descriptor(rows->rows[i].problem),
                 rows->rows[i].cell[0].threads);
        intern(keys, &nrows, key);
    }
    value = calloc((size_t)(nrows * ncols), sizeof *value);
    if (!value) goto done;
    for (int i = 0; i < nrows * ncols; i++) value[i] = NAN;
    for (int i = b; i < e; i++) {
        char key[BT_CMP_NAME];
        snprintf(key, sizeof key, "%.100s T%d", report_descriptor(rows->rows[i].problem),
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
    report_file_name(name, sizeof name, "variants_%s_%d_%s", bt_cmp_set_letter(s),
                     rows->rows[b].group, rows->rows[b].op);
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
    report_chart(r, name, bt_plot_heat(r->dir, &chart), title);
    fputs("<table>\n<tr><th>problem, threads</th>", h);
    for (int k = 0; k < ncols; k++) {
        fputs("<th>", h);
        report_html_text(h, col_ptrs[k]);
        fputs("</th>", h);
    }
    fputs("</tr>\n", h);
    for (int i = 0; i < nrows; i++) {
        fputs("<tr>", h);
        report_td(h, row_ptrs[i]);
        double best = 0;
        for (int k = 0; k < ncols; k++)
            if (value[i * ncols + k] > best) best = value[i * ncols + k];
        for (int k = 0; k < ncols; k++) {
            double v = value[i * ncols + k];
            report_td_gflops(h, v == best ? "best" : NULL, v);
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
        bt_cmp_options o = report_single_set_options(r, s, 1, r->args->match.variants);
        if (bt_cmp_match_runs(&r->sets[s], 1, &o, &rows) != BT_OK) {
            fprintf(h, "<p class=\"missing\">%s</p>\n", bt_last_error());
            continue;
        }
        if (!rows.nrows) {
            bt_cmp_rows_free(&rows);
            continue;
        }
        fprintf(h, "<h3>%s: ", bt_cmp_set_letter(s));
        report_html_text(h, r->sets[s].machine_id);
        fputs("</h3>\n", h);
        for (int b = 0; b < rows.nrows;) {
            int ge = report_group_end(&rows, b);
            for (int i = b; i < ge;) {
                int j = report_op_block_end(&rows, i, ge);
                variants_block(r, s, &rows, i, j);
                i = j;
            }
            b = ge;
        }
        bt_cmp_rows_free(&rows);
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
    report_verdict(&r, &versus, &tables);
    section_sets(&r);
    report_model_totals(&r, &versus);
    report_tuning(&r, &tables);
    report_scaling(&r);
    if (r.nsets > 1) section_versus(&r, &versus);
    fputs("<h2 id=\"roofline\">Rooflines</h2>\n<p>Each problem's best variant (circles) and best "
          "peer (triangles) at its arithmetic intensity, under the roof of the set's measured "
          "peak (for the fastest ISA its best variants ran) and read bandwidth, per thread "
          "count. With warm caches a small problem can sit above the memory roof: its tensors "
          "stay in cache. Points are numbered as the rows of the table under each plot; the "
          "PNG names the four of each kind and thread count furthest below their roof, the SVG "
          "(opened on its own) names every point under the mouse.</p>\n",
          r.html);
    for (int s = 0; s < r.nsets; s++) roofline(&r, s);
    section_variants(&r);
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

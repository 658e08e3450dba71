/* The report's views of machines side by side (see report.h): the verdict at the top, model
 * totals and efficiency per suite, thread scaling, tuned against default dispatch. Each
 * works for any number of sets and says so, with the command that would record it, when a
 * set has no data for it. */
#include "report.h"

#include "plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 16
#define MAX_COUNTS 16

/* The commands that record what a view needs, run on the machine whose data is missing. */
#define RECORD_MODEL                                                                               \
    "backtune tune --suite resnet50 --threads 2; BACKTUNE_TABLE=results/&lt;machine-id&gt; "       \
    "backtune bench --suite resnet50 --threads 2 --variants 'dispatch,peer:*' --save"
#define RECORD_SCALING                                                                             \
    "BACKTUNE_TABLE=results/&lt;machine-id&gt; backtune bench --suite targets --threads "          \
    "1,$(nproc) --variants dispatch --save"
#define RECORD_TUNING "backtune tune --suite quick --threads 1,$(nproc)"

/* A results folder by its name (the machine id it was saved under, whatever ISA cap one of its
 * files ran with), a single file by its machine id. */
static const char *set_name(const report *r, int s) {
    const bt_cmp_set *set = &r->sets[s];
    size_t n = strlen(set->name);
    int file = n > 5 && !strcmp(set->name + n - 5, ".json");
    return file && set->machine_id[0] ? set->machine_id : set->name;
}

/* "A (machine-id)" */
static void set_label(const report *r, int s, char *buf, size_t size) {
    snprintf(buf, size, "%s (%s)", bt_cmp_set_letter(s), set_name(r, s));
}

/* "conv_bwd_w_nhwc mb32ic64... T2" shortened for a chart label */
static void key_label(const char *problem, int threads, char *buf, size_t size) {
    char op[32];
    bt_cmp_problem_op(problem, op, sizeof op);
    snprintf(buf, size, "%.70s %s T%d", report_descriptor(problem), op, threads);
}

/* ---- the verdict ---- */

static void verdict_one_set(report *r, const bt_cmp_rows *bench) {
    FILE *h = r->html;
    /* One set: its largest model total. */
    int best_b = -1, best_t = 0, best_layers = 0;
    for (int b = 0; b < bench->nrows;) {
        int e = report_group_end(bench, b), counts[MAX_COUNTS];
        int nt = bt_cmp_rows_thread_counts(bench, b, e, counts, MAX_COUNTS);
        for (int t = 0; t < nt; t++) {
            bt_cmp_total x = bt_cmp_total_of(r->sets, bench, b, e, NULL, counts[t], 0, 0);
            if (x.layers > best_layers || (x.layers == best_layers && counts[t] > best_t))
                best_b = b, best_t = counts[t], best_layers = x.layers;
        }
        b = e;
    }
    if (best_b < 0) {
        fputs("A has no bench results with layer counts.", h);
        return;
    }
    int e = report_group_end(bench, best_b);
    bt_cmp_total x = bt_cmp_total_of(r->sets, bench, best_b, e, NULL, best_t, 0, 0);
    double peak = x.peak > 0 ? x.peak : bt_cmp_set_best_peak(&r->sets[0], best_t);
    fprintf(h, "A runs the ");
    report_html_text(h, bench->groups[bench->rows[best_b].group].suite);
    fprintf(h,
            " suite's backward pass (%d layers of %d shapes, %d thread%s) in %.4g ms, %.1f "
            "GFLOP/s",
            x.layers, x.shapes, best_t, best_t > 1 ? "s" : "", x.seconds * 1e3,
            x.flop / x.seconds * 1e-9);
    if (peak > 0)
        fprintf(h, ", %.0f%% of its measured peak", 100 * x.flop / x.seconds * 1e-9 / peak);
    fputs(".", h);
}

/* " Other suites: resnet50 0.61x (92 shapes, 2 threads), ..." for the suites other than the
 * verdict's that A and set s both measured (two shapes at least), at the thread count with the
 * most work. */
static void verdict_other_suites(report *r, const bt_cmp_rows *bench, int s, int skip_group) {
    unsigned both = 1u | 1u << s;
    int any = 0;
    for (int b = 0; b < bench->nrows;) {
        int e = report_group_end(bench, b), counts[MAX_COUNTS];
        int nt = bt_cmp_rows_thread_counts(bench, b, e, counts, MAX_COUNTS);
        bt_cmp_total a = {0}, x = {0};
        int threads = 0;
        for (int t = 0; t < nt && bench->rows[b].group != skip_group; t++) {
            bt_cmp_total at = bt_cmp_total_of(r->sets, bench, b, e, NULL, counts[t], 0, both);
            if (at.shapes < 2 || at.flop < a.flop) continue;
            a = at, threads = counts[t];
            x = bt_cmp_total_of(r->sets, bench, b, e, NULL, counts[t], s, both);
        }
        if (threads) {
            fputs(any ? ", " : " Other suites: ", r->html);
            report_html_text(r->html, bench->groups[bench->rows[b].group].suite);
            fprintf(r->html, " %.2fx (%d shapes, %d thread%s)", a.seconds / x.seconds, a.shapes,
                    threads, threads > 1 ? "s" : "");
            any = 1;
        }
        b = e;
    }
    if (any) fputs(".", r->html);
}

void report_verdict(report *r, const bt_cmp_rows *bench, const bt_cmp_rows *tables) {
    FILE *h = r->html;
    char label[LABEL];
    fputs("<h2 id=\"verdict\">Verdict</h2>\n<div class=\"verdict\"><p>", h);
    set_label(r, 0, label, sizeof label);
    fputs("Computed from the results below, each machine against ", h);
    report_html_text(h, label);
    fputs(", on the bench suite with the most work both measured. Speeds are model totals: one "
          "pass over the suite's shapes, each weighted by its layer count, with each shape's "
          "best variant on each machine; per unit of peak divides by the measured peak of the "
          "code that ran (its ISA, those threads).</p>\n<ul>\n",
          h);
    if (r->nsets == 1) {
        fputs("<li>", h);
        verdict_one_set(r, bench);
        fputs("</li>\n", h);
    }
    for (int s = 1; s < r->nsets; s++) {
        bt_cmp_verdict v = bt_cmp_verdict_of(r->sets, bench, tables, s);
        set_label(r, s, label, sizeof label);
        fputs("<li><b>", h);
        report_html_text(h, label);
        fputs("</b>", h);
        if (v.found) {
            fprintf(h, " runs the backward pass of %s%d of the ",
                    v.shapes < v.suite_shapes ? "" : "all ", v.shapes);
            report_html_text(h, bench->groups[v.group].suite);
            fprintf(h, " suite's %d shapes (%d layers, %d thread%s) at <b>%.2fx</b> A's speed",
                    v.suite_shapes, v.layers, v.threads, v.threads > 1 ? "s" : "", v.speed);
            if (v.per_peak > 0)
                fprintf(h, "; <b>%.2fx</b> per unit of peak (its peak is %.2fx A's)", v.per_peak,
                        v.peak_ratio);
            if (v.weakest_op[0])
                fprintf(h, "; its weakest op is <b>%s</b> (%.2fx A), its strongest %s (%.2fx)",
                        v.weakest_op, v.weakest, v.strongest_op, v.strongest);
            fputs(".", h);
            verdict_other_suites(r, bench, s, v.group);
        } else {
            fputs(" has no bench suite in common with A", h);
            fputs(v.table_keys
                      ? "."
                      : " and no tuning key either: record one on both with <code>" RECORD_MODEL
                        "</code>.",
                  h);
        }
        if (v.table_keys)
            fprintf(h,
                    " On the %d tuning keys both tuned, its tuned GFLOP/s are %.2fx A's "
                    "(geomean).",
                    v.table_keys, v.table_speed);
        fputs("</li>\n", h);
    }
    int any = 0;
    for (int s = 0; s < r->nsets; s++) {
        bt_cmp_tuning_gain g = bt_cmp_tuning_gain_of(&r->sets[s], 0);
        if (!g.count) continue;
        fprintf(h, "%s%s %.2fx",
                any ? ", "
                    : "<li>Tuning gains over default dispatch (geomean of "
                      "each table's keys): ",
                bt_cmp_set_letter(s), g.geomean);
        any = 1;
    }
    fputs(any ? ".</li>\n</ul></div>\n" : "</ul></div>\n", h);
}

/* ---- model totals and efficiency ---- */

/* One chart of a (group, threads): rows are the ops and all of them, series the sets. */
static void totals_chart(report *r, const char *name, const char *title, const char *xlabel,
                         char (*ops)[32], int nops, const int *sets, int nsets,
                         const double *value) {
    const char *row_ptrs[MAX_OPS + 1], *series_ptrs[BT_CMP_MAX_SETS];
    char series[BT_CMP_MAX_SETS][LABEL];
    for (int k = 0; k < nops; k++) row_ptrs[k] = ops[k];
    row_ptrs[nops] = "all ops";
    for (int i = 0; i < nsets; i++) {
        set_label(r, sets[i], series[i], LABEL);
        series_ptrs[i] = series[i];
    }
    bt_hbar_chart chart = {.name = name,
                           .title = title,
                           .xlabel = xlabel,
                           .nrows = nops + 1,
                           .nseries = nsets,
                           .row_labels = row_ptrs,
                           .series_labels = series_ptrs,
                           .value = value};
    report_chart(r, name, bt_plot_hbars(r->dir, &chart), title);
}

/* The totals of one (group, threads) over the rows every set in `present` measured; 0 when
 * they share fewer than two shapes (not a model), nothing written then. */
static int totals_block(report *r, const bt_cmp_rows *bench, int b, int e, int threads,
                        unsigned present) {
    FILE *h = r->html;
    int sets[BT_CMP_MAX_SETS], nsets = 0;
    for (int s = 0; s < r->nsets; s++)
        if (present >> s & 1) sets[nsets++] = s;
    char ops[MAX_OPS + 1][32];
    int nops = bt_cmp_rows_ops(bench, b, e, ops, MAX_OPS);
    bt_cmp_total total[MAX_OPS + 1][BT_CMP_MAX_SETS];
    double ms[(MAX_OPS + 1) * BT_CMP_MAX_SETS], pct[(MAX_OPS + 1) * BT_CMP_MAX_SETS];
    for (int k = 0; k <= nops; k++)
        for (int i = 0; i < nsets; i++) {
            bt_cmp_total t = bt_cmp_total_of(r->sets, bench, b, e, k < nops ? ops[k] : NULL,
                                             threads, sets[i], present);
            double peak = t.peak > 0 ? t.peak : bt_cmp_set_best_peak(&r->sets[sets[i]], threads);
            total[k][i] = t;
            ms[k * nsets + i] = t.shapes ? t.seconds * 1e3 : NAN;
            pct[k * nsets + i] =
                t.shapes && peak > 0 ? 100 * t.flop / t.seconds * 1e-9 / peak : NAN;
        }
    const bt_cmp_total *all = total[nops];
    if (all[0].shapes < 2) return 0;
    const bt_cmp_group *g = &bench->groups[bench->rows[b].group];
    fputs("<h3>", h);
    report_html_text(h, g->suite);
    fprintf(h, ", %s cache, %d thread%s: %d shapes, %d layers that ", g->cache, threads,
            threads > 1 ? "s" : "", all[0].shapes, all[0].layers);
    fputs(nsets > 1 ? "every set here measured</h3>\n" : "measured</h3>\n", h);
    char name[NAME], title[LABEL];
    report_file_name(name, sizeof name, "totals_%d_t%d", (int)(g - bench->groups), threads);
    snprintf(title, sizeof title, "%.60s, %d thread%s: model time (one pass over %d layers)",
             g->suite, threads, threads > 1 ? "s" : "", all[0].layers);
    totals_chart(r, name, title, "milliseconds (shorter is faster)", ops, nops, sets, nsets, ms);
    report_file_name(name, sizeof name, "efficiency_%d_t%d", (int)(g - bench->groups), threads);
    snprintf(title, sizeof title,
             "%.60s, %d thread%s: efficiency, percent of the measured peak of each machine",
             g->suite, threads, threads > 1 ? "s" : "");
    totals_chart(
        r, name, title,
        "percent of the measured peak of the machine (for the ISA of its variants, these threads)",
        ops, nops, sets, nsets, pct);
    fputs("<table>\n<tr><th>op</th>", h);
    for (int i = 0; i < nsets; i++) {
        const char *l = bt_cmp_set_letter(sets[i]);
        fprintf(h, "<th>%s ms</th><th>%s GFLOP/s</th><th>%s %% peak</th>", l, l, l);
        if (sets[i]) fprintf(h, "<th>%s speed / A's</th>", l);
    }
    fputs("</tr>\n", h);
    for (int k = 0; k <= nops; k++) {
        fprintf(h, "<tr%s>", k == nops ? " class=\"geo\"" : "");
        report_td(h, k < nops ? ops[k] : "all ops");
        for (int i = 0; i < nsets; i++) {
            const bt_cmp_total *t = &total[k][i];
            report_td_num(h, NULL, "%.4g", t->shapes ? t->seconds * 1e3 : -1);
            report_td_gflops(h, NULL, t->shapes ? t->flop / t->seconds * 1e-9 : -1);
            report_td_num(h, NULL, "%.1f", pct[k * nsets + i]);
            if (sets[i])
                report_td_num(h, NULL, "%.2fx",
                              sets[0] == 0 && t->shapes && total[k][0].shapes
                                  ? total[k][0].seconds / t->seconds
                                  : -1);
        }
        fputs("</tr>\n", h);
    }
    fputs("</table>\n", h);
    return 1;
}

void report_model_totals(report *r, const bt_cmp_rows *bench) {
    FILE *h = r->html;
    fputs("<h2 id=\"totals\">Model totals and efficiency</h2>\n<p>Per suite and thread count: "
          "the time of one pass over the shapes every machine here measured, each shape weighted "
          "by its layer count (the suite's <code># xN</code>) and run by its best variant on "
          "that machine (bench's model totals), per op and for all ops; then the same work as "
          "a percentage of each machine's own measured peak (of the ISA its variants used, at "
          "that thread count), which takes the hardware's size out of the comparison.</p>\n",
          h);
    int shown[BT_CMP_MAX_SETS] = {0};
    char single[4096] = "";
    for (int b = 0; b < bench->nrows;) {
        int e = report_group_end(bench, b), counts[MAX_COUNTS];
        int nt = bt_cmp_rows_thread_counts(bench, b, e, counts, MAX_COUNTS);
        for (int t = 0; t < nt; t++) {
            unsigned present = bt_cmp_sets_present(bench, b, e, counts[t]);
            int n = __builtin_popcount(present);
            const bt_cmp_group *g = &bench->groups[bench->rows[b].group];
            if (n < 2 && r->nsets > 1) {
                /* measured by one set: named in a list, not drawn */
                size_t used = strlen(single);
                snprintf(single + used, sizeof single - used, "%s%s (%s, T%d)", used ? "; " : "",
                         g->suite, bt_cmp_set_letter(__builtin_ctz(present)), counts[t]);
                continue;
            }
            /* The sets that measured the most shapes of the suite are compared on them; a set
             * that measured fewer is named, so that it does not shrink the others' totals. */
            int covered[BT_CMP_MAX_SETS] = {0}, most = 0;
            for (int s = 0; s < r->nsets; s++) {
                covered[s] = bt_cmp_total_of(r->sets, bench, b, e, NULL, counts[t], s, 0).shapes;
                if (covered[s] > most) most = covered[s];
            }
            unsigned full = 0;
            for (int s = 0; s < r->nsets; s++)
                if (present >> s & 1 && covered[s] == most) full |= 1u << s;
            unsigned drawn = __builtin_popcount(full) >= 2 || r->nsets == 1 ? full : present;
            if (!totals_block(r, bench, b, e, counts[t], drawn)) continue;
            if (drawn != present) {
                fputs("<p>Measured on fewer of these shapes, so left out of these totals (the "
                      "shapes they share are under <a href=\"#versus\">Machine against "
                      "machine</a>):",
                      r->html);
                const char *sep = " ";
                for (int s = 0; s < r->nsets; s++)
                    if (present >> s & 1 && !(drawn >> s & 1)) {
                        fprintf(r->html, "%s%s %d of %d", sep, bt_cmp_set_letter(s), covered[s],
                                most);
                        sep = ", ";
                    }
                fputs(".</p>\n", r->html);
            }
            present = drawn;
            for (int s = 0; s < r->nsets; s++) shown[s] |= present >> s & 1;
        }
        b = e;
    }
    if (single[0]) {
        fputs("<p>Measured by one set only (in its tables under <a href=\"#variants\">Variants "
              "per problem</a>): ",
              h);
        report_html_text(h, single);
        fputs(".</p>\n", h);
    }
    for (int s = 0; s < r->nsets; s++) {
        if (shown[s]) continue;
        char label[LABEL];
        set_label(r, s, label, sizeof label);
        fputs("<p class=\"missing\">", h);
        report_html_text(h, label);
        fputs(" has no bench suite in common with another set here, so no model total to "
              "compare: record one with <code>" RECORD_MODEL "</code>.</p>\n",
              h);
    }
}

/* ---- thread scaling ---- */

typedef struct scaling {
    int counts[MAX_COUNTS], ncounts;
    double geomean[MAX_COUNTS], low[MAX_COUNTS], high[MAX_COUNTS];
    int keys[MAX_COUNTS];
    const char *source;
} scaling;

/* Speedups over 1 thread of pairs (problem, threads) -> GFLOP/s, per thread count. */
typedef struct scaling_point {
    const char *problem;
    int group, threads;
    double gflops;
} scaling_point;

static void scaling_of(const scaling_point *p, int n, scaling *out) {
    out->ncounts = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].threads < 2) continue;
        int k = 0;
        while (k < out->ncounts && out->counts[k] != p[i].threads) k++;
        if (k == out->ncounts) {
            if (k == MAX_COUNTS) continue;
            out->counts[k] = p[i].threads;
            out->geomean[k] = 0, out->low[k] = INFINITY, out->high[k] = 0, out->keys[k] = 0;
            out->ncounts++;
        }
        for (int j = 0; j < n; j++) {
            if (p[j].threads != 1 || p[j].group != p[i].group || strcmp(p[j].problem, p[i].problem))
                continue;
            double speedup = p[i].gflops / p[j].gflops;
            out->geomean[k] += log(speedup);
            out->low[k] = fmin(out->low[k], speedup);
            out->high[k] = fmax(out->high[k], speedup);
            out->keys[k]++;
            break;
        }
    }
    int kept = 0;
    for (int k = 0; k < out->ncounts; k++) {
        if (!out->keys[k]) continue;
        out->counts[kept] = out->counts[k], out->keys[kept] = out->keys[k];
        out->geomean[kept] = exp(out->geomean[k] / out->keys[k]);
        out->low[kept] = out->low[k], out->high[kept] = out->high[k];
        kept++;
    }
    out->ncounts = kept;
    /* ascending thread counts */
    for (int a = 1; a < kept; a++)
        for (int c = a; c > 0 && out->counts[c - 1] > out->counts[c]; c--) {
            int ti = out->counts[c];
            out->counts[c] = out->counts[c - 1], out->counts[c - 1] = ti;
            ti = out->keys[c], out->keys[c] = out->keys[c - 1], out->keys[c - 1] = ti;
            double t = out->geomean[c];
            out->geomean[c] = out->geomean[c - 1], out->geomean[c - 1] = t;
            t = out->low[c], out->low[c] = out->low[c - 1], out->low[c - 1] = t;
            t = out->high[c], out->high[c] = out->high[c - 1], out->high[c - 1] = t;
        }
}

/* Set s's scaling from its bench runs (best of ours per problem and thread count), else
 * from its tuning table (the tuned choice per key). */
static void set_scaling(report *r, int s, scaling *out) {
    memset(out, 0, sizeof *out);
    bt_cmp_rows rows = {0};
    bt_cmp_options o = report_single_set_options(r, s, 0, r->args->match.variants);
    o.nthreads = 0; /* every thread count */
    int n = 0;
    scaling_point *p = NULL;
    if (bt_cmp_match_runs(&r->sets[s], 1, &o, &rows) == BT_OK && rows.nrows &&
        (p = calloc((size_t)rows.nrows, sizeof *p))) {
        for (int i = 0; i < rows.nrows; i++)
            if (rows.rows[i].cell[0].present && rows.rows[i].cell[0].gflops > 0)
                p[n++] = (scaling_point){rows.rows[i].problem, rows.rows[i].group,
                                         rows.rows[i].cell[0].threads, rows.rows[i].cell[0].gflops};
        scaling_of(p, n, out);
        out->source = "bench, best of ours per problem";
    }
    free(p);
    bt_cmp_rows_free(&rows);
    const bt_cmp_set *set = &r->sets[s];
    if (out->ncounts || !set->nchoices || !(p = calloc((size_t)set->nchoices, sizeof *p))) return;
    for (n = 0; n < set->nchoices; n++)
        p[n] = (scaling_point){set->choices[n].problem, 0, set->choices[n].threads,
                               set->choices[n].gflops};
    scaling_of(p, n, out);
    out->source = "tuning table, the tuned choice per key";
    free(p);
}

void report_scaling(report *r) {
    FILE *h = r->html;
    fputs("<h2 id=\"scaling\">Thread scaling</h2>\n<p>Speedup from 1 thread to N on the same "
          "problems: the geometric mean over the problems each machine measured at both counts "
          "(whiskers: the worst and best problem), from its bench runs, else from its tuning "
          "table. The dashed line is perfect scaling.</p>\n",
          h);
    scaling sc[BT_CMP_MAX_SETS];
    double x[BT_CMP_MAX_SETS][MAX_COUNTS + 1], y[BT_CMP_MAX_SETS][MAX_COUNTS + 1],
        lo[BT_CMP_MAX_SETS][MAX_COUNTS + 1], hi[BT_CMP_MAX_SETS][MAX_COUNTS + 1];
    const double *xp[BT_CMP_MAX_SETS], *yp[BT_CMP_MAX_SETS], *lp[BT_CMP_MAX_SETS],
        *hp[BT_CMP_MAX_SETS];
    char series[BT_CMP_MAX_SETS][LABEL];
    const char *series_ptrs[BT_CMP_MAX_SETS];
    int counts[BT_CMP_MAX_SETS], n = 0;
    for (int s = 0; s < r->nsets; s++) {
        set_scaling(r, s, &sc[s]);
        if (!sc[s].ncounts) continue;
        x[n][0] = y[n][0] = lo[n][0] = hi[n][0] = 1;
        for (int k = 0; k < sc[s].ncounts; k++) {
            x[n][k + 1] = sc[s].counts[k], y[n][k + 1] = sc[s].geomean[k];
            lo[n][k + 1] = sc[s].low[k], hi[n][k + 1] = sc[s].high[k];
        }
        xp[n] = x[n], yp[n] = y[n], lp[n] = lo[n], hp[n] = hi[n];
        counts[n] = sc[s].ncounts + 1;
        set_label(r, s, series[n], LABEL);
        series_ptrs[n] = series[n];
        n++;
    }
    if (n) {
        bt_line_chart chart = {.name = "scaling",
                               .title = "Speedup over 1 thread (geomean over the problems; "
                                        "whiskers: worst and best)",
                               .xlabel = "threads",
                               .ylabel = "speedup over 1 thread",
                               .nseries = n,
                               .series_labels = series_ptrs,
                               .counts = counts,
                               .x = xp,
                               .y = yp,
                               .low = lp,
                               .high = hp,
                               .ideal = 1};
        report_chart(r, "scaling", bt_plot_lines(r->dir, &chart), chart.title);
        fputs("<table>\n<tr><th>set</th><th>threads</th><th>problems</th><th>speedup "
              "(geomean)</th><th>worst</th><th>best</th><th>parallel efficiency</th>"
              "<th>from</th></tr>\n",
              h);
        for (int s = 0; s < r->nsets; s++)
            for (int k = 0; k < sc[s].ncounts; k++) {
                char label[LABEL];
                set_label(r, s, label, sizeof label);
                fputs("<tr>", h);
                report_td(h, label);
                report_td_num(h, NULL, "%.0f", sc[s].counts[k]);
                report_td_num(h, NULL, "%.0f", sc[s].keys[k]);
                report_td_num(h, NULL, "%.2fx", sc[s].geomean[k]);
                report_td_num(h, NULL, "%.2fx", sc[s].low[k]);
                report_td_num(h, NULL, "%.2fx", sc[s].high[k]);
                report_td_num(h, NULL, "%.0f%%", 100 * sc[s].geomean[k] / sc[s].counts[k]);
                report_td(h, sc[s].source);
                fputs("</tr>\n", h);
            }
        fputs("</table>\n", h);
    }
    for (int s = 0; s < r->nsets; s++) {
        if (sc[s].ncounts) continue;
        char label[LABEL];
        set_label(r, s, label, sizeof label);
        fputs("<p class=\"missing\">", h);
        report_html_text(h, label);
        fputs(" has no problem measured at 1 thread and at more: record with <code>" RECORD_SCALING
              "</code>.</p>\n",
              h);
    }
}

/* ---- tuned against default dispatch ---- */

/* Set s's gains as a sorted distribution, one line per thread count, worst and best keys
 * labelled. */
static void tuning_distribution(report *r, int s) {
    const bt_cmp_set *set = &r->sets[s];
    int counts[MAX_COUNTS], nt = 0;
    for (int i = 0; i < set->nchoices; i++) {
        const bt_cmp_choice *c = &set->choices[i];
        if (!(c->default_gflops > 0)) continue;
        int k = 0;
        while (k < nt && counts[k] != c->threads) k++;
        if (k == nt && nt < MAX_COUNTS) counts[nt++] = c->threads;
    }
    for (int a = 1; a < nt; a++)
        for (int c = a; c > 0 && counts[c - 1] > counts[c]; c--) {
            int t = counts[c];
            counts[c] = counts[c - 1], counts[c - 1] = t;
        }
    double *values[MAX_COUNTS] = {0};
    const char **labels[MAX_COUNTS] = {0};
    char(*texts)[LABEL] = calloc((size_t)set->nchoices + 1, sizeof *texts);
    char series[MAX_COUNTS][LABEL];
    const char *series_ptrs[MAX_COUNTS];
    int sizes[MAX_COUNTS] = {0}, ok = texts != NULL;
    for (int t = 0; ok && t < nt; t++) {
        values[t] = calloc((size_t)set->nchoices, sizeof *values[t]);
        labels[t] = calloc((size_t)set->nchoices, sizeof *labels[t]);
        ok = values[t] && labels[t];
        bt_cmp_tuning_gain g = bt_cmp_tuning_gain_of(set, counts[t]);
        for (int i = 0; ok && i < set->nchoices; i++) {
            const bt_cmp_choice *c = &set->choices[i];
            if (!(c->default_gflops > 0) || c->threads != counts[t]) continue;
            if (i == g.worst || i == g.best) {
                key_label(c->problem, c->threads, texts[i], LABEL);
                size_t used = strlen(texts[i]);
                snprintf(texts[i] + used, LABEL - used, ": %.2fx", c->gflops / c->default_gflops);
                labels[t][sizes[t]] = texts[i];
            }
            values[t][sizes[t]++] = c->gflops / c->default_gflops;
        }
        snprintf(series[t], LABEL, "%d thread%s: %d keys, geomean %.2fx", counts[t],
                 counts[t] > 1 ? "s" : "", g.count, g.geomean);
        series_ptrs[t] = series[t];
    }
    if (ok && nt) {
        char name[NAME], title[LABEL];
        report_file_name(name, sizeof name, "tuned_%s", bt_cmp_set_letter(s));
        snprintf(title, sizeof title,
                 "%s: %.60s, tuned over default dispatch per key, sorted (worst and best "
                 "labelled)",
                 bt_cmp_set_letter(s), set_name(r, s));
        bt_cdf_chart chart = {.name = name,
                              .title = title,
                              .xlabel = "tuned GFLOP/s over default-dispatch GFLOP/s (log scale)",
                              .nseries = nt,
                              .series_labels = series_ptrs,
                              .counts = sizes,
                              .values = (const double *const *)values,
                              .point_labels = (const char *const *const *)labels,
                              .reference = 1,
                              .log_x = 1};
        report_chart(r, name, bt_plot_cdf(r->dir, &chart), title);
    }
    for (int t = 0; t < nt; t++) free(values[t]), free(labels[t]);
    free(texts);
}

static void tuning_table(report *r, const bt_cmp_set *set) {
    FILE *h = r->html;
    fputs("<details><summary>Every key</summary>\n<table>\n<tr><th>problem</th><th>T</th>"
          "<th>default variant</th><th>GFLOP/s</th><th>tuned variant</th><th>parameters</th>"
          "<th>GFLOP/s</th><th>speedup</th></tr>\n",
          h);
    for (int i = 0; i < set->nchoices; i++) {
        const bt_cmp_choice *c = &set->choices[i];
        if (!(c->default_gflops > 0)) continue;
        fputs("<tr>", h);
        report_td(h, c->problem);
        report_td_num(h, NULL, "%.0f", c->threads);
        report_td(h, bt_cmp_short_variant(c->default_variant));
        report_td_gflops(h, NULL, c->default_gflops);
        report_td(h, bt_cmp_short_variant(c->variant));
        report_td(h, c->params);
        report_td_gflops(h, NULL, c->gflops);
        report_td_num(h, NULL, "%.2fx", c->gflops / c->default_gflops);
        fputs("</tr>\n", h);
    }
    fputs("</table>\n</details>\n", h);
}

void report_tuning(report *r, const bt_cmp_rows *tables) {
    FILE *h = r->html;
    fputs("<h2 id=\"tuning\">Tuned against default dispatch</h2>\n<p>From the tuning tables: "
          "GFLOP/s of the variant and parameters the tuner picked (best time) over the default "
          "dispatch (heuristic, no table), per key (problem, threads). First per machine: the "
          "geometric mean, with whiskers from the worst to the best key; then each machine's "
          "keys as a sorted distribution (the fraction of keys at or below each gain), its worst "
          "and best keys named.</p>\n",
          h);
    /* per machine and thread count: geomean, worst..best */
    char labels[BT_CMP_MAX_SETS * MAX_COUNTS][LABEL];
    const char *label_ptrs[BT_CMP_MAX_SETS * MAX_COUNTS];
    double value[BT_CMP_MAX_SETS * MAX_COUNTS], low[BT_CMP_MAX_SETS * MAX_COUNTS],
        high[BT_CMP_MAX_SETS * MAX_COUNTS];
    int n = 0;
    for (int s = 0; s < r->nsets; s++) {
        int counts[MAX_COUNTS], nt = bt_cmp_set_thread_counts(&r->sets[s], counts, MAX_COUNTS);
        for (int t = 0; t < nt; t++) {
            bt_cmp_tuning_gain g = bt_cmp_tuning_gain_of(&r->sets[s], counts[t]);
            if (!g.count) continue;
            snprintf(labels[n], LABEL, "%s (%.40s), %d thread%s, %d keys", bt_cmp_set_letter(s),
                     set_name(r, s), counts[t], counts[t] > 1 ? "s" : "", g.count);
            label_ptrs[n] = labels[n];
            value[n] = g.geomean;
            low[n] =
                r->sets[s].choices[g.worst].gflops / r->sets[s].choices[g.worst].default_gflops;
            high[n] = r->sets[s].choices[g.best].gflops / r->sets[s].choices[g.best].default_gflops;
            n++;
        }
    }
    if (n) {
        const char *series = "geomean of tuned over default; whiskers: worst and best key";
        bt_hbar_chart chart = {.name = "tuned_machines",
                               .title = "Tuned over default dispatch per machine and thread count",
                               .xlabel = "tuned GFLOP/s over default-dispatch GFLOP/s (log scale; "
                                         "whiskers: worst and best key)",
                               .nrows = n,
                               .nseries = 1,
                               .row_labels = label_ptrs,
                               .series_labels = &series,
                               .value = value,
                               .low = low,
                               .high = high,
                               .reference = 1,
                               .log_x = 1};
        report_chart(r, "tuned_machines", bt_plot_hbars(r->dir, &chart), chart.title);
    }
    for (int s = 0; s < r->nsets; s++) {
        char label[LABEL];
        set_label(r, s, label, sizeof label);
        fputs("<h3>", h);
        report_html_text(h, label);
        fputs("</h3>\n", h);
        if (!bt_cmp_tuning_gain_of(&r->sets[s], 0).count) {
            fputs("<p class=\"missing\">No tuning table with default-dispatch timings: record "
                  "one with <code>" RECORD_TUNING "</code>.</p>\n",
                  h);
            continue;
        }
        tuning_distribution(r, s);
        tuning_table(r, &r->sets[s]);
    }
    if (r->nsets > 1 && tables->matched) {
        fputs("<h3>The tables side by side</h3>\n<details><summary>The variant each set picked "
              "per key, its GFLOP/s and gain over its default</summary>\n",
              h);
        report_rows_table(r, tables, 0, tables->nrows, 1);
        fputs("</details>\n", h);
    }
}

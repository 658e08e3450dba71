/* Machines side by side in numbers (see fleet.h). */
#include "fleet.h"

#include <math.h>
#include <string.h>

/* Dispatch's variant is the first word of its parameters ("conv_bwd_d__direct_nchw_avx2
 * (heuristic) par=..."); bench's peak counter for dispatch is the CPU's best ISA's, also under
 * BACKTUNE_ISA_CAP. */
double bt_cmp_cell_peak(const bt_cmp_set *set, const bt_cmp_cell *c) {
    char variant[BT_CMP_NAME];
    snprintf(variant, sizeof variant, "%s", c->variant);
    if (!strcmp(c->variant, "dispatch") && c->params)
        snprintf(variant, sizeof variant, "%.*s", (int)strcspn(c->params, " "), c->params);
    double peak = bt_cmp_set_peak(set, bt_cmp_variant_isa(variant), c->threads);
    return peak > 0 ? peak : c->peak_gflops;
}

bt_cmp_total bt_cmp_total_of(const bt_cmp_set *sets, const bt_cmp_rows *rows, int begin, int end,
                             const char *op, int threads, int s, unsigned with) {
    bt_cmp_total t = {0};
    for (int i = begin; i < end; i++) {
        const bt_cmp_row *row = &rows->rows[i];
        const bt_cmp_cell *c = &row->cell[s];
        if (!c->present || c->threads != threads || (op && strcmp(row->op, op))) continue;
        if (!c->run || !(c->run->flops > 0) || !(c->gflops > 0)) continue;
        int all = 1;
        for (int k = 0; k < rows->nsets; k++)
            if (with >> k & 1) all &= row->cell[k].present && row->cell[k].gflops > 0;
        if (!all) continue;
        int count =
            bt_cmp_layer_count(sets, rows->nsets, rows->groups[row->group].suite, row->problem);
        double flop = count * c->run->flops;
        t.seconds += flop / (c->gflops * 1e9);
        t.flop += flop;
        t.shapes++;
        t.layers += count;
        double peak = bt_cmp_cell_peak(&sets[s], c);
        if (peak > t.peak) t.peak = peak;
    }
    return t;
}

unsigned bt_cmp_sets_present(const bt_cmp_rows *rows, int begin, int end, int threads) {
    unsigned bits = 0;
    for (int i = begin; i < end; i++)
        for (int s = 0; s < rows->nsets; s++)
            if (rows->rows[i].cell[s].present && rows->rows[i].cell[s].threads == threads)
                bits |= 1u << s;
    return bits;
}

int bt_cmp_rows_thread_counts(const bt_cmp_rows *rows, int begin, int end, int *out, int max) {
    int n = 0;
    for (int i = begin; i < end; i++)
        for (int s = 0; s < rows->nsets; s++) {
            const bt_cmp_cell *c = &rows->rows[i].cell[s];
            if (!c->present) continue;
            int k = 0;
            while (k < n && out[k] != c->threads) k++;
            if (k < n || n == max) continue;
            /* insert in order */
            for (k = n; k > 0 && out[k - 1] > c->threads; k--) out[k] = out[k - 1];
            out[k] = c->threads;
            n++;
        }
    return n;
}

int bt_cmp_rows_ops(const bt_cmp_rows *rows, int begin, int end, char (*out)[32], int max) {
    int n = 0;
    for (int i = begin; i < end; i++) {
        int k = 0;
        while (k < n && strcmp(out[k], rows->rows[i].op)) k++;
        if (k == n && n < max) snprintf(out[n++], 32, "%s", rows->rows[i].op);
    }
    return n;
}

/* Rows [*begin, *end) of the group that starts at row b. */
static int group_end_of(const bt_cmp_rows *rows, int b) {
    int e = b;
    while (e < rows->nrows && rows->rows[e].group == rows->rows[b].group) e++;
    return e;
}

bt_cmp_verdict bt_cmp_verdict_of(const bt_cmp_set *sets, const bt_cmp_rows *bench,
                                 const bt_cmp_rows *tables, int s) {
    bt_cmp_verdict v = {0};
    unsigned both = 1u | 1u << s;
    double work = 0;
    for (int b = 0; bench && b < bench->nrows;) {
        int e = group_end_of(bench, b), counts[16];
        int nt = bt_cmp_rows_thread_counts(bench, b, e, counts, 16);
        for (int t = 0; t < nt; t++) {
            bt_cmp_total a = bt_cmp_total_of(sets, bench, b, e, NULL, counts[t], 0, both);
            if (!a.shapes || a.flop < work || (a.flop == work && counts[t] <= v.threads)) continue;
            work = a.flop;
            v.found = 1;
            v.group = bench->rows[b].group, v.begin = b, v.end = e;
            v.threads = counts[t], v.shapes = a.shapes, v.layers = a.layers;
        }
        b = e;
    }
    if (v.found) {
        bt_cmp_total a = bt_cmp_total_of(sets, bench, v.begin, v.end, NULL, v.threads, 0, both),
                     x = bt_cmp_total_of(sets, bench, v.begin, v.end, NULL, v.threads, s, both);
        v.speed = a.seconds / x.seconds;
        v.suite_shapes = bt_cmp_total_of(sets, bench, v.begin, v.end, NULL, v.threads, 0, 0).shapes;
        if (a.peak > 0 && x.peak > 0) {
            v.peak_ratio = x.peak / a.peak;
            v.per_peak = v.speed / v.peak_ratio;
        }
        char ops[16][32];
        int nops = bt_cmp_rows_ops(bench, v.begin, v.end, ops, 16);
        for (int k = 0; nops > 1 && k < nops; k++) {
            a = bt_cmp_total_of(sets, bench, v.begin, v.end, ops[k], v.threads, 0, both);
            x = bt_cmp_total_of(sets, bench, v.begin, v.end, ops[k], v.threads, s, both);
            if (!a.shapes) continue;
            double speed = a.seconds / x.seconds;
            if (!v.weakest_op[0] || speed < v.weakest)
                v.weakest = speed, snprintf(v.weakest_op, sizeof v.weakest_op, "%.31s", ops[k]);
            if (!v.strongest_op[0] || speed > v.strongest)
                v.strongest = speed,
                snprintf(v.strongest_op, sizeof v.strongest_op, "%.31s", ops[k]);
        }
    }
    if (tables && tables->nrows) {
        bt_cmp_geomean g = bt_cmp_geomean_of(tables, 0, tables->nrows, s);
        v.table_keys = g.count;
        v.table_speed = g.value;
    }
    return v;
}

bt_cmp_tuning_gain bt_cmp_tuning_gain_of(const bt_cmp_set *set, int threads) {
    bt_cmp_tuning_gain g = {.worst = -1, .best = -1};
    double log_sum = 0, worst = INFINITY, best = 0;
    for (int i = 0; i < set->nchoices; i++) {
        const bt_cmp_choice *c = &set->choices[i];
        if (!(c->default_gflops > 0) || (threads && c->threads != threads)) continue;
        double r = c->gflops / c->default_gflops;
        log_sum += log(r);
        g.count++;
        if (r < worst) worst = r, g.worst = i;
        if (r > best) best = r, g.best = i;
    }
    if (g.count) g.geomean = exp(log_sum / g.count);
    return g;
}

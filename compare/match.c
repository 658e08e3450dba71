/* Matching results across sets (see match.h). */
#include "match.h"

#include "cmdline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bt_cmp_noise bt_cmp_noise_of(double ratio, double cv_a, double cv_b) {
    if (!(cv_a >= 0) || !(cv_b >= 0) || !(ratio > 0)) return BT_CMP_NOISE_UNKNOWN;
    double band = BT_CMP_NOISE_SIGMAS * sqrt(cv_a * cv_a + cv_b * cv_b);
    return fabs(log(ratio)) <= band ? BT_CMP_NOISE_INSIDE : BT_CMP_NOISE_OUTSIDE;
}

/* One set's candidate for a row, before the sets are joined. */
typedef struct keyed_cell {
    char key[BT_CMP_TEXT + BT_CMP_NAME + 48];
    int set, seq;
    char suite[BT_CMP_NAME], cache[8];
    char problem[BT_CMP_TEXT], variant[BT_CMP_NAME];
    bt_cmp_cell cell;
} keyed_cell;

typedef struct keyed_list {
    keyed_cell *items;
    int count, cap;
} keyed_list;

static keyed_cell *push_cell(keyed_list *l) {
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        keyed_cell *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return NULL;
        l->items = items, l->cap = cap;
    }
    keyed_cell *k = &l->items[l->count++];
    memset(k, 0, sizeof *k);
    k->seq = l->count;
    return k;
}

/* Which thread count set i's runs must have (0: any), and whether counts are part of the
 * key (not when each set has its own count). */
static int wanted_threads(const bt_cmp_options *o, int nsets, int set) {
    if (o->nthreads == 1) return o->threads[0];
    if (o->nthreads == nsets) return o->threads[set];
    return 0;
}

static int threads_in_key(const bt_cmp_options *o, int nsets) {
    return !(o->nthreads == nsets && nsets > 1);
}

static void make_key(keyed_cell *k, const char *variant, int threads, int with_threads) {
    snprintf(k->key, sizeof k->key, "%s\x1f%s\x1f%s\x1f%d", k->cache, k->problem, variant,
             with_threads ? threads : 0);
}

static void cell_of_run(const bt_cmp_run *r, bt_cmp_cell *c) {
    *c = (bt_cmp_cell){.present = 1,
                       .variant = r->variant,
                       .params = r->params,
                       .gflops = r->gflops,
                       .cv = r->cv,
                       .peak_gflops = r->peak_gflops,
                       .ai = r->ai,
                       .threads = r->threads,
                       .reps = r->reps,
                       .run = r};
}

/* The cells of one set's runs: every selected run, or the best per (cache, problem,
 * threads). */
static bt_status collect_runs(const bt_cmp_set *set, int s, int nsets, const bt_cmp_options *o,
                              keyed_list *l) {
    const char *globs = o->variants ? o->variants : o->by_variant ? "*" : "*,!peer:*";
    int threads = wanted_threads(o, nsets, s), with_threads = threads_in_key(o, nsets);
    int first = l->count;
    for (int i = 0; i < set->nruns; i++) {
        const bt_cmp_run *r = &set->runs[i];
        if ((threads && r->threads != threads) || !bt_cli_name_selected(r->variant, globs))
            continue;
        const bt_cmp_file *f = &set->files[r->file];
        keyed_cell probe = {0};
        snprintf(probe.cache, sizeof probe.cache, "%s", f->cache);
        snprintf(probe.problem, sizeof probe.problem, "%s", r->problem);
        make_key(&probe, o->by_variant ? r->variant : "best", r->threads, with_threads);
        if (!o->by_variant) { /* keep the best run of the key */
            int found = 0;
            for (int k = first; k < l->count && !found; k++) {
                if (strcmp(l->items[k].key, probe.key)) continue;
                found = 1;
                if (r->gflops > l->items[k].cell.gflops) cell_of_run(r, &l->items[k].cell);
            }
            if (found) continue;
        }
        keyed_cell *k = push_cell(l);
        if (!k) return bt_fail(BT_ENOMEM, "compare: out of memory");
        int seq = k->seq;
        *k = probe;
        k->seq = seq;
        k->set = s;
        snprintf(k->suite, sizeof k->suite, "%s", f->suite);
        snprintf(k->variant, sizeof k->variant, "%s", o->by_variant ? r->variant : "best");
        cell_of_run(r, &k->cell);
    }
    return BT_OK;
}

static bt_status collect_choices(const bt_cmp_set *set, int s, int nsets, const bt_cmp_options *o,
                                 keyed_list *l) {
    int threads = wanted_threads(o, nsets, s), with_threads = threads_in_key(o, nsets);
    for (int i = 0; i < set->nchoices; i++) {
        const bt_cmp_choice *c = &set->choices[i];
        if (threads && c->threads != threads) continue;
        keyed_cell *k = push_cell(l);
        if (!k) return bt_fail(BT_ENOMEM, "compare: out of memory");
        k->set = s;
        snprintf(k->suite, sizeof k->suite, "tuning tables");
        snprintf(k->problem, sizeof k->problem, "%s", c->problem);
        snprintf(k->variant, sizeof k->variant, "tuned");
        make_key(k, "tuned", c->threads, with_threads);
        const char *isa = bt_cmp_variant_isa(c->variant);
        k->cell = (bt_cmp_cell){.present = 1,
                                .variant = c->variant,
                                .params = c->params,
                                .gflops = c->gflops,
                                .cv = c->cv,
                                .peak_gflops = bt_cmp_set_peak(set, isa, c->threads),
                                .threads = c->threads,
                                .reps = c->reps,
                                .choice = c};
    }
    return BT_OK;
}

static int compare_key_then_set(const void *a, const void *b) {
    const keyed_cell *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : x->set != y->set ? x->set - y->set : x->seq - y->seq;
}

static int compare_seq(const void *a, const void *b) {
    return ((const bt_cmp_row *)a)->seq - ((const bt_cmp_row *)b)->seq;
}

static int compare_row_order(const void *a, const void *b) {
    const bt_cmp_row *x = a, *y = b;
    if (x->group != y->group) return x->group - y->group;
    if (x->op_seq != y->op_seq) return x->op_seq - y->op_seq;
    return x->seq - y->seq;
}

static int group_of(bt_cmp_rows *out, const char *suite, const char *cache) {
    for (int g = 0; g < out->ngroups; g++)
        if (!strcmp(out->groups[g].suite, suite) && !strcmp(out->groups[g].cache, cache)) return g;
    bt_cmp_group *groups = realloc(out->groups, (size_t)(out->ngroups + 1) * sizeof *groups);
    if (!groups) return -1;
    out->groups = groups;
    snprintf(groups[out->ngroups].suite, sizeof groups[out->ngroups].suite, "%s", suite);
    snprintf(groups[out->ngroups].cache, sizeof groups[out->ngroups].cache, "%s", cache);
    return out->ngroups++;
}

/* Joins the cells of every set by key into rows. */
static bt_status join(keyed_list *l, int nsets, bt_cmp_rows *out) {
    if (l->count > 1) qsort(l->items, (size_t)l->count, sizeof *l->items, compare_key_then_set);
    out->rows = calloc((size_t)(l->count ? l->count : 1), sizeof *out->rows);
    if (!out->rows) return bt_fail(BT_ENOMEM, "compare: out of memory");
    for (int i = 0; i < l->count;) {
        int j = i;
        bt_cmp_row *row = &out->rows[out->nrows++];
        const keyed_cell *head = &l->items[i];
        snprintf(row->problem, sizeof row->problem, "%s", head->problem);
        snprintf(row->variant, sizeof row->variant, "%s", head->variant);
        bt_cmp_problem_op(head->problem, row->op, sizeof row->op);
        row->seq = head->seq;
        int present = 0, last = 0;
        for (; j < l->count && !strcmp(l->items[j].key, head->key); j++) {
            const keyed_cell *k = &l->items[j];
            if (row->cell[k->set].present) continue; /* by-best keeps one per set already */
            row->cell[k->set] = k->cell;
            if (k->seq < row->seq) row->seq = k->seq;
            present++;
            last = k->set;
        }
        /* the group as the first set that has the row names it */
        row->group = group_of(out, head->suite, head->cache);
        if (row->group < 0) return bt_fail(BT_ENOMEM, "compare: out of memory");
        if (present >= 2) out->matched++;
        if (present == 1) out->only_in[last]++;
        for (int s = 0; s < nsets; s++) {
            const bt_cmp_cell *a = &row->cell[0], *x = &row->cell[s];
            if (!a->present || !x->present || !(a->gflops > 0)) continue;
            row->speedup[s] = x->gflops / a->gflops;
            row->noise[s] = bt_cmp_noise_of(row->speedup[s], a->cv, x->cv);
        }
        i = j;
    }
    return BT_OK;
}

/* Rows in order: groups and ops as they first appear, rows of a (group, op) in order. */
static bt_status order_rows(bt_cmp_rows *out) {
    qsort(out->rows, (size_t)out->nrows, sizeof *out->rows, compare_seq);
    int *group_rank = malloc((size_t)(out->ngroups ? out->ngroups : 1) * sizeof *group_rank);
    bt_cmp_group *groups = malloc((size_t)(out->ngroups ? out->ngroups : 1) * sizeof *groups);
    typedef struct op_first {
        int group, seq;
        const char *op;
    } op_first;
    op_first *ops = malloc((size_t)(out->nrows ? out->nrows : 1) * sizeof *ops);
    if (!group_rank || !groups || !ops) {
        free(group_rank), free(groups), free(ops);
        return bt_fail(BT_ENOMEM, "compare: out of memory");
    }
    int ngroups = 0, nops = 0;
    for (int g = 0; g < out->ngroups; g++) group_rank[g] = -1;
    for (int i = 0; i < out->nrows; i++) {
        bt_cmp_row *r = &out->rows[i];
        if (group_rank[r->group] < 0) {
            groups[ngroups] = out->groups[r->group];
            group_rank[r->group] = ngroups++;
        }
        r->group = group_rank[r->group];
        int k = 0;
        while (k < nops && (ops[k].group != r->group || strcmp(ops[k].op, r->op))) k++;
        if (k == nops) ops[nops++] = (op_first){r->group, r->seq, r->op};
        r->op_seq = ops[k].seq;
    }
    if (ngroups) memcpy(out->groups, groups, (size_t)ngroups * sizeof *groups);
    out->ngroups = ngroups;
    free(group_rank), free(groups), free(ops);
    qsort(out->rows, (size_t)out->nrows, sizeof *out->rows, compare_row_order);
    return BT_OK;
}

static bt_status match(const bt_cmp_set *sets, int nsets, const bt_cmp_options *o, bt_cmp_rows *out,
                       int choices) {
    memset(out, 0, sizeof *out);
    out->nsets = nsets;
    if (nsets < 1 || nsets > BT_CMP_MAX_SETS)
        return bt_fail(BT_EINVAL, "compare: 1 to %d result sets, not %d", BT_CMP_MAX_SETS, nsets);
    if (o->nthreads > 1 && o->nthreads != nsets)
        return bt_fail(BT_EINVAL,
                       "compare: --threads takes one count, or one per result set (%d), not %d",
                       nsets, o->nthreads);
    keyed_list l = {0};
    bt_status st = BT_OK;
    for (int s = 0; s < nsets && st == BT_OK; s++)
        st = choices ? collect_choices(&sets[s], s, nsets, o, &l)
                     : collect_runs(&sets[s], s, nsets, o, &l);
    if (st == BT_OK) st = join(&l, nsets, out);
    if (st == BT_OK) st = order_rows(out);
    free(l.items);
    if (st != BT_OK) bt_cmp_rows_free(out);
    return st;
}

bt_status bt_cmp_match_runs(const bt_cmp_set *sets, int nsets, const bt_cmp_options *o,
                            bt_cmp_rows *out) {
    return match(sets, nsets, o, out, 0);
}

bt_status bt_cmp_match_choices(const bt_cmp_set *sets, int nsets, const bt_cmp_options *o,
                               bt_cmp_rows *out) {
    return match(sets, nsets, o, out, 1);
}

void bt_cmp_rows_free(bt_cmp_rows *rows) {
    free(rows->groups);
    free(rows->rows);
    memset(rows, 0, sizeof *rows);
}

bt_cmp_geomean bt_cmp_geomean_of(const bt_cmp_rows *rows, int begin, int end, int set) {
    bt_cmp_geomean g = {0};
    double log_sum = 0;
    for (int i = begin; i < end; i++) {
        const bt_cmp_row *r = &rows->rows[i];
        if (!(r->speedup[set] > 0)) continue;
        log_sum += log(r->speedup[set]);
        g.count++;
        g.inside += r->noise[set] == BT_CMP_NOISE_INSIDE;
        g.unknown += r->noise[set] == BT_CMP_NOISE_UNKNOWN;
    }
    if (g.count) g.value = exp(log_sum / g.count);
    return g;
}

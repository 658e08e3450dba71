/* Tuning one key: the search strategies (default, exhaustive or coarse + refinement, screen +
 * confirm, optional full pass) over the candidate evaluation of candidate.c (search.h). */
#include "search.h"

#include "candidate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Variants the coarse pass samples at random: those whose defaults were fastest. */
#define COARSE_TOP_VARIANTS 3

/* Screening (search.h): SCREEN_SHARE of the key's budget goes to the search on the screen
 * problem, the rest confirms up to CONFIRM_MAX of its best candidates on the problem; a
 * variant is confirmed for its own sake only if the screen found it within LEADER_RATIO of the
 * best. */
#define SCREEN_SHARE 0.7
/* 1.2 was too tight: on a ResNet-50 3x3 bwd_w (256 channels, 14x14) at batch 32 the screen's
 * batch of 2 put the direct family at 1.29x the im2col one (fixed costs in |W| that batch 32
 * amortises), yet on the layer itself direct is 1.22x faster (387 against 317 GFLOP/s). */
#define LEADER_RATIO 2.0
#define CONFIRM_MAX 12
/* Confirmed whatever the budget says: without them the screen would have been for nothing. */
#define CONFIRM_MIN 3

void bt_tune_defaults(bt_tune_options *o) {
    *o = (bt_tune_options){.seconds = 10,
                           .max_evals = 1024,
                           .exhaustive = 0,
                           .check_max_flops = 5e6,
                           .seed = 1,
                           .screen = 1,
                           .screen_min_run_s = 0.004,
                           .screen_target_run_s = 0.0015,
                           .progress = NULL,
                           .progress_ctx = NULL};
}

void bt_tune_result_free(bt_tune_result *r) {
    bt_record_list_free(&r->records);
}
/* Coordinate descent from `start`: each dimension (threads, then each tunable parameter)
 * over all its values; moves to whatever is faster; stops after a sweep without a move. */
static void refine(bt_tuner *t, bt_config start) {
    t->best_config = start;
    bt_config cur = start;
    const bt_space_variant *v = &t->space.variants[start.variant];
    for (int moved = 1; moved && bt_tuner_budget_left(t);) {
        moved = 0;
        for (int dim = -1; dim < v->nparams && bt_tuner_budget_left(t); dim++) {
            int count = dim < 0 ? t->space.nthreads : v->params[dim].count + 1;
            if (dim >= 0 && count == 1) continue;
            int original = dim < 0 ? cur.threads : cur.choice[dim];
            for (int value = dim < 0 ? 0 : 1; value < count && bt_tuner_budget_left(t); value++) {
                if (value == original) continue;
                int before = t->best;
                bt_config candidate = cur;
                if (dim < 0)
                    candidate.threads = value;
                else
                    candidate.choice[dim] = value;
                bt_tuner_evaluate_config(t, &candidate);
                if (t->best != before) { /* the candidate is the new best */
                    cur = candidate;
                    moved = 1;
                }
            }
        }
    }
}

/* The space variants with a timed record, fastest first (at most `max`). */
static int ranked_variants(const bt_tuner *t, int *out, int max) {
    int n = 0;
    for (int v = 0; v < t->space.nvariants; v++) {
        int r = t->variant_best[v];
        if (r < 0) continue;
        double time = t->res->records.items[r].min_s;
        int at = n < max ? n++ : max;
        while (at > 0 && t->res->records.items[t->variant_best[out[at - 1]]].min_s > time) {
            if (at < max) out[at] = out[at - 1];
            at--;
        }
        if (at < max) out[at] = v;
    }
    return n;
}

/* Where the refinement starts: the best configuration, or when the default dispatch won,
 * that variant's defaults. 0 if there is none. */
static int refine_start(bt_tuner *t) {
    for (int v = 0; v < t->space.nvariants && !t->have_best_config && t->best >= 0; v++)
        if (!strcmp(t->space.variants[v].name, t->res->records.items[t->best].variant)) {
            t->best_config = (bt_config){.variant = v};
            t->have_best_config = 1;
        }
    return t->have_best_config;
}

/* Coordinate descent from the best configuration, then from the best of the fastest other
 * variant (a local optimum of one family can hide a better one of another). 0 if there was
 * nothing to start from. */
static int refine_best_and_runner_up(bt_tuner *t) {
    t->stage = "refine";
    if (!refine_start(t)) return 0;
    int first = t->best_config.variant;
    refine(t, t->best_config);
    int runner_up = -1;
    for (int v = 0; v < t->space.nvariants; v++)
        if (v != first && t->variant_best[v] >= 0 &&
            (runner_up < 0 || t->res->records.items[t->variant_best[v]].min_s <
                                  t->res->records.items[t->variant_best[runner_up]].min_s))
            runner_up = v;
    if (runner_up >= 0 && bt_tuner_budget_left(t)) refine(t, t->variant_config[runner_up]);
    return 1;
}

static void coarse_then_refine(bt_tuner *t) {
    int coarse_evals = t->o->max_evals / 2;
    t->stage = "coarse";
    /* Every variant's defaults, the caller's thread count first and the variants the
     * heuristic ranks highest first: on a big shape the budget may run out within this
     * pass, and then it must have gone to the fast families, not to naive or scalar code. */
    /* order: variants by priority; hopeless (n more): defaults abandoned at once (below). */
    int n = t->space.nvariants, *order = calloc((size_t)(n ? 2 * n : 1), sizeof *order);
    if (!order) return;
    int *hopeless = order + n;
    bt_shape shape;
    bt_shape_from_problem(t->p, &shape);
    for (int i = 0; i < n; i++) {
        int at = i, prio = bt_variant_priority(bt_registry_get(t->space.variants[i].index), &shape);
        while (at > 0 &&
               bt_variant_priority(bt_registry_get(t->space.variants[order[at - 1]].index),
                                   &shape) < prio) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    /* At fewer threads, only the variants that are not narrowed to their defaults (space.h)
     * and whose defaults were not abandoned at the caller's thread count: an AVX2, scalar or
     * naive build on one thread is the slowest candidate of a big problem (naive: 9.5 s of a
     * 10 s budget on a ResNet-50 1x1 bwd_d) and won none of the 176 keys tuned here before. */
    for (int th = 0; th < t->space.nthreads; th++)
        for (int i = 0; i < n && bt_tuner_budget_left(t); i++) {
            int v = order[i];
            if (th > 0 && (t->space.variants[v].narrowed || hopeless[v])) continue;
            bt_config c = {.variant = v, .threads = th};
            int before = t->res->records.count;
            bt_tuner_evaluate_config(t, &c);
            if (th > 0 || t->res->records.count == before) continue;
            const bt_record *r = &t->res->records.items[t->res->records.count - 1];
            hopeless[v] = r->status == BT_RECORD_TIMEOUT || (r->abandoned && r->reps <= 1);
        }
    free(order);
    /* Random configurations of the variants whose defaults did best, up to half the
     * evaluations and half the time: the rest is for the refinement. */
    int top[COARSE_TOP_VARIANTS], ntop = ranked_variants(t, top, COARSE_TOP_VARIANTS);
    double coarse_deadline = t->deadline - t->o->seconds / 2;
    uint64_t rng = t->o->seed;
    for (int tries = 0; ntop && tries < 8 * t->o->max_evals && t->res->evals < coarse_evals &&
                        bt_now() < coarse_deadline && bt_tuner_budget_left(t);
         tries++) {
        bt_config c;
        bt_space_random(&t->space, top[tries % ntop], &rng, &c);
        bt_tuner_evaluate_config(t, &c);
    }
    if (!refine_best_and_runner_up(t)) return;
    /* Both descents ended in a local optimum with budget to spare (on a 1x1 NHWC bwd_d at
     * batch 32: 5.6 s of 10 s, 6% short of the exhaustive best): random configurations of
     * the leading variants until it is spent, refining again from any that beats the best. */
    ntop = ranked_variants(t, top, COARSE_TOP_VARIANTS);
    for (int tries = 0; ntop && tries < 8 * t->o->max_evals && bt_tuner_budget_left(t); tries++) {
        int before = t->best;
        bt_config c;
        bt_space_random(&t->space, top[tries % ntop], &rng, &c);
        t->stage = "random";
        bt_tuner_evaluate_config(t, &c);
        t->stage = "refine";
        if (t->best != before && t->have_best_config && bt_tuner_budget_left(t))
            refine(t, t->best_config);
    }
}

static int compare_seen_times(const void *a, const void *b, void *records) {
    const bt_record *items = records;
    const bt_seen_entry *x = a, *y = b;
    double tx = items[x->record].min_s, ty = items[y->record].min_s;
    return tx < ty ? -1 : tx > ty;
}

/* The screen's timed candidates (its seen list, sorted in place), fastest first, reordered
 * so that the best of each of the COARSE_TOP_VARIANTS fastest variants within LEADER_RATIO
 * comes first: the screen's smaller batch can misjudge a family as a whole, not only the
 * parameters within one. Returns how many there are. */
static int confirm_order(const bt_tuner *screen) {
    const bt_record *items = screen->res->records.items;
    bt_seen_entry *order = screen->seen;
    int n = 0;
    for (int i = 0; i < screen->nseen; i++)
        if (order[i].record >= 0 && order[i].has_config &&
            items[order[i].record].status == BT_RECORD_OK)
            order[n++] = order[i];
    qsort_r(order, (size_t)n, sizeof *order, compare_seen_times, (void *)items);
    /* order[0..leaders) holds the first candidate of each variant met so far. */
    for (int i = 0, leaders = 0; i < n && leaders < COARSE_TOP_VARIANTS; i++) {
        if (items[order[i].record].min_s > LEADER_RATIO * items[order[0].record].min_s) break;
        int new_variant = 1;
        for (int j = 0; j < leaders && new_variant; j++)
            new_variant = order[j].config.variant != order[i].config.variant;
        if (!new_variant) continue;
        bt_seen_entry leader = order[i];
        memmove(order + leaders + 1, order + leaders, (size_t)(i - leaders) * sizeof *order);
        order[leaders++] = leader;
    }
    return n;
}

/* bwd_weights screens on a larger minibatch: its variants' costs in |W| (zeroing, summing
 * and transposing partial dW) do not shrink with the batch, and at a screen of 2 samples they
 * misrank families (ResNet-50 3x3 256-channel 14x14 layer: direct 1.91 ms at batch 2 against
 * 20.3/16 = 1.27 ms of its batch-32 run; at batch 8, 5.38 against 5.07 ms). */
#define BWD_W_SCREEN_FACTOR 4

static double screen_target(const bt_tune_options *o, const bt_problem *p) {
    return o->screen_target_run_s * (p->op == BT_CONV_BWD_WEIGHTS ? BWD_W_SCREEN_FACTOR : 1);
}

/* Coarse + refine on the screen problem, its best confirmed on the problem, then refinement
 * on the problem from the best of those with what is left of the budget. */
static void screen_then_confirm(bt_tuner *t, const bt_problem *screen) {
    bt_buffers screen_buffers;
    if (bt_buffers_alloc(&screen_buffers, screen) != BT_OK) {
        coarse_then_refine(t);
        return;
    }
    bt_tuner s = *t;
    s.p = screen;
    s.buffers = &screen_buffers;
    s.flops = bt_problem_flops(screen);
    s.seen = NULL, s.nseen = s.seen_cap = 0;
    s.best = -1, s.have_best_config = 0;
    s.screening = 1;
    s.have_probe = 0, s.wide_tried = 1; /* the screen problem is the small one already */
    s.check_case[0] = NULL; /* a check on the problem itself is one of the screen problem here */
    s.deadline = t->deadline - (1 - SCREEN_SHARE) * t->o->seconds;
    s.timing.rep_seconds = 3 * screen_target(t->o, t->p);
    coarse_then_refine(&s);
    t->check_case[1] = s.check_case[1]; /* the reduced problem's: shared, made lazily */
    bt_check_case_free(s.check_case[0]);
    bt_buffers_free(&screen_buffers);
    for (int v = 0; v < t->space.nvariants; v++) t->variant_best[v] = -1;

    t->stage = "confirm";
    int n = confirm_order(&s);
    for (int i = 0, confirmed = 0;
         i < n && confirmed < CONFIRM_MAX && (confirmed < CONFIRM_MIN || bt_tuner_budget_left(t));
         i++)
        confirmed += bt_tuner_evaluate_config(t, &s.seen[i].config) == BT_EVAL_TIMED;
    free(s.seen);
    if (bt_tuner_budget_left(t)) refine_best_and_runner_up(t);
}

/* The best ok timing among records (not a screen's nor a marker), of the budgeted search
 * only or including stage "full"; -1 if none. */
static int best_record(const bt_record *items, int count, int include_full) {
    int best = -1;
    for (int i = 0; i < count; i++) {
        const bt_record *r = &items[i];
        if (r->status != BT_RECORD_OK || bt_record_is_screen(r) || bt_record_is_marker(r) ||
            (!include_full && !strcmp(r->stage, "full")))
            continue;
        if (best < 0 || r->min_s < items[best].min_s) best = i;
    }
    return best;
}

/* Rounds of the paired re-timing: each times both plans (min of 5) in turn. */
#define PAIRED_ROUNDS 9

static bt_plan *plan_of_record(const bt_problem *p, const bt_record *r) {
    bt_plan *plan = NULL;
    if (bt_plan_create(&plan, p, r->variant, r->params) != BT_OK) return NULL;
    return plan;
}

/* Paired medians of the tuned choice and the exhaustive best, timed in alternation; the
 * recorded time of both when they are the same record. */
static bt_status retime_pair(const bt_problem *p, const bt_buffers *buffers, const bt_record *tuned,
                             const bt_record *full, double *tuned_s, double *full_s) {
    if (tuned == full) {
        *tuned_s = *full_s = tuned->min_s;
        return BT_OK;
    }
    bt_plan *plans[2] = {plan_of_record(p, tuned), plan_of_record(p, full)};
    bt_timing_options o;
    bt_timing_defaults(&o);
    o.max_reps = 5;
    o.min_reps = 5;
    o.rep_seconds = 0;
    double a[PAIRED_ROUNDS], b[PAIRED_ROUNDS];
    int n = 0;
    for (; plans[0] && plans[1] && n < PAIRED_ROUNDS; n++) {
        /* Which goes first alternates: the second of a round runs on caches and clocks the
         * first left behind. */
        bt_plan *first = plans[n % 2], *second = plans[1 - n % 2];
        bt_timing t1, t2;
        if (bt_time_plan(first, buffers, &o, &t1) != BT_OK ||
            bt_time_plan(second, buffers, &o, &t2) != BT_OK)
            break;
        a[n] = n % 2 ? t2.min_s : t1.min_s, b[n] = n % 2 ? t1.min_s : t2.min_s;
    }
    bt_plan_destroy(plans[0]);
    bt_plan_destroy(plans[1]);
    if (n < PAIRED_ROUNDS) return bt_fail(BT_EINVAL, "tuner: the paired re-timing failed");
    *tuned_s = bt_sort_median(a, n), *full_s = bt_sort_median(b, n);
    return BT_OK;
}

bt_status bt_tune_paired(const bt_problem *p, int threads, const bt_buffers *buffers,
                         const bt_record *known, int nknown, bt_record *marker) {
    int tuned = best_record(known, nknown, 0), full = best_record(known, nknown, 1);
    if (tuned < 0) return bt_fail(BT_EINVAL, "tuner: no tuned choice to re-time");
    double tuned_s = 0, full_s = 0;
    bt_status st = retime_pair(p, buffers, &known[tuned], &known[full], &tuned_s, &full_s);
    if (st != BT_OK) return st;
    bt_record_init(marker, p, threads);
    snprintf(marker->stage, sizeof marker->stage, "paired");
    snprintf(marker->variant, sizeof marker->variant, "%s", known[tuned].variant);
    snprintf(marker->params, sizeof marker->params, "%s", known[tuned].params);
    snprintf(marker->request, sizeof marker->request, "%.60s %.150s", known[full].variant,
             known[full].params);
    snprintf(marker->search, sizeof marker->search, "%s", known[tuned].search);
    marker->space_size = known[tuned].space_size;
    marker->status = BT_RECORD_OK;
    marker->paired_tuned_s = tuned_s, marker->paired_full_s = full_s;
    snprintf(marker->note, sizeof marker->note,
             "the tuned choice (variant, params) against the exhaustive best (request), timed in "
             "%d alternating rounds of min of 5: medians %.4g and %.4g s",
             PAIRED_ROUNDS, tuned_s, full_s);
    return BT_OK;
}

/* The tuner of key (p, threads) with out as its result: the space, timing options from the
 * budget, the reduced problem of the checks. */
static bt_status tuner_open(bt_tuner *t, const bt_problem *p, int threads,
                            const bt_buffers *buffers, const bt_tune_options *o,
                            bt_tune_result *out) {
    memset(out, 0, sizeof *out);
    out->default_index = out->best_index = out->full_best_index = -1;
    *t = (bt_tuner){.p = p, .threads = threads, .buffers = buffers, .o = o, .res = out, .best = -1};
    t->flops = bt_problem_flops(p);
    t->deadline = bt_now() + o->seconds;
    bt_timing_defaults(&t->timing);
    double per_candidate = o->seconds / (o->max_evals > 0 ? o->max_evals : 1);
    t->timing.rep_seconds = per_candidate / 2 < 0.02  ? 0.02
                            : per_candidate / 2 > 0.2 ? 0.2
                                                      : per_candidate / 2;
    t->timing.cap_seconds = o->seconds / 4 < 0.05 ? 0.05 : o->seconds / 4 > 5 ? 5 : o->seconds / 4;
    if (t->flops > o->check_max_flops) {
        t->check_reduced = bt_reduce_problem(p, o->check_max_flops, &t->reduced);
        bt_problem_format(&t->reduced, t->reduced_text, sizeof t->reduced_text);
    }
    bt_status st = bt_space_build(p, threads, &t->space);
    if (st != BT_OK) return st;
    int nv = t->space.nvariants ? t->space.nvariants : 1;
    t->variant_best = malloc((size_t)nv * sizeof *t->variant_best);
    t->variant_config = calloc((size_t)nv, sizeof *t->variant_config);
    if (!t->variant_best || !t->variant_config) {
        free(t->variant_best), free(t->variant_config);
        bt_space_free(&t->space);
        return bt_fail(BT_ENOMEM, "tuner: out of memory");
    }
    for (int v = 0; v < nv; v++) t->variant_best[v] = -1;
    out->space_size = bt_space_size(&t->space);
    return BT_OK;
}

static void tuner_close(bt_tuner *t) {
    free(t->variant_best);
    free(t->variant_config);
    free(t->seen);
    bt_check_case_free(t->check_case[0]);
    bt_check_case_free(t->check_case[1]);
    for (int i = 0; i < t->have_probe; i++) bt_buffers_free(&t->probe_buffers[i]);
    bt_space_free(&t->space);
}

/* The full stage over configurations [begin, end) of the space, then its marker. */
static void full_range(bt_tuner *t, int64_t begin, int64_t end) {
    t->stage = "full";
    /* Only the best of the space matters here: a candidate whose first runs are already far
     * behind it cannot be that, so it costs one or two runs, not three. */
    t->timing.warmup_ratio = 2.0;
    t->timing.abandon_reps = 1;
    int evals = t->res->full_evals;
    for (int64_t i = begin; i < end; i++) {
        bt_config c;
        bt_space_config(&t->space, i, &c);
        bt_tuner_evaluate_config(t, &c);
    }
    bt_record m;
    bt_record_init(&m, t->p, t->threads);
    snprintf(m.stage, sizeof m.stage, "slice");
    snprintf(m.variant, sizeof m.variant, "(full stage)");
    m.status = BT_RECORD_OK;
    m.slice_begin = begin, m.slice_end = end, m.slice_evals = t->res->full_evals - evals;
    snprintf(m.note, sizeof m.note,
             "full stage over configurations [%lld, %lld) of the space: %lld planned, checked "
             "and timed",
             (long long)begin, (long long)end, (long long)m.slice_evals);
    bt_tuner_push_record(t, &m);
}

bt_status bt_tune_full_slice(const bt_problem *p, int threads, const bt_buffers *buffers,
                             const bt_tune_options *o, const bt_record *known, int nknown,
                             int64_t begin, int64_t end, bt_tune_result *out) {
    memset(out, 0, sizeof *out);
    out->default_index = out->best_index = out->full_best_index = -1;
    bt_tune_result all;
    bt_tuner t;
    bt_status st = tuner_open(&t, p, threads, buffers, o, &all);
    if (st != BT_OK) return st;
    out->space_size = all.space_size;
    if (begin < 0 || begin > end || end > all.space_size) {
        st = bt_fail(BT_EINVAL, "tuner: configurations [%lld, %lld) are not in the space (%lld)",
                     (long long)begin, (long long)end, (long long)all.space_size);
        goto done;
    }
    char search[sizeof known->search] = "";
    for (int i = 0; i < nknown; i++) {
        if (strstr(known[i].search, "+full"))
            snprintf(search, sizeof search, "%s", known[i].search);
        if (!bt_record_is_screen(&known[i]) && !bt_record_is_marker(&known[i]))
            bt_tuner_know(&t, &known[i]);
    }
    int first = all.records.count;
    double start = bt_now();
    full_range(&t, begin, end);
    out->full_seconds = bt_now() - start;
    out->full_evals = all.full_evals;
    for (int i = first; i < all.records.count && st == BT_OK; i++) {
        bt_record *r = &all.records.items[i];
        snprintf(r->search, sizeof r->search, "%s", search);
        r->space_size = all.space_size;
        st = bt_record_list_push(&out->records, r);
    }
    out->full_best_index = best_record(out->records.items, out->records.count, 1);
done:
    bt_tune_result_free(&all);
    tuner_close(&t);
    return st;
}

bt_status bt_tune_key(const bt_problem *p, int threads, const bt_buffers *buffers,
                      const bt_tune_options *o, bt_tune_result *out) {
    bt_tuner t;
    bt_status st = tuner_open(&t, p, threads, buffers, o, out);
    if (st != BT_OK) return st;

    t.stage = "space";
    for (int i = 0; i < t.space.nskipped; i++) {
        bt_record r;
        bt_record_init(&r, p, threads);
        snprintf(r.stage, sizeof r.stage, "space");
        snprintf(r.variant, sizeof r.variant, "%s", t.space.skipped[i].name);
        r.status = BT_RECORD_UNSUPPORTED;
        snprintf(r.note, sizeof r.note, "%s", t.space.skipped[i].reason);
        bt_tuner_push_record(&t, &r);
    }

    t.stage = "default";
    char params[32];
    snprintf(params, sizeof params, "threads=%d", threads);
    /* Measured whatever the budget: with none left the cap would make the baseline a timeout. */
    double cap = t.timing.cap_seconds;
    t.timing.cap_seconds = 1e30;
    if (bt_tuner_evaluate(&t, NULL, params, NULL) == BT_EVAL_TIMED)
        out->default_index = out->records.count - 1;
    t.timing.cap_seconds = cap;
    if (out->default_index >= 0 &&
        out->records.items[out->default_index].status != BT_RECORD_INVALID)
        bt_tuner_probe_setup(&t, out->records.items[out->default_index].min_s);

    int64_t done_configs = 0;
    if (out->space_size <= BT_TUNE_SMALL_SPACE && out->space_size <= o->max_evals) {
        snprintf(out->search, sizeof out->search, "exhaustive");
        t.stage = "exhaustive";
        for (; done_configs < out->space_size && bt_tuner_budget_left(&t); done_configs++) {
            bt_config c;
            bt_space_config(&t.space, done_configs, &c);
            bt_tuner_evaluate_config(&t, &c);
        }
        out->covered = done_configs == out->space_size;
        if (!out->covered) snprintf(out->search, sizeof out->search, "exhaustive-cut");
    } else {
        const bt_record *def =
            out->default_index >= 0 ? &out->records.items[out->default_index] : NULL;
        double run_s = def && (def->status == BT_RECORD_OK || def->status == BT_RECORD_TIMEOUT)
                           ? def->min_s
                           : 0;
        bt_problem screen;
        if (o->screen && run_s >= o->screen_min_run_s &&
            bt_screen_problem(p, threads, run_s, screen_target(o, p), &screen)) {
            snprintf(out->search, sizeof out->search, "screen+confirm");
            screen_then_confirm(&t, &screen);
        } else {
            snprintf(out->search, sizeof out->search, "coarse+refine");
            coarse_then_refine(&t);
        }
    }
    if (o->exhaustive && !out->covered) {
        size_t n = strlen(out->search);
        snprintf(out->search + n, sizeof out->search - n, "+full");
    }
    if (o->exhaustive && o->exhaustive != BT_TUNE_FULL_LATER && !out->covered) {
        double full_start = bt_now();
        full_range(&t, 0, out->space_size);
        out->covered = 1;
        bt_record paired;
        if (bt_tune_paired(p, threads, buffers, out->records.items, out->records.count, &paired) ==
            BT_OK) {
            out->paired_tuned_s = paired.paired_tuned_s, out->paired_full_s = paired.paired_full_s;
            bt_tuner_push_record(&t, &paired);
        }
        out->full_seconds = bt_now() - full_start;
    }
    for (int i = 0; i < out->records.count; i++) {
        bt_record *r = &out->records.items[i];
        snprintf(r->search, sizeof r->search, "%s", out->search);
        r->space_size = out->space_size;
    }
    out->best_index = best_record(out->records.items, out->records.count, 0);
    out->full_best_index = best_record(out->records.items, out->records.count, 1);
    tuner_close(&t);
    return BT_OK;
}

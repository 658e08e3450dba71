/* Tuning one key: default, exhaustive or coarse + refinement, optional full pass (search.h). */
#include "search.h"

#include "check.h"
#include "space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EVAL_TIMED, EVAL_DUPLICATE, EVAL_PRUNED, EVAL_ERROR };

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

/* Untimed hopeless candidates. A run once started cannot be stopped, and one run of the naive
 * variant on the FC suite's 34-GFLOP layer took 60 s of a 7 s key budget. So on a problem whose
 * default run takes BT_TUNE_PROBE_MIN_DEFAULT_S or more, a candidate first runs on a "probe" copy
 * of it with the minibatch cut to PROBE_FLOPS (bt_cut_minibatch); scaled by the default's times
 * there and here, that predicts its run here. It is recorded untimed (status timeout) when the
 * fastest of PROBE_RUNS probe runs took PROBE_MIN_S or more and predicts a run PREDICT_MARGIN
 * times past where timing would give up on it anyway (warmup_ratio x the best so far, or the
 * cap). Short probe runs decide nothing: with a build on both cores a good kernel's
 * sub-millisecond run has come out 50x slower (a scheduler slice, not the kernel), so one fast
 * probe run clears a candidate and a slow one is repeated, unless it took PROBE_SURE_S (no
 * scheduler slice stretches a run that far). The probe is cut by FLOPs, not by the default's time,
 * which a loaded machine stretches: cut to 0.5 ms of a loaded default, a naive run fell under
 * PROBE_MIN_S. The reduced problem of the check would not do: at batch 1 an FC bwd_w is an
 * outer product, memory-bound for every variant, and there the naive run was not 8x the
 * fastest (95a32a0), against ~400x on the 1024-sample layer (0.42 against 174 GFLOP/s, Zen 4).
 * Not in stage "full": the exhaustive best is the best of every configuration timed. */
#define PROBE_FLOPS 64e6 /* FC, 2 threads, Zen 4: naive runs ~55 ms, GEMMs under 1 ms */
#define PROBE_MIN_S 0.02
#define PROBE_SURE_S 0.25
#define PROBE_RUNS 3
/* A candidate PROBE_BEHIND times slower than the default on the first probe is probed again
 * at PROBE_WIDE_MB samples (at most half the batch), and that decides. The naive bwd_w's batch
 * loop strides over rows of the layer (4096 floats on the big FC layers), and past the caches'
 * ways its time per sample grows (Zen 4, 2 threads: 5.3 GFLOP/s at batch 2, 6.3 at 8, 2.1 at
 * 16, 0.99 at 32, 0.87 at 64, 0.42 at 1024): batch 2 predicted 1 s for a 77 s run. 4 was too
 * high a bar: there the naive bwd_w was 3.7x the default at batch 2. */
#define PROBE_BEHIND 2.0
#define PROBE_WIDE_MB 32
/* The default's probe runs are sub-millisecond and a loaded machine stretches them, which
 * makes every prediction short: with the fastest of 3 the test missed the naive variant under
 * load; 20 cost ~10 ms. */
#define PROBE_DEFAULT_RUNS 20
#define PREDICT_MARGIN 4.0

typedef struct seen_entry {
    char key[BT_PARAMS_TEXT + 160]; /* "variant|params" (requested or planned) */
    int record;                     /* its record, -1 if none */
    bt_config config;               /* its place in the space, when has_config */
    int has_config;
} seen_entry;

typedef struct tuner {
    const bt_problem *p;
    int threads;
    const bt_buffers *buffers;
    const bt_tune_options *o;
    bt_tune_result *res;
    bt_space space;
    bt_timing_options timing;
    double deadline, flops;
    bt_problem reduced;
    int check_reduced;
    char reduced_text[200];
    /* Probes (BT_TUNE_PROBE_MIN_DEFAULT_S): [0] cut by FLOPs, [1] at PROBE_WIDE_MB samples, made
     * when first needed; have_probe counts the ready ones, probe_default_s[i] is the default's
     * fastest run on probe[i], default_s its run here. */
    bt_problem probe[2];
    bt_buffers probe_buffers[2];
    int have_probe, wide_tried;
    double probe_default_s[2], default_s;
    bt_check_case *check_case[2]; /* inputs and reference, made once: [0] full, [1] reduced */
    seen_entry *seen;
    int nseen, seen_cap;
    const char *stage;
    int screening;         /* timing the screen problem: records' stages are "screen-..." */
    int best;              /* best ok record so far (any stage), -1 none */
    bt_config best_config; /* its configuration, when it came from the space */
    int have_best_config;
    int *variant_best;         /* per space variant: best record, -1 none */
    bt_config *variant_config; /* and its configuration */
} tuner;

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

static int budget_left(const tuner *t) {
    if (!strcmp(t->stage, "full")) return 1;
    return t->res->evals < t->o->max_evals && bt_now() < t->deadline;
}

static int find_seen(const tuner *t, const char *key) {
    for (int i = 0; i < t->nseen; i++)
        if (!strcmp(t->seen[i].key, key)) return i;
    return -1;
}

static void add_seen(tuner *t, const char *key, int record, const bt_config *cfg) {
    if (t->nseen == t->seen_cap) {
        int cap = t->seen_cap ? 2 * t->seen_cap : 64;
        seen_entry *s = realloc(t->seen, (size_t)cap * sizeof *s);
        if (!s) return; /* only costs a repeated evaluation */
        t->seen = s, t->seen_cap = cap;
    }
    seen_entry *e = &t->seen[t->nseen++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->record = record;
    e->has_config = cfg != NULL;
    if (cfg) e->config = *cfg;
}

static void stage_name(const tuner *t, char *out, size_t size) {
    snprintf(out, size, "%s%s", t->screening ? "screen-" : "", t->stage);
}

static int push_record(tuner *t, const bt_record *r) {
    if (bt_record_list_push(&t->res->records, r) != BT_OK) return -1;
    return t->res->records.count - 1;
}

/* The candidate's plan on a smaller copy q of its problem: with the plan's exact parameters
 * (returns 1), else with the requested ones re-derived for q (2), else none (0). */
static int plan_smaller(const bt_problem *q, bt_plan *plan, const char *requested, bt_plan **out) {
    const char *variant = bt_plan_variant(plan);
    if (bt_plan_create(out, q, variant, bt_plan_params(plan)) == BT_OK) return 1;
    if (bt_plan_create(out, q, variant, requested) == BT_OK) return 2;
    return 0;
}

/* Checks the candidate against the reference: on the reduced problem when the full one is
 * too costly (with the plan's exact parameters, else the requested ones re-derived for the
 * smaller shape, else the full problem). Returns 1 if it passed; else 0 with the reason. */
static int check_candidate(tuner *t, bt_plan *plan, const char *requested, bt_record *r) {
    bt_check_options opt = {.mode = BT_CHECK_EXACT, .seed = 11, .with_bias = 1};
    bt_check_result res;
    bt_plan *small = NULL;
    if (t->check_reduced) {
        int how = plan_smaller(&t->reduced, plan, requested, &small);
        if (how == 1)
            snprintf(r->check, sizeof r->check, "exact on reduced '%s'", t->reduced_text);
        else if (how == 2)
            snprintf(r->check, sizeof r->check,
                     "exact on reduced '%.180s' (its defaults for the smaller shape)",
                     t->reduced_text);
        else
            snprintf(r->check, sizeof r->check, "exact (the reduced problem was refused)");
    } else {
        snprintf(r->check, sizeof r->check, "exact");
    }
    bt_plan *checked = small ? small : plan;
    bt_check_case **cc = &t->check_case[small ? 1 : 0];
    bt_status st = *cc ? BT_OK : bt_check_case_create(checked, &opt, cc);
    if (st == BT_OK) st = bt_check_plan_case(checked, *cc, &res);
    bt_plan_destroy(small);
    if (st != BT_OK) {
        snprintf(r->note, sizeof r->note, "the check could not run: %s", bt_last_error());
        return 0;
    }
    if (res.approximate) /* exact sums do not apply: checked to the variant's bound */
        snprintf(r->check + strlen(r->check), sizeof r->check - strlen(r->check),
                 ", approximate: exact mode does not apply, checked to its bound (%g x the "
                 "direct one)",
                 res.error_factor);
    if (!res.pass) {
        snprintf(r->note, sizeof r->note, "wrong result: %.200s (%lld bad)", res.detail,
                 (long long)res.bad_count);
        return 0;
    }
    return 1;
}

/* Where the timing of a candidate gives up on it after one run. */
static double give_up_limit(const tuner *t) {
    double limit = t->timing.cap_seconds;
    if (t->best >= 0) {
        double past_best = t->timing.warmup_ratio * t->res->records.items[t->best].min_s;
        limit = past_best < limit ? past_best : limit;
    }
    return limit;
}

/* Makes probe[level] (t->probe[level] set by the caller) and times the default dispatch on
 * it. Returns 1 if it is ready. */
static int probe_make(tuner *t, int level) {
    if (bt_buffers_alloc(&t->probe_buffers[level], &t->probe[level]) != BT_OK) return 0;
    char params[32];
    snprintf(params, sizeof params, "threads=%d", t->threads);
    bt_plan *plan = NULL;
    int ok = bt_plan_create(&plan, &t->probe[level], NULL, params) == BT_OK &&
             bt_time_min(plan, &t->probe_buffers[level], PROBE_DEFAULT_RUNS,
                         &t->probe_default_s[level]) == BT_OK &&
             t->probe_default_s[level] > 0;
    bt_plan_destroy(plan);
    if (ok)
        t->have_probe = level + 1;
    else
        bt_buffers_free(&t->probe_buffers[level]);
    return ok;
}

static void probe_setup(tuner *t, double default_s) {
    t->default_s = default_s;
    if (default_s >= BT_TUNE_PROBE_MIN_DEFAULT_S &&
        bt_cut_minibatch(t->p, t->threads, t->flops, PROBE_FLOPS, &t->probe[0]))
        probe_make(t, 0);
}

/* The wide probe, once a candidate has been far behind the default on the first. */
static int probe_wide(tuner *t) {
    if (t->have_probe > 1) return 1;
    if (t->wide_tried) return 0;
    t->wide_tried = 1;
    t->probe[1] = *t->p;
    t->probe[1].n = t->p->n / 2 < PROBE_WIDE_MB ? t->p->n / 2 : PROBE_WIDE_MB;
    t->probe[1].n -= t->probe[1].n % t->threads;
    return t->probe[1].n > t->probe[0].n && probe_make(t, 1);
}

/* Runs the candidate on probe[level]: the fastest of up to PROBE_RUNS runs (one if it clears
 * it) and the run it predicts here. Returns 0 if it could not run there. */
static int probe_run(tuner *t, int level, bt_plan *plan, const char *requested, double limit,
                     double *fastest, double *predicted, int *runs, int *is_hopeless) {
    bt_plan *probe = NULL;
    if (!plan_smaller(&t->probe[level], plan, requested, &probe)) return 0;
    *runs = *is_hopeless = 0;
    while (*runs < PROBE_RUNS) {
        double s;
        if (bt_time_min(probe, &t->probe_buffers[level], 1, &s) != BT_OK) break;
        *fastest = (*runs)++ == 0 || s < *fastest ? s : *fastest;
        *predicted = *fastest / t->probe_default_s[level] * t->default_s;
        *is_hopeless = *fastest >= PROBE_MIN_S && *predicted > limit;
        if (!*is_hopeless || *fastest >= PROBE_SURE_S) break;
    }
    bt_plan_destroy(probe);
    return *runs > 0;
}

/* Probes the candidate; returns 1 if it is hopeless. `note`: what the probe found. */
static int hopeless(tuner *t, bt_plan *plan, const char *requested, char *note, size_t size) {
    double limit = PREDICT_MARGIN * give_up_limit(t), fastest = 0, predicted = 0;
    int runs = 0, is_hopeless = 0, level = 0;
    if (!probe_run(t, 0, plan, requested, limit, &fastest, &predicted, &runs, &is_hopeless))
        return 0;
    if (!is_hopeless && fastest > PROBE_BEHIND * t->probe_default_s[0] && probe_wide(t)) {
        level = 1;
        if (!probe_run(t, 1, plan, requested, limit, &fastest, &predicted, &runs, &is_hopeless))
            return 0;
    }
    snprintf(note, size,
             "its fastest of %d runs on mb%lld took %.3g s (the default %.3g s), "
             "predicting %.3g s here, %s %.3g s",
             runs, (long long)t->probe[level].n, fastest, t->probe_default_s[level], predicted,
             is_hopeless ? "over" : "within", limit);
    return is_hopeless;
}

static void report(tuner *t, int record) {
    if (!t->o->progress) return;
    double left = t->deadline - bt_now();
    char stage[24];
    stage_name(t, stage, sizeof stage);
    bt_tune_progress pr = {.stage = stage,
                           .evals = t->res->evals,
                           .max_evals = t->o->max_evals,
                           .seconds_left = left > 0 ? left : 0,
                           .best = t->best >= 0 ? &t->res->records.items[t->best] : NULL,
                           .latest = record >= 0 ? &t->res->records.items[record] : NULL};
    t->o->progress(t->o->progress_ctx, &pr);
}

/* Keeps the best record (overall and per variant) and the configuration that made it;
 * `record` may have been made before by an identical plan. */
static void note_result(tuner *t, int record, const bt_config *cfg) {
    if (record < 0 || t->res->records.items[record].status != BT_RECORD_OK) return;
    double time = t->res->records.items[record].min_s;
    if (t->best < 0 || time < t->res->records.items[t->best].min_s) {
        t->best = record;
        t->have_best_config = 0;
    }
    if (t->best == record && cfg) t->best_config = *cfg, t->have_best_config = 1;
    if (cfg) {
        int *vb = &t->variant_best[cfg->variant];
        if (*vb < 0 || time < t->res->records.items[*vb].min_s)
            *vb = record, t->variant_config[cfg->variant] = *cfg;
    }
}

/* Plans, checks and times one candidate (variant NULL: the default dispatch). `cfg` is its
 * place in the space, when it has one. */
static int evaluate(tuner *t, const char *variant, const char *params, const bt_config *cfg) {
    char key[sizeof t->seen[0].key];
    snprintf(key, sizeof key, "req:%s|%s", variant ? variant : "(dispatch)", params);
    int seen = find_seen(t, key);
    bt_record r;
    bt_record_init(&r, t->p, t->threads);
    stage_name(t, r.stage, sizeof r.stage);
    snprintf(r.request, sizeof r.request, "%s", params);
    bt_plan *plan = NULL;
    if (seen < 0 && bt_plan_create(&plan, t->p, variant, params) != BT_OK) {
        snprintf(r.variant, sizeof r.variant, "%s", variant ? variant : "(default dispatch)");
        snprintf(r.params, sizeof r.params, "%s", params);
        r.status = BT_RECORD_UNSUPPORTED;
        snprintf(r.note, sizeof r.note, "%s", bt_last_error());
        add_seen(t, key, push_record(t, &r), cfg);
        return EVAL_PRUNED;
    }
    if (seen < 0) {
        snprintf(key, sizeof key, "plan:%s|%s", bt_plan_variant(plan), bt_plan_params(plan));
        seen = find_seen(t, key);
    }
    if (seen >= 0) { /* the same plan as one evaluated already */
        bt_plan_destroy(plan);
        note_result(t, t->seen[seen].record, cfg);
        return EVAL_DUPLICATE;
    }
    snprintf(r.variant, sizeof r.variant, "%s", bt_plan_variant(plan));
    snprintf(r.params, sizeof r.params, "%s", bt_plan_params(plan));
    t->res->evals++;
    int ok = check_candidate(t, plan, params, &r);
    char probe_note[160] = "";
    if (ok && variant && t->have_probe && strcmp(t->stage, "full") &&
        hopeless(t, plan, params, probe_note, sizeof probe_note)) {
        r.status = BT_RECORD_TIMEOUT;
        snprintf(r.note, sizeof r.note, "not timed: %s", probe_note);
    } else if (ok) {
        bt_timing tm;
        t->timing.best_seconds = t->best >= 0 ? t->res->records.items[t->best].min_s : 0;
        if (bt_time_plan(plan, t->buffers, &t->timing, &tm) != BT_OK) {
            snprintf(r.note, sizeof r.note, "execution failed: %s", bt_last_error());
            ok = 0;
        } else {
            r.min_s = tm.min_s, r.median_s = tm.median_s, r.spread = tm.spread, r.reps = tm.reps;
            r.abandoned = tm.abandoned;
            r.gflops = t->flops / tm.min_s * 1e-9;
            r.gflops_median = t->flops / tm.median_s * 1e-9;
            if (tm.timed_out) {
                r.status = BT_RECORD_TIMEOUT;
                snprintf(r.note, sizeof r.note, "one run took %.3g s, over the %.3g s cap%s%s",
                         tm.warmup_s, t->timing.cap_seconds, *probe_note ? "; " : "", probe_note);
            }
            if (tm.abandoned && !tm.timed_out)
                snprintf(r.note, sizeof r.note, "abandoned: over %.2fx the best so far",
                         t->timing.abandon_ratio);
        }
    }
    if (!ok) r.status = BT_RECORD_INVALID;
    bt_plan_destroy(plan);
    int keep = 1;
    if (!strcmp(t->stage, "full")) {
        t->res->full_evals++;
        keep = r.status != BT_RECORD_OK || t->best < 0 ||
               r.min_s < t->res->records.items[t->best].min_s;
    }
    int index = keep ? push_record(t, &r) : -1;
    add_seen(t, key, index, cfg);
    note_result(t, index, cfg);
    report(t, index);
    return index >= 0 || !keep ? EVAL_TIMED : EVAL_ERROR;
}

static int evaluate_config(tuner *t, const bt_config *c) {
    char params[BT_PARAMS_TEXT];
    bt_space_params(&t->space, c, params, sizeof params);
    return evaluate(t, t->space.variants[c->variant].name, params, c);
}

/* Coordinate descent from `start`: each dimension (threads, then each tunable parameter)
 * over all its values; moves to whatever is faster; stops after a sweep without a move. */
static void refine(tuner *t, bt_config start) {
    t->best_config = start;
    bt_config cur = start;
    const bt_space_variant *v = &t->space.variants[start.variant];
    for (int moved = 1; moved && budget_left(t);) {
        moved = 0;
        for (int dim = -1; dim < v->nparams && budget_left(t); dim++) {
            int count = dim < 0 ? t->space.nthreads : v->params[dim].count + 1;
            if (dim >= 0 && count == 1) continue;
            int original = dim < 0 ? cur.threads : cur.choice[dim];
            for (int value = dim < 0 ? 0 : 1; value < count && budget_left(t); value++) {
                if (value == original) continue;
                int before = t->best;
                bt_config candidate = cur;
                if (dim < 0)
                    candidate.threads = value;
                else
                    candidate.choice[dim] = value;
                evaluate_config(t, &candidate);
                if (t->best != before) { /* the candidate is the new best */
                    cur = candidate;
                    moved = 1;
                }
            }
        }
    }
}

/* The space variants with a timed record, fastest first (at most `max`). */
static int ranked_variants(const tuner *t, int *out, int max) {
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
static int refine_start(tuner *t) {
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
static int refine_best_and_runner_up(tuner *t) {
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
    if (runner_up >= 0 && budget_left(t)) refine(t, t->variant_config[runner_up]);
    return 1;
}

static void coarse_then_refine(tuner *t) {
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
        for (int i = 0; i < n && budget_left(t); i++) {
            int v = order[i];
            if (th > 0 && (t->space.variants[v].narrowed || hopeless[v])) continue;
            bt_config c = {.variant = v, .threads = th};
            int before = t->res->records.count;
            evaluate_config(t, &c);
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
                        bt_now() < coarse_deadline && budget_left(t);
         tries++) {
        bt_config c;
        bt_space_random(&t->space, top[tries % ntop], &rng, &c);
        evaluate_config(t, &c);
    }
    if (!refine_best_and_runner_up(t)) return;
    /* Both descents ended in a local optimum with budget to spare (on a 1x1 NHWC bwd_d at
     * batch 32: 5.6 s of 10 s, 6% short of the exhaustive best): random configurations of
     * the leading variants until it is spent, refining again from any that beats the best. */
    ntop = ranked_variants(t, top, COARSE_TOP_VARIANTS);
    for (int tries = 0; ntop && tries < 8 * t->o->max_evals && budget_left(t); tries++) {
        int before = t->best;
        bt_config c;
        bt_space_random(&t->space, top[tries % ntop], &rng, &c);
        t->stage = "random";
        evaluate_config(t, &c);
        t->stage = "refine";
        if (t->best != before && t->have_best_config && budget_left(t)) refine(t, t->best_config);
    }
}

static int compare_seen_times(const void *a, const void *b, void *records) {
    const bt_record *items = records;
    const seen_entry *x = a, *y = b;
    double tx = items[x->record].min_s, ty = items[y->record].min_s;
    return tx < ty ? -1 : tx > ty;
}

/* The screen's timed candidates (its seen list, sorted in place), fastest first, reordered
 * so that the best of each of the COARSE_TOP_VARIANTS fastest variants within LEADER_RATIO
 * comes first: the screen's smaller batch can misjudge a family as a whole, not only the
 * parameters within one. Returns how many there are. */
static int confirm_order(const tuner *screen) {
    const bt_record *items = screen->res->records.items;
    seen_entry *order = screen->seen;
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
        seen_entry leader = order[i];
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
static void screen_then_confirm(tuner *t, const bt_problem *screen) {
    bt_buffers screen_buffers;
    if (bt_buffers_alloc(&screen_buffers, screen) != BT_OK) {
        coarse_then_refine(t);
        return;
    }
    tuner s = *t;
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
         i < n && confirmed < CONFIRM_MAX && (confirmed < CONFIRM_MIN || budget_left(t)); i++)
        confirmed += evaluate_config(t, &s.seen[i].config) == EVAL_TIMED;
    free(s.seen);
    if (budget_left(t)) refine_best_and_runner_up(t);
}

static int best_record(const bt_record_list *l, int include_full) {
    int best = -1;
    for (int i = 0; i < l->count; i++) {
        const bt_record *r = &l->items[i];
        if (r->status != BT_RECORD_OK || bt_record_is_screen(r) ||
            (!include_full && !strcmp(r->stage, "full")))
            continue;
        if (best < 0 || r->min_s < l->items[best].min_s) best = i;
    }
    return best;
}

/* Rounds of the paired re-timing: each times both plans (min of 5) in turn. */
#define PAIRED_ROUNDS 9

static bt_plan *plan_of_record(const tuner *t, int record) {
    const bt_record *r = &t->res->records.items[record];
    bt_plan *plan = NULL;
    if (bt_plan_create(&plan, t->p, r->variant, r->params) != BT_OK) return NULL;
    return plan;
}

static void paired_retime(tuner *t) {
    bt_tune_result *out = t->res;
    if (out->best_index < 0 || out->full_best_index < 0) return;
    if (out->best_index == out->full_best_index) {
        out->paired_tuned_s = out->paired_full_s = out->records.items[out->best_index].min_s;
        return;
    }
    bt_plan *tuned = plan_of_record(t, out->best_index);
    bt_plan *full = plan_of_record(t, out->full_best_index);
    bt_timing_options o;
    bt_timing_defaults(&o);
    o.max_reps = 5;
    o.min_reps = 5;
    o.rep_seconds = 0;
    double a[PAIRED_ROUNDS], b[PAIRED_ROUNDS];
    int n = 0;
    for (; tuned && full && n < PAIRED_ROUNDS; n++) {
        /* Which goes first alternates: the second of a round runs on caches and clocks the
         * first left behind. */
        bt_plan *first = n % 2 ? full : tuned, *second = n % 2 ? tuned : full;
        bt_timing t1, t2;
        if (bt_time_plan(first, t->buffers, &o, &t1) != BT_OK ||
            bt_time_plan(second, t->buffers, &o, &t2) != BT_OK)
            break;
        a[n] = n % 2 ? t2.min_s : t1.min_s, b[n] = n % 2 ? t1.min_s : t2.min_s;
    }
    if (n == PAIRED_ROUNDS)
        out->paired_tuned_s = bt_sort_median(a, n), out->paired_full_s = bt_sort_median(b, n);
    bt_plan_destroy(tuned);
    bt_plan_destroy(full);
}

bt_status bt_tune_key(const bt_problem *p, int threads, const bt_buffers *buffers,
                      const bt_tune_options *o, bt_tune_result *out) {
    memset(out, 0, sizeof *out);
    out->default_index = out->best_index = out->full_best_index = -1;
    tuner t = {.p = p, .threads = threads, .buffers = buffers, .o = o, .res = out, .best = -1};
    t.flops = bt_problem_flops(p);
    t.deadline = bt_now() + o->seconds;
    bt_timing_defaults(&t.timing);
    double per_candidate = o->seconds / (o->max_evals > 0 ? o->max_evals : 1);
    t.timing.rep_seconds = per_candidate / 2 < 0.02  ? 0.02
                           : per_candidate / 2 > 0.2 ? 0.2
                                                     : per_candidate / 2;
    t.timing.cap_seconds = o->seconds / 4 < 0.05 ? 0.05 : o->seconds / 4 > 5 ? 5 : o->seconds / 4;
    if (t.flops > o->check_max_flops) {
        t.check_reduced = bt_reduce_problem(p, o->check_max_flops, &t.reduced);
        bt_problem_format(&t.reduced, t.reduced_text, sizeof t.reduced_text);
    }
    bt_status st = bt_space_build(p, threads, &t.space);
    if (st != BT_OK) return st;
    int nv = t.space.nvariants ? t.space.nvariants : 1;
    t.variant_best = malloc((size_t)nv * sizeof *t.variant_best);
    t.variant_config = calloc((size_t)nv, sizeof *t.variant_config);
    if (!t.variant_best || !t.variant_config) {
        st = bt_fail(BT_ENOMEM, "tuner: out of memory");
        goto done;
    }
    for (int v = 0; v < nv; v++) t.variant_best[v] = -1;
    out->space_size = bt_space_size(&t.space);

    t.stage = "space";
    for (int i = 0; i < t.space.nskipped; i++) {
        bt_record r;
        bt_record_init(&r, p, threads);
        snprintf(r.stage, sizeof r.stage, "space");
        snprintf(r.variant, sizeof r.variant, "%s", t.space.skipped[i].name);
        r.status = BT_RECORD_UNSUPPORTED;
        snprintf(r.note, sizeof r.note, "%s", t.space.skipped[i].reason);
        push_record(&t, &r);
    }

    t.stage = "default";
    char params[32];
    snprintf(params, sizeof params, "threads=%d", threads);
    /* Measured whatever the budget: with none left the cap would make the baseline a timeout. */
    double cap = t.timing.cap_seconds;
    t.timing.cap_seconds = 1e30;
    if (evaluate(&t, NULL, params, NULL) == EVAL_TIMED) out->default_index = out->records.count - 1;
    t.timing.cap_seconds = cap;
    if (out->default_index >= 0 &&
        out->records.items[out->default_index].status != BT_RECORD_INVALID)
        probe_setup(&t, out->records.items[out->default_index].min_s);

    int64_t done_configs = 0;
    if (out->space_size <= BT_TUNE_SMALL_SPACE && out->space_size <= o->max_evals) {
        snprintf(out->search, sizeof out->search, "exhaustive");
        t.stage = "exhaustive";
        for (; done_configs < out->space_size && budget_left(&t); done_configs++) {
            bt_config c;
            bt_space_config(&t.space, done_configs, &c);
            evaluate_config(&t, &c);
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
        t.stage = "full";
        /* Only the best of the space matters here: a candidate whose first runs are
         * already far behind it cannot be that, so it costs one or two runs, not three. */
        t.timing.warmup_ratio = 2.0;
        t.timing.abandon_reps = 1;
        double full_start = bt_now();
        for (int64_t i = 0; i < out->space_size; i++) {
            bt_config c;
            bt_space_config(&t.space, i, &c);
            evaluate_config(&t, &c);
        }
        out->covered = 1;
        out->best_index = best_record(&out->records, 0);
        out->full_best_index = best_record(&out->records, 1);
        paired_retime(&t);
        out->full_seconds = bt_now() - full_start;
        size_t n = strlen(out->search);
        snprintf(out->search + n, sizeof out->search - n, "+full");
    }
    for (int i = 0; i < out->records.count; i++) {
        bt_record *r = &out->records.items[i];
        snprintf(r->search, sizeof r->search, "%s", out->search);
        r->space_size = out->space_size;
    }
    out->best_index = best_record(&out->records, 0);
    out->full_best_index = best_record(&out->records, 1);
done:
    free(t.variant_best);
    free(t.variant_config);
    free(t.seen);
    bt_check_case_free(t.check_case[0]);
    bt_check_case_free(t.check_case[1]);
    for (int i = 0; i < t.have_probe; i++) bt_buffers_free(&t.probe_buffers[i]);
    bt_space_free(&t.space);
    return st;
}

/* Evaluating one tuning candidate (candidate.h). */
#include "candidate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int bt_tuner_budget_left(const bt_tuner *t) {
    if (!strcmp(t->stage, "full")) return 1;
    return t->res->evals < t->o->max_evals && bt_now() < t->deadline;
}

static int find_seen(const bt_tuner *t, const char *key) {
    for (int i = 0; i < t->nseen; i++)
        if (!strcmp(t->seen[i].key, key)) return i;
    return -1;
}

static void add_seen(bt_tuner *t, const char *key, int record, const bt_config *cfg) {
    if (t->nseen == t->seen_cap) {
        int cap = t->seen_cap ? 2 * t->seen_cap : 64;
        bt_seen_entry *s = realloc(t->seen, (size_t)cap * sizeof *s);
        if (!s) return; /* only costs a repeated evaluation */
        t->seen = s, t->seen_cap = cap;
    }
    bt_seen_entry *e = &t->seen[t->nseen++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->record = record;
    e->has_config = cfg != NULL;
    if (cfg) e->config = *cfg;
}

static void stage_name(const bt_tuner *t, char *out, size_t size) {
    snprintf(out, size, "%s%s", t->screening ? "screen-" : "", t->stage);
}

int bt_tuner_push_record(bt_tuner *t, const bt_record *r) {
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
static int check_candidate(bt_tuner *t, bt_plan *plan, const char *requested, bt_record *r) {
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
static double give_up_limit(const bt_tuner *t) {
    double limit = t->timing.cap_seconds;
    if (t->best >= 0) {
        double past_best = t->timing.warmup_ratio * t->res->records.items[t->best].min_s;
        limit = past_best < limit ? past_best : limit;
    }
    return limit;
}

/* Makes probe[level] (t->probe[level] set by the caller) and times the default dispatch on
 * it. Returns 1 if it is ready. */
static int probe_make(bt_tuner *t, int level) {
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

void bt_tuner_probe_setup(bt_tuner *t, double default_s) {
    t->default_s = default_s;
    if (default_s >= BT_TUNE_PROBE_MIN_DEFAULT_S &&
        bt_cut_minibatch(t->p, t->threads, t->flops, PROBE_FLOPS, &t->probe[0]))
        probe_make(t, 0);
}

/* The wide probe, once a candidate has been far behind the default on the first. */
static int probe_wide(bt_tuner *t) {
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
static int probe_run(bt_tuner *t, int level, bt_plan *plan, const char *requested, double limit,
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
static int hopeless(bt_tuner *t, bt_plan *plan, const char *requested, char *note, size_t size) {
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

static void report(bt_tuner *t, int record) {
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
static void note_result(bt_tuner *t, int record, const bt_config *cfg) {
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

void bt_tuner_know(bt_tuner *t, const bt_record *r) {
    int index = bt_tuner_push_record(t, r);
    char key[sizeof t->seen[0].key];
    if (strcmp(r->stage, "default")) { /* the default dispatch was asked for without a variant */
        snprintf(key, sizeof key, "req:%s|%s", r->variant, r->request);
        add_seen(t, key, index, NULL);
    }
    if (r->status != BT_RECORD_UNSUPPORTED) {
        snprintf(key, sizeof key, "plan:%s|%s", r->variant, r->params);
        add_seen(t, key, index, NULL);
    }
    note_result(t, index, NULL);
}

/* Plans, checks and times one candidate (variant NULL: the default dispatch). `cfg` is its
 * place in the space, when it has one. */
int bt_tuner_evaluate(bt_tuner *t, const char *variant, const char *params, const bt_config *cfg) {
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
        add_seen(t, key, bt_tuner_push_record(t, &r), cfg);
        return BT_EVAL_PRUNED;
    }
    if (seen < 0) {
        snprintf(key, sizeof key, "plan:%s|%s", bt_plan_variant(plan), bt_plan_params(plan));
        seen = find_seen(t, key);
    }
    if (seen >= 0) { /* the same plan as one evaluated already */
        bt_plan_destroy(plan);
        note_result(t, t->seen[seen].record, cfg);
        return BT_EVAL_DUPLICATE;
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
    int index = keep ? bt_tuner_push_record(t, &r) : -1;
    add_seen(t, key, index, cfg);
    note_result(t, index, cfg);
    report(t, index);
    return index >= 0 || !keep ? BT_EVAL_TIMED : BT_EVAL_ERROR;
}

int bt_tuner_evaluate_config(bt_tuner *t, const bt_config *c) {
    char params[BT_PARAMS_TEXT];
    bt_space_params(&t->space, c, params, sizeof params);
    return bt_tuner_evaluate(t, t->space.variants[c->variant].name, params, c);
}

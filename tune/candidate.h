/* Evaluating one tuning candidate (the search's building block, search.c drives it): plan it,
 * skip it when an identical plan was evaluated, check it against the reference, probe a slow
 * one for hopelessness, time it, and keep its record and the best so far. */
#ifndef BT_TUNE_CANDIDATE_H
#define BT_TUNE_CANDIDATE_H

#include "check.h"
#include "search.h"
#include "space.h"

/* What bt_tuner_evaluate did with a candidate. */
enum { BT_EVAL_TIMED, BT_EVAL_DUPLICATE, BT_EVAL_PRUNED, BT_EVAL_ERROR };

typedef struct bt_seen_entry {
    char key[BT_PARAMS_TEXT + 160]; /* "variant|params" (requested or planned) */
    int record;                     /* its record, -1 if none */
    bt_config config;               /* its place in the space, when has_config */
    int has_config;
} bt_seen_entry;

typedef struct bt_tuner {
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
    bt_seen_entry *seen;
    int nseen, seen_cap;
    const char *stage;
    int screening;         /* timing the screen problem: records' stages are "screen-..." */
    int best;              /* best ok record so far (any stage), -1 none */
    bt_config best_config; /* its configuration, when it came from the space */
    int have_best_config;
    int *variant_best;         /* per space variant: best record, -1 none */
    bt_config *variant_config; /* and its configuration */
} bt_tuner;

/* Whether the key's budget (evaluations and time) allows another candidate; always in stage
 * "full", which runs outside it. */
int bt_tuner_budget_left(const bt_tuner *t);
/* Appends a record; its index, or -1 out of memory. */
int bt_tuner_push_record(bt_tuner *t, const bt_record *r);
/* Takes a record of the key made earlier (by another process: a campaign's slices,
 * search.h) as if this tuner had made it: its candidate is not evaluated again and it counts
 * for the best so far. */
void bt_tuner_know(bt_tuner *t, const bt_record *r);
/* Makes the probe problem (BT_TUNE_PROBE_MIN_DEFAULT_S) from the default's run time. */
void bt_tuner_probe_setup(bt_tuner *t, double default_s);
/* Plans, checks and times one candidate (variant NULL: the default dispatch); `cfg` is its
 * place in the space, when it has one. Returns BT_EVAL_*. */
int bt_tuner_evaluate(bt_tuner *t, const char *variant, const char *params, const bt_config *cfg);
/* bt_tuner_evaluate of a configuration of the space. */
int bt_tuner_evaluate_config(bt_tuner *t, const bt_config *c);

#endif

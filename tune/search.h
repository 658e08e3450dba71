/* Tuning one key (problem, threads) within a budget (docs/tuning.md).
 *
 * 1. The default dispatch (the heuristic's choice, no table) is measured first: it is the
 *    baseline and the first "best so far".
 * 2. If the space (space.h) has at most BT_TUNE_SMALL_SPACE configurations (and no more
 *    than max_evals), all are evaluated ("exhaustive") in space order. Otherwise a coarse pass
 *    (every variant's defaults at every thread count, then random configurations, up to half
 *    the evaluations and time) and a refinement: coordinate descent from the best
 *    configuration, one parameter (or the thread count) at a time over all its values, moving
 *    whenever a value is faster, until a sweep brings nothing or the budget is spent; then the
 *    same from the best configuration of the runner-up variant; then random configurations of the
 *    leading variants until the budget is spent, refining again from any new best.
 *    Screening: on a convolution whose default run takes 4 ms or more, a candidate costs
 *    0.05-0.3 s to plan and time, and a 10 s budget would see a few dozen of ~10^3
 *    configurations. There the coarse pass and refinement run on a "screen" problem, the same
 *    but with the minibatch cut to runs of ~1.5 ms (bt_screen_problem), in 70% of the budget
 *    (records of stage screen-coarse / screen-refine, problem text of the screen problem);
 *    then up to 12 of the screen's fastest candidates (first the best of each of its three
 *    fastest variants within 2x of its best, then in order) are checked and timed on the
 *    problem itself (stage "confirm"), and what is left of the budget refines the best of
 *    them there (stage "refine"). Only those and the default can be chosen: a screen time is
 *    never compared with a time of the problem.
 * 3. With `exhaustive`, whatever the search did not evaluate is evaluated afterwards (stage
 *    "full", outside the budget): the exhaustive best the search is measured against. Only
 *    the best of the space matters there, so a candidate is abandoned after its warm-up at
 *    2x the best so far or after one timed run at 1.3x, and of its records only the invalid
 *    ones and each new best are kept (a ResNet-50 space is ~10^4 configurations per key).
 *    A marker record (stage "slice", records.h) says which configurations it covered. Then
 *    the tuned choice and the exhaustive best are re-timed in alternation (paired medians of
 *    PAIRED_ROUNDS rounds of min-of-5; a marker record of stage "paired" keeps them) so that
 *    the comparison does not favour the maximum of 10^4 noisy timings. A campaign splits the
 *    full stage into slices of the space evaluated on several ranks (bt_tune_full_slice) and
 *    re-times the pair once all are in (bt_tune_paired), tune/campaign.h.
 * Every candidate is checked against the reference (exact mode)
 * before it is timed: on the problem itself when its FLOP count is at most check_max_flops, else on
 * a reduced copy with the same channels, kernel, stride, padding, dilation and layout (measure.h);
 * a wrong one is recorded invalid and never chosen. On a problem whose default run takes 4 ms or
 * more, a candidate whose runs on a smaller minibatch predict a run far past where the timing
 * would give up on it anyway (a naive kernel on a large layer: one run of a minute) is recorded
 * untimed, status timeout (candidate.c, BT_TUNE_PROBE_MIN_DEFAULT_S); not in stage "full". Plans
 * that refuse their parameters are recorded unsupported (pruned). Each evaluation leaves a record.
 */
#ifndef BT_TUNE_SEARCH_H
#define BT_TUNE_SEARCH_H

#include "measure.h"
#include "records.h"

/* Spaces up to this size are searched exhaustively. Larger ones are not, even when
 * max_evals would allow it: an exhaustive pass goes in space order, and a time budget that
 * ends it early would leave it with the first variants only. */
#define BT_TUNE_SMALL_SPACE 128

/* Candidates are probed for hopelessness (above) where the default run takes this long. */
#define BT_TUNE_PROBE_MIN_DEFAULT_S 0.004

typedef struct bt_tune_progress {
    const char *stage;
    int evals, max_evals;
    double seconds_left;     /* of the key's budget */
    const bt_record *best;   /* NULL until something was timed */
    const bt_record *latest; /* the record just made */
} bt_tune_progress;

typedef struct bt_tune_options {
    double seconds; /* budget of the key; the default dispatch is measured regardless */
    int max_evals;  /* timed candidates (checked and timed), default included; 1024 */
    int exhaustive; /* then evaluate the rest of the space too; BT_TUNE_FULL_LATER: only
                       name the search "+full", the caller runs the full stage in slices */
    double check_max_flops;
    uint64_t seed;
    int screen; /* search big problems on a smaller minibatch first (above); default 1 */
    double screen_min_run_s;    /* screen when the default run takes this long; 0.004 */
    double screen_target_run_s; /* a run of the screen problem; 0.0015 */
    void (*progress)(void *ctx, const bt_tune_progress *p);
    void *progress_ctx;
} bt_tune_options;

#define BT_TUNE_FULL_LATER 2

void bt_tune_defaults(bt_tune_options *o);

typedef struct bt_tune_result {
    bt_record_list records;
    int default_index;   /* record of the default dispatch, -1 if it failed */
    int best_index;      /* best ok record of the budgeted search, -1 if none */
    int full_best_index; /* best ok record including stage full, -1 if none */
    int64_t space_size;
    int evals;
    int covered;         /* every configuration of the space was evaluated */
    int full_evals;      /* candidates the full stage planned, checked and timed */
    double full_seconds; /* spent in the full stage (outside the budget) */
    /* Paired re-timing (exhaustive only): median over rounds of the min time of the tuned
     * choice and of the exhaustive best; equal when they are the same configuration. */
    double paired_tuned_s, paired_full_s;
    char search[32];
} bt_tune_result;

/* Tunes p (normalized) for callers planning it with `threads`; `buffers` hold its tensors. */
bt_status bt_tune_key(const bt_problem *p, int threads, const bt_buffers *buffers,
                      const bt_tune_options *o, bt_tune_result *out);
void bt_tune_result_free(bt_tune_result *r);

/* The full stage of key (p, threads) over configurations [begin, end) of its space only, as
 * bt_tune_key runs it over the whole space: `known` holds the key's records so far (its
 * budgeted search, made with BT_TUNE_FULL_LATER, and slices done), whose candidates are not
 * evaluated again and whose best is the best so far that candidates are abandoned against
 * (o->seconds: the search's budget, which sets the timing options). out->records: the
 * slice's records (the invalid ones and each new best), then its marker (stage "slice");
 * out->full_evals, out->full_seconds; out->full_best_index its best record, -1 if none
 * beat the known ones. */
bt_status bt_tune_full_slice(const bt_problem *p, int threads, const bt_buffers *buffers,
                             const bt_tune_options *o, const bt_record *known, int nknown,
                             int64_t begin, int64_t end, bt_tune_result *out);

/* The paired re-timing of key (p, threads) from its records (`known`: the budgeted search's
 * and every slice's): the tuned choice against the exhaustive best. Fills *marker (stage
 * "paired"); BT_EINVAL if the records hold no tuned choice, or a re-timing failed. */
bt_status bt_tune_paired(const bt_problem *p, int threads, const bt_buffers *buffers,
                         const bt_record *known, int nknown, bt_record *marker);

#endif

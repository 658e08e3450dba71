/* backtune tune: keys (problem x op x layout x threads) from suites and problems, each tuned
 * within its share of the budget (search.h), records and table committed after every key so
 * an interrupted run resumes where it stopped, and a summary table at the end. */
#include "tune_cmd.h"

#include "campaign.h"
#include "fingerprint.h"
#include "records.h"
#include "search.h"
#include "tuning.h"

#include "cmdline.h"
#include "interference.h"
#include "progress.h"
#include "selection.h"
#include "world.h"

#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The shortest window interference is judged on: a key tuned faster is followed by a quiet
 * wait that makes up the difference (cmdline/interference.h). */
#define INTERFERENCE_MIN_SECONDS 0.5

static const char tune_help[] =
    "usage: backtune tune [options]\n"
    "Tunes problems for this machine: every variant of the op that takes the problem, with\n"
    "its tunable parameters and thread counts, each checked against the reference and then\n"
    "timed (min of N). Every evaluation is appended to DIR/records.jsonl; the best per\n"
    "(problem, threads) forms this machine's table, DIR/table.json (or, where another\n"
    "machine with the same id tuned into DIR first, DIR/tables/<hardware hash>.json), which\n"
    "dispatch follows after bt_tuning_load(\"DIR\") or with BACKTUNE_TABLE=DIR. Keys that\n"
    "already have records for this machine's hardware (any build), made with each variant\n"
    "that could tune them as it is now, are skipped (resumable; a variant added or changed\n"
    "sends back only the keys it takes).\n"
    "\n" BT_CLI_SELECTION_HELP_SUITE_PROBLEM BT_CLI_SELECTION_HELP_OPS_LAYOUTS
    "  -t, --threads LIST      thread counts callers plan with (default: OpenMP's, %d here);\n"
    "                          each key may choose fewer\n" BT_CLI_SELECTION_HELP_MB
    "      --time-limit SEC    budget of the whole run (default 10 s per key to tune), shared\n"
    "                          evenly by the keys still to tune\n"
    "      --max-evals N       timed candidates per key (default 1024); spaces of at most 128\n"
    "                          configurations (and at most N) are searched exhaustively,\n"
    "                          larger ones coarse + refine + random until the time or N\n"
    "                          runs out; a convolution whose default run takes 4 ms or more\n"
    "                          is searched on a smaller minibatch (records of stage screen-*,\n"
    "                          problem text of that minibatch) and its best candidates are\n"
    "                          then confirmed on the problem itself. On any problem whose\n"
    "                          default run takes 4 ms or more, a candidate whose runs on a\n"
    "                          smaller minibatch predict a run far past where its timing\n"
    "                          would stop is recorded untimed (status timeout)\n"
    "      --no-screen         search big problems on their own minibatch only\n"
    "      --exhaustive        afterwards also time the rest of each space (outside the budget)\n"
    "                          to measure how close the search came; the tuned choice and the\n"
    "                          exhaustive best are then re-timed in alternation (the summary's\n"
    "                          'paired' column)\n"
    "      --strict            do not save the records of a key tuned under interference\n"
    "                          (below); exit with status 3 if there was one\n"
    "      --retune            tune keys that already have records too\n"
    "      --rebuild           tune nothing: rewrite every machine's table in DIR from\n"
    "                          DIR/records.jsonl\n"
    "      --list              tune nothing: print the keys ('<problem> t<threads>') and exit\n"
    "      --quiet             no progress lines (below)\n"
    "      --out DIR           results directory (default results/<machine-id>:\n"
    "                          %s)\n" BT_WORLD_HELP_SHARED_NODE
    "  -h, --help              this text\n"
    "\n"
    "Interference: while each key is tuned, other processes' CPU time on this process's CPUs\n"
    "is measured (/proc/stat); more than 0.2 cores on average beyond the CPUs the key leaves\n"
    "free, or over 5%% stolen by a hypervisor, marks the key's records (\"interference\":\n"
    "what was seen). Marked records do not make a key tuned: the next run tunes it again\n"
    "(no --retune needed); the table prefers records that are not marked, and an entry\n"
    "taken from marked ones carries the mark. The summary names such keys and leaves them\n"
    "out of its averages.\n"
    "\n"
    "Under mpirun or srun (several ranks): ranks of one machine share the campaign, rank 0\n"
    "hands the keys out one at a time and commits each key's records as it finishes; ranks\n"
    "of other machines tune for theirs, into results/<their machine-id>/ on rank 0's file\n"
    "system (or all into --out DIR); --time-limit is then the campaign's wall time. With\n"
    "--exhaustive, the rest of each key's space is cut into slices of minutes that rank 0\n"
    "hands out like keys (slices of keys already searched first), and one rank re-times the\n"
    "tuned choice against the exhaustive best once every slice is in; records of stage\n"
    "'slice' say which configurations were done, so a rerun does only the rest.\n"
    "\n"
    "Progress goes to stderr, one line per key as it ends ('[i/N, time so far, ETA]', the ETA\n"
    "from the keys tuned before it), and on a terminal a live line while it is tuned; --quiet\n"
    "leaves them out. The summary (default-dispatch, tuned and exhaustive GFLOP/s) goes to\n"
    "stdout. The reference is never a candidate.\n"
    "\n"
    "Environment: the tuner measures the default dispatch, so it ignores BACKTUNE_TABLE and\n"
    "BACKTUNE_VARIANT. When dispatch follows the table: BACKTUNE_TABLE=DIR (or a table file,\n"
    "or results/), and BACKTUNE_TABLE_MATCH=exact|uarch|isa|any says whose tables are\n"
    "followed (default uarch: this hardware, or the same vendor, microarchitecture and ISA\n"
    "class with a note; isa: any CPU of the same ISA class; any: any machine).\n";

typedef struct tune_key {
    bt_problem problem; /* normalized */
    char text[200];     /* canonical */
    int threads;
    int problem_id; /* keys of one problem share its tensors */
    int done;       /* records exist already (skipped unless --retune) */
    double default_gflops, tuned_gflops, full_gflops; /* 0: not measured */
    double paired_ratio; /* exhaustive best's time / tuned choice's, re-timed in pairs; 0: not */
    char default_variant[128], tuned_variant[128], tuned_params[BT_PARAMS_TEXT];
    int failed;             /* no valid candidate */
    char interference[160]; /* tuned under interference: what was seen; "" if not */
} tune_key;

typedef struct key_list {
    tune_key *items;
    int count, cap, problems;
} key_list;

typedef struct options {
    bt_cli_selection sel; /* suites, problems, ops, layouts, threads, mb */
    const char *out;
    double time_limit;
    int max_evals, exhaustive, retune, no_screen, rebuild, list;
    int strict, allow_shared_node;
    int quiet;     /* no progress lines */
    int out_given; /* --out: every machine of a campaign writes there */
} options;

static int add_key(key_list *l, const bt_problem *p, int threads, int problem_id) {
    bt_problem norm;
    if (bt_problem_normalize(p, &norm) != BT_OK) return 0;
    char text[200];
    bt_problem_format(&norm, text, sizeof text);
    for (int i = 0; i < l->count; i++)
        if (l->items[i].threads == threads && !strcmp(l->items[i].text, text)) return 1;
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        tune_key *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return 0;
        l->items = items, l->cap = cap;
    }
    tune_key *k = &l->items[l->count++];
    memset(k, 0, sizeof *k);
    k->problem = norm;
    snprintf(k->text, sizeof k->text, "%s", text);
    k->threads = threads;
    k->problem_id = problem_id;
    return 1;
}

/* The keys of the selected problems (cmdline/selection.h): each problem at each thread
 * count. 0, or -1 with the message printed. */
static int collect_keys(key_list *l, const options *o) {
    bt_cli_problem_list list = {0};
    int rc = bt_cli_selection_problems(&o->sel, &list);
    for (int i = 0; !rc && i < list.count; i++) {
        int id = l->problems++;
        for (int t = 0; !rc && t < o->sel.nthreads; t++)
            if (!add_key(l, &list.items[i].problem, o->sel.threads[t], id)) {
                char text[512];
                bt_problem_format(&list.items[i].problem, text, sizeof text);
                fprintf(stderr, "backtune tune: '%s': %s\n", text, bt_last_error());
                rc = -1;
            }
    }
    bt_cli_problem_list_free(&list);
    return rc;
}

/* Whether a record counts for this build: made with its registry, or (registries, from the
 * folder's records; may be NULL) with a variant unchanged since, as resuming counts it. */
static int record_counts(const bt_record *r, const json_t *registries) {
    if (!strcmp(r->registry_hash, bt_registry_hash())) return 1;
    int v = bt_variant_find(r->variant);
    return registries && v >= 0 && bt_registry_had_variant(registries, r->registry_hash, v) == 1;
}

/* Default, tuned and exhaustive results of a key from its records. */
static void summarize(tune_key *k, const bt_record *recs, int n, const json_t *registries) {
    const bt_fingerprint *fp = bt_fingerprint_get();
    const bt_record *def = NULL, *tuned = NULL, *full = NULL;
    int exhaustive = 0;
    for (int i = 0; i < n; i++) {
        const bt_record *r = &recs[i];
        if (r->threads != k->threads || strcmp(r->problem, k->text) ||
            strcmp(r->hardware, fp->hardware) || !record_counts(r, registries))
            continue;
        if (!strcmp(r->search, "exhaustive") || strstr(r->search, "+full")) exhaustive = 1;
        if (!strcmp(r->stage, "paired") && r->paired_tuned_s > 0 && r->paired_full_s > 0)
            k->paired_ratio = r->paired_full_s / r->paired_tuned_s;
        if (r->status != BT_RECORD_OK || !(r->min_s > 0) || bt_record_is_marker(r)) continue;
        if (!strcmp(r->stage, "default") && (!def || r->min_s < def->min_s)) def = r;
        if (strcmp(r->stage, "full") && (!tuned || r->min_s < tuned->min_s)) tuned = r;
        if (!full || r->min_s < full->min_s) full = r;
    }
    k->default_gflops = def ? def->gflops : 0;
    k->tuned_gflops = tuned ? tuned->gflops : 0;
    k->full_gflops = exhaustive && full ? full->gflops : 0;
    snprintf(k->default_variant, sizeof k->default_variant, "%s", def ? def->variant : "-");
    snprintf(k->tuned_variant, sizeof k->tuned_variant, "%s", tuned ? tuned->variant : "-");
    snprintf(k->tuned_params, sizeof k->tuned_params, "%s", tuned ? tuned->params : "");
    if (tuned && tuned->interference[0])
        snprintf(k->interference, sizeof k->interference, "%s", tuned->interference);
    k->failed = !tuned;
}

typedef struct progress_ctx {
    int live;
    char where[96]; /* "i/N, time so far, ETA" as the key began (cmdline/progress.h) */
    const tune_key *key;
} progress_ctx;

/* The live line on a terminal while a key is tuned. */
static void on_progress(void *ctx, const bt_tune_progress *p) {
    progress_ctx *c = ctx;
    if (!c->live) return;
    fprintf(stderr, "\r\033[K[%s] %s t%d: %s %d/%d, best %.2f GFLOP/s %s, %.1f s left", c->where,
            c->key->text, c->key->threads, p->stage, p->evals, p->max_evals,
            p->best ? p->best->gflops : 0.0, p->best ? p->best->variant : "-", p->seconds_left);
    fflush(stderr);
}

typedef struct run_times {
    double tuning, full; /* seconds: the budgeted searches, and the full stages after them */
} run_times;

/* The keys tuned under interference, after the summary; returns their count. */
static int print_interference(const key_list *keys, int strict) {
    int tuned = 0, suspect = 0;
    for (int i = 0; i < keys->count; i++) {
        tuned += !keys->items[i].done;
        suspect += keys->items[i].interference[0] != 0;
    }
    if (!tuned) return 0;
    if (!suspect) {
        printf("interference: none detected while tuning (%d keys)\n", tuned);
        return 0;
    }
    printf("interference: DETECTED while tuning %d of %d keys (marked above, left out of the "
           "averages):\n",
           suspect, tuned);
    for (int i = 0; i < keys->count; i++)
        if (keys->items[i].interference[0])
            printf("  %s t%d: %s\n", keys->items[i].text, keys->items[i].threads,
                   keys->items[i].interference);
    printf(strict ? "  --strict: their records were not saved; the next run tunes them.\n"
                  : "  Their records are marked \"interference\": the next run tunes them again "
                    "(no --retune\n  needed), and table entries taken from them carry the "
                    "mark.\n");
    return suspect;
}

/* Judges the interference over the making of records (samples before and after, threads
 * of the key); when there was some, the records say so. Returns what was seen, "" if none. */
static const char *judge(int threads, const bt_load_sample *before, const bt_load_sample *after,
                         bt_record_list *records, char *seen, size_t size) {
    bt_interference v;
    bt_interference_between(before, after, threads, &v);
    snprintf(seen, size, "%.159s", v.detected ? v.reasons : "");
    for (int i = 0; v.detected && i < records->count; i++)
        snprintf(records->items[i].interference, sizeof records->items[i].interference, "%s", seen);
    return seen;
}

static void print_summary(const key_list *keys, const run_times *times, double budget) {
    printf("\nGFLOP/s of the default dispatch (heuristic, no table), of the tuned choice (best of\n"
           "the budgeted search) and of the exhaustive best (whole space: small spaces, or\n"
           "--exhaustive):\n");
    printf("%-58s %3s %9s %9s %7s %9s %6s  %s\n", "problem", "thr", "default", "tuned", "speedup",
           "exhaust.", "paired", "tuned variant");
    double log_sum = 0, within = 0, paired_within = 0;
    int counted = 0, compared = 0, paired = 0, suspect = 0;
    for (int i = 0; i < keys->count; i++) {
        const tune_key *k = &keys->items[i];
        char full[16] = "-";
        if (k->full_gflops > 0) snprintf(full, sizeof full, "%.2f", k->full_gflops);
        double speedup =
            k->default_gflops > 0 && k->tuned_gflops > 0 ? k->tuned_gflops / k->default_gflops : 0;
        char ratio[16] = "-";
        if (k->paired_ratio > 0) snprintf(ratio, sizeof ratio, "%.3f", k->paired_ratio);
        printf("%-58.58s %3d %9.2f %9.2f %6.2fx %9s %6s  %s%s\n", k->text, k->threads,
               k->default_gflops, k->tuned_gflops, speedup, full, ratio, k->tuned_variant,
               k->interference[0] ? "  (interference)" : "");
        if (k->interference[0]) {
            suspect++;
            continue; /* not in the averages */
        }
        if (k->paired_ratio > 0) paired++, paired_within += k->paired_ratio >= 0.97;
        if (speedup > 0) log_sum += log(speedup), counted++;
        if (k->full_gflops > 0 && k->tuned_gflops > 0)
            compared++, within += k->tuned_gflops >= 0.97 * k->full_gflops;
    }
    if (counted)
        printf("geomean speedup over the default dispatch: %.3fx over %d keys%s\n",
               exp(log_sum / counted), counted,
               suspect ? " (keys tuned under interference left out)" : "");
    if (compared)
        printf("tuned within 3%% of the exhaustive best: %d of %d keys (by the search's own "
               "min times)\n",
               (int)within, compared);
    if (paired)
        printf(
            "tuned within 3%% of the exhaustive best: %d of %d keys (paired re-timing: 'paired'\n"
            "is the tuned choice's speed over the exhaustive best's, medians of alternating\n"
            "runs)\n",
            (int)paired_within, paired);
    if (times && times->tuning > 0)
        printf("tuning time: %.0f s for the keys tuned now (budget %.0f s)\n", times->tuning,
               budget);
    if (times && times->full > 0)
        printf("exhaustive passes: %.0f s more (outside the budget)\n", times->full);
}

/* Marks keys that records.h says are tuned on this machine (bt_records_tune_key: per
 * variant). */
static void mark_done(key_list *keys, const bt_record_list *recs, const json_t *registries) {
    const bt_fingerprint *fp = bt_fingerprint_get();
    for (int i = 0; i < keys->count; i++)
        keys->items[i].done = bt_records_tune_key(recs, keys->items[i].text, keys->items[i].threads,
                                                  fp->hardware, registries);
}

/* Where the keys to tune come from and their records go: this process alone (keys in order,
 * records committed to the folder), or an MPI campaign (campaign.h). */
typedef struct key_source {
    /* The next key (an index into keys), its budget of seconds and, for progress messages,
     * its ordinal and the number of keys to tune; -1 when none is left, -2 on failure. */
    int (*next)(void *ctx, const key_list *keys, double budget_left, double *seconds, int *ordinal,
                int *todo);
    /* Saves the records of key `key`, tuned in `seconds`. */
    bt_status (*save)(void *ctx, const char *dir, int key, const bt_record *records, int count,
                      double seconds, bt_commit_info *info);
    void *ctx;
    int full_later; /* with --exhaustive, the keys' full stages run elsewhere (campaign.h) */
} key_source;

typedef struct alone_state {
    int cursor, ordinal;
} alone_state;

static int next_alone(void *ctx, const key_list *keys, double budget_left, double *seconds,
                      int *ordinal, int *todo) {
    alone_state *a = ctx;
    *todo = 0;
    for (int i = 0; i < keys->count; i++) *todo += !keys->items[i].done;
    while (a->cursor < keys->count && keys->items[a->cursor].done) a->cursor++;
    if (a->cursor == keys->count) return -1;
    *ordinal = ++a->ordinal;
    *seconds = budget_left / (*todo - *ordinal + 1);
    return a->cursor++;
}

static bt_status save_alone(void *ctx, const char *dir, int key, const bt_record *records,
                            int count, double seconds, bt_commit_info *info) {
    (void)ctx, (void)key, (void)seconds;
    return bt_records_commit(dir, records, count, info);
}

static int tune_keys(key_list *keys, const options *o, const char *dir, double budget,
                     run_times *times, const key_source *src) {
    int failures = 0;
    double start = bt_now();
    bt_buffers buffers = {0};
    int buffers_for = -1;
    for (;;) {
        /* The full stages are outside the budget. */
        double left = budget - (bt_now() - start - times->full), seconds = 0;
        int index = 0, todo = 0;
        int i = src->next(src->ctx, keys, left, &seconds, &index, &todo);
        if (i == -2) {
            bt_buffers_free(&buffers);
            return -1;
        }
        if (i < 0) break;
        tune_key *k = &keys->items[i];
        if (buffers_for != k->problem_id) {
            bt_buffers_free(&buffers);
            buffers_for = -1;
            if (bt_buffers_alloc(&buffers, &k->problem) != BT_OK) {
                fprintf(stderr, "backtune tune: %s: %s\n", k->text, bt_last_error());
                failures++;
                continue;
            }
            buffers_for = k->problem_id;
        }
        bt_tune_options to;
        bt_tune_defaults(&to);
        to.seconds = seconds;
        if (to.seconds < 0.5) to.seconds = 0.5;
        to.max_evals = o->max_evals;
        to.exhaustive = o->exhaustive ? src->full_later ? BT_TUNE_FULL_LATER : 1 : 0;
        to.screen = !o->no_screen;
        progress_ctx pc = {.live = !o->quiet && isatty(2), .key = k};
        bt_cli_progress_text(index, todo, bt_now() - start, bt_now() - start,
                             (double)(index - 1) / todo, pc.where, sizeof pc.where);
        to.progress = on_progress;
        to.progress_ctx = &pc;
        bt_tune_result res;
        double t0 = bt_now();
        bt_load_sample before, after;
        bt_load_sample_take(&before);
        bt_status st = bt_tune_key(&k->problem, k->threads, &buffers, &to, &res);
        bt_load_sample_end(&after, &before, INTERFERENCE_MIN_SECONDS);
        if (pc.live) fputs("\r\033[K", stderr);
        char where[96];
        bt_cli_progress_text(index, todo, bt_now() - start, bt_now() - start, (double)index / todo,
                             where, sizeof where);
        if (st != BT_OK) {
            fprintf(stderr, "[%s] %s t%d: %s\n", where, k->text, k->threads, bt_last_error());
            failures++;
            continue;
        }
        summarize(k, res.records.items, res.records.count, NULL);
        if (res.paired_tuned_s > 0 && res.paired_full_s > 0)
            k->paired_ratio = res.paired_full_s / res.paired_tuned_s;
        times->full += res.full_seconds;
        judge(k->threads, &before, &after, &res.records, k->interference, sizeof k->interference);
        bt_commit_info info = {0};
        int withheld = o->strict && k->interference[0];
        st = src->save(src->ctx, dir, i, res.records.items, withheld ? 0 : res.records.count,
                       bt_now() - t0 - res.full_seconds, &info);
        if (!o->quiet)
            fprintf(stderr,
                    "[%s] %s t%d: %s %.2f GFLOP/s (%s), default %.2f; %s of %lld, %d timed, "
                    "%.1f s; %.0f s of the budget left\n",
                    where, k->text, k->threads, k->tuned_variant, k->tuned_gflops, k->tuned_params,
                    k->default_gflops, res.search, (long long)res.space_size, res.evals,
                    bt_now() - t0 - res.full_seconds,
                    fmax(0, budget - (bt_now() - start - times->full)));
        if (o->exhaustive && !src->full_later && !o->quiet)
            fprintf(stderr,
                    "        exhaustive: %d more timed in %.1f s, best %.2f GFLOP/s; paired "
                    "re-timing: tuned at %.3f of it\n",
                    res.full_evals, res.full_seconds, k->full_gflops, k->paired_ratio);
        if (k->interference[0])
            fprintf(stderr, "        interference: %s; records %s\n", k->interference,
                    withheld ? "not saved (--strict)"
                             : "marked, the next run tunes this key again");
        if (st != BT_OK) {
            fprintf(stderr, "backtune tune: cannot save the records: %s\n", bt_last_error());
            bt_tune_result_free(&res);
            bt_buffers_free(&buffers);
            return -1;
        }
        if (info.bad_lines)
            fprintf(stderr,
                    "backtune tune: %s/records.jsonl has %d lines that are not records "
                    "(kept as they are)\n",
                    dir, info.bad_lines);
        failures += k->failed;
        bt_tune_result_free(&res);
    }
    bt_buffers_free(&buffers);
    times->tuning = bt_now() - start - times->full;
    return failures;
}

/* The summary (keys tuned before from the records on disk, those marked with interference
 * too unless drop_suspect) and where the table is. */
static void print_results(key_list *keys, const char *dir, const run_times *times, double budget,
                          int drop_suspect) {
    bt_record_list existing = {0};
    int bad = 0;
    bt_records_load(dir, &existing, &bad);
    if (drop_suspect) bt_record_list_drop_suspect(&existing);
    json_t *registries = NULL;
    if (bt_records_registries(dir, &registries) != BT_OK) registries = NULL;
    for (int i = 0; i < keys->count; i++)
        if (keys->items[i].done)
            summarize(&keys->items[i], existing.items, existing.count, registries);
    json_decref(registries);
    bt_record_list_free(&existing);
    print_summary(keys, times, budget);
    char table[1100];
    if (bt_records_table_path(dir, table, sizeof table) == BT_OK)
        printf("table: %s (use it: BACKTUNE_TABLE=%s, or bt_tuning_load())\n", table, dir);
}

#ifdef BT_HAVE_MPI
/* This rank's side of a campaign: the key job it tunes, and the buffers of the problem of its
 * last slice or re-timing. */
typedef struct campaign_run {
    bt_campaign *c;
    const options *o;
    bt_campaign_job job;
    int unsaved; /* the key job ended without records (it failed): rank 0 is told so */
    bt_buffers buffers;
    int buffers_for; /* problem id, -1 none */
} campaign_run;

/* A slice of a key's full stage or its paired re-timing (campaign.h); the records go to rank
 * 0 at once, none if it failed. 0 if they could not be sent. */
static int run_full_job(campaign_run *run, const tune_key *k) {
    const bt_campaign_job *job = &run->job;
    const options *o = run->o;
    bt_record_list records = {0};
    bt_status st = BT_OK;
    if (run->buffers_for != k->problem_id) {
        bt_buffers_free(&run->buffers);
        run->buffers_for = -1;
        st = bt_buffers_alloc(&run->buffers, &k->problem);
        if (st == BT_OK) run->buffers_for = k->problem_id;
    }
    double t0 = bt_now();
    bt_load_sample before, after;
    bt_load_sample_take(&before);
    bt_tune_result res = {0};
    if (st == BT_OK && job->kind == BT_CAMPAIGN_SLICE) {
        bt_tune_options to;
        bt_tune_defaults(&to);
        to.seconds = job->seconds < 0.5 ? 0.5 : job->seconds;
        to.max_evals = o->max_evals;
        st = bt_tune_full_slice(&k->problem, k->threads, &run->buffers, &to, job->known.items,
                                job->known.count, job->begin, job->end, &res);
        records = res.records;
    } else if (st == BT_OK) {
        bt_record marker;
        st = bt_tune_paired(&k->problem, k->threads, &run->buffers, job->known.items,
                            job->known.count, &marker);
        if (st == BT_OK) st = bt_record_list_push(&records, &marker);
    }
    bt_load_sample_end(&after, &before, INTERFERENCE_MIN_SECONDS);
    char seen[160];
    judge(k->threads, &before, &after, &records, seen, sizeof seen);
    int withheld = o->strict && seen[0];
    const char *what = job->kind == BT_CAMPAIGN_SLICE ? "slice" : "paired";
    if (st != BT_OK)
        fprintf(stderr, "[%s] %s t%d: %s\n", what, k->text, k->threads, bt_last_error());
    else if (!o->quiet && job->kind == BT_CAMPAIGN_SLICE)
        fprintf(stderr,
                "[slice] %s t%d: configurations %lld..%lld of %lld, %d timed in %.1f s%s%s\n",
                k->text, k->threads, (long long)job->begin, (long long)job->end - 1,
                (long long)res.space_size, res.full_evals, bt_now() - t0,
                res.full_best_index >= 0 ? ", a new best: " : "",
                res.full_best_index >= 0 ? records.items[res.full_best_index].variant : "");
    else if (!o->quiet)
        fprintf(stderr, "[paired] %s t%d: tuned choice at %.3f of the exhaustive best\n", k->text,
                k->threads, records.items[0].paired_full_s / records.items[0].paired_tuned_s);
    if (seen[0] && !o->quiet)
        fprintf(stderr, "        interference: %s; records %s\n", seen,
                withheld ? "not saved (--strict)" : "marked");
    int count = st != BT_OK || withheld ? 0 : records.count;
    st = bt_campaign_save(run->c, job, records.items, count, bt_now() - t0);
    bt_record_list_free(&records);
    if (st != BT_OK) fprintf(stderr, "backtune tune: %s\n", bt_last_error());
    return st == BT_OK;
}

static int next_in_campaign(void *ctx, const key_list *keys, double budget_left, double *seconds,
                            int *ordinal, int *todo) {
    (void)budget_left; /* rank 0 shares the campaign's budget out */
    campaign_run *run = ctx;
    if (run->unsaved && bt_campaign_save(run->c, &run->job, NULL, 0, 0) != BT_OK) return -2;
    run->unsaved = 0;
    for (;;) {
        int k = bt_campaign_next(run->c, &run->job);
        if (k < 0) return k;
        if (run->job.kind == BT_CAMPAIGN_KEY) {
            *seconds = run->job.seconds, *ordinal = run->job.ordinal, *todo = run->job.todo;
            run->unsaved = 1;
            return k;
        }
        int sent = run_full_job(run, &keys->items[k]);
        bt_record_list_free(&run->job.known);
        if (!sent) return -2;
    }
}

static bt_status save_in_campaign(void *ctx, const char *dir, int key, const bt_record *records,
                                  int count, double seconds, bt_commit_info *info) {
    (void)dir, (void)key;
    campaign_run *run = ctx;
    memset(info, 0, sizeof *info);
    run->unsaved = 0;
    return bt_campaign_save(run->c, &run->job, records, count, seconds);
}

/* The keys tuned by the ranks of an MPI job (campaign.h); rank 0 then prints the summary of
 * its own machine's keys from the records on disk. */
static int tune_campaign(key_list *keys, const options *o, const bt_world *w) {
    bt_campaign_key *ck = calloc((size_t)keys->count + 1, sizeof *ck);
    if (!ck) return 2;
    for (int i = 0; i < keys->count; i++)
        ck[i] = (bt_campaign_key){keys->items[i].text, keys->items[i].threads};
    bt_campaign_config cfg = {.command = "backtune tune",
                              .keys = ck,
                              .count = keys->count,
                              .out = o->out_given ? o->out : NULL,
                              .time_limit = o->time_limit,
                              .retune = o->retune,
                              .exhaustive = o->exhaustive};
    bt_campaign *c = bt_campaign_start(w, &cfg);
    if (!c) {
        free(ck);
        return 2;
    }
    run_times times = {0};
    campaign_run run = {.c = c, .o = o, .buffers_for = -1};
    key_source src = {
        .next = next_in_campaign, .save = save_in_campaign, .ctx = &run, .full_later = 1};
    double budget = o->time_limit > 0 ? o->time_limit : 0;
    int failures = tune_keys(keys, o, o->out, budget, &times, &src);
    bt_buffers_free(&run.buffers);
    int saved = bt_campaign_finish(c) == 0, suspect = 0;
    free(ck);
    for (int i = 0; i < keys->count; i++) suspect += keys->items[i].interference[0] != 0;
    if (w->rank == 0 && saved) { /* every key from the records, whichever rank tuned it */
        for (int i = 0; i < keys->count; i++) {
            keys->items[i].done = 1;
            keys->items[i].interference[0] = '\0';
        }
        print_results(keys, o->out, NULL, 0, 0);
    }
    return failures < 0 || !saved ? 2 : o->strict && suspect ? 3 : failures ? 1 : 0;
}
#endif

int bt_cmd_tune(int argc, char **argv) {
    enum {
        O_TIME = 256,
        O_EVALS,
        O_EXH,
        O_RETUNE,
        O_REBUILD,
        O_NO_SCREEN,
        O_OUT,
        O_STRICT,
        O_LIST,
        O_SHARED,
        O_QUIET,
    };
    static const struct option opts[] = {{"time-limit", required_argument, NULL, O_TIME},
                                         {"max-evals", required_argument, NULL, O_EVALS},
                                         {"exhaustive", no_argument, NULL, O_EXH},
                                         {"retune", no_argument, NULL, O_RETUNE},
                                         {"rebuild", no_argument, NULL, O_REBUILD},
                                         {"no-screen", no_argument, NULL, O_NO_SCREEN},
                                         {"out", required_argument, NULL, O_OUT},
                                         {"strict", no_argument, NULL, O_STRICT},
                                         {"quiet", no_argument, NULL, O_QUIET},
                                         {"list", no_argument, NULL, O_LIST},
                                         {"allow-shared-node", no_argument, NULL, O_SHARED},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    options o = {.max_evals = 1024, .time_limit = -1};
    bt_cli_parser parser;
    if (bt_cli_parser_init(&parser, &o.sel, "backtune tune", argc, "h", opts)) return 2;
    char default_out[256];
    snprintf(default_out, sizeof default_out, "results/%s", bt_fingerprint_id());
    o.out = default_out;
    int rc = 2;
    bt_world world = {.size = 1};
    key_list keys = {0};
    bt_record_list existing = {0};
    for (int c; (c = bt_cli_getopt(&parser, argc, argv)) != -1;) {
        char *end = NULL;
        switch (c) {
        case O_TIME:
            o.time_limit = strtod(optarg, &end);
            if (*end || !(o.time_limit > 0)) {
                fprintf(stderr, "backtune tune: --time-limit takes seconds > 0\n");
                goto done;
            }
            break;
        case O_EVALS:
            o.max_evals = (int)strtol(optarg, &end, 10);
            if (*end || o.max_evals < 1) {
                fprintf(stderr, "backtune tune: --max-evals takes a positive count\n");
                goto done;
            }
            break;
        case O_EXH:
            o.exhaustive = 1;
            break;
        case O_RETUNE:
            o.retune = 1;
            break;
        case O_REBUILD:
            o.rebuild = 1;
            break;
        case O_NO_SCREEN:
            o.no_screen = 1;
            break;
        case O_OUT:
            o.out = optarg;
            o.out_given = 1;
            break;
        case O_STRICT:
            o.strict = 1;
            break;
        case O_LIST:
            o.list = 1;
            break;
        case O_SHARED:
            o.allow_shared_node = 1;
            break;
        case O_QUIET:
            o.quiet = 1;
            break;
        case 'h':
            printf(tune_help, omp_get_max_threads(), default_out);
            rc = 0;
            goto done;
        case BT_CLI_BAD_VALUE:
            goto done;
        default:
            bt_cli_try_help("backtune tune");
            goto done;
        }
    }
    if (bt_world_join(&world, "backtune tune", o.allow_shared_node)) goto done;
    if (!o.sel.nthreads) o.sel.threads[o.sel.nthreads++] = omp_get_max_threads();
    int selected = o.sel.nsuites || o.sel.nproblems;
    if (optind == argc && o.rebuild && !selected) {
        if (world.rank > 0) /* rank 0 rebuilds rank 0's folder */
            rc = 0;
        else if (bt_records_rebuild(o.out, stdout) == BT_OK)
            rc = 0;
        else
            fprintf(stderr, "backtune tune: %s\n", bt_last_error());
        goto done;
    }
    if (optind < argc || !selected || o.rebuild) {
        fprintf(stderr, "backtune tune: %s\n",
                optind < argc ? "unexpected argument"
                : o.rebuild   ? "--rebuild takes no --suite or --problem"
                              : "give --suite or --problem");
        bt_cli_try_help("backtune tune");
        goto done;
    }
    if (collect_keys(&keys, &o)) goto done;
    if (o.list) {
        for (int i = 0; world.rank == 0 && i < keys.count; i++)
            printf("%s t%d\n", keys.items[i].text, keys.items[i].threads);
        rc = 0;
        goto done;
    }
    /* The tuner measures the default dispatch: no table, no forced variant. */
    unsetenv("BACKTUNE_TABLE");
    if (getenv("BACKTUNE_VARIANT")) {
        fprintf(stderr, "backtune tune: ignoring BACKTUNE_VARIANT=%s\n",
                getenv("BACKTUNE_VARIANT"));
        unsetenv("BACKTUNE_VARIANT");
    }
    bt_tuning_unload();
#ifdef BT_HAVE_MPI
    if (world.size > 1) {
        rc = tune_campaign(&keys, &o, &world);
        goto done;
    }
#endif

    /* A crash of an earlier run may have left a table behind its records. */
    bt_commit_info synced;
    if (bt_records_sync(o.out, &synced) != BT_OK) {
        fprintf(stderr, "backtune tune: %s\n", bt_last_error());
        goto done;
    }
    if (synced.tables_written || synced.orphans_removed)
        fprintf(stderr,
                "backtune tune: %s: %d table%s rewritten from the records (missing, of an older "
                "format, or left behind by an interrupted run), %d temporary file%s removed\n",
                o.out, synced.tables_written, synced.tables_written == 1 ? "" : "s",
                synced.orphans_removed, synced.orphans_removed == 1 ? "" : "s");
    int bad = 0;
    if (bt_records_load(o.out, &existing, &bad) != BT_OK) {
        fprintf(stderr, "backtune tune: %s\n", bt_last_error());
        goto done;
    }
    bt_record_list_drop_suspect(&existing); /* keys tuned under interference are tuned again */
    json_t *registries = NULL;
    if (!o.retune && bt_records_registries(o.out, &registries) != BT_OK) {
        fprintf(stderr, "backtune tune: %s\n", bt_last_error());
        goto done;
    }
    if (!o.retune) mark_done(&keys, &existing, registries);
    json_decref(registries);
    int todo = 0;
    for (int i = 0; i < keys.count; i++) todo += !keys.items[i].done;
    double budget = o.time_limit > 0 ? o.time_limit : 10.0 * todo;
    const bt_fingerprint *fp = bt_fingerprint_get();
    fprintf(stderr,
            "backtune tune: machine %s (hardware %s, build %s), variant registry %s\n"
            "  %d keys, %d to tune (%d already tuned%s), budget %.0f s, up to %d timed "
            "candidates each; results in %s/\n",
            fp->id, fp->hardware, fp->hash, bt_registry_hash(), keys.count, todo, keys.count - todo,
            o.retune ? ", --retune" : "", budget, o.max_evals, o.out);
    run_times times = {0};
    alone_state alone = {0};
    key_source src = {.next = next_alone, .save = save_alone, .ctx = &alone};
    int failures = todo ? tune_keys(&keys, &o, o.out, budget, &times, &src) : 0;
    if (failures >= 0) print_results(&keys, o.out, &times, budget, 1);
    int suspect = failures >= 0 ? print_interference(&keys, o.strict) : 0;
    rc = failures < 0 ? 2 : o.strict && suspect ? 3 : failures ? 1 : 0;
done:
    bt_world_leave(&world);
    bt_record_list_free(&existing);
    free(keys.items);
    bt_cli_selection_free(&o.sel);
    return rc;
}

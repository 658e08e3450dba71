/* Tuning records and tables on disk (DESIGN.md §7).
 *
 * A results directory (results/<machine-id>/) holds
 *   records.jsonl  every configuration ever evaluated there, one JSON object per line;
 *   table.json     the best ok record per (problem, threads) among the records of this
 *                  machine's fingerprint and this build's variant registry (format in
 *                  kernels/core/tuning.h);
 *   .lock          flock()ed while the two files are rewritten.
 * bt_records_commit merges new records with what is on disk under the lock and rewrites both
 * files atomically (temporary file + rename), so concurrent tuners lose nothing and a reader
 * never sees a half-written file. Lines that do not parse are kept as they are (and
 * counted), never dropped. */
#ifndef BT_TUNE_RECORDS_H
#define BT_TUNE_RECORDS_H

#include "internal.h"

#include <jansson.h>

typedef enum bt_record_status {
    BT_RECORD_OK,
    BT_RECORD_INVALID,     /* wrong results against the reference: never chosen */
    BT_RECORD_UNSUPPORTED, /* the variant or these parameters do not take the problem */
    BT_RECORD_TIMEOUT      /* one run took longer than the per-candidate cap, or its runs on a
                              smaller minibatch predicted far longer (not timed: search.c) */
} bt_record_status;

typedef struct bt_record {
    char machine[64], fingerprint[16]; /* fingerprint id and hash */
    char op[16];
    char problem[200]; /* canonical text (bt_problem_format) */
    int threads;       /* the thread count the caller plans with (the key) */
    char variant[128];
    char params[BT_PARAMS_TEXT];  /* the plan's full parameters (its own threads=N) */
    char request[BT_PARAMS_TEXT]; /* what the tuner asked for; the rest were defaults */
    bt_record_status status;
    double min_s, median_s, gflops, gflops_median, spread; /* GFLOP/s from min_s */
    int reps;
    int abandoned;   /* stopped early: clearly slower than the best so far */
    char stage[16];  /* default, exhaustive, coarse, refine, random, screen-coarse,
                        screen-refine, screen-random, confirm, full, space */
    char search[32]; /* how the key was searched: exhaustive, coarse+refine[+full],
                        screen+confirm[+full] */
    int64_t space_size;
    /* Why its timings are suspect, "" if they are not: other processes used the CPUs while
     * its key was tuned (cmdline/interference.h). Such records do not make their key tuned
     * (the next run tunes it again), and the table prefers any record that is not suspect;
     * an entry chosen from suspect records carries this text. */
    char interference[160];
    char check[240]; /* how it was checked ("exact", "exact on reduced 'text'") */
    char note[240];  /* why it is invalid, unsupported or a timeout */
    char date[24];
    char registry_hash[20];
    char version[32];
} bt_record;

typedef struct bt_record_list {
    bt_record *items;
    int count, cap;
} bt_record_list;

const char *bt_record_status_name(bt_record_status s);
/* A record of a screen (stage "screen-coarse" or "screen-refine", search.h): timed on the
 * smaller problem its problem text names, as an ordering aid for a bigger key; never a
 * table entry, and it does not make its problem a tuned key. */
int bt_record_is_screen(const bt_record *r);
/* Machine, hashes, version and date of now; op and problem from p; threads the key. */
void bt_record_init(bt_record *r, const bt_problem *p, int threads);
json_t *bt_record_to_json(const bt_record *r);
/* 0 if o is not a record (missing or mistyped fields). */
int bt_record_from_json(const json_t *o, bt_record *r);

bt_status bt_record_list_push(bt_record_list *l, const bt_record *r);
/* Removes the records marked with interference from l (keeping the order of the rest). */
void bt_record_list_drop_suspect(bt_record_list *l);
void bt_record_list_free(bt_record_list *l);

/* Reads dir/records.jsonl (a missing file is an empty list); bad lines are counted. */
bt_status bt_records_load(const char *dir, bt_record_list *out, int *bad_lines);

/* The table for this machine and registry built from records (a new JSON object). */
json_t *bt_table_build(const bt_record *records, int count);

typedef struct bt_commit_info {
    int records_on_disk; /* after the merge */
    int bad_lines;       /* lines that did not parse, kept as they were */
    int table_entries;
} bt_commit_info;

/* Merges `records` into dir (created if needed) and rewrites table.json; see above. */
bt_status bt_records_commit(const char *dir, const bt_record *records, int count,
                            bt_commit_info *info);

/* Writes data to path through a temporary file in the same directory and rename(). */
bt_status bt_write_atomic(const char *path, const char *data, size_t size);

#endif

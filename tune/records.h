/* Tuning records and tables on disk (docs/tuning.md).
 *
 * A results directory (results/<machine-id>/) may be shared by several machines with the same
 * id (two VMs of one CPU model with other caches, say). It holds
 *   records.jsonl  every configuration ever evaluated there, one JSON object per line, each
 *                  naming its machine's hardware hash and build hash (fingerprint.h); and a
 *                  machine line ({"kind": "machine", "fingerprint": {...}}) per build that
 *                  wrote records, so that every machine's table can be rebuilt from this file;
 *   table.json     the table of the machine of the folder's first record (or of the table
 *                  found there, if it came without records): the best ok record
 *                  per (problem, threads) among that hardware's records of the variant
 *                  registry of its latest record, whatever the build (format in
 *                  kernels/core/tuning.h); a function of records.jsonl;
 *   tables/<hardware hash>.json  the same for every other machine;
 *   .lock          flock()ed while the files are rewritten.
 * bt_records_commit merges new records with what is on disk under the lock and rewrites the
 * records and this machine's table atomically (temporary file + rename), so concurrent tuners
 * lose nothing, a reader never sees a half-written file, and no machine's table is dropped.
 * Lines that do not parse are kept as they are (and counted), never dropped. Records written
 * before records named their hardware get it from the folder's tables' fingerprints.
 *
 * The records are written first, then the table: two renames. A table says what it was built
 * from ("records": the count and a hash of its machine's record lines), so one left behind by
 * a crash between the two is seen as such: every commit, and bt_records_sync (which
 * `backtune tune` runs first in its folder, even when it has nothing to tune), rewrites every
 * table that is missing or differs from its records, and removes the temporary files of
 * interrupted writes. After any crash the next tune of the folder leaves each table equal to
 * what the records say.
 *
 * Test hook: BACKTUNE_TEST_FAULT=kill-between-writes (SIGKILL after the records are written,
 * before the table), kill-before-rename (SIGKILL with a written temporary file not renamed
 * yet) or pause-between-writes:SECONDS (a wider window for tests that kill a tuner at random
 * moments, tests/kill_tune.sh). Not for use outside tests. */
#ifndef BT_TUNE_RECORDS_H
#define BT_TUNE_RECORDS_H

#include "fingerprint.h"
#include "internal.h"

#include <jansson.h>
#include <stdio.h>

typedef enum bt_record_status {
    BT_RECORD_OK,
    BT_RECORD_INVALID,     /* wrong results against the reference: never chosen */
    BT_RECORD_UNSUPPORTED, /* the variant or these parameters do not take the problem */
    BT_RECORD_TIMEOUT      /* one run took longer than the per-candidate cap, or its runs on a
                              smaller minibatch predicted far longer (not timed: candidate.c) */
} bt_record_status;

typedef struct bt_record {
    char machine[64], fingerprint[16]; /* fingerprint id and hash (hardware and build) */
    char hardware[16];                 /* hardware hash: the machine, whatever the build */
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
                        screen-refine, screen-random, confirm, full, space; markers: slice,
                        paired */
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
    char variant_hash[20]; /* of its variant's name and parameter space (bt_variant_hash); ""
                              in records written before it was recorded */
    char version[32];
    char host[64]; /* the host that timed it ("" in records written before it was recorded) */
    int rank;      /* the MPI rank that timed it in a campaign (campaign.h); -1 alone */
    /* Markers (bt_record_is_marker): no timing of their own (min_s 0, status ok).
     * Stage "slice": the full stage (search.h) evaluated configurations [slice_begin,
     * slice_end) of the key's space, slice_evals of them planned, checked and timed; a rerun
     * of a campaign evaluates only the configurations no marker covers. Stage "paired": the
     * tuned choice (variant, params) and the exhaustive best (request: "variant params")
     * re-timed in alternation, medians paired_tuned_s and paired_full_s. */
    int64_t slice_begin, slice_end, slice_evals;
    double paired_tuned_s, paired_full_s;
    uint64_t line_hash; /* of its line in records.jsonl (what tables are stamped with) */
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
/* A marker record (stage "slice" or "paired", above): never a table entry nor a timing. */
int bt_record_is_marker(const bt_record *r);
/* Machine, hashes, version, host and date of now; op and problem from p; threads the key. */
void bt_record_init(bt_record *r, const bt_problem *p, int threads);
json_t *bt_record_to_json(const bt_record *r);
/* 0 if o is not a record (missing or mistyped fields). */
int bt_record_from_json(const json_t *o, bt_record *r);

bt_status bt_record_list_push(bt_record_list *l, const bt_record *r);
/* Removes the records marked with interference from l (keeping the order of the rest). */
void bt_record_list_drop_suspect(bt_record_list *l);
void bt_record_list_free(bt_record_list *l);

/* Reads dir/records.jsonl (a missing file is an empty list), every record's hardware
 * resolved; bad lines are counted. */
bt_status bt_records_load(const char *dir, bt_record_list *out, int *bad_lines);

/* The registry lines of dir's records.jsonl as one object, registry hash -> {variant name:
 * variant hash} (empty when there are none): which variants, with which parameter spaces, a
 * registry held. */
bt_status bt_records_registries(const char *dir, json_t **out);
/* Whether registry `registry_hash` (of bt_records_registries) held registered variant
 * `variant` as it is now (same name and parameter space): 1 yes, 0 no, -1 that registry is
 * not named there. */
int bt_registry_had_variant(const json_t *registries, const char *registry_hash, int variant);
/* Whether records make the key (problem text, threads) tuned on the machine of hardware hash
 * `hardware`: it has a record there (not a screen's) made against this build's registry, or
 * against a registry (`registries`, bt_records_registries) that held, as it is now, every
 * variant of the key's op that can take its problem on any CPU. So a variant added or
 * changed sends back to tuning only the keys it can take. */
int bt_records_tune_key(const bt_record_list *recs, const char *problem, int threads,
                        const char *hardware, const json_t *registries);

/* The table of `machine` built from records (a new JSON object): its hardware's records of
 * the registry of the latest of them; "updated" is the date of the latest. */
json_t *bt_table_build_for(const bt_record *records, int count, const bt_fingerprint *machine);
/* The same for this machine. */
json_t *bt_table_build(const bt_record *records, int count);

typedef struct bt_commit_info {
    int records_on_disk; /* after the merge */
    int bad_lines;       /* lines that did not parse, kept as they were */
    int table_entries;   /* of this machine's table */
    char table[1100];    /* its path, "" if not written */
    int tables_written;  /* of any machine */
    int orphans_removed; /* temporary files of interrupted writes */
} bt_commit_info;

/* Merges `records` into dir (created if needed) and rewrites this machine's table; see above. */
bt_status bt_records_commit(const char *dir, const bt_record *records, int count,
                            bt_commit_info *info);

/* The same for records another process timed, on `machine` (a campaign's rank 0 commits
 * the records of every machine of its job, campaign.h): that machine's line and table. */
bt_status bt_records_commit_for(const char *dir, const bt_fingerprint *machine,
                                const bt_record *records, int count, bt_commit_info *info);

/* Brings dir up to date after a crash (see above): nothing to commit, tables that differ from
 * the records rewritten, orphan temporary files removed. A missing dir is left alone. */
bt_status bt_records_sync(const char *dir, bt_commit_info *info);

/* Rewrites the table of every machine of dir from its records.jsonl (adding machine lines
 * for records that predate them), one line per table on `report` (may be NULL). */
bt_status bt_records_rebuild(const char *dir, FILE *report);

/* Where this machine's table is (or will be) in dir. */
bt_status bt_records_table_path(const char *dir, char *out, size_t size);

/* Whole file into a NUL-terminated buffer; *data NULL (and BT_OK) if it does not exist. */
bt_status bt_read_file(const char *path, char **data, size_t *size);

/* Writes data to path through a temporary file in the same directory and rename(). */
bt_status bt_write_atomic(const char *path, const char *data, size_t size);

#endif

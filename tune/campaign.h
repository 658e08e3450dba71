/* A tuning campaign over the ranks of an MPI job: `mpirun -np N backtune tune ...` or
 * `srun backtune tune ...` (docs/tuning.md#on-a-cluster). Built with MPI only
 * (campaign_mpi.c); without it cmdline/world.h refuses a launched job before a campaign could
 * start.
 *
 * Every rank selects the same keys (it has the same arguments). Ranks are grouped by machine
 * (hardware hash, fingerprint.h): each group tunes the keys for its own machine, into
 * results/<its machine id>/ (or the --out folder, which then holds several machines' tables).
 * Rank 0 coordinates: it reads each machine's folder, skips the keys tuned there already, and
 * hands the rest out one at a time to the ranks of that machine as they ask for work (one key
 * costs 20 s, another 26 minutes: a static split would wait for its unluckiest rank). A rank
 * sends each finished key's records to rank 0 at once; rank 0 answers with the next key at
 * once and merges the records into the folder with the atomic commit of records.h, together
 * with those of other keys that arrived meanwhile (a merge rewrites the whole records file,
 * so one per key would fall behind many ranks). A job killed at any moment loses at most the
 * keys in flight and the records rank 0 has not merged yet, and a rerun resumes. Records
 * carry the host and rank that timed them.
 *
 * Rank 0 tunes as well, in jobs of up to BT_CAMPAIGN_RANK0_TUNES_MAX ranks (and always when
 * it is the only rank of its machine): there a rank that only coordinated would be a large
 * share of the job idling (half of it on two nodes), while coordinating costs little, a wake
 * every millisecond and one merge per finished key, on a thread of its own
 * (MPI_THREAD_MULTIPLE). In larger jobs the merges come often enough to disturb rank 0's own
 * timings, and its share of the work is small, so it only coordinates.
 *
 * With --exhaustive the full stage of a key (search.h, 3.: ~10^4 configurations of a
 * ResNet-50 space, hours on one rank) is split too: the rank that tuned the key runs only its
 * budgeted search (BT_TUNE_FULL_LATER) and sends its records; rank 0 then cuts the space into
 * slices, contiguous ranges of configuration indices (space.h) of about BT_CAMPAIGN_SLICE_S of
 * work each, from the default's run time, and hands them out like keys to any rank of the
 * machine asking for work, first the paired re-timings due, then slices of keys already
 * started (so keys finish), then new keys; a rank with nothing to do waits while keys or
 * slices in flight may bring more. A slice comes with the key's records so far (its search,
 * the slices in): its rank does not evaluate their candidates again and abandons candidates
 * against their best, as the single-process full stage does against its best so far, and
 * sends its records (the invalid ones and each new best) and a marker record (stage "slice",
 * its bounds and evaluations, records.h) at once. Once every slice of a key is in, one rank
 * re-times its tuned choice against its exhaustive best (bt_tune_paired, marker record of
 * stage "paired"). A rerun reads the markers: it hands out only the configurations no slice
 * marker covers and the paired re-timings not recorded (a key tuned again because its records
 * were marked with interference keeps its slices done). Slices and re-timings are outside the
 * budget.
 *
 * A key's budget is its share of what is left: --time-limit (the campaign's wall time) times
 * the ranks tuning that machine's keys, less what finished keys used and in-flight keys were
 * given, over the keys not handed out yet (at least 0.5 s); without --time-limit, 10 s a key.
 *
 * Test hooks (not for use outside tests): BACKTUNE_TEST_FAULT=kill-rank:R:K makes rank R kill
 * itself (SIGKILL) when it is handed its K-th key; kill-rank-slice:R:K when it has evaluated its
 * K-th slice, before sending it. BACKTUNE_TEST_SLICE=N makes slices of N configurations. */
#ifndef BT_TUNE_CAMPAIGN_H
#define BT_TUNE_CAMPAIGN_H

#include "records.h"
#include "world.h"

#define BT_CAMPAIGN_RANK0_TUNES_MAX 8
/* Seconds of work a slice of a full stage is cut to (estimated from the default's run). */
#define BT_CAMPAIGN_SLICE_S 120.0

typedef struct bt_campaign bt_campaign;

typedef struct bt_campaign_key {
    const char *problem; /* canonical text */
    int threads;
} bt_campaign_key;

typedef struct bt_campaign_config {
    const char *command; /* message prefix */
    const bt_campaign_key *keys;
    int count;
    const char *out;   /* every machine's folder; NULL: results/<machine id> for each */
    double time_limit; /* seconds, the whole campaign; <= 0: 10 s per key to tune */
    int retune;        /* tune keys that have records too */
    int exhaustive;    /* split full stages into slices (above) */
} bt_campaign_config;

typedef enum bt_campaign_job_kind {
    BT_CAMPAIGN_KEY,    /* tune the key within its budget (with --exhaustive: the search only) */
    BT_CAMPAIGN_SLICE,  /* the full stage over configurations [begin, end) (bt_tune_full_slice) */
    BT_CAMPAIGN_PAIRED, /* the key's paired re-timing (bt_tune_paired) */
} bt_campaign_job_kind;

typedef struct bt_campaign_job {
    bt_campaign_job_kind kind;
    int key;              /* an index into cfg->keys */
    double seconds;       /* KEY: its budget; SLICE: the budget its search had (timing options) */
    int ordinal, todo;    /* KEY, for progress messages: its ordinal, the machine's keys to tune */
    int64_t begin, end;   /* SLICE */
    bt_record_list known; /* SLICE, PAIRED: the key's records so far; the caller frees it */
} bt_campaign_job;

/* Starts the campaign (a collective call of every rank of w, which joined a job of several
 * ranks). NULL on every rank, with the message printed, if a folder cannot be read. */
bt_campaign *bt_campaign_start(const bt_world *w, const bt_campaign_config *cfg);

/* The next job for this rank: its key (>= 0) with *job filled in. -1 when none is left;
 * -2 when rank 0 could not save records (the message printed there): the rank stops. */
int bt_campaign_next(bt_campaign *c, bt_campaign_job *job);

/* Sends the records of the job, done in `seconds`, to rank 0, which commits them soon after
 * (a failure stops the ranks at their next bt_campaign_next). count 0 (nothing to save:
 * --strict withheld them) is allowed. */
bt_status bt_campaign_save(bt_campaign *c, const bt_campaign_job *job, const bt_record *records,
                           int count, double seconds);

/* Ends the campaign (collective) and frees c: rank 0 says, per machine, how many keys were
 * tuned (and slices and re-timings done) and where the records and table are. 0, or -1 if rank 0
 * failed to save records. */
int bt_campaign_finish(bt_campaign *c);

#endif

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
 * A key's budget is its share of what is left: --time-limit (the campaign's wall time) times
 * the ranks tuning that machine's keys, less what finished keys used and in-flight keys were
 * given, over the keys not handed out yet (at least 0.5 s); without --time-limit, 10 s a key.
 *
 * Test hook: BACKTUNE_TEST_FAULT=kill-rank:R:K makes rank R kill itself (SIGKILL) when it is
 * handed its K-th key. Not for use outside tests. */
#ifndef BT_TUNE_CAMPAIGN_H
#define BT_TUNE_CAMPAIGN_H

#include "records.h"
#include "world.h"

#define BT_CAMPAIGN_RANK0_TUNES_MAX 8

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
} bt_campaign_config;

/* Starts the campaign (a collective call of every rank of w, which joined a job of several
 * ranks). NULL on every rank, with the message printed, if a folder cannot be read. */
bt_campaign *bt_campaign_start(const bt_world *w, const bt_campaign_config *cfg);

/* The next key for this rank (an index into cfg->keys), its budget in seconds, and for
 * progress messages its ordinal and the number of keys its machine has to tune. -1 when
 * none is left; -2 when rank 0 could not save records (the message printed there): the rank
 * stops. */
int bt_campaign_next(bt_campaign *c, double *seconds, int *ordinal, int *todo);

/* Sends the records of key `key`, tuned in `seconds`, to rank 0, which commits them soon after
 * (a failure stops the ranks at their next bt_campaign_next). count 0 (nothing to save:
 * --strict withheld them) is allowed. */
bt_status bt_campaign_save(bt_campaign *c, int key, const bt_record *records, int count,
                           double seconds);

/* Ends the campaign (collective) and frees c: rank 0 says, per machine, how many keys were
 * tuned and where the records and table are. 0, or -1 if rank 0 failed to save records. */
int bt_campaign_finish(bt_campaign *c);

#endif

/* Tuning campaigns over MPI (campaign.h): rank 0's coordinator and every rank's side of the
 * exchange. Messages on a communicator of the campaign's own:
 *   rank -> 0, TAG_WORK:   {"key": K or -1, "seconds": S, "records": [...]}, the records of
 *                          key K (none yet: -1) and a request for the next key;
 *   0 -> rank, TAG_ASSIGN: {next key or -1, its budget, its ordinal, the machine's keys to
 *                          tune, whether K's records were saved}.
 * Waits poll every millisecond instead of blocking: a blocking Open MPI receive spins a core,
 * which on rank 0 is also a core that times kernels. */
#include "campaign.h"

#include "fingerprint.h"

#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_WORK = 1, TAG_ASSIGN = 2 };
enum { ASSIGN_KEY, ASSIGN_SECONDS, ASSIGN_ORDINAL, ASSIGN_TODO, ASSIGN_SAVED, ASSIGN_FIELDS };

#define MIN_KEY_SECONDS 0.5
#define DEFAULT_KEY_SECONDS 10.0

typedef enum key_state { KEY_TODO, KEY_TUNED_BEFORE, KEY_IN_FLIGHT, KEY_FINISHED } key_state;

/* The ranks of one machine and its keys (rank 0 only). */
typedef struct machine_group {
    bt_fingerprint fp;
    char dir[1100];
    int ranks, tuners; /* ranks of this machine; of those, ranks that tune */
    int todo, handed, finished, saved_records;
    double total, spent; /* rank-seconds of the budget; used or promised */
    key_state *state;
    double *share;          /* budget given to a key in flight */
    bt_record_list pending; /* received, not committed yet */
} machine_group;

struct bt_campaign {
    bt_campaign_config cfg;
    const bt_world *w;
    MPI_Comm comm;
    int tunes;       /* this rank asks for keys */
    int asked;       /* a TAG_WORK went out since the last answer */
    int handed_here; /* keys this rank was handed (the test hook counts them) */
    long long sent;  /* records this rank sent */
    int fault_rank, fault_key;
    /* rank 0 */
    machine_group *groups;
    int ngroups;
    int *group_of; /* per rank */
    int active;    /* ranks that have not been told "no more keys" */
    int failed;    /* a commit failed */
    pthread_t coordinator;
    int coordinator_running;
};

static void nap(void) {
    struct timespec ts = {0, 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) continue;
}

static void wait_politely(MPI_Request *req) {
    for (int done = 0; MPI_Test(req, &done, MPI_STATUS_IGNORE), !done;) nap();
}

/* ---- rank 0: machines, folders, keys ---- */

/* Gathers every rank's fingerprint (JSON text) to rank 0; there, the groups. */
static int gather_machines(bt_campaign *c) {
    json_t *mine = bt_fingerprint_to_json(bt_fingerprint_get());
    char *text = mine ? json_dumps(mine, JSON_COMPACT) : NULL;
    json_decref(mine);
    int len = text ? (int)strlen(text) + 1 : 0, size = c->w->size, ok = text != NULL;
    int *lens = c->w->rank == 0 ? calloc((size_t)size, sizeof *lens) : NULL;
    int *offsets = c->w->rank == 0 ? calloc((size_t)size, sizeof *offsets) : NULL;
    MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, c->comm);
    char *all = NULL;
    if (c->w->rank == 0) {
        size_t total = 0;
        for (int r = 0; lens && offsets && r < size; r++)
            offsets[r] = (int)total, total += (size_t)lens[r];
        all = lens && offsets ? malloc(total ? total : 1) : NULL;
        c->group_of = calloc((size_t)size, sizeof *c->group_of);
        c->groups = calloc((size_t)size, sizeof *c->groups);
        if (!all || !c->group_of || !c->groups) MPI_Abort(MPI_COMM_WORLD, 2);
    }
    MPI_Gatherv(text ? text : "", len, MPI_CHAR, all, lens, offsets, MPI_CHAR, 0, c->comm);
    for (int r = 0; c->w->rank == 0 && r < size; r++) {
        json_error_t err;
        json_t *o = lens[r] ? json_loads(all + offsets[r], 0, &err) : NULL;
        bt_fingerprint fp;
        int read = o && bt_fingerprint_from_json(o, &fp, NULL, 0);
        json_decref(o);
        if (!read) {
            fprintf(stderr, "%s: rank %d sent no machine fingerprint\n", c->cfg.command, r);
            ok = 0;
            continue;
        }
        int g = 0;
        while (g < c->ngroups && strcmp(c->groups[g].fp.hardware, fp.hardware)) g++;
        if (g == c->ngroups) c->groups[c->ngroups++].fp = fp;
        c->group_of[r] = g;
        c->groups[g].ranks++;
    }
    free(text), free(all), free(lens), free(offsets);
    return ok;
}

/* Reads a machine's folder (after bringing it up to date) and marks its keys tuned there. */
static int open_group(bt_campaign *c, machine_group *g) {
    if (c->cfg.out)
        snprintf(g->dir, sizeof g->dir, "%s", c->cfg.out);
    else
        snprintf(g->dir, sizeof g->dir, "results/%s", g->fp.id);
    g->state = calloc((size_t)c->cfg.count + 1, sizeof *g->state);
    g->share = calloc((size_t)c->cfg.count + 1, sizeof *g->share);
    bt_commit_info synced;
    bt_record_list recs = {0};
    int bad = 0;
    if (!g->state || !g->share || bt_records_sync(g->dir, &synced) != BT_OK ||
        bt_records_load(g->dir, &recs, &bad) != BT_OK) {
        fprintf(stderr, "%s: %s: %s\n", c->cfg.command, g->dir, bt_last_error());
        return 0;
    }
    bt_record_list_drop_suspect(&recs); /* keys tuned under interference are tuned again */
    for (int k = 0; k < c->cfg.count; k++) {
        for (int i = 0; !c->cfg.retune && i < recs.count && g->state[k] == KEY_TODO; i++)
            if (bt_record_tunes_key(&recs.items[i], c->cfg.keys[k].problem, c->cfg.keys[k].threads,
                                    g->fp.hardware))
                g->state[k] = KEY_TUNED_BEFORE;
        g->todo += g->state[k] == KEY_TODO;
    }
    bt_record_list_free(&recs);
    g->total =
        c->cfg.time_limit > 0 ? c->cfg.time_limit * g->tuners : DEFAULT_KEY_SECONDS * g->todo;
    return 1;
}

static void print_groups(const bt_campaign *c) {
    for (int g = 0; g < c->ngroups; g++) {
        const machine_group *m = &c->groups[g];
        char ranks[256] = "";
        size_t used = 0;
        for (int r = 0; r < c->w->size && used < sizeof ranks - 12; r++)
            if (c->group_of[r] == g)
                used +=
                    (size_t)snprintf(ranks + used, sizeof ranks - used, "%s%d", used ? "," : "", r);
        fprintf(stderr,
                "%s: machine %s (hardware %s): ranks %s (%d tuning); %d keys, %d to tune (%d "
                "already tuned%s); results in %s/\n",
                c->cfg.command, m->fp.id, m->fp.hardware, ranks, m->tuners, c->cfg.count, m->todo,
                c->cfg.count - m->todo, c->cfg.retune ? ", --retune" : "", m->dir);
    }
}

/* ---- rank 0: the coordinator ---- */

/* The next key of group g for a rank, its budget; -1 if none is left. */
static int hand_out(machine_group *g, int count, double *seconds) {
    int k = 0;
    while (k < count && g->state[k] != KEY_TODO) k++;
    if (k == count) return -1;
    int left = g->todo - g->handed;
    double share = (g->total - g->spent) / left;
    g->share[k] = share < MIN_KEY_SECONDS ? MIN_KEY_SECONDS : share;
    g->spent += g->share[k];
    g->state[k] = KEY_IN_FLIGHT;
    g->handed++;
    *seconds = g->share[k];
    return k;
}

/* Takes the records a rank sent for key k of its group into the group's pending list; 0 if
 * they do not read or the rank was not tuning k. */
static int take_records(bt_campaign *c, machine_group *g, int rank, const json_t *msg) {
    int k = (int)json_integer_value(json_object_get(msg, "key"));
    if (k < 0 || k >= c->cfg.count || g->state[k] != KEY_IN_FLIGHT) {
        fprintf(stderr, "%s: rank %d sent records of key %d, which it was not tuning\n",
                c->cfg.command, rank, k);
        return 0;
    }
    g->state[k] = KEY_FINISHED;
    g->finished++;
    g->spent += json_number_value(json_object_get(msg, "seconds")) - g->share[k];
    size_t i;
    const json_t *o;
    json_array_foreach(json_object_get(msg, "records"), i, o) {
        bt_record r;
        if (!bt_record_from_json(o, &r) || bt_record_list_push(&g->pending, &r) != BT_OK) {
            fprintf(stderr, "%s: rank %d sent records of %s t%d that do not read\n", c->cfg.command,
                    rank, c->cfg.keys[k].problem, c->cfg.keys[k].threads);
            return 0;
        }
    }
    return 1;
}

/* Commits every group's pending records, one merge per group; returns how many merges. */
static int commit_pending(bt_campaign *c) {
    int merges = 0;
    for (int i = 0; i < c->ngroups; i++) {
        machine_group *g = &c->groups[i];
        if (!g->pending.count) continue;
        bt_commit_info info;
        if (bt_records_commit_for(g->dir, &g->fp, g->pending.items, g->pending.count, &info) ==
            BT_OK) {
            g->saved_records += g->pending.count;
        } else {
            fprintf(stderr, "%s: cannot save %d records in %s: %s\n", c->cfg.command,
                    g->pending.count, g->dir, bt_last_error());
            c->failed = 1; /* the ranks stop at their next request */
        }
        g->pending.count = 0;
        merges++;
    }
    return merges;
}

/* Answers one TAG_WORK message at once (its records are committed afterwards, with those of
 * other messages that came meanwhile); returns 0 when that rank was told there is no more. */
static int serve(bt_campaign *c, int rank, const char *text) {
    machine_group *g = &c->groups[c->group_of[rank]];
    json_error_t err;
    json_t *msg = json_loads(text, 0, &err);
    int saved = !c->failed;
    if (!msg) {
        fprintf(stderr, "%s: rank %d sent a message that does not read: %s\n", c->cfg.command, rank,
                err.text);
        saved = 0;
    } else if (saved && json_integer_value(json_object_get(msg, "key")) >= 0) {
        saved = take_records(c, g, rank, msg);
    }
    json_decref(msg);
    double answer[ASSIGN_FIELDS] = {-1, 0, 0, g->todo, saved};
    if (saved) {
        answer[ASSIGN_KEY] = hand_out(g, c->cfg.count, &answer[ASSIGN_SECONDS]);
        answer[ASSIGN_ORDINAL] = g->handed;
    } else {
        c->failed = 1; /* that rank stops */
    }
    MPI_Send(answer, ASSIGN_FIELDS, MPI_DOUBLE, rank, TAG_ASSIGN, c->comm);
    return answer[ASSIGN_KEY] >= 0;
}

/* Serves every message waiting, then merges the records they brought: a merge rewrites the
 * whole records file, so its cost grows with the folder, and merging the keys that finished
 * meanwhile together keeps rank 0 from falling behind many ranks. */
static void *coordinate(void *arg) {
    bt_campaign *c = arg;
    for (;;) {
        int served = 0;
        for (int flag = 1; c->active > 0 && flag;) {
            MPI_Status st;
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_WORK, c->comm, &flag, &st);
            if (!flag) break;
            int count = 0;
            MPI_Get_count(&st, MPI_CHAR, &count);
            char *text = malloc((size_t)count + 1);
            if (!text) MPI_Abort(MPI_COMM_WORLD, 2);
            MPI_Recv(text, count, MPI_CHAR, st.MPI_SOURCE, TAG_WORK, c->comm, MPI_STATUS_IGNORE);
            text[count] = '\0';
            if (!serve(c, st.MPI_SOURCE, text)) c->active--;
            free(text);
            served++;
        }
        if (commit_pending(c) || served) continue;
        if (c->active == 0) break;
        nap();
    }
    return NULL;
}

/* ---- every rank ---- */

static void read_fault(bt_campaign *c) {
    const char *fault = getenv("BACKTUNE_TEST_FAULT");
    c->fault_rank = c->fault_key = -1;
    if (fault && sscanf(fault, "kill-rank:%d:%d", &c->fault_rank, &c->fault_key) != 2)
        c->fault_rank = -1;
}

static void free_campaign(bt_campaign *c) {
    for (int g = 0; g < c->ngroups; g++) {
        free(c->groups[g].state), free(c->groups[g].share);
        bt_record_list_free(&c->groups[g].pending);
    }
    MPI_Comm_free(&c->comm);
    free(c->groups), free(c->group_of), free(c);
}

bt_campaign *bt_campaign_start(const bt_world *w, const bt_campaign_config *cfg) {
    bt_campaign *c = calloc(1, sizeof *c);
    if (!c) MPI_Abort(MPI_COMM_WORLD, 2);
    c->cfg = *cfg;
    c->w = w;
    read_fault(c);
    MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
    int ok = gather_machines(c);
    int rank0_tunes = 0;
    if (w->rank == 0) {
        machine_group *g0 = &c->groups[c->group_of[0]];
        rank0_tunes =
            w->threads_multiple && (w->size <= BT_CAMPAIGN_RANK0_TUNES_MAX || g0->ranks == 1);
        for (int r = 0; r < w->size; r++) c->groups[c->group_of[r]].tuners += r > 0 || rank0_tunes;
        for (int g = 0; ok && g < c->ngroups; g++) ok = open_group(c, &c->groups[g]);
        if (ok) print_groups(c);
        if (!w->threads_multiple)
            fprintf(stderr, "%s: MPI without MPI_THREAD_MULTIPLE: rank 0 only coordinates\n",
                    cfg->command);
        c->active = w->size - 1 + rank0_tunes;
    }
    MPI_Bcast(&rank0_tunes, 1, MPI_INT, 0, c->comm);
    MPI_Bcast(&ok, 1, MPI_INT, 0, c->comm);
    c->tunes = w->rank > 0 || rank0_tunes;
    if (ok && w->rank == 0) {
        if (rank0_tunes)
            c->coordinator_running = pthread_create(&c->coordinator, NULL, coordinate, c) == 0;
        else
            coordinate(c); /* until every other rank is done */
        if (rank0_tunes && !c->coordinator_running) MPI_Abort(MPI_COMM_WORLD, 2);
    }
    if (!ok) {
        free_campaign(c);
        return NULL;
    }
    return c;
}

int bt_campaign_next(bt_campaign *c, double *seconds, int *ordinal, int *todo) {
    if (!c->tunes) return -1;
    if (!c->asked) {
        static const char request[] = "{\"key\": -1}";
        MPI_Request req;
        MPI_Isend(request, (int)sizeof request - 1, MPI_CHAR, 0, TAG_WORK, c->comm, &req);
        wait_politely(&req);
    }
    double answer[ASSIGN_FIELDS];
    MPI_Request req;
    MPI_Irecv(answer, ASSIGN_FIELDS, MPI_DOUBLE, 0, TAG_ASSIGN, c->comm, &req);
    wait_politely(&req);
    c->asked = 0;
    int key = (int)answer[ASSIGN_KEY];
    if (!answer[ASSIGN_SAVED]) {
        c->tunes = 0;
        return -2;
    }
    if (key < 0) {
        c->tunes = 0;
        return -1;
    }
    *seconds = answer[ASSIGN_SECONDS];
    *ordinal = (int)answer[ASSIGN_ORDINAL];
    *todo = (int)answer[ASSIGN_TODO];
    if (++c->handed_here == c->fault_key && c->w->rank == c->fault_rank) kill(getpid(), SIGKILL);
    return key;
}

bt_status bt_campaign_save(bt_campaign *c, int key, const bt_record *records, int count,
                           double seconds) {
    json_t *msg = json_object(), *list = json_array();
    for (int i = 0; msg && list && i < count; i++) {
        bt_record r = records[i];
        r.rank = c->w->rank;
        json_array_append_new(list, bt_record_to_json(&r));
    }
    char *text = NULL;
    if (msg && list) {
        json_object_set_new(msg, "key", json_integer(key));
        json_object_set_new(msg, "seconds", json_real(seconds));
        json_object_set(msg, "records", list);
        text = json_dumps(msg, JSON_COMPACT);
    }
    json_decref(list);
    json_decref(msg);
    if (!text) return bt_fail(BT_ENOMEM, "tuner: out of memory sending records to rank 0");
    MPI_Request req;
    MPI_Isend(text, (int)strlen(text), MPI_CHAR, 0, TAG_WORK, c->comm, &req);
    wait_politely(&req);
    free(text);
    c->asked = 1;
    c->sent += count;
    return BT_OK;
}

int bt_campaign_finish(bt_campaign *c) {
    if (c->coordinator_running) pthread_join(c->coordinator, NULL);
    int failed = c->failed;
    MPI_Bcast(&failed, 1, MPI_INT, 0, c->comm);
    long long sent = 0, saved = 0;
    MPI_Reduce(&c->sent, &sent, 1, MPI_LONG_LONG, MPI_SUM, 0, c->comm);
    for (int g = 0; c->w->rank == 0 && g < c->ngroups; g++) saved += c->groups[g].saved_records;
    if (c->w->rank == 0)
        fprintf(stderr, "%s: %lld records sent by the %d ranks, %lld saved\n", c->cfg.command, sent,
                c->w->size, saved);
    for (int g = 0; c->w->rank == 0 && g < c->ngroups; g++) {
        const machine_group *m = &c->groups[g];
        fprintf(stderr, "%s: machine %s: %d of %d keys tuned now (%d records saved) in %s/\n",
                c->cfg.command, m->fp.id, m->finished, m->todo, m->saved_records, m->dir);
    }
    free_campaign(c);
    return failed ? -1 : 0;
}

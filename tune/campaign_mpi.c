/* Tuning campaigns over MPI (campaign.h): rank 0's coordinator and every rank's side of the
 * exchange. Messages on a communicator of the campaign's own, JSON text:
 *   rank -> 0, TAG_WORK:   {"job": "request"}, or the records of a job done and a request
 *                          for the next: {"job": "key"|"slice"|"paired", "key": K,
 *                          "seconds": S, "begin": B, "end": E (slice), "records": [...]};
 *   0 -> rank, TAG_ASSIGN: the next job, {"job": "key", "key", "seconds", "ordinal", "todo"},
 *                          {"job": "slice", "key", "seconds", "begin", "end", "records": the
 *                          key's so far}, {"job": "paired", "key", "records"}, or
 *                          {"job": "none"} (nothing left) or {"job": "failed"} (rank 0 could
 *                          not save records). A rank that asks while nothing is free but keys
 *                          or slices in flight may bring more is answered later.
 * Waits poll every millisecond instead of blocking: a blocking Open MPI receive spins a core,
 * which on rank 0 is also a core that times kernels. */
#include "campaign.h"

#include "fingerprint.h"
#include "tuning.h"

#include <errno.h>
#include <inttypes.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_WORK = 1, TAG_ASSIGN = 2 };

#define MIN_KEY_SECONDS 0.5
#define DEFAULT_KEY_SECONDS 10.0

/* A full stage's cost per configuration, estimated from the default's run (seconds): its
 * plan and check, a warm-up and one or two timed runs. */
#define SLICE_CONFIG_FIXED_S 0.05
#define SLICE_CONFIG_RUNS 3.0

typedef enum key_state { KEY_TODO, KEY_TUNED_BEFORE, KEY_IN_FLIGHT, KEY_FINISHED } key_state;
typedef enum paired_state { PAIRED_NONE, PAIRED_TODO, PAIRED_IN_FLIGHT, PAIRED_DONE } paired_state;
enum { CONFIG_TODO, CONFIG_IN_FLIGHT, CONFIG_DONE };

/* A key's full stage in slices (rank 0, --exhaustive). */
typedef struct key_full {
    int searched;          /* its budgeted search is in: its slices may go out */
    int64_t size, step;    /* configurations of its space; of a slice */
    unsigned char *config; /* per configuration: CONFIG_* */
    int64_t left;          /* configurations CONFIG_TODO */
    int in_flight;         /* slices out */
    paired_state paired;
    int paired_recorded;  /* the folder has its paired re-timing */
    double seconds;       /* its search's budget */
    bt_record_list known; /* its records, screens and markers left out */
} key_full;

/* The ranks of one machine and its keys (rank 0 only). */
typedef struct machine_group {
    bt_fingerprint fp;
    char dir[1100];
    int ranks, tuners; /* ranks of this machine; of those, ranks that tune */
    int todo, handed, finished, saved_records;
    int slices, paired;    /* done now */
    int64_t slice_configs; /* configurations of the slices done now */
    double total, spent;   /* rank-seconds of the budget; used or promised */
    key_state *state;
    double *share;          /* budget given to a key in flight */
    key_full *full;         /* per key */
    bt_record_list pending; /* received, not committed yet */
} machine_group;

struct bt_campaign {
    bt_campaign_config cfg;
    const bt_world *w;
    MPI_Comm comm;
    int tunes;       /* this rank asks for keys */
    int asked;       /* a TAG_WORK went out since the last answer */
    int handed_here; /* keys this rank was handed (the test hook counts them) */
    int slices_here; /* slices this rank evaluated (the test hook counts them) */
    long long sent;  /* records this rank sent */
    int fault_rank, fault_key, fault_slice;
    int64_t test_slice; /* BACKTUNE_TEST_SLICE, 0 unset */
    /* rank 0 */
    machine_group *groups;
    int ngroups;
    int *group_of; /* per rank */
    int *waiting;  /* per rank: asked for work, not answered yet */
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

/* ---- rank 0: full stages in slices ---- */

/* Sizes the key's configuration states for a space of `size` (all to do), unless they are. */
static int full_resize(key_full *f, int64_t size) {
    if (f->config && f->size == size) return 1;
    free(f->config);
    f->config = calloc((size_t)(size > 0 ? size : 1), 1); /* CONFIG_TODO */
    f->size = f->config ? size : 0;
    f->left = f->size;
    return f->config != NULL;
}

static void full_mark_done(key_full *f, int64_t begin, int64_t end) {
    for (int64_t i = begin < 0 ? 0 : begin; i < end && i < f->size; i++) {
        f->left -= f->config[i] == CONFIG_TODO;
        f->config[i] = CONFIG_DONE;
    }
}

/* Configurations per slice: BT_CAMPAIGN_SLICE_S of work at the cost the key's default run
 * suggests (BACKTUNE_TEST_SLICE: a test's). */
static int64_t slice_step(const bt_campaign *c, const key_full *f) {
    if (c->test_slice > 0) return c->test_slice;
    double run = 0;
    for (int i = 0; i < f->known.count; i++)
        if (!strcmp(f->known.items[i].stage, "default") && f->known.items[i].min_s > 0)
            run = f->known.items[i].min_s;
    int64_t step =
        (int64_t)(BT_CAMPAIGN_SLICE_S / (SLICE_CONFIG_FIXED_S + SLICE_CONFIG_RUNS * run));
    return step < 1 ? 1 : step;
}

/* The size of the space a key's search named a full stage for; -1 if none did. */
static int64_t full_space(const bt_record *recs, int n) {
    int64_t size = -1;
    for (int i = 0; i < n; i++)
        if (strstr(recs[i].search, "+full")) size = recs[i].space_size;
    return size;
}

/* The key's search is in (its records: `recs`, made with BT_TUNE_FULL_LATER): when its search
 * names a full stage, the slices of the configurations no marker covers may go out, and the
 * paired re-timing once they are in. Earlier searches' records give way to this one's, except
 * the full stage's. */
static int full_start(const bt_campaign *c, key_full *f, const bt_record *recs, int n,
                      double seconds) {
    int64_t size = full_space(recs, n);
    if (size < 0) return 1;
    int kept = 0;
    for (int i = 0; i < f->known.count; i++)
        if (!strcmp(f->known.items[i].stage, "full")) f->known.items[kept++] = f->known.items[i];
    f->known.count = kept;
    for (int i = 0; i < n; i++)
        if (!bt_record_is_screen(&recs[i]) && !bt_record_is_marker(&recs[i]) &&
            bt_record_list_push(&f->known, &recs[i]) != BT_OK)
            return 0;
    if (!full_resize(f, size)) return 0;
    f->searched = 1;
    f->step = slice_step(c, f);
    f->paired = PAIRED_TODO;
    f->seconds = seconds > 0 ? seconds : DEFAULT_KEY_SECONDS;
    return 1;
}

static int key_of(const bt_campaign *c, const bt_record *r) {
    for (int k = 0; k < c->cfg.count; k++)
        if (c->cfg.keys[k].threads == r->threads && !strcmp(c->cfg.keys[k].problem, r->problem))
            return k;
    return -1;
}

/* What the folder's records say of the machine's full stages: the configurations slice
 * markers cover, the paired re-timings done, each key's records (read before any is dropped
 * as suspect: a slice done under interference is not done again). */
static int read_full_stages(bt_campaign *c, machine_group *g, const bt_record_list *recs) {
    for (int i = 0; i < recs->count; i++) {
        const bt_record *r = &recs->items[i];
        if (strcmp(r->hardware, g->fp.hardware) || strcmp(r->registry_hash, bt_registry_hash()) ||
            bt_record_is_screen(r))
            continue;
        int k = key_of(c, r);
        if (k < 0) continue;
        key_full *f = &g->full[k];
        if (!strcmp(r->stage, "slice")) {
            if (!full_resize(f, r->space_size)) return 0;
            full_mark_done(f, r->slice_begin, r->slice_end);
        } else if (!strcmp(r->stage, "paired")) {
            f->paired_recorded = 1;
        } else if (bt_record_list_push(&f->known, r) != BT_OK) {
            return 0;
        }
    }
    return 1;
}

/* The keys tuned before whose search names a full stage resume it; those to be searched
 * again keep the configurations done (their slices go out after the search). */
static int resume_full_stages(bt_campaign *c, machine_group *g) {
    for (int k = 0; k < c->cfg.count; k++) {
        key_full *f = &g->full[k];
        int64_t size = full_space(f->known.items, f->known.count);
        if (g->state[k] != KEY_TUNED_BEFORE) {
            if (size >= 0 && !full_resize(f, size)) return 0;
            continue;
        }
        bt_record_list own = f->known;
        f->known = (bt_record_list){0};
        int ok = full_start(c, f, own.items, own.count, 0);
        bt_record_list_free(&own);
        if (!ok) return 0;
        if (f->searched && f->paired_recorded) f->paired = PAIRED_DONE;
    }
    return 1;
}

/* Reads a machine's folder (after bringing it up to date) and marks its keys tuned there. */
static int open_group(bt_campaign *c, machine_group *g) {
    if (c->cfg.out)
        snprintf(g->dir, sizeof g->dir, "%s", c->cfg.out);
    else
        snprintf(g->dir, sizeof g->dir, "results/%s", g->fp.id);
    g->state = calloc((size_t)c->cfg.count + 1, sizeof *g->state);
    g->share = calloc((size_t)c->cfg.count + 1, sizeof *g->share);
    g->full = calloc((size_t)c->cfg.count + 1, sizeof *g->full);
    bt_commit_info synced;
    bt_record_list recs = {0};
    int bad = 0;
    if (!g->state || !g->share || !g->full || bt_records_sync(g->dir, &synced) != BT_OK ||
        bt_records_load(g->dir, &recs, &bad) != BT_OK) {
        fprintf(stderr, "%s: %s: %s\n", c->cfg.command, g->dir, bt_last_error());
        return 0;
    }
    if (c->cfg.exhaustive && !c->cfg.retune && !read_full_stages(c, g, &recs))
        MPI_Abort(MPI_COMM_WORLD, 2);   /* out of memory */
    bt_record_list_drop_suspect(&recs); /* keys tuned under interference are tuned again */
    json_t *registries = NULL;
    if (!c->cfg.retune && bt_records_registries(g->dir, &registries) != BT_OK) {
        fprintf(stderr, "%s: %s: %s\n", c->cfg.command, g->dir, bt_last_error());
        bt_record_list_free(&recs);
        return 0;
    }
    for (int k = 0; k < c->cfg.count; k++) {
        if (!c->cfg.retune &&
            bt_records_tune_key(&recs, c->cfg.keys[k].problem, c->cfg.keys[k].threads,
                                g->fp.hardware, registries))
            g->state[k] = KEY_TUNED_BEFORE;
        g->todo += g->state[k] == KEY_TODO;
    }
    json_decref(registries);
    bt_record_list_free(&recs);
    if (!resume_full_stages(c, g)) MPI_Abort(MPI_COMM_WORLD, 2); /* out of memory */
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
        int keys = 0, paired = 0;
        int64_t configs = 0;
        for (int k = 0; k < c->cfg.count; k++) {
            const key_full *f = &m->full[k];
            keys += f->left > 0, configs += f->left, paired += f->paired == PAIRED_TODO;
        }
        if (c->cfg.exhaustive)
            fprintf(stderr,
                    "%s: machine %s: full stages begun before: %" PRId64
                    " configurations of %d keys left, %d paired re-timings due\n",
                    c->cfg.command, m->fp.id, configs, keys, paired);
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

/* Appends the records of a message to the group's pending list; 0 if one does not read. */
static int take_list(bt_campaign *c, machine_group *g, int rank, int k, const json_t *list) {
    size_t i;
    const json_t *o;
    json_array_foreach(list, i, o) {
        bt_record r;
        if (!bt_record_from_json(o, &r) || bt_record_list_push(&g->pending, &r) != BT_OK) {
            fprintf(stderr, "%s: rank %d sent records of %s t%d that do not read\n", c->cfg.command,
                    rank, c->cfg.keys[k].problem, c->cfg.keys[k].threads);
            return 0;
        }
    }
    return 1;
}

/* Takes the records a rank sent for key k of its group into the group's pending list (and,
 * for its full stage, its known records); 0 if they do not read or the rank was not doing
 * that job. */
static int take_records(bt_campaign *c, machine_group *g, int rank, const json_t *msg) {
    const char *job = json_string_value(json_object_get(msg, "job"));
    int k = (int)json_integer_value(json_object_get(msg, "key"));
    int64_t begin = json_integer_value(json_object_get(msg, "begin"));
    int64_t end = json_integer_value(json_object_get(msg, "end"));
    key_full *f = k >= 0 && k < c->cfg.count ? &g->full[k] : NULL;
    int kind = !job                     ? -1
               : !strcmp(job, "key")    ? BT_CAMPAIGN_KEY
               : !strcmp(job, "slice")  ? BT_CAMPAIGN_SLICE
               : !strcmp(job, "paired") ? BT_CAMPAIGN_PAIRED
                                        : -1;
    int doing = f && (kind == BT_CAMPAIGN_KEY      ? g->state[k] == KEY_IN_FLIGHT
                      : kind == BT_CAMPAIGN_PAIRED ? f->paired == PAIRED_IN_FLIGHT
                      : kind == BT_CAMPAIGN_SLICE
                          ? f->searched && begin >= 0 && begin < end && end <= f->size &&
                                f->config[begin] == CONFIG_IN_FLIGHT
                          : 0);
    if (!doing) {
        fprintf(stderr, "%s: rank %d sent records of a %s job of key %d, which it was not doing\n",
                c->cfg.command, rank, job ? job : "?", k);
        return 0;
    }
    int first = g->pending.count;
    const json_t *list = json_object_get(msg, "records");
    if (!take_list(c, g, rank, k, list)) return 0;
    const bt_record *recs = g->pending.items + first;
    int n = g->pending.count - first;
    if (kind == BT_CAMPAIGN_KEY) {
        g->state[k] = KEY_FINISHED;
        g->finished++;
        g->spent += json_number_value(json_object_get(msg, "seconds")) - g->share[k];
        return !c->cfg.exhaustive || full_start(c, f, recs, n, g->share[k]);
    }
    if (kind == BT_CAMPAIGN_PAIRED) {
        f->paired = PAIRED_DONE;
        g->paired++;
        return 1;
    }
    for (int64_t i = begin; i < end; i++) f->config[i] = CONFIG_DONE;
    f->in_flight--;
    g->slices++, g->slice_configs += end - begin;
    for (int i = 0; i < n; i++)
        if (!bt_record_is_marker(&recs[i]) && bt_record_list_push(&f->known, &recs[i]) != BT_OK)
            return 0;
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

static json_t *records_json(const bt_record_list *l) {
    json_t *a = json_array();
    for (int i = 0; a && i < l->count; i++)
        json_array_append_new(a, bt_record_to_json(&l->items[i]));
    return a;
}

/* The next job of group g for a rank (a new JSON answer): a paired re-timing due, a slice of
 * a key already searched, a new key; "none" when no work is left; NULL when there is none
 * now but keys or slices in flight may bring some. */
static json_t *next_job(bt_campaign *c, machine_group *g) {
    for (int k = 0; k < c->cfg.count; k++) {
        key_full *f = &g->full[k];
        if (!f->searched || f->left || f->in_flight || f->paired != PAIRED_TODO) continue;
        f->paired = PAIRED_IN_FLIGHT;
        return json_pack("{sssiso}", "job", "paired", "key", k, "records", records_json(&f->known));
    }
    for (int k = 0; k < c->cfg.count; k++) {
        key_full *f = &g->full[k];
        if (!f->searched || !f->left) continue;
        int64_t begin = 0;
        while (f->config[begin] != CONFIG_TODO) begin++;
        int64_t end = begin;
        while (end < f->size && end - begin < f->step && f->config[end] == CONFIG_TODO)
            f->config[end++] = CONFIG_IN_FLIGHT;
        f->left -= end - begin;
        f->in_flight++;
        return json_pack("{sssisfsIsIso}", "job", "slice", "key", k, "seconds", f->seconds, "begin",
                         (json_int_t)begin, "end", (json_int_t)end, "records",
                         records_json(&f->known));
    }
    double seconds = 0;
    int k = hand_out(g, c->cfg.count, &seconds);
    if (k >= 0)
        return json_pack("{sssisfsisi}", "job", "key", "key", k, "seconds", seconds, "ordinal",
                         g->handed, "todo", g->todo);
    for (int i = 0; c->cfg.exhaustive && i < c->cfg.count; i++)
        if (g->state[i] == KEY_IN_FLIGHT ||
            (g->full[i].in_flight && g->full[i].paired == PAIRED_TODO))
            return NULL;
    return json_pack("{ss}", "job", "none");
}

static void send_text(bt_campaign *c, const char *text, int rank, int tag) {
    MPI_Request req;
    MPI_Isend(text, (int)strlen(text), MPI_CHAR, rank, tag, c->comm, &req);
    wait_politely(&req);
}

/* Answers the ranks waiting for work that has some now (or are told there is none left, or
 * that rank 0 failed: those stop). */
static void answer_waiting(bt_campaign *c) {
    for (int r = 0; r < c->w->size; r++) {
        if (!c->waiting[r]) continue;
        json_t *answer = c->failed ? json_pack("{ss}", "job", "failed")
                                   : next_job(c, &c->groups[c->group_of[r]]);
        if (!answer) continue;
        char *text = json_dumps(answer, JSON_COMPACT);
        const char *job = json_string_value(json_object_get(answer, "job"));
        int stops = !strcmp(job, "none") || !strcmp(job, "failed");
        json_decref(answer);
        if (!text) MPI_Abort(MPI_COMM_WORLD, 2);
        send_text(c, text, r, TAG_ASSIGN);
        free(text);
        c->waiting[r] = 0;
        c->active -= stops;
    }
}

/* Takes one TAG_WORK message (its records are committed afterwards, with those of other
 * messages that came meanwhile); its rank then waits for an answer. */
static void serve(bt_campaign *c, int rank, const char *text) {
    machine_group *g = &c->groups[c->group_of[rank]];
    json_error_t err;
    json_t *msg = json_loads(text, 0, &err);
    if (!msg) {
        fprintf(stderr, "%s: rank %d sent a message that does not read: %s\n", c->cfg.command, rank,
                err.text);
        c->failed = 1;
    } else if (!c->failed && json_object_get(msg, "records") && !take_records(c, g, rank, msg)) {
        c->failed = 1; /* the ranks stop */
    }
    json_decref(msg);
    c->waiting[rank] = 1;
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
            serve(c, st.MPI_SOURCE, text);
            free(text);
            served++;
        }
        answer_waiting(c); /* also when a commit failed: waiting ranks are told to stop */
        if (commit_pending(c) || served) continue;
        if (c->active == 0) break;
        nap();
    }
    return NULL;
}

/* ---- every rank ---- */

static void read_test_hooks(bt_campaign *c) {
    const char *fault = getenv("BACKTUNE_TEST_FAULT"), *slice = getenv("BACKTUNE_TEST_SLICE");
    c->fault_rank = c->fault_key = c->fault_slice = -1;
    if (fault && sscanf(fault, "kill-rank:%d:%d", &c->fault_rank, &c->fault_key) != 2 &&
        sscanf(fault, "kill-rank-slice:%d:%d", &c->fault_rank, &c->fault_slice) != 2)
        c->fault_rank = -1;
    c->test_slice = slice ? strtoll(slice, NULL, 10) : 0;
}

static void free_campaign(bt_campaign *c) {
    for (int g = 0; g < c->ngroups; g++) {
        machine_group *m = &c->groups[g];
        for (int k = 0; m->full && k < c->cfg.count; k++) {
            free(m->full[k].config);
            bt_record_list_free(&m->full[k].known);
        }
        free(m->state), free(m->share), free(m->full);
        bt_record_list_free(&m->pending);
    }
    MPI_Comm_free(&c->comm);
    free(c->groups), free(c->group_of), free(c->waiting), free(c);
}

bt_campaign *bt_campaign_start(const bt_world *w, const bt_campaign_config *cfg) {
    bt_campaign *c = calloc(1, sizeof *c);
    if (!c) MPI_Abort(MPI_COMM_WORLD, 2);
    c->cfg = *cfg;
    c->w = w;
    read_test_hooks(c);
    MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
    int ok = gather_machines(c);
    int rank0_tunes = 0;
    if (w->rank == 0) {
        c->waiting = calloc((size_t)w->size, sizeof *c->waiting);
        if (!c->waiting) MPI_Abort(MPI_COMM_WORLD, 2);
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

/* Waits for rank 0's answer (a JSON text); NULL if it does not read. */
static json_t *receive_answer(bt_campaign *c) {
    MPI_Status st;
    for (int flag = 0; MPI_Iprobe(0, TAG_ASSIGN, c->comm, &flag, &st), !flag;) nap();
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    char *text = malloc((size_t)count + 1);
    if (!text) MPI_Abort(MPI_COMM_WORLD, 2);
    MPI_Recv(text, count, MPI_CHAR, 0, TAG_ASSIGN, c->comm, MPI_STATUS_IGNORE);
    text[count] = '\0';
    json_error_t err;
    json_t *answer = json_loads(text, 0, &err);
    free(text);
    if (!answer)
        fprintf(stderr, "%s: rank 0's answer does not read: %s\n", c->cfg.command, err.text);
    return answer;
}

int bt_campaign_next(bt_campaign *c, bt_campaign_job *job) {
    memset(job, 0, sizeof *job);
    if (!c->tunes) return -1;
    if (!c->asked) send_text(c, "{\"job\": \"request\"}", 0, TAG_WORK);
    json_t *answer = receive_answer(c);
    c->asked = 0;
    const char *kind = json_string_value(json_object_get(answer, "job"));
    int key = (int)json_integer_value(json_object_get(answer, "key"));
    int rc = !kind || !strcmp(kind, "failed") ? -2 : !strcmp(kind, "none") ? -1 : key;
    job->kind = !kind || !strcmp(kind, "key") ? BT_CAMPAIGN_KEY
                : !strcmp(kind, "slice")      ? BT_CAMPAIGN_SLICE
                                              : BT_CAMPAIGN_PAIRED;
    job->key = key;
    job->seconds = json_number_value(json_object_get(answer, "seconds"));
    job->ordinal = (int)json_integer_value(json_object_get(answer, "ordinal"));
    job->todo = (int)json_integer_value(json_object_get(answer, "todo"));
    job->begin = json_integer_value(json_object_get(answer, "begin"));
    job->end = json_integer_value(json_object_get(answer, "end"));
    size_t i;
    const json_t *o;
    json_array_foreach(json_object_get(answer, "records"), i, o) {
        bt_record r;
        if (rc >= 0 &&
            (!bt_record_from_json(o, &r) || bt_record_list_push(&job->known, &r) != BT_OK)) {
            fprintf(stderr, "%s: rank 0 sent records that do not read\n", c->cfg.command);
            rc = -2;
        }
    }
    json_decref(answer);
    if (rc < 0) {
        bt_record_list_free(&job->known);
        c->tunes = 0;
        return rc;
    }
    if (job->kind == BT_CAMPAIGN_KEY && ++c->handed_here == c->fault_key &&
        c->w->rank == c->fault_rank)
        kill(getpid(), SIGKILL);
    return key;
}

bt_status bt_campaign_save(bt_campaign *c, const bt_campaign_job *job, const bt_record *records,
                           int count, double seconds) {
    static const char *const kinds[] = {"key", "slice", "paired"};
    if (job->kind == BT_CAMPAIGN_SLICE && ++c->slices_here == c->fault_slice &&
        c->w->rank == c->fault_rank)
        kill(getpid(), SIGKILL); /* evaluated, not sent: the slice is lost */
    json_t *msg = json_object(), *list = json_array();
    for (int i = 0; msg && list && i < count; i++) {
        bt_record r = records[i];
        r.rank = c->w->rank;
        json_array_append_new(list, bt_record_to_json(&r));
    }
    char *text = NULL;
    if (msg && list) {
        json_object_set_new(msg, "job", json_string(kinds[job->kind]));
        json_object_set_new(msg, "key", json_integer(job->key));
        json_object_set_new(msg, "seconds", json_real(seconds));
        if (job->kind == BT_CAMPAIGN_SLICE) {
            json_object_set_new(msg, "begin", json_integer(job->begin));
            json_object_set_new(msg, "end", json_integer(job->end));
        }
        json_object_set(msg, "records", list);
        text = json_dumps(msg, JSON_COMPACT);
    }
    json_decref(list);
    json_decref(msg);
    if (!text) return bt_fail(BT_ENOMEM, "tuner: out of memory sending records to rank 0");
    send_text(c, text, 0, TAG_WORK);
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
        if (c->cfg.exhaustive)
            fprintf(stderr,
                    "%s: machine %s: full stages: %d slices (%" PRId64
                    " configurations) and %d paired re-timings done now\n",
                    c->cfg.command, m->fp.id, m->slices, m->slice_configs, m->paired);
    }
    free_campaign(c);
    return failed ? -1 : 0;
}

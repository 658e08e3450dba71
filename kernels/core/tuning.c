/* Tuning tables: loading, validation and lookup (format and rules in tuning.h).
 *
 * The loaded tables are the library's one piece of mutable global state. They are built off
 * to the side and swapped in under a write lock; lookups hold the read lock while they scan,
 * so plans can be created from many threads while another thread loads a table. */
#include "tuning.h"

#include "fingerprint.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BT_TABLE_MAX_THREADS 1024

typedef struct table_entry {
    bt_problem problem; /* normalized */
    int threads;
    char variant[128];
    char params[BT_PARAMS_TEXT];  /* every parameter of the measured plan */
    char request[BT_PARAMS_TEXT]; /* those the tuner chose (the rest were defaults) */
    char text[200];               /* the problem as the table wrote it, for messages */
} table_entry;

typedef struct table {
    char path[512];
    char machine[64]; /* id of the machine it was tuned on */
    bt_fingerprint_match match;
    int count, skipped, total;
    int registry_current;  /* tuned against this build's variant registry */
    char skip_reason[300]; /* why the first skipped entry was skipped */
    char note[600];        /* other hardware: said when loaded */
    table_entry *entries;
} table;

typedef struct table_set {
    int count;
    table *tables;
    char status[512]; /* what went wrong loading, for dispatch's messages ("" if nothing) */
    char notes[1024]; /* what loaded with a caveat (other hardware, skipped entries) */
} table_set;

static pthread_rwlock_t set_lock = PTHREAD_RWLOCK_INITIALIZER;
static table_set *current; /* guarded by set_lock */
static pthread_mutex_t env_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int env_done; /* BACKTUNE_TABLE read (or overridden by bt_tuning_load) */

static int verbose(void) {
    const char *v = getenv("BACKTUNE_VERBOSE");
    return v && *v && strcmp(v, "0");
}

/* ---- registry hash ---- */

static char registry_hash[17];
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void compute_registry_hash(void) {
    uint64_t h = BT_FNV1A_INIT;
    for (int i = 0; i < bt_registry_count(); i++) {
        h = bt_fnv1a(h, bt_registry_get(i)->name);
        h = bt_fnv1a(h, "\n");
        h = bt_fnv1a(h, bt_variant_param_space(i));
        h = bt_fnv1a(h, "\n");
    }
    snprintf(registry_hash, sizeof registry_hash, "%016llx", (unsigned long long)h);
}

const char *bt_registry_hash(void) {
    pthread_once(&registry_once, compute_registry_hash);
    return registry_hash;
}

int bt_variant_hash(int i, char *buf, size_t size) {
    const bt_variant *v = bt_registry_get(i);
    if (!v || !buf || size < 17) return 0;
    uint64_t h = bt_fnv1a(BT_FNV1A_INIT, v->name);
    h = bt_fnv1a(h, "\n");
    h = bt_fnv1a(h, bt_variant_param_space(i));
    snprintf(buf, size, "%016llx", (unsigned long long)h);
    return 1;
}

/* ---- loading ---- */

static void free_set(table_set *s) {
    if (!s) return;
    for (int i = 0; i < s->count; i++) free(s->tables[i].entries);
    free(s->tables);
    free(s);
}

/* BACKTUNE_TABLE_MATCH: how close the table's machine must be. */
static const struct {
    const char *name;
    bt_fingerprint_match worst;
} match_levels[] = {{"exact", BT_FP_EXACT},
                    {"uarch", BT_FP_SAME_UARCH},
                    {"cpu", BT_FP_SAME_UARCH}, /* its former name */
                    {"isa", BT_FP_SAME_ISA},
                    {"any", BT_FP_FOREIGN}};

static const char *match_level_name(bt_fingerprint_match worst) {
    for (size_t i = 0; i < sizeof match_levels / sizeof match_levels[0]; i++)
        if (match_levels[i].worst == worst) return match_levels[i].name;
    return "?";
}

/* The accepted match; a note in `note` when BACKTUNE_TABLE_MATCH is not a known level. */
static bt_fingerprint_match accepted_match(char *note, size_t size) {
    const char *m = getenv("BACKTUNE_TABLE_MATCH");
    note[0] = '\0';
    if (!m || !*m) return BT_FP_SAME_UARCH;
    for (size_t i = 0; i < sizeof match_levels / sizeof match_levels[0]; i++)
        if (!strcmp(m, match_levels[i].name)) return match_levels[i].worst;
    snprintf(note, size,
             "BACKTUNE_TABLE_MATCH=%.40s is not exact, uarch, isa or any: taken as uarch", m);
    return BT_FP_SAME_UARCH;
}

static void skip_entry(table *t, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void skip_entry(table *t, size_t index, const char *fmt, ...) {
    if (!t->skipped++) {
        int n = snprintf(t->skip_reason, sizeof t->skip_reason, "entry %zu: ", index);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof t->skip_reason)
            vsnprintf(t->skip_reason + n, sizeof t->skip_reason - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

static void parse_entry(table *t, size_t index, const json_t *e) {
    const char *problem = json_string_value(json_object_get(e, "problem"));
    const char *variant = json_string_value(json_object_get(e, "variant"));
    const json_t *params = json_object_get(e, "params");
    const json_t *request = json_object_get(e, "request");
    const json_t *threads = json_object_get(e, "threads");
    const json_t *vhash = json_object_get(e, "variant_hash");
    if (!json_is_object(e) || !problem || !variant || !json_is_integer(threads) ||
        (params && !json_is_string(params)) || (request && !json_is_string(request)) ||
        (vhash && !json_is_string(vhash))) {
        skip_entry(t, index, "needs problem, variant and params strings and an integer threads");
        return;
    }
    table_entry *out = &t->entries[t->count];
    memset(out, 0, sizeof *out);
    json_int_t th = json_integer_value(threads);
    const char *ptext = params ? json_string_value(params) : "";
    const char *rtext = request ? json_string_value(request) : ptext;
    if (th < 1 || th > BT_TABLE_MAX_THREADS) {
        skip_entry(t, index, "threads = %lld is out of range", (long long)th);
        return;
    }
    if (strlen(variant) >= sizeof out->variant || strlen(ptext) >= sizeof out->params ||
        strlen(rtext) >= sizeof out->request || strlen(problem) >= sizeof out->text) {
        skip_entry(t, index, "a field is too long");
        return;
    }
    bt_problem parsed;
    if (bt_problem_parse(problem, &parsed) != BT_OK ||
        bt_problem_normalize(&parsed, &out->problem) != BT_OK) {
        skip_entry(t, index, "problem '%s': %s", problem, bt_last_error());
        return;
    }
    int vi = bt_variant_find(variant);
    if (vi < 0) {
        skip_entry(t, index, "variant %s is not in this build", variant);
        return;
    }
    char mine[17];
    if (vhash ? !bt_variant_hash(vi, mine, sizeof mine) || strcmp(json_string_value(vhash), mine)
              : !t->registry_current) {
        skip_entry(t, index,
                   "variant %s changed since it was tuned (its name or parameter space; variant "
                   "hash %s, this build's %s)",
                   variant, vhash ? json_string_value(vhash) : "(the table's registry)",
                   bt_variant_hash(vi, mine, sizeof mine) ? mine : "?");
        return;
    }
    if (bt_variant_op(vi) != out->problem.op) {
        skip_entry(t, index, "variant %s is not a %s variant", variant,
                   bt_op_name(out->problem.op));
        return;
    }
    if (bt_variant_params_check(vi, ptext) != BT_OK ||
        (rtext != ptext && bt_variant_params_check(vi, rtext) != BT_OK)) {
        skip_entry(t, index, "%s: %s", variant, bt_last_error());
        return;
    }
    out->threads = (int)th;
    snprintf(out->variant, sizeof out->variant, "%s", variant);
    snprintf(out->params, sizeof out->params, "%s", ptext);
    snprintf(out->request, sizeof out->request, "%s", rtext);
    snprintf(out->text, sizeof out->text, "%s", problem);
    t->count++;
}

json_t *bt_json_load_regular(const char *path, size_t flags, json_error_t *err, int *irregular,
                             int *empty) {
    if (!path || !err || !irregular || !empty) return NULL;
    *irregular = *empty = 0;
    memset(err, 0, sizeof *err);
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err->text, sizeof err->text, "unable to open: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *irregular = 1;
        snprintf(err->text, sizeof err->text, "not a regular file (%s)",
                 S_ISFIFO(st.st_mode)  ? "a FIFO"
                 : S_ISCHR(st.st_mode) ? "a character device"
                 : S_ISBLK(st.st_mode) ? "a block device"
                 : S_ISDIR(st.st_mode) ? "a directory"
                                       : "not a file");
        close(fd);
        return NULL;
    }
    *empty = st.st_size == 0;
    json_t *root = json_loadfd(fd, flags, err);
    close(fd);
    return root;
}

/* Reads and validates one table file into t. */
static bt_status load_file(const char *path, bt_fingerprint_match worst, table *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    json_error_t err;
    int irregular, empty;
    json_t *root = bt_json_load_regular(path, JSON_REJECT_DUPLICATES, &err, &irregular, &empty);
    if (!root) {
        if (irregular)
            return bt_fail(BT_EINVAL, "tuning table %s is %s: only regular files are read", path,
                           err.text);
        if (!strncmp(err.text, "unable to open", 14))
            return bt_fail(BT_EIO, "tuning table %s: %s", path, err.text + 16);
        if (empty) return bt_fail(BT_EINVAL, "tuning table %s is empty (truncated?)", path);
        return bt_fail(BT_EINVAL,
                       "tuning table %s is not valid JSON (line %d, column %d: %s): it is "
                       "corrupt or truncated",
                       path, err.line, err.column, err.text);
    }
    bt_status status = BT_OK;
    const char *format = json_string_value(json_object_get(root, "format"));
    const json_t *version = json_object_get(root, "format_version");
    const char *rhash = json_string_value(json_object_get(root, "registry_hash"));
    const json_t *entries = json_object_get(root, "entries");
    bt_fingerprint theirs;
    char why[160];
    if (!json_is_object(root) || !format || strcmp(format, BT_TABLE_FORMAT)) {
        status = bt_fail(BT_EINVAL, "%s is not a backtune tuning table (no \"format\": \"%s\")",
                         path, BT_TABLE_FORMAT);
    } else if (!json_is_integer(version) ||
               json_integer_value(version) != BT_TABLE_FORMAT_VERSION) {
        status = bt_fail(BT_EINVAL, "tuning table %s has format version %lld; this build reads %d",
                         path, (long long)json_integer_value(version), BT_TABLE_FORMAT_VERSION);
    } else if (!bt_fingerprint_from_json(json_object_get(root, "fingerprint"), &theirs, why,
                                         sizeof why)) {
        status =
            bt_fail(BT_EINVAL, "tuning table %s has no valid machine fingerprint: %s", path, why);
    } else if (!rhash || !json_is_array(entries)) {
        status = bt_fail(BT_EINVAL, "tuning table %s lacks \"registry_hash\" or \"entries\"", path);
    }
    if (status != BT_OK) {
        json_decref(root);
        return status;
    }
    const bt_fingerprint *mine = bt_fingerprint_get();
    t->match = bt_fingerprint_compare(mine, &theirs);
    snprintf(t->machine, sizeof t->machine, "%s", theirs.id);
    if (t->match > worst) {
        status = bt_fail(BT_EINVAL,
                         "tuning table %s was tuned on another machine (%s, %s %s, hardware %s); "
                         "this is %s (%s %s, hardware %s): %s, not used (BACKTUNE_TABLE_MATCH=%s; "
                         "isa or any would follow it)",
                         path, theirs.id, theirs.vendor, theirs.uarch, theirs.hardware, mine->id,
                         mine->vendor, mine->uarch, mine->hardware,
                         bt_fingerprint_match_name(t->match), match_level_name(worst));
    } else if (t->match != BT_FP_EXACT) {
        snprintf(t->note, sizeof t->note,
                 "tuning table %.300s was tuned on other hardware (%.60s, hardware %.16s; this "
                 "is %.16s), %.40s (%.30s): followed",
                 path, theirs.id, theirs.hardware, mine->hardware,
                 bt_fingerprint_match_name(t->match), theirs.uarch);
    }
    /* Entries carrying their variant's hash are checked one by one, so a variant added or
     * changed since leaves the others' entries valid; entries without one (older tables) hold
     * only while the whole registry is the same. */
    t->registry_current = rhash && !strcmp(rhash, bt_registry_hash());
    size_t n = json_array_size(entries);
    t->total = (int)n;
    if (status == BT_OK && n) {
        t->entries = calloc(n, sizeof *t->entries);
        if (!t->entries) status = bt_fail(BT_ENOMEM, "tuning table %s: out of memory", path);
    }
    for (size_t i = 0; status == BT_OK && i < n; i++) parse_entry(t, i, json_array_get(entries, i));
    if (status == BT_OK && n && !t->count)
        status =
            bt_fail(BT_EINVAL, "tuning table %s has no usable entry (%s)%s", path, t->skip_reason,
                    t->registry_current ? ""
                                        : ": it is stale, tuned against another variant "
                                          "registry; re-run `backtune tune`");
    json_decref(root);
    if (status != BT_OK) free(t->entries), t->entries = NULL, t->count = 0;
    return status;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

#define MAX_NAMES 256

/* The sorted names in dir that do not start with '.' (at most MAX_NAMES); returns the count. */
static int list_dir(const char *dir, char **names) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    for (struct dirent *e; (e = readdir(d)) && count < MAX_NAMES;)
        if (e->d_name[0] != '.' && (names[count] = strdup(e->d_name))) count++;
    closedir(d);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    return count;
}

typedef struct candidates {
    char paths[MAX_NAMES][1024];
    int count;
} candidates;

static void add_candidate(candidates *c, const char *dir, const char *name) {
    if (c->count < MAX_NAMES && strlen(dir) < 900 && strlen(name) < 100)
        snprintf(c->paths[c->count++], sizeof c->paths[0], "%.900s/%.100s", dir, name);
}

/* The tables of one machine folder: table.json, then tables/<hardware hash>.json. */
static void add_folder_tables(candidates *c, const char *dir) {
    char path[1024], *names[MAX_NAMES];
    snprintf(path, sizeof path, "%s/table.json", dir);
    if (access(path, F_OK) == 0) add_candidate(c, dir, "table.json");
    snprintf(path, sizeof path, "%s/tables", dir);
    int count = list_dir(path, names);
    for (int i = 0; i < count; i++) {
        size_t n = strlen(names[i]);
        if (n > 5 && !strcmp(names[i] + n - 5, ".json")) add_candidate(c, path, names[i]);
        free(names[i]);
    }
}

/* The best-matching table of those in c. */
static bt_status load_best(const candidates *c, const char *dir, bt_fingerprint_match worst,
                           table *out) {
    if (c->count == 1) return load_file(c->paths[0], worst, out);
    int found = 0;
    char tried[400] = "";
    for (int i = 0; i < c->count; i++) {
        table t;
        if (load_file(c->paths[i], worst, &t) != BT_OK) {
            size_t used = strlen(tried);
            snprintf(tried + used, sizeof tried - used, "%s%s", used ? "; " : "", bt_last_error());
            continue;
        }
        if (!found || t.match < out->match) {
            if (found) free(out->entries);
            *out = t, found = 1;
        } else {
            free(t.entries);
        }
    }
    if (!found)
        return bt_fail(BT_EINVAL, "no usable tuning table for this machine (%s) under %s%s%s",
                       bt_fingerprint_id(), dir, tried[0] ? ": " : "", tried);
    return BT_OK;
}

/* A file; a machine folder (table.json and tables/); or a folder of machine folders
 * (results/): the best-matching of their tables. */
static bt_status load_path(const char *path, bt_fingerprint_match worst, table *out) {
    if (!is_dir(path)) return load_file(path, worst, out);
    candidates *c = calloc(1, sizeof *c);
    if (!c) return bt_fail(BT_ENOMEM, "tuning tables %s: out of memory", path);
    char file[1024], sub[1024];
    snprintf(file, sizeof file, "%s/table.json", path);
    snprintf(sub, sizeof sub, "%s/tables", path);
    if (access(file, F_OK) == 0 || is_dir(sub)) {
        add_folder_tables(c, path);
    } else {
        char *names[MAX_NAMES];
        int count = list_dir(path, names);
        for (int i = 0; i < count; i++) {
            snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
            if (is_dir(sub)) add_folder_tables(c, sub);
            free(names[i]);
        }
    }
    bt_status st = load_best(c, path, worst, out);
    free(c);
    return st;
}

/* A loaded table's caveats, for the set's notes: said on load whatever the verbosity. */
static void add_notes(table_set *s, const table *t) {
    size_t n = strlen(s->notes);
    if (t->note[0] && n < sizeof s->notes)
        n += (size_t)snprintf(s->notes + n, sizeof s->notes - n, "%s%s", n ? "; " : "", t->note);
    if (t->skipped && n < sizeof s->notes)
        snprintf(s->notes + n, sizeof s->notes - n,
                 "%stuning table %.300s: %d of %d entries skipped (they name variants this build "
                 "lacks or has changed, or invalid parameters; first: %.300s)",
                 n ? "; " : "", t->path, t->skipped, t->total, t->skip_reason);
}

/* Loads every ':'-separated path; the set holds those that loaded. Returns the first error. */
static bt_status load_set(const char *paths, const char *origin, table_set **out) {
    table_set *s = calloc(1, sizeof *s);
    char *copy = strdup(paths);
    size_t max = 1;
    for (const char *c = paths; *c; c++) max += *c == ':';
    if (s) s->tables = calloc(max, sizeof *s->tables);
    if (!s || !copy || !s->tables) {
        free(copy);
        free_set(s);
        *out = NULL;
        return bt_fail(BT_ENOMEM, "%s: out of memory", origin);
    }
    bt_status first = BT_OK;
    char first_msg[512] = "";
    bt_fingerprint_match worst = accepted_match(s->notes, sizeof s->notes);
    for (char *save = NULL, *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        bt_status st = load_path(p, worst, &s->tables[s->count]);
        if (st == BT_OK) {
            add_notes(s, &s->tables[s->count]);
            s->count++;
        } else if (first == BT_OK) {
            first = st;
            snprintf(first_msg, sizeof first_msg, "%s", bt_last_error());
        }
    }
    free(copy);
    if (first != BT_OK) {
        snprintf(s->status, sizeof s->status, "%.200s: %.300s", origin, first_msg);
        bt_fail(first, "%s", s->status);
    }
    *out = s;
    return first;
}

static void install(table_set *s) {
    pthread_rwlock_wrlock(&set_lock);
    table_set *old = current;
    current = s;
    pthread_rwlock_unlock(&set_lock);
    free_set(old);
}

static void report_load(const table_set *s, bt_status st, int always) {
    if (st != BT_OK && (always || verbose()))
        fprintf(stderr, "backtune: %s; dispatching by heuristic%s\n",
                s ? s->status : "out of memory",
                s && s->count ? " where the other tables have no entry" : "");
    if (s && s->notes[0]) fprintf(stderr, "backtune: %s\n", s->notes);
    if (!verbose() || !s) return;
    for (int i = 0; i < s->count; i++) {
        const table *t = &s->tables[i];
        fprintf(stderr, "backtune: tuning table %s loaded: %d entries, tuned on %s (%s)\n", t->path,
                t->count, t->machine, bt_fingerprint_match_name(t->match));
    }
}

bt_status bt_tuning_load(const char *path) {
    if (!path) return bt_fail(BT_EINVAL, "bt_tuning_load: path is NULL");
    pthread_mutex_lock(&env_mutex);
    atomic_store(&env_done, 1); /* an explicit table overrides BACKTUNE_TABLE */
    table_set *s;
    bt_status st = load_set(path, "bt_tuning_load", &s);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", st != BT_OK ? bt_last_error() : s ? s->notes : "");
    install(s);
    pthread_mutex_unlock(&env_mutex);
    report_load(s, st, 0);
    /* On success, bt_last_error() holds the notes ("" when there are none). */
    bt_fail(st, "%s", msg);
    return st;
}

static void load_env_once(void) {
    if (atomic_load(&env_done)) return;
    pthread_mutex_lock(&env_mutex);
    if (!atomic_load(&env_done)) {
        const char *paths = getenv("BACKTUNE_TABLE");
        if (paths && *paths) {
            char origin[600];
            snprintf(origin, sizeof origin, "BACKTUNE_TABLE=%s", paths);
            table_set *s;
            bt_status st = load_set(paths, origin, &s);
            install(s);
            /* Nobody receives this status: say it on stderr (once) whatever the verbosity. */
            report_load(s, st, 1);
        }
        atomic_store(&env_done, 1);
    }
    pthread_mutex_unlock(&env_mutex);
}

void bt_tuning_unload(void) {
    pthread_mutex_lock(&env_mutex);
    install(NULL);
    atomic_store(&env_done, 0);
    pthread_mutex_unlock(&env_mutex);
}

int bt_tuning_describe(char *buf, size_t size) {
    load_env_once();
    pthread_rwlock_rdlock(&set_lock);
    const table_set *s = current;
    int count = s ? s->count : 0;
    size_t n = 0;
    if (size) buf[0] = '\0';
    if (!count)
        snprintf(buf, size, "no tuning table%s%s", s && s->status[0] ? ": " : "",
                 s ? s->status : "");
    for (int i = 0; i < count && n < size; i++) {
        const table *t = &s->tables[i];
        n += (size_t)snprintf(buf + n, size - n, "%s%s (%d entries, %s %s)", i ? ", " : "", t->path,
                              t->count, bt_fingerprint_match_name(t->match), t->machine);
    }
    if (count && s->notes[0] && n < size) snprintf(buf + n, size - n, "; %s", s->notes);
    pthread_rwlock_unlock(&set_lock);
    return count;
}

/* ---- lookup ---- */

static int same_problem(const bt_problem *a, const bt_problem *b) {
    bt_problem x = *a, y = *b;
    x.accumulate = y.accumulate = 0; /* does not change which kernel is fastest */
    return x.op == y.op && x.layout == y.layout && x.n == y.n && x.c == y.c && x.h == y.h &&
           x.w == y.w && x.k == y.k && x.r == y.r && x.s == y.s && x.stride_h == y.stride_h &&
           x.stride_w == y.stride_w && x.pad_h == y.pad_h && x.pad_w == y.pad_w &&
           x.dil_h == y.dil_h && x.dil_w == y.dil_w && x.groups == y.groups &&
           x.pad_end_set == y.pad_end_set && x.pad_h_end == y.pad_h_end &&
           x.pad_w_end == y.pad_w_end;
}

static int grouping(const bt_problem *p) { /* 0 none, 1 depthwise, 2 other */
    return p->groups == 1 ? 0 : (p->groups == p->c && p->groups == p->k) ? 1 : 2;
}

static double log_ratio(double a, double b) {
    return fabs(log2(a / b));
}

double bt_tuning_distance(const bt_problem *a, int threads_a, const bt_problem *b, int threads_b) {
    if (a->op != b->op || a->layout != b->layout || a->r != b->r || a->s != b->s ||
        a->stride_h != b->stride_h || a->stride_w != b->stride_w || a->dil_h != b->dil_h ||
        a->dil_w != b->dil_w || grouping(a) != grouping(b) ||
        (grouping(a) == 2 && a->groups != b->groups) || threads_a < 1 || threads_b < 1)
        return -1;
    double d = log_ratio((double)a->n, (double)b->n) + log_ratio((double)a->c, (double)b->c) +
               log_ratio((double)a->k, (double)b->k) + log_ratio((double)a->h, (double)b->h) +
               log_ratio((double)a->w, (double)b->w) +
               log_ratio((double)a->groups, (double)b->groups) + log_ratio(threads_a, threads_b);
    d += 0.5 * (a->pad_h != b->pad_h) + 0.5 * (a->pad_w != b->pad_w) +
         0.5 * (a->pad_end_set != b->pad_end_set);
    return d;
}

/* Whether the entry's variant runs here on this shape; if not, the reason in why. */
static int entry_usable(const table_entry *e, const bt_shape *s, char *why, size_t size) {
    const bt_variant *v = bt_registry_get(bt_variant_find(e->variant));
    if (!v) return snprintf(why, size, "%s is not in this build", e->variant), 0;
    if (v->op != s->op)
        return snprintf(why, size, "%s is a %s variant", e->variant, bt_op_name(v->op)), 0;
    if (v->isa > bt_machine_get()->isa_cap)
        return snprintf(why, size, "%s needs an ISA this CPU (or BACKTUNE_ISA_CAP) lacks",
                        e->variant),
               0;
    char reason[160] = "";
    if (v->supports && !v->supports(s, reason, sizeof reason))
        /* Precisions bound the message so it always fits the caller's buffer. */
        return snprintf(why, size, "%.63s does not take it (%.100s)", e->variant, reason), 0;
    return 1;
}

/* Whether "key=value,..." list has an item with the key of `item` ("key=..."). */
static int has_key(const char *list, const char *item) {
    size_t klen = strcspn(item, "=");
    for (const char *c = list; c && *c;) {
        while (*c == ',' || *c == ' ') c++;
        if (!strncmp(c, item, klen) && c[klen] == '=') return 1;
        c = strpbrk(c, ", ");
    }
    return 0;
}

void bt_tuning_merge_params(const char *table, const char *caller, char *out, size_t size) {
    char copy[BT_PARAMS_TEXT];
    snprintf(copy, sizeof copy, "%s", table ? table : "");
    size_t n = 0;
    if (size) out[0] = '\0';
    for (char *save = NULL, *item = strtok_r(copy, ", ", &save); item && n < size;
         item = strtok_r(NULL, ", ", &save))
        if (!caller || !has_key(caller, item))
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "," : "", item);
    if (caller && *caller && n < size) snprintf(out + n, size - n, "%s%s", n ? "," : "", caller);
}

/* params with its threads=N replaced by `threads`. */
static void with_threads(const char *params, int threads, char *out, size_t size) {
    char t[32];
    snprintf(t, sizeof t, "threads=%d", threads);
    bt_tuning_merge_params(params, t, out, size);
}

int bt_tuning_lookup(const bt_problem *norm, int threads, char *variant, size_t variant_size,
                     char *params, size_t params_size, char *why, size_t why_size) {
    load_env_once();
    if (why && why_size) why[0] = '\0';
    char scratch_why[256];
    if (!why || !why_size) why = scratch_why, why_size = sizeof scratch_why;
    bt_shape shape;
    bt_shape_from_problem(norm, &shape);
    pthread_rwlock_rdlock(&set_lock);
    const table_set *s = current;
    if (!s || !s->count) {
        if (s && s->status[0]) snprintf(why, why_size, "no table loaded (%s)", s->status);
        pthread_rwlock_unlock(&set_lock);
        return 0;
    }
    char passed[200] = "";
    const table_entry *best = NULL;
    const table *best_table = NULL;
    double best_distance = 0;
    int entries = 0;
    for (int ti = 0; ti < s->count && !(best && best_distance == 0); ti++) {
        const table *t = &s->tables[ti];
        entries += t->count;
        for (int i = 0; i < t->count; i++) {
            const table_entry *e = &t->entries[i];
            double d = same_problem(&e->problem, norm) && e->threads == threads
                           ? 0
                           : bt_tuning_distance(&e->problem, e->threads, norm, threads);
            if (d < 0 || d > BT_TUNING_NEAREST_MAX || (best && d >= best_distance)) continue;
            char reason[200];
            if (!entry_usable(e, &shape, reason, sizeof reason)) {
                if (!passed[0]) snprintf(passed, sizeof passed, "; passed over %.180s", reason);
                continue;
            }
            best = e, best_table = t, best_distance = d;
            if (d == 0) break;
        }
    }
    int found = best != NULL;
    if (found) {
        /* Exact: the measured plan's parameters. Nearest: only those the tuner chose, so
         * that the others (block sizes) are derived again for this shape. */
        snprintf(variant, variant_size, "%s", best->variant);
        if (best_distance == 0)
            snprintf(params, params_size, "%s", best->params);
        else if (best->threads == threads)
            snprintf(params, params_size, "%s", best->request);
        else
            with_threads(best->request, threads, params, params_size);
        if (best_distance == 0)
            snprintf(why, why_size, "exact entry in %s%s", best_table->path, passed);
        else
            snprintf(why, why_size, "nearest entry '%s' threads=%d at distance %.2f in %s%s",
                     best->text, best->threads, best_distance, best_table->path, passed);
    } else {
        snprintf(why, why_size,
                 "no entry within distance %.1f among %d in %d table%s (same op, layout, "
                 "kernel, stride and dilation needed)%s",
                 BT_TUNING_NEAREST_MAX, entries, s->count, s->count == 1 ? "" : "s", passed);
    }
    pthread_rwlock_unlock(&set_lock);
    return found;
}

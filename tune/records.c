/* Tuning records and tables on disk (see records.h). */
#include "records.h"

#include "cmdline.h"

#include "fingerprint.h"
#include "tuning.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const status_names[] = {"ok", "invalid", "unsupported", "timeout"};

const char *bt_record_status_name(bt_record_status s) {
    return (unsigned)s < 4 ? status_names[s] : "?";
}

static void utc_now(char *buf, size_t size) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void bt_record_init(bt_record *r, const bt_problem *p, int threads) {
    memset(r, 0, sizeof *r);
    const bt_fingerprint *fp = bt_fingerprint_get();
    snprintf(r->machine, sizeof r->machine, "%s", fp->id);
    snprintf(r->fingerprint, sizeof r->fingerprint, "%s", fp->hash);
    snprintf(r->op, sizeof r->op, "%s", bt_op_name(p->op));
    bt_problem_format(p, r->problem, sizeof r->problem);
    r->threads = threads;
    utc_now(r->date, sizeof r->date);
    snprintf(r->registry_hash, sizeof r->registry_hash, "%s", bt_registry_hash());
    snprintf(r->version, sizeof r->version, "%s", fp->version);
}

/* The record's fields, once, for both directions of the JSON mapping. */
// clang-format off
#define RECORD_STRINGS(X) \
    X(machine) X(fingerprint) X(op) X(problem) X(variant) X(params) X(request) X(stage) \
    X(search) X(check) X(note) X(date) X(registry_hash) X(version)
#define RECORD_REALS(X) X(min_s) X(median_s) X(gflops) X(gflops_median) X(spread)
// clang-format on

json_t *bt_record_to_json(const bt_record *r) {
    json_t *o = json_object();
    if (!o) return NULL;
#define SET_STRING(f) json_object_set_new(o, #f, json_string(r->f));
#define SET_REAL(f)                                                                                \
    if (isfinite(r->f)) json_object_set_new(o, #f, json_real(r->f));
    RECORD_STRINGS(SET_STRING)
    RECORD_REALS(SET_REAL)
#undef SET_STRING
#undef SET_REAL
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "status", json_string(bt_record_status_name(r->status)));
    json_object_set_new(o, "reps", json_integer(r->reps));
    json_object_set_new(o, "abandoned", json_boolean(r->abandoned));
    json_object_set_new(o, "space_size", json_integer(r->space_size));
    if (r->interference[0]) json_object_set_new(o, "interference", json_string(r->interference));
    return o;
}

int bt_record_from_json(const json_t *o, bt_record *r) {
    memset(r, 0, sizeof *r);
    if (!json_is_object(o)) return 0;
#define GET_STRING(f)                                                                              \
    {                                                                                              \
        const char *v = json_string_value(json_object_get(o, #f));                                 \
        if (v) snprintf(r->f, sizeof r->f, "%s", v);                                               \
    }
#define GET_REAL(f) r->f = json_number_value(json_object_get(o, #f));
    RECORD_STRINGS(GET_STRING)
    RECORD_REALS(GET_REAL)
#undef GET_STRING
#undef GET_REAL
    /* Records of older builds carry the problem text their build wrote; keys are compared as
     * today's canonical text. */
    bt_problem p;
    char canonical[sizeof r->problem];
    if (bt_problem_parse(r->problem, &p) == BT_OK &&
        bt_problem_format(&p, canonical, sizeof canonical) > 0)
        memcpy(r->problem, canonical, sizeof canonical);
    r->threads = (int)json_integer_value(json_object_get(o, "threads"));
    r->reps = (int)json_integer_value(json_object_get(o, "reps"));
    r->abandoned = json_is_true(json_object_get(o, "abandoned"));
    r->space_size = (int64_t)json_integer_value(json_object_get(o, "space_size"));
    const char *interference = json_string_value(json_object_get(o, "interference"));
    if (interference) snprintf(r->interference, sizeof r->interference, "%s", interference);
    const char *status = json_string_value(json_object_get(o, "status"));
    int known = 0;
    for (int i = 0; status && i < 4; i++)
        if (!strcmp(status, status_names[i])) r->status = (bt_record_status)i, known = 1;
    return known && r->problem[0] && r->variant[0] && r->threads > 0 && r->fingerprint[0] &&
           r->registry_hash[0];
}

bt_status bt_record_list_push(bt_record_list *l, const bt_record *r) {
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        bt_record *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return bt_fail(BT_ENOMEM, "tuner: out of memory for records");
        l->items = items, l->cap = cap;
    }
    l->items[l->count++] = *r;
    return BT_OK;
}

void bt_record_list_drop_suspect(bt_record_list *l) {
    int kept = 0;
    for (int i = 0; i < l->count; i++)
        if (!l->items[i].interference[0]) l->items[kept++] = l->items[i];
    l->count = kept;
}

void bt_record_list_free(bt_record_list *l) {
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* ---- files ---- */

bt_status bt_write_atomic(const char *path, const char *data, size_t size) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return bt_fail(BT_EIO, "cannot create a temporary file for %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
    int ok = done == size && fchmod(fd, 0644) == 0 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return bt_fail(BT_EIO, "cannot write %s: %s", path, strerror(err));
    }
    return BT_OK;
}

/* Whole file into a NUL-terminated buffer; *data NULL (and BT_OK) if it does not exist. */
static bt_status read_file(const char *path, char **data, size_t *size) {
    *data = NULL, *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? BT_OK
                               : bt_fail(BT_EIO, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        free(buf);
        return bt_fail(failed ? BT_EIO : BT_ENOMEM, "cannot read %s", path);
    }
    buf[n] = '\0';
    *data = buf, *size = n;
    return BT_OK;
}

/* Calls fn on every line of text (without its newline); returns the first error. */
typedef bt_status (*line_fn)(const char *line, size_t len, void *ctx);
static bt_status for_each_line(const char *text, line_fn fn, void *ctx) {
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len) {
            bt_status st = fn(line, len, ctx);
            if (st != BT_OK) return st;
        }
        line = end ? end + 1 : NULL;
    }
    return BT_OK;
}

typedef struct load_ctx {
    bt_record_list *list;
    int bad;
} load_ctx;

static bt_status load_line(const char *line, size_t len, void *ctx) {
    load_ctx *c = ctx;
    json_error_t err;
    json_t *o = json_loadb(line, len, 0, &err);
    bt_record r;
    int ok = o && bt_record_from_json(o, &r);
    json_decref(o);
    if (!ok) {
        c->bad++;
        return BT_OK;
    }
    return bt_record_list_push(c->list, &r);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
}

bt_status bt_records_load(const char *dir, bt_record_list *out, int *bad_lines) {
    char path[1024];
    path_in(path, sizeof path, dir, "records.jsonl");
    char *text;
    size_t size;
    bt_status st = read_file(path, &text, &size);
    if (st != BT_OK || !text) return st;
    load_ctx c = {.list = out};
    st = for_each_line(text, load_line, &c);
    free(text);
    if (bad_lines) *bad_lines = c.bad;
    return st;
}

/* ---- the table ---- */

typedef struct key_best {
    char problem[200];
    int threads;
    int best, best_default; /* record indices, -1 none */
    int exhaustive;
} key_best;

static int compare_keys(const void *a, const void *b) {
    const key_best *x = a, *y = b;
    int c = strcmp(x->problem, y->problem);
    return c ? c : x->threads - y->threads;
}

/* A record timed on a quiet machine beats one timed under interference, then the faster. */
static int better(const bt_record *a, const bt_record *b) {
    if (b && !a->interference[0] != !b->interference[0]) return !a->interference[0];
    return !b || a->min_s < b->min_s;
}

int bt_record_is_screen(const bt_record *r) {
    return !strncmp(r->stage, "screen", 6);
}

json_t *bt_table_build(const bt_record *records, int count) {
    const bt_fingerprint *fp = bt_fingerprint_get();
    key_best *keys = calloc((size_t)(count ? count : 1), sizeof *keys);
    if (!keys) return NULL;
    int nkeys = 0;
    for (int i = 0; i < count; i++) {
        const bt_record *r = &records[i];
        if (strcmp(r->fingerprint, fp->hash) || strcmp(r->registry_hash, bt_registry_hash()) ||
            bt_record_is_screen(r))
            continue;
        bt_problem p;
        char canonical[200];
        if (bt_problem_parse(r->problem, &p) != BT_OK ||
            bt_problem_format(&p, canonical, sizeof canonical) < 0)
            continue;
        int k = 0;
        while (k < nkeys && (strcmp(keys[k].problem, canonical) || keys[k].threads != r->threads))
            k++;
        if (k == nkeys) {
            snprintf(keys[k].problem, sizeof keys[k].problem, "%s", canonical);
            keys[k].threads = r->threads;
            keys[k].best = keys[k].best_default = -1;
            nkeys++;
        }
        if (!strcmp(r->search, "exhaustive") || strstr(r->search, "+full")) keys[k].exhaustive = 1;
        if (r->status != BT_RECORD_OK || !(r->min_s > 0)) continue;
        if (better(r, keys[k].best < 0 ? NULL : &records[keys[k].best])) keys[k].best = i;
        if (!strcmp(r->stage, "default") &&
            better(r, keys[k].best_default < 0 ? NULL : &records[keys[k].best_default]))
            keys[k].best_default = i;
    }
    qsort(keys, (size_t)nkeys, sizeof *keys, compare_keys);
    json_t *entries = json_array();
    for (int k = 0; entries && k < nkeys; k++) {
        if (keys[k].best < 0) continue;
        const bt_record *r = &records[keys[k].best];
        json_t *e = json_object();
        json_object_set_new(e, "problem", json_string(keys[k].problem));
        json_object_set_new(e, "threads", json_integer(keys[k].threads));
        json_object_set_new(e, "variant", json_string(r->variant));
        json_object_set_new(e, "params", json_string(r->params));
        if (r->request[0]) json_object_set_new(e, "request", json_string(r->request));
        json_object_set_new(e, "gflops", json_real(r->gflops));
        json_object_set_new(e, "min_s", json_real(r->min_s));
        json_object_set_new(e, "median_s", json_real(r->median_s));
        json_object_set_new(e, "spread", json_real(r->spread));
        json_object_set_new(e, "reps", json_integer(r->reps));
        json_object_set_new(e, "date", json_string(r->date));
        json_object_set_new(e, "search", json_string(r->search));
        json_object_set_new(e, "exhaustive_best", json_boolean(keys[k].exhaustive));
        if (r->interference[0])
            json_object_set_new(e, "interference", json_string(r->interference));
        if (keys[k].best_default >= 0) {
            const bt_record *d = &records[keys[k].best_default];
            json_object_set_new(e, "default_variant", json_string(d->variant));
            json_object_set_new(e, "default_gflops", json_real(d->gflops));
        }
        json_array_append_new(entries, e);
    }
    free(keys);
    char date[24];
    utc_now(date, sizeof date);
    json_t *table = json_object();
    if (!table || !entries) {
        json_decref(table);
        json_decref(entries);
        return NULL;
    }
    json_object_set_new(table, "format", json_string(BT_TABLE_FORMAT));
    json_object_set_new(table, "format_version", json_integer(BT_TABLE_FORMAT_VERSION));
    json_object_set_new(table, "fingerprint", bt_fingerprint_to_json(fp));
    json_object_set_new(table, "registry_hash", json_string(bt_registry_hash()));
    json_object_set_new(table, "backtune_version", json_string(fp->version));
    json_object_set_new(table, "updated", json_string(date));
    json_object_set_new(table, "entries", entries);
    return table;
}

/* ---- commit ---- */

typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

static int append_text(text_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (b->len + n + 1 > cap) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return 0;
        b->data = d, b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 1;
}

typedef struct merge_ctx {
    text_buf out;
    bt_record_list all;
    int bad;
} merge_ctx;

/* An existing line: kept verbatim, and parsed for the table when it is a record. */
static bt_status merge_line(const char *line, size_t len, void *ctx) {
    merge_ctx *m = ctx;
    if (!append_text(&m->out, line, len) || !append_text(&m->out, "\n", 1))
        return bt_fail(BT_ENOMEM, "tuner: out of memory merging records");
    load_ctx c = {.list = &m->all};
    bt_status st = load_line(line, len, &c);
    m->bad += c.bad;
    return st;
}

static bt_status lock_dir(const char *dir, int *fd) {
    char path[1024];
    path_in(path, sizeof path, dir, ".lock");
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0) return bt_fail(BT_EIO, "cannot open lock file %s: %s", path, strerror(errno));
    while (flock(*fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(*fd);
            return bt_fail(BT_EIO, "cannot lock %s: %s", path, strerror(errno));
        }
    return BT_OK;
}

static bt_status commit_locked(const char *dir, const bt_record *records, int count,
                               bt_commit_info *info) {
    char path[1024];
    path_in(path, sizeof path, dir, "records.jsonl");
    char *old;
    size_t old_size;
    bt_status st = read_file(path, &old, &old_size);
    if (st != BT_OK) return st;
    merge_ctx m = {0};
    if (old) st = for_each_line(old, merge_line, &m);
    free(old);
    for (int i = 0; st == BT_OK && i < count; i++) {
        json_t *o = bt_record_to_json(&records[i]);
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(7)) : NULL;
        json_decref(o);
        if (!line || !append_text(&m.out, line, strlen(line)) || !append_text(&m.out, "\n", 1) ||
            bt_record_list_push(&m.all, &records[i]) != BT_OK)
            st = bt_fail(BT_ENOMEM, "tuner: out of memory writing records");
        free(line);
    }
    if (st == BT_OK && m.out.len) st = bt_write_atomic(path, m.out.data, m.out.len);
    json_t *table = st == BT_OK ? bt_table_build(m.all.items, m.all.count) : NULL;
    if (st == BT_OK && !table) st = bt_fail(BT_ENOMEM, "tuner: out of memory building the table");
    if (st == BT_OK) {
        char *text = json_dumps(table, JSON_INDENT(1) | JSON_REAL_PRECISION(7));
        path_in(path, sizeof path, dir, "table.json");
        st = text ? bt_write_atomic(path, text, strlen(text))
                  : bt_fail(BT_ENOMEM, "tuner: out of memory writing the table");
        free(text);
        if (info) {
            info->records_on_disk = m.all.count;
            info->bad_lines = m.bad;
            info->table_entries = (int)json_array_size(json_object_get(table, "entries"));
        }
    }
    json_decref(table);
    free(m.out.data);
    bt_record_list_free(&m.all);
    return st;
}

bt_status bt_records_commit(const char *dir, const bt_record *records, int count,
                            bt_commit_info *info) {
    if (info) memset(info, 0, sizeof *info);
    bt_status st = bt_mkdirs(dir);
    int fd;
    if (st == BT_OK) st = lock_dir(dir, &fd);
    if (st != BT_OK) return st;
    st = commit_locked(dir, records, count, info);
    close(fd); /* releases the lock */
    return st;
}

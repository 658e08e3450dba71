/* Tuning records and tables on disk (see records.h). */
#include "records.h"

#include "cmdline.h"

#include "fingerprint.h"
#include "tuning.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
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
    snprintf(r->hardware, sizeof r->hardware, "%s", fp->hardware);
    snprintf(r->op, sizeof r->op, "%s", bt_op_name(p->op));
    bt_problem_format(p, r->problem, sizeof r->problem);
    r->threads = threads;
    utc_now(r->date, sizeof r->date);
    snprintf(r->registry_hash, sizeof r->registry_hash, "%s", bt_registry_hash());
    snprintf(r->version, sizeof r->version, "%s", fp->version);
    if (gethostname(r->host, sizeof r->host) != 0) r->host[0] = '\0';
    r->host[sizeof r->host - 1] = '\0';
    r->rank = -1;
}

/* The record's fields, once, for both directions of the JSON mapping. */
// clang-format off
#define RECORD_STRINGS(X) \
    X(machine) X(fingerprint) X(hardware) X(op) X(problem) X(variant) X(params) X(request) X(stage) \
    X(search) X(check) X(note) X(date) X(registry_hash) X(variant_hash) X(version) X(host)
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
    if (r->rank >= 0) json_object_set_new(o, "rank", json_integer(r->rank));
    if (!strcmp(r->stage, "slice")) {
        json_object_set_new(o, "slice_begin", json_integer(r->slice_begin));
        json_object_set_new(o, "slice_end", json_integer(r->slice_end));
        json_object_set_new(o, "slice_evals", json_integer(r->slice_evals));
    }
    if (r->paired_tuned_s > 0 && r->paired_full_s > 0) {
        json_object_set_new(o, "paired_tuned_s", json_real(r->paired_tuned_s));
        json_object_set_new(o, "paired_full_s", json_real(r->paired_full_s));
    }
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
    r->slice_begin = (int64_t)json_integer_value(json_object_get(o, "slice_begin"));
    r->slice_end = (int64_t)json_integer_value(json_object_get(o, "slice_end"));
    r->slice_evals = (int64_t)json_integer_value(json_object_get(o, "slice_evals"));
    r->paired_tuned_s = json_number_value(json_object_get(o, "paired_tuned_s"));
    r->paired_full_s = json_number_value(json_object_get(o, "paired_full_s"));
    const json_t *rank = json_object_get(o, "rank");
    r->rank = json_is_integer(rank) ? (int)json_integer_value(rank) : -1;
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

static int test_fault(const char *point);

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
    test_fault("kill-before-rename");
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return bt_fail(BT_EIO, "cannot write %s: %s", path, strerror(err));
    }
    return BT_OK;
}

bt_status bt_read_file(const char *path, char **data, size_t *size) {
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

static void path_in(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
}

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

/* ---- the folder: records, machine lines, tables ---- */

typedef struct machine_list {
    bt_fingerprint *items;
    int count, cap;
} machine_list;

/* A results folder's records.jsonl as read: its text (kept verbatim and written back with new
 * lines appended), its records, and the machines its machine lines describe. */
/* Registry lines ({"kind":"registry","registry_hash":H,"variants":{name:hash,...}}): the
 * variant hashes of a registry, for records written before records carried their own. */
typedef struct registry_list {
    json_t *lines; /* array of the "registry" objects, in file order */
} registry_list;

typedef struct folder {
    text_buf text;
    bt_record_list records;
    machine_list machines; /* in file order */
    registry_list registries;
    int bad, appended;
    char table_json_of[16]; /* hardware of the machine whose table table.json is, if any */
} folder;

static void folder_free(folder *f) {
    json_decref(f->registries.lines);
    free(f->text.data);
    bt_record_list_free(&f->records);
    free(f->machines.items);
    memset(f, 0, sizeof *f);
}

/* Index of the machine whose (build) hash is `hash`, or -1. */
static int machine_find(const machine_list *m, const char *hash) {
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->items[i].hash, hash)) return i;
    return -1;
}

static bt_status machine_push(machine_list *m, const bt_fingerprint *fp) {
    if (m->count == m->cap) {
        int cap = m->cap ? 2 * m->cap : 8;
        bt_fingerprint *items = realloc(m->items, (size_t)cap * sizeof *items);
        if (!items) return bt_fail(BT_ENOMEM, "tuner: out of memory for machines");
        m->items = items, m->cap = cap;
    }
    m->items[m->count++] = *fp;
    return BT_OK;
}

static int machine_line(const json_t *o, bt_fingerprint *fp) {
    const char *kind = json_string_value(json_object_get(o, "kind"));
    return kind && !strcmp(kind, "machine") &&
           bt_fingerprint_from_json(json_object_get(o, "fingerprint"), fp, NULL, 0);
}

static uint64_t line_hash(const char *line, size_t len) {
    uint64_t h = BT_FNV1A_INIT;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)line[i]) * 0x100000001b3ull;
    return h;
}

static bt_status folder_line(const char *line, size_t len, void *ctx) {
    folder *f = ctx;
    if (!append_text(&f->text, line, len) || !append_text(&f->text, "\n", 1))
        return bt_fail(BT_ENOMEM, "tuner: out of memory reading records");
    json_error_t err;
    json_t *o = json_loadb(line, len, 0, &err);
    bt_fingerprint fp;
    bt_record r;
    bt_status st = BT_OK;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (o && machine_line(o, &fp)) {
        if (machine_find(&f->machines, fp.hash) < 0) st = machine_push(&f->machines, &fp);
    } else if (kind && !strcmp(kind, "registry") &&
               json_is_string(json_object_get(o, "registry_hash")) &&
               json_is_object(json_object_get(o, "variants"))) {
        if (!f->registries.lines) f->registries.lines = json_array();
        json_array_append(f->registries.lines, o);
    } else if (o && bt_record_from_json(o, &r)) {
        r.line_hash = line_hash(line, len);
        st = bt_record_list_push(&f->records, &r);
    } else {
        f->bad++;
    }
    json_decref(o);
    return st;
}

/* Appends o (consumed) as a line; *back (if not NULL) is the line parsed again, so that what
 * is built from it now equals what is built from the file later. */
static bt_status append_json_line(folder *f, json_t *o, json_t **back, uint64_t *hash) {
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(o);
    int ok = line && append_text(&f->text, line, strlen(line)) && append_text(&f->text, "\n", 1);
    json_error_t err;
    if (ok && back) ok = (*back = json_loads(line, 0, &err)) != NULL;
    if (ok && hash) *hash = line_hash(line, strlen(line));
    free(line);
    f->appended = 1;
    return ok ? BT_OK : bt_fail(BT_ENOMEM, "tuner: out of memory writing records");
}

static bt_status append_machine(folder *f, const bt_fingerprint *fp) {
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "kind", json_string("machine"));
        json_object_set_new(o, "fingerprint", bt_fingerprint_to_json(fp));
    }
    bt_status st = append_json_line(f, o, NULL, NULL);
    return st == BT_OK ? machine_push(&f->machines, fp) : st;
}

/* Fills the variant hash of records written without one from their registry's line. */
static void hash_from_registries(folder *f) {
    for (int i = 0; i < f->records.count; i++) {
        bt_record *r = &f->records.items[i];
        for (size_t k = 0; !r->variant_hash[0] && k < json_array_size(f->registries.lines); k++) {
            const json_t *line = json_array_get(f->registries.lines, k);
            const char *hash =
                json_string_value(json_object_get(json_object_get(line, "variants"), r->variant));
            if (hash && !strcmp(json_string_value(json_object_get(line, "registry_hash")),
                                r->registry_hash))
                snprintf(r->variant_hash, sizeof r->variant_hash, "%s", hash);
        }
    }
}

static const json_t *registry_line(const folder *f, const char *registry_hash) {
    for (size_t k = 0; k < json_array_size(f->registries.lines); k++) {
        const json_t *line = json_array_get(f->registries.lines, k);
        if (!strcmp(json_string_value(json_object_get(line, "registry_hash")), registry_hash))
            return line;
    }
    return NULL;
}

/* A folder with records of this build's registry (`adding`: about to get some) gets one
 * registry line naming every variant's hash: records without a variant hash (written before
 * records carried one) stay valid per variant when the registry changes later, and the tuner
 * can tell which variants a key's records were made against (bt_registry_had_variant). */
static bt_status name_current_registry(folder *f, int adding) {
    int needed = adding;
    for (int i = 0; i < f->records.count && !needed; i++)
        needed = !strcmp(f->records.items[i].registry_hash, bt_registry_hash());
    if (!needed || registry_line(f, bt_registry_hash())) return BT_OK;
    json_t *variants = json_object(), *o = json_object();
    for (int i = 0; variants && i < bt_registry_count(); i++) {
        char hash[17];
        if (bt_variant_hash(i, hash, sizeof hash))
            json_object_set_new(variants, bt_registry_get(i)->name, json_string(hash));
    }
    if (o && variants) {
        json_object_set_new(o, "kind", json_string("registry"));
        json_object_set_new(o, "registry_hash", json_string(bt_registry_hash()));
        json_object_set_new(o, "version", json_string(bt_fingerprint_get()->version));
        json_object_set(o, "variants", variants);
    }
    json_t *back = NULL;
    bt_status st = append_json_line(f, o, &back, NULL);
    json_decref(variants);
    if (st == BT_OK) {
        if (!f->registries.lines) f->registries.lines = json_array();
        json_array_append_new(f->registries.lines, back);
        hash_from_registries(f);
    }
    return st;
}

static bt_status append_record(folder *f, const bt_record *r) {
    json_t *back = NULL;
    uint64_t hash = 0;
    bt_record stamped = *r;
    if (!stamped.variant_hash[0])
        bt_variant_hash(bt_variant_find(r->variant), stamped.variant_hash,
                        sizeof stamped.variant_hash);
    bt_status st = append_json_line(f, bt_record_to_json(&stamped), &back, &hash);
    bt_record parsed;
    if (st == BT_OK && !bt_record_from_json(back, &parsed))
        st = bt_fail(BT_EINVAL, "tuner: a record does not read back (problem '%s')", r->problem);
    parsed.line_hash = hash;
    json_decref(back);
    return st == BT_OK ? bt_record_list_push(&f->records, &parsed) : st;
}

static int is_json_name(const char *name) {
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

/* Calls fn on the path of every table file in dir: table.json, then tables/<hash>.json. */
typedef void (*table_fn)(const char *path, void *ctx);
static void for_each_table(const char *dir, table_fn fn, void *ctx) {
    char path[1100];
    path_in(path, sizeof path, dir, "table.json");
    fn(path, ctx);
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/tables", dir);
    DIR *d = opendir(sub);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));)
        if (is_json_name(e->d_name) && strlen(e->d_name) < 70) {
            snprintf(path, sizeof path, "%.1023s/%.70s", sub, e->d_name);
            fn(path, ctx);
        }
    closedir(d);
}

/* The machine fingerprint of a table file, if it has one. */
static int table_fingerprint(const char *path, bt_fingerprint *fp) {
    json_error_t err;
    int irregular, empty;
    json_t *root = bt_json_load_regular(path, 0, &err, &irregular, &empty);
    int ok = root && bt_fingerprint_from_json(json_object_get(root, "fingerprint"), fp, NULL, 0);
    json_decref(root);
    return ok;
}

typedef struct adopt_ctx {
    folder *f;
    int append; /* write machine lines for them (else only remember them) */
    bt_status st;
} adopt_ctx;

/* A table's machine that records name and no machine line describes (the folder predates
 * machine lines): adopted, so that its records can be told apart and its table rebuilt. */
static void adopt_table(const char *path, void *ctx) {
    adopt_ctx *a = ctx;
    bt_fingerprint fp;
    if (a->st != BT_OK || !table_fingerprint(path, &fp)) return;
    size_t n = strlen(path);
    if (n >= 11 && !strcmp(path + n - 11, "/table.json"))
        snprintf(a->f->table_json_of, sizeof a->f->table_json_of, "%s", fp.hardware);
    if (machine_find(&a->f->machines, fp.hash) >= 0) return;
    int named = 0;
    for (int i = 0; i < a->f->records.count && !named; i++)
        named = !strcmp(a->f->records.items[i].fingerprint, fp.hash);
    if (named) a->st = a->append ? append_machine(a->f, &fp) : machine_push(&a->f->machines, &fp);
}

/* Records written before they carried a hardware hash get it from their machine. */
static void resolve_hardware(folder *f) {
    for (int i = 0; i < f->records.count; i++) {
        bt_record *r = &f->records.items[i];
        int m = r->hardware[0] ? -1 : machine_find(&f->machines, r->fingerprint);
        if (m >= 0) snprintf(r->hardware, sizeof r->hardware, "%s", f->machines.items[m].hardware);
    }
}

/* Reads dir/records.jsonl (missing: empty) and resolves every record's hardware. With
 * `adopt`, machines known only from the folder's tables get machine lines. */
static bt_status folder_read(const char *dir, folder *f, int adopt) {
    memset(f, 0, sizeof *f);
    char path[1100];
    path_in(path, sizeof path, dir, "records.jsonl");
    char *old;
    size_t size;
    bt_status st = bt_read_file(path, &old, &size);
    if (st == BT_OK && old) st = for_each_line(old, folder_line, f);
    free(old);
    hash_from_registries(f);
    adopt_ctx a = {.f = f, .append = adopt, .st = st};
    if (st == BT_OK) for_each_table(dir, adopt_table, &a);
    st = a.st;
    const bt_fingerprint *mine = bt_fingerprint_get();
    if (st == BT_OK && machine_find(&f->machines, mine->hash) < 0 && !adopt)
        st = machine_push(&f->machines, mine);
    resolve_hardware(f);
    return st;
}

bt_status bt_records_load(const char *dir, bt_record_list *out, int *bad_lines) {
    folder f;
    bt_status st = folder_read(dir, &f, 0);
    if (bad_lines) *bad_lines = f.bad;
    if (st == BT_OK) *out = f.records, memset(&f.records, 0, sizeof f.records);
    folder_free(&f);
    return st;
}

bt_status bt_records_registries(const char *dir, json_t **out) {
    folder f;
    bt_status st = folder_read(dir, &f, 0);
    *out = json_object();
    for (size_t k = 0; st == BT_OK && *out && k < json_array_size(f.registries.lines); k++) {
        const json_t *line = json_array_get(f.registries.lines, k);
        json_object_set(*out, json_string_value(json_object_get(line, "registry_hash")),
                        json_object_get(line, "variants"));
    }
    folder_free(&f);
    if (st == BT_OK && !*out) st = bt_fail(BT_ENOMEM, "tuner: out of memory reading records");
    if (st != BT_OK) json_decref(*out), *out = NULL;
    return st;
}

int bt_registry_had_variant(const json_t *registries, const char *registry_hash, int variant) {
    const json_t *variants = json_object_get(registries, registry_hash);
    char hash[20];
    if (!variants) return -1;
    const char *then = json_string_value(json_object_get(variants, bt_registry_get(variant)->name));
    return then && bt_variant_hash(variant, hash, sizeof hash) && !strcmp(then, hash);
}

/* Whether registry `registry_hash` held, as they are now, all the variants of p's op that take
 * its shape (on any CPU: the records may be another machine's). */
static int registry_covers(const json_t *registries, const char *registry_hash,
                           const bt_problem *p) {
    bt_problem norm;
    bt_shape s;
    if (bt_problem_normalize(p, &norm) != BT_OK) return 0;
    bt_shape_from_problem(&norm, &s);
    for (int i = 0; i < bt_registry_count(); i++) {
        const bt_variant *v = bt_registry_get(i);
        char why[256];
        if (v->op != s.op || v->is_reference || (v->supports && !v->supports(&s, why, sizeof why)))
            continue;
        if (bt_registry_had_variant(registries, registry_hash, i) != 1) return 0;
    }
    return 1;
}

int bt_records_tune_key(const bt_record_list *recs, const char *problem, int threads,
                        const char *hardware, const json_t *registries) {
    bt_problem p;
    const char *checked = NULL; /* the last registry found not to cover the key */
    for (int i = 0; i < recs->count; i++) {
        const bt_record *r = &recs->items[i];
        if (bt_record_is_screen(r) || r->threads != threads || strcmp(r->problem, problem) ||
            strcmp(r->hardware, hardware))
            continue;
        if (!strcmp(r->registry_hash, bt_registry_hash())) return 1;
        if (checked && !strcmp(checked, r->registry_hash)) continue;
        if (bt_problem_parse(problem, &p) == BT_OK &&
            registry_covers(registries, r->registry_hash, &p))
            return 1;
        checked = r->registry_hash;
    }
    return 0;
}

/* The hardware whose table is dir/table.json: that of the table there (a table copied in
 * without its records stays), else that of the folder's first record; others have
 * dir/tables/<hardware hash>.json. */
static const char *table_owner(const folder *f) {
    if (f->table_json_of[0]) return f->table_json_of;
    for (int i = 0; i < f->records.count; i++)
        if (f->records.items[i].hardware[0]) return f->records.items[i].hardware;
    return bt_fingerprint_get()->hardware;
}

static void table_path(const char *dir, const char *owner, const char *hardware, char *out,
                       size_t size) {
    if (!strcmp(owner, hardware))
        snprintf(out, size, "%s/table.json", dir);
    else
        snprintf(out, size, "%s/tables/%s.json", dir, hardware);
}

bt_status bt_records_table_path(const char *dir, char *out, size_t size) {
    folder f;
    bt_status st = folder_read(dir, &f, 0);
    if (st == BT_OK) table_path(dir, table_owner(&f), bt_fingerprint_get()->hardware, out, size);
    folder_free(&f);
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

int bt_record_is_marker(const bt_record *r) {
    return !strcmp(r->stage, "slice") || !strcmp(r->stage, "paired");
}

static json_t *entry_json(const key_best *k, const bt_record *records) {
    const bt_record *r = &records[k->best];
    json_t *e = json_object();
    json_object_set_new(e, "problem", json_string(k->problem));
    json_object_set_new(e, "threads", json_integer(k->threads));
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
    if (r->variant_hash[0]) json_object_set_new(e, "variant_hash", json_string(r->variant_hash));
    json_object_set_new(e, "exhaustive_best", json_boolean(k->exhaustive));
    if (r->interference[0]) json_object_set_new(e, "interference", json_string(r->interference));
    if (k->best_default >= 0) {
        const bt_record *d = &records[k->best_default];
        json_object_set_new(e, "default_variant", json_string(d->variant));
        json_object_set_new(e, "default_gflops", json_real(d->gflops));
    }
    return e;
}

/* What a table was built from: how many records of its hardware, and a hash of their lines. */
static void table_stamp(const bt_record *records, int count, const char *hardware, int *n,
                        char *hash, size_t size) {
    uint64_t h = BT_FNV1A_INIT;
    *n = 0;
    for (int i = 0; i < count; i++)
        if (!strcmp(records[i].hardware, hardware)) {
            for (int b = 0; b < 8; b++)
                h = (h ^ ((records[i].line_hash >> (8 * b)) & 0xff)) * 0x100000001b3ull;
            (*n)++;
        }
    snprintf(hash, size, "%016llx", (unsigned long long)h);
}

static json_t *stamp_json(const bt_record *records, int count, const char *hardware) {
    int n;
    char hash[20];
    table_stamp(records, count, hardware, &n, hash, sizeof hash);
    return json_pack("{siss}", "count", n, "hash", hash);
}

/* The variant hash of each variant's latest record on the machine: a variant changed since
 * leaves its older records out and every other variant's records count. Only the records
 * decide, so any build rebuilds the same table. */
typedef struct latest_hashes {
    int n;
    struct {
        const char *variant, *hash;
    } v[256];
} latest_hashes;

static void find_latest_hashes(const bt_record *records, int count, const char *hardware,
                               latest_hashes *out) {
    out->n = 0;
    for (int i = count - 1; i >= 0; i--) {
        const bt_record *r = &records[i];
        if (strcmp(r->hardware, hardware) || !r->variant_hash[0]) continue;
        int k = 0;
        while (k < out->n && strcmp(out->v[k].variant, r->variant)) k++;
        if (k == out->n && k < (int)(sizeof out->v / sizeof out->v[0])) {
            out->v[k].variant = r->variant, out->v[k].hash = r->variant_hash;
            out->n++;
        }
    }
}

/* Whether a record counts for the table: of its variant as last recorded, or, for records
 * without a variant hash (older folders), of the latest registry. */
static int record_current(const bt_record *r, const latest_hashes *latest, const char *registry) {
    if (!r->variant_hash[0]) return !strcmp(r->registry_hash, registry);
    for (int k = 0; k < latest->n; k++)
        if (!strcmp(latest->v[k].variant, r->variant))
            return !strcmp(latest->v[k].hash, r->variant_hash);
    return 1;
}

json_t *bt_table_build_for(const bt_record *records, int count, const bt_fingerprint *machine) {
    if (!machine || count < 0 || (count && !records)) return NULL;
    /* The variant registry of the machine's latest record: what its table says it was tuned
     * against, whichever build rebuilds it. */
    const char *registry = bt_registry_hash();
    for (int i = 0; i < count; i++)
        if (!strcmp(records[i].hardware, machine->hardware)) registry = records[i].registry_hash;
    latest_hashes *latest = malloc(sizeof *latest);
    key_best *keys = calloc((size_t)(count ? count : 1), sizeof *keys);
    if (!keys || !latest) {
        free(keys), free(latest);
        return NULL;
    }
    find_latest_hashes(records, count, machine->hardware, latest);
    int nkeys = 0;
    char updated[24] = "";
    for (int i = 0; i < count; i++) {
        const bt_record *r = &records[i];
        if (strcmp(r->hardware, machine->hardware) || bt_record_is_screen(r) ||
            bt_record_is_marker(r) || !record_current(r, latest, registry))
            continue;
        bt_problem p;
        char canonical[200];
        if (bt_problem_parse(r->problem, &p) != BT_OK ||
            bt_problem_format(&p, canonical, sizeof canonical) < 0)
            continue;
        if (strcmp(r->date, updated) > 0) snprintf(updated, sizeof updated, "%s", r->date);
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
    for (int k = 0; entries && k < nkeys; k++)
        if (keys[k].best >= 0) json_array_append_new(entries, entry_json(&keys[k], records));
    free(keys), free(latest);
    json_t *table = json_object();
    if (!table || !entries) {
        json_decref(table);
        json_decref(entries);
        return NULL;
    }
    if (!updated[0]) utc_now(updated, sizeof updated);
    json_object_set_new(table, "format", json_string(BT_TABLE_FORMAT));
    json_object_set_new(table, "format_version", json_integer(BT_TABLE_FORMAT_VERSION));
    json_object_set_new(table, "fingerprint", bt_fingerprint_to_json(machine));
    json_object_set_new(table, "registry_hash", json_string(registry));
    json_object_set_new(table, "backtune_version", json_string(machine->version));
    json_object_set_new(table, "updated", json_string(updated));
    json_object_set_new(table, "records", stamp_json(records, count, machine->hardware));
    json_object_set_new(table, "entries", entries);
    return table;
}

json_t *bt_table_build(const bt_record *records, int count) {
    return bt_table_build_for(records, count, bt_fingerprint_get());
}

/* ---- commit ---- */

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

/* Writes the table of one machine (the first machine line of that hardware) to its path. */
static bt_status write_table(const char *dir, const folder *f, const bt_fingerprint *machine,
                             const char *committer, bt_commit_info *info, FILE *report) {
    char path[1100];
    table_path(dir, table_owner(f), machine->hardware, path, sizeof path);
    if (strcmp(path + strlen(dir), "/table.json")) {
        char sub[1100];
        path_in(sub, sizeof sub, dir, "tables");
        bt_status st = bt_mkdirs(sub);
        if (st != BT_OK) return st;
    }
    json_t *table = bt_table_build_for(f->records.items, f->records.count, machine);
    char *text = table ? json_dumps(table, JSON_INDENT(1) | JSON_REAL_PRECISION(7)) : NULL;
    int entries = (int)json_array_size(json_object_get(table, "entries"));
    json_decref(table);
    bt_status st = text ? bt_write_atomic(path, text, strlen(text))
                        : bt_fail(BT_ENOMEM, "tuner: out of memory writing the table");
    free(text);
    if (st == BT_OK && report)
        fprintf(report, "%s: %d entries, machine %s (hardware %s)\n", path, entries, machine->id,
                machine->hardware);
    if (st == BT_OK && info) info->tables_written++;
    if (st == BT_OK && info && !strcmp(machine->hardware, committer)) {
        info->table_entries = entries;
        snprintf(info->table, sizeof info->table, "%s", path);
    }
    return st;
}

/* Whether the table at path was built from the records it would be built from now. */
static int table_current(const char *path, const folder *f, const char *hardware) {
    json_error_t err;
    int irregular, empty;
    json_t *root = bt_json_load_regular(path, 0, &err, &irregular, &empty);
    json_t *now = stamp_json(f->records.items, f->records.count, hardware);
    int current = root && now && json_equal(json_object_get(root, "records"), now);
    json_decref(root);
    json_decref(now);
    return current;
}

/* Rewrites the table of every machine of the folder (all), or those that are missing or were
 * built from other records than the folder's (a crash between the two writes of a commit). */
static bt_status write_tables(const char *dir, const folder *f, int all, const char *committer,
                              bt_commit_info *info, FILE *report) {
    bt_status st = BT_OK;
    for (int m = 0; st == BT_OK && m < f->machines.count; m++) {
        const bt_fingerprint *machine = &f->machines.items[m];
        int first = 1, used = 0; /* the first machine line of its hardware, with records */
        for (int j = 0; j < m && first; j++)
            first = strcmp(f->machines.items[j].hardware, machine->hardware) != 0;
        for (int i = 0; i < f->records.count && !used; i++)
            used = !strcmp(f->records.items[i].hardware, machine->hardware);
        char path[1100];
        table_path(dir, table_owner(f), machine->hardware, path, sizeof path);
        if (first && used && (all || !table_current(path, f, machine->hardware)))
            st = write_table(dir, f, machine, committer, info, report);
    }
    return st;
}

/* BACKTUNE_TEST_FAULT (a test hook, records.h): whether `point` is the fault asked for. */
static int test_fault(const char *point) {
    const char *fault = getenv("BACKTUNE_TEST_FAULT");
    if (!fault) return 0;
    size_t n = strlen(point);
    if (strncmp(fault, point, n) || (fault[n] && fault[n] != ':')) return 0;
    if (!strncmp(point, "pause", 5) && fault[n] == ':') {
        double s = atof(fault + n + 1);
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        while (s > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) continue;
    }
    if (!strncmp(point, "kill", 4)) kill(getpid(), SIGKILL);
    return 1;
}

static bt_status commit_locked(const char *dir, const bt_fingerprint *mine,
                               const bt_record *records, int count, bt_commit_info *info,
                               FILE *report) {
    folder f;
    bt_status st = folder_read(dir, &f, 1);
    int named = count > 0; /* records of this build need its machine line */
    for (int i = 0; i < f.records.count && !named; i++)
        named = !strcmp(f.records.items[i].fingerprint, mine->hash);
    if (st == BT_OK && named && machine_find(&f.machines, mine->hash) < 0)
        st = append_machine(&f, mine);
    if (st == BT_OK) st = name_current_registry(&f, count > 0);
    for (int i = 0; st == BT_OK && i < count; i++) st = append_record(&f, &records[i]);
    resolve_hardware(&f);
    char path[1100];
    path_in(path, sizeof path, dir, "records.jsonl");
    if (st == BT_OK && f.appended) st = bt_write_atomic(path, f.text.data, f.text.len);
    if (info) {
        info->records_on_disk = f.records.count;
        info->bad_lines = f.bad;
    }
    if (f.appended && count && !test_fault("kill-between-writes"))
        test_fault("pause-between-writes");
    /* A commit rewrites this machine's table and any other left behind by a crash; a
     * rebuild (records NULL) every machine's. */
    if (st == BT_OK) st = write_tables(dir, &f, records == NULL, mine->hardware, info, report);
    folder_free(&f);
    return st;
}

/* Removes the temporary files of writes that a crash interrupted: every writer holds the lock
 * while its temporary file exists, so under the lock any one left is an orphan. */
static int remove_orphans(const char *dir) {
    int removed = 0;
    char sub[1024], path[1200];
    snprintf(sub, sizeof sub, "%.1000s/tables", dir);
    const char *dirs[] = {dir, sub};
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        for (struct dirent *e; d && (e = readdir(d));) {
            const char *tmp = strstr(e->d_name, ".tmp.");
            if (!tmp || (i == 0 && strncmp(e->d_name, "records.jsonl.tmp.", 18) &&
                         strncmp(e->d_name, "table.json.tmp.", 15)))
                continue;
            snprintf(path, sizeof path, "%.1000s/%.190s", dirs[i], e->d_name);
            removed += unlink(path) == 0;
        }
        if (d) closedir(d);
    }
    return removed;
}

static bt_status locked(const char *dir, const bt_fingerprint *machine, const bt_record *records,
                        int count, bt_commit_info *info, FILE *report) {
    if (info) memset(info, 0, sizeof *info);
    bt_status st = bt_mkdirs(dir);
    int fd;
    if (st == BT_OK) st = lock_dir(dir, &fd);
    if (st != BT_OK) return st;
    int orphans = remove_orphans(dir);
    if (info) info->orphans_removed = orphans;
    st = commit_locked(dir, machine, records, count, info, report);
    close(fd); /* releases the lock */
    return st;
}

bt_status bt_records_commit_for(const char *dir, const bt_fingerprint *machine,
                                const bt_record *records, int count, bt_commit_info *info) {
    if (!dir || !machine || (count && !records) || count < 0)
        return bt_fail(BT_EINVAL, "bt_records_commit: no directory, machine or records");
    static const bt_record none;
    return locked(dir, machine, records ? records : &none, count, info, NULL);
}

bt_status bt_records_commit(const char *dir, const bt_record *records, int count,
                            bt_commit_info *info) {
    return bt_records_commit_for(dir, bt_fingerprint_get(), records, count, info);
}

bt_status bt_records_sync(const char *dir, bt_commit_info *info) {
    if (!dir) return bt_fail(BT_EINVAL, "bt_records_sync: no directory");
    if (access(dir, F_OK) != 0) { /* nothing there yet */
        if (info) memset(info, 0, sizeof *info);
        return BT_OK;
    }
    return bt_records_commit(dir, NULL, 0, info);
}

bt_status bt_records_rebuild(const char *dir, FILE *report) {
    if (!dir) return bt_fail(BT_EINVAL, "bt_records_rebuild: no directory");
    return locked(dir, bt_fingerprint_get(), NULL, 0, NULL, report);
}

/* Reading results sets (see results.h). */
#include "results.h"

#include "tuning.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* How a file of a folder turned out: loaded, left out (not a backtune result), or refused. */
enum { FILE_LOADED = 0, FILE_NOT_RESULTS = 1, FILE_ERROR = -1 };

static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--; /* "results/m/" names m */
    const char *end = path + n, *s = end;
    while (s > path && s[-1] != '/') s--;
    static _Thread_local char buf[BT_CMP_NAME];
    snprintf(buf, sizeof buf, "%.*s", (int)(end - s), s);
    return buf;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void copy_text(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src ? src : "");
}

const char *bt_cmp_variant_isa(const char *variant) {
    if (ends_with(variant, "_avx512")) return "avx512";
    if (ends_with(variant, "_avx2")) return "avx2";
    return "scalar";
}

void bt_cmp_problem_op(const char *problem, char *op, size_t size) {
    size_t n = strcspn(problem, " ");
    snprintf(op, size, "%.*s", (int)n, problem);
}

double bt_cmp_cv_from_spread(double spread, int n) {
    /* d2(n): the expected range of n standard normal samples. */
    static const double d2[] = {0,     0,     1.128, 1.693, 2.059, 2.326,
                                2.534, 2.704, 2.847, 2.970, 3.078};
    if (n < 2 || !(spread >= 0)) return -1;
    double d = n < (int)(sizeof d2 / sizeof d2[0]) ? d2[n] : 3.078 + 0.6 * log10(n / 10.0);
    return spread / d;
}

/* The canonical text of a problem (so results of builds that format differently still
 * match); the text as it is when this build cannot parse it. */
static void canonical_problem(const char *text, char *out, size_t size) {
    bt_problem p;
    if (bt_problem_parse(text, &p) != BT_OK || bt_problem_format(&p, out, size) < 0)
        copy_text(out, size, text);
}

/* ---- set growth ---- */

#define GROW(array, count, cap_var)                                                                \
    do {                                                                                           \
        if ((count) == (cap_var)) {                                                                \
            int cap_ = (cap_var) ? 2 * (cap_var) : 16;                                             \
            void *p_ = realloc((array), (size_t)cap_ * sizeof *(array));                           \
            if (!p_) return bt_fail(BT_ENOMEM, "compare: out of memory");                          \
            (array) = p_;                                                                          \
            (cap_var) = cap_;                                                                      \
        }                                                                                          \
    } while (0)

typedef struct set_caps {
    int files, runs, choices;
} set_caps;

static bt_status add_file(bt_cmp_set *set, set_caps *caps, const char *path, bt_cmp_file_kind kind,
                          bt_cmp_file **out) {
    GROW(set->files, set->nfiles, caps->files);
    bt_cmp_file *f = &set->files[set->nfiles++];
    memset(f, 0, sizeof *f);
    copy_text(f->path, sizeof f->path, path);
    f->kind = kind;
    *out = f;
    return BT_OK;
}

/* ---- bench JSON ---- */

static const char *context_string(const json_t *context, const char *key) {
    return json_string_value(json_object_get(context, key));
}

/* The schema version in a bench context: BT_OK if it is ours, else a message saying what it
 * is instead. */
static bt_status check_bench_schema(const char *path, const json_t *context) {
    const json_t *v = json_object_get(context, "backtune_schema");
    long long version = -1;
    if (json_is_integer(v)) version = json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        version = strtoll(json_string_value(v), &end, 10);
        if (*end || end == json_string_value(v)) version = -1;
    }
    if (version == BT_RESULTS_SCHEMA) return BT_OK;
    if (!v && context_string(context, "backtune_version"))
        return bt_fail(BT_EINVAL,
                       "%s: written by a backtune bench (version %s) that records no "
                       "backtune_schema in its context; this backtune reads schema %d only: "
                       "rerun the bench with this build",
                       path, context_string(context, "backtune_version"), BT_RESULTS_SCHEMA);
    if (!v)
        return bt_fail(BT_EINVAL,
                       "%s: Google benchmark JSON without backtune's context (no "
                       "backtune_schema): not written by backtune bench",
                       path);
    if (json_is_string(v))
        return bt_fail(BT_EINVAL, "%s: results schema '%s', this backtune reads schema %d only",
                       path, json_string_value(v), BT_RESULTS_SCHEMA);
    return bt_fail(BT_EINVAL, "%s: results schema %lld, this backtune reads schema %d only", path,
                   version, BT_RESULTS_SCHEMA);
}

static double time_unit_seconds(const char *unit) {
    if (!unit || !strcmp(unit, "ns")) return 1e-9;
    if (!strcmp(unit, "us")) return 1e-6;
    if (!strcmp(unit, "ms")) return 1e-3;
    return 1.0;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The entries of one run (its repetitions and aggregates, adjacent in the file) while they
 * are read. */
#define MAX_REPS 1024
typedef struct run_acc {
    const char *run_name;
    const json_t *first; /* an entry with the label and counters */
    double seconds[MAX_REPS], rates[MAX_REPS];
    int n, reps_field, failed;
    double median_rate, mean_rate, cv; /* from aggregates; < 0 absent */
} run_acc;

static void acc_reset(run_acc *a, const char *run_name) {
    a->run_name = run_name;
    a->first = NULL;
    a->n = a->reps_field = a->failed = 0;
    a->median_rate = a->mean_rate = a->cv = -1;
}

static double number_of(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static int entry_failed(const json_t *e) {
    const json_t *skipped = json_object_get(e, "skipped"); /* Google benchmark >= 1.8 */
    return json_is_true(json_object_get(e, "error_occurred")) ||
           (json_is_string(skipped) && strcmp(json_string_value(skipped), "")) ||
           json_is_true(skipped);
}

static void acc_add(run_acc *a, const json_t *e) {
    if (entry_failed(e)) {
        a->failed = 1;
        return;
    }
    double rate = number_of(e, "FLOP/s");
    if (rate < 0) return; /* not one of ours: no FLOP/s counter */
    const char *type = json_string_value(json_object_get(e, "run_type"));
    const char *agg = json_string_value(json_object_get(e, "aggregate_name"));
    double reps = number_of(e, "repetitions");
    if (reps > a->reps_field) a->reps_field = (int)reps;
    if (type && !strcmp(type, "aggregate")) {
        if (!agg) return;
        if (!strcmp(agg, "median")) a->median_rate = rate, a->first = a->first ? a->first : e;
        if (!strcmp(agg, "mean")) a->mean_rate = rate, a->first = a->first ? a->first : e;
        if (!strcmp(agg, "cv")) a->cv = number_of(e, "real_time");
        return;
    }
    if (a->n == MAX_REPS) return;
    a->seconds[a->n] = number_of(e, "real_time") *
                       time_unit_seconds(json_string_value(json_object_get(e, "time_unit")));
    a->rates[a->n++] = rate;
    if (!a->first) a->first = e;
}

/* label "<problem>; <variant>; <params>", else the name "<op>/<descriptor>/<variant>/omp:T". */
static int parse_identity(const run_acc *a, bt_cmp_run *r) {
    const char *label = json_string_value(json_object_get(a->first, "label"));
    char problem[BT_CMP_TEXT] = "";
    const char *sep1 = label ? strstr(label, "; ") : NULL;
    if (sep1) {
        const char *sep2 = strstr(sep1 + 2, "; ");
        snprintf(problem, sizeof problem, "%.*s", (int)(sep1 - label), label);
        if (sep2) {
            snprintf(r->variant, sizeof r->variant, "%.*s", (int)(sep2 - sep1 - 2), sep1 + 2);
            copy_text(r->params, sizeof r->params, sep2 + 2);
        } else {
            copy_text(r->variant, sizeof r->variant, sep1 + 2);
        }
    } else {
        /* op/descriptor/variant/omp:T: the problem's space became the first '/'. */
        const char *s1 = strchr(a->run_name, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        const char *s3 = s2 ? strchr(s2 + 1, '/') : NULL;
        if (!s3) return 0;
        snprintf(problem, sizeof problem, "%.*s %.*s", (int)(s1 - a->run_name), a->run_name,
                 (int)(s2 - s1 - 1), s1 + 1);
        snprintf(r->variant, sizeof r->variant, "%.*s", (int)(s3 - s2 - 1), s2 + 1);
    }
    canonical_problem(problem, r->problem, sizeof r->problem);
    r->peer = !strncmp(r->variant, "peer:", 5);
    const char *omp = strstr(a->run_name, "/omp:");
    const char *thr = strstr(r->params, "threads=");
    r->threads = omp ? atoi(omp + 5) : thr ? atoi(thr + 8) : 0;
    return r->problem[0] && r->variant[0] && r->threads > 0;
}

static bt_status acc_finish(bt_cmp_set *set, set_caps *caps, run_acc *a, bt_cmp_file *f) {
    if (!a->run_name) return BT_OK;
    if (a->failed && !a->n) f->failed++;
    if (!a->first || (!a->n && a->median_rate < 0 && a->mean_rate < 0)) return BT_OK;
    bt_cmp_run r;
    memset(&r, 0, sizeof r);
    r.file = (int)(f - set->files);
    if (!parse_identity(a, &r)) return BT_OK;
    double rates[MAX_REPS];
    memcpy(rates, a->rates, (size_t)a->n * sizeof *rates);
    r.reps = a->n > a->reps_field ? a->n : a->reps_field;
    double rate = a->median_rate >= 0 ? a->median_rate
                  : a->n              ? median_of(rates, a->n)
                                      : a->mean_rate;
    r.gflops = rate * 1e-9;
    r.gflops_max = r.gflops;
    for (int i = 0; i < a->n; i++)
        if (a->rates[i] * 1e-9 > r.gflops_max) r.gflops_max = a->rates[i] * 1e-9;
    r.cv = a->cv;
    if (r.cv < 0 && a->n >= 2) { /* repetitions without their aggregates */
        double mean = 0, var = 0;
        for (int i = 0; i < a->n; i++) mean += a->seconds[i] / a->n;
        for (int i = 0; i < a->n; i++) var += pow(a->seconds[i] - mean, 2) / (a->n - 1);
        r.cv = mean > 0 ? sqrt(var) / mean : -1;
    }
    double peak = number_of(a->first, "peak_GFLOP/s"), ai = number_of(a->first, "AI");
    r.peak_gflops = peak > 0 ? peak : 0;
    r.ai = ai > 0 ? ai : 0;
    GROW(set->runs, set->nruns, caps->runs);
    set->runs[set->nruns++] = r;
    return BT_OK;
}

/* The context's backtune_problems ("<problem> # xN" lines, as bench writes the suite) as
 * canonical problems and counts. */
static bt_status read_layers(bt_cmp_file *f) {
    const char *lines = context_string(f->context, "backtune_problems");
    int cap = 0;
    for (const char *line = lines; line && *line;) {
        size_t n = strcspn(line, "\n");
        const char *mark = strstr(line, " # x");
        if (mark && mark < line + n && atoi(mark + 4) > 0) {
            GROW(f->layers, f->nlayers, cap);
            bt_cmp_layers *l = &f->layers[f->nlayers++];
            char text[BT_CMP_TEXT];
            snprintf(text, sizeof text, "%.*s", (int)(mark - line), line);
            canonical_problem(text, l->problem, sizeof l->problem);
            l->count = atoi(mark + 4);
        }
        line += n + (line[n] == '\n');
    }
    return BT_OK;
}

int bt_cmp_layer_count(const bt_cmp_set *sets, int nsets, const char *suite, const char *problem) {
    for (int s = 0; s < nsets; s++)
        for (int i = 0; i < sets[s].nfiles; i++) {
            const bt_cmp_file *f = &sets[s].files[i];
            if (f->kind != BT_CMP_BENCH || strcmp(f->suite, suite)) continue;
            for (int k = 0; k < f->nlayers; k++)
                if (!strcmp(f->layers[k].problem, problem)) return f->layers[k].count;
        }
    return 1;
}

static bt_status load_bench(bt_cmp_set *set, set_caps *caps, const char *path, json_t *root) {
    json_t *context = json_object_get(root, "context");
    bt_status st = check_bench_schema(path, context);
    if (st != BT_OK) return st;
    bt_cmp_file *f = NULL;
    if ((st = add_file(set, caps, path, BT_CMP_BENCH, &f)) != BT_OK) return st;
    f->context = json_incref(context);
    const char *suite = context_string(context, "backtune_suite");
    if (suite && strcmp(suite, "(none)") && suite[0]) {
        copy_text(f->suite, sizeof f->suite, base_name(suite));
        if (ends_with(f->suite, ".txt")) f->suite[strlen(f->suite) - 4] = '\0';
    } else {
        copy_text(f->suite, sizeof f->suite, base_name(path));
        if (ends_with(f->suite, ".json")) f->suite[strlen(f->suite) - 5] = '\0';
    }
    const char *cache = context_string(context, "bench_cache");
    copy_text(f->cache, sizeof f->cache, cache ? cache : "warm");
    copy_text(f->date, sizeof f->date, context_string(context, "date"));
    copy_text(f->machine_id, sizeof f->machine_id, context_string(context, "machine_id"));
    copy_text(f->fingerprint_hash, sizeof f->fingerprint_hash,
              context_string(context, "machine_fingerprint_hash"));

    const json_t *benchmarks = json_object_get(root, "benchmarks");
    int before = set->nruns;
    run_acc *acc = malloc(sizeof *acc);
    if (!acc) return bt_fail(BT_ENOMEM, "compare: out of memory");
    acc_reset(acc, NULL);
    size_t i;
    const json_t *e;
    json_array_foreach(benchmarks, i, e) {
        const char *run_name = json_string_value(json_object_get(e, "run_name"));
        if (!run_name) run_name = json_string_value(json_object_get(e, "name"));
        if (!run_name) continue;
        if (!acc->run_name || strcmp(acc->run_name, run_name)) {
            if ((st = acc_finish(set, caps, acc, f)) != BT_OK) break;
            acc_reset(acc, run_name);
        }
        acc_add(acc, e);
    }
    if (st == BT_OK) st = acc_finish(set, caps, acc, f);
    free(acc);
    if (st != BT_OK) return st;
    if (set->nruns == before)
        return bt_fail(BT_EINVAL, "%s: no results (%zu benchmark entries, %d failed or skipped)",
                       path, json_array_size(benchmarks), f->failed);
    /* Per problem once: runs of one problem are adjacent in bench's order (variants inner). */
    for (int r = before; r < set->nruns; r++) {
        bt_cmp_run *run = &set->runs[r];
        if (r > before && !strcmp(run->problem, set->runs[r - 1].problem)) {
            run->flops = set->runs[r - 1].flops;
            continue;
        }
        bt_problem p;
        run->flops = bt_problem_parse(run->problem, &p) == BT_OK ? bt_problem_flops(&p) : 0;
    }
    return read_layers(f);
}

/* ---- tuning tables ---- */

static bt_status load_table(bt_cmp_set *set, set_caps *caps, const char *path, json_t *root) {
    const json_t *version = json_object_get(root, "format_version");
    if (!json_is_integer(version) || json_integer_value(version) != BT_TABLE_FORMAT_VERSION)
        return bt_fail(BT_EINVAL,
                       "%s: tuning table format version %lld, this backtune reads version %d "
                       "only",
                       path,
                       json_is_integer(version) ? (long long)json_integer_value(version) : -1LL,
                       BT_TABLE_FORMAT_VERSION);
    bt_cmp_file *f = NULL;
    bt_status st = add_file(set, caps, path, BT_CMP_TABLE, &f);
    if (st != BT_OK) return st;
    f->context = json_incref(root);
    copy_text(f->suite, sizeof f->suite, "tuning table");
    copy_text(f->date, sizeof f->date, context_string(root, "updated"));
    const json_t *fp = json_object_get(root, "fingerprint");
    copy_text(f->machine_id, sizeof f->machine_id, context_string(fp, "id"));
    copy_text(f->fingerprint_hash, sizeof f->fingerprint_hash, context_string(fp, "hash"));
    const json_t *entries = json_object_get(root, "entries");
    int before = set->nchoices;
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e) {
        const char *problem = context_string(e, "problem"), *variant = context_string(e, "variant");
        double threads = number_of(e, "threads"), gflops = number_of(e, "gflops");
        if (!problem || !variant || threads < 1 || gflops <= 0) continue;
        GROW(set->choices, set->nchoices, caps->choices);
        bt_cmp_choice *c = &set->choices[set->nchoices++];
        memset(c, 0, sizeof *c);
        c->file = (int)(f - set->files);
        canonical_problem(problem, c->problem, sizeof c->problem);
        c->threads = (int)threads;
        copy_text(c->variant, sizeof c->variant, variant);
        copy_text(c->params, sizeof c->params, context_string(e, "params"));
        c->gflops = gflops;
        c->reps = (int)number_of(e, "reps");
        c->cv = bt_cmp_cv_from_spread(number_of(e, "spread"), c->reps);
        copy_text(c->default_variant, sizeof c->default_variant,
                  context_string(e, "default_variant"));
        double d = number_of(e, "default_gflops");
        c->default_gflops = d > 0 ? d : 0;
    }
    if (set->nchoices == before)
        return bt_fail(BT_EINVAL, "%s: no results (a tuning table with %zu entries, none usable)",
                       path, json_array_size(entries));
    return BT_OK;
}

/* ---- files and folders ---- */

/* Loads one JSON file. In a folder (in_folder) a JSON file that is not a backtune result is
 * left out with a note; given by name, it is an error. */
static int load_file(bt_cmp_set *set, set_caps *caps, const char *path, int in_folder,
                     FILE *notes) {
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        FILE *probe = fopen(path, "r");
        if (!probe) {
            bt_fail(BT_EIO, "%s: cannot read: %s", path, strerror(errno));
            return FILE_ERROR;
        }
        fclose(probe);
        bt_fail(BT_EIO, "%s: not valid JSON (line %d, column %d: %s): truncated or corrupt?", path,
                err.line, err.column, err.text);
        return FILE_ERROR;
    }
    bt_status st = BT_OK;
    int outcome = FILE_LOADED;
    const char *format = context_string(root, "format");
    if (format && !strcmp(format, BT_TABLE_FORMAT)) {
        st = load_table(set, caps, path, root);
    } else if (json_is_array(json_object_get(root, "benchmarks")) &&
               json_is_object(json_object_get(root, "context"))) {
        st = load_bench(set, caps, path, root);
    } else if (in_folder) {
        if (notes)
            fprintf(notes, "compare: %s left out: not a bench result or tuning table\n", path);
        outcome = FILE_NOT_RESULTS;
    } else {
        st = bt_fail(BT_EINVAL,
                     "%s: neither a backtune bench result (Google benchmark JSON) nor a tuning "
                     "table%s%s",
                     path, format ? ": format " : "", format ? format : "");
    }
    json_decref(root);
    return st != BT_OK ? FILE_ERROR : outcome;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bt_status load_folder(bt_cmp_set *set, set_caps *caps, const char *dir, FILE *notes) {
    DIR *d = opendir(dir);
    if (!d) return bt_fail(BT_EIO, "%s: cannot open the folder: %s", dir, strerror(errno));
    char **names = NULL;
    int count = 0, cap = 0, subdirs = 0;
    bt_status st = BT_OK;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        if (!ends_with(de->d_name, ".json") || strstr(de->d_name, ".tmp.")) {
            char sub[BT_CMP_PATH];
            struct stat sb;
            snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
            subdirs += stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode);
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            char **n = realloc(names, (size_t)cap * sizeof *n);
            if (!n) {
                st = bt_fail(BT_ENOMEM, "compare: out of memory");
                break;
            }
            names = n;
        }
        if (!(names[count] = strdup(de->d_name))) {
            st = bt_fail(BT_ENOMEM, "compare: out of memory");
            break;
        }
        count++;
    }
    closedir(d);
    if (st == BT_OK && count > 1) qsort(names, (size_t)count, sizeof *names, compare_names);
    for (int i = 0; st == BT_OK && i < count; i++) {
        char path[BT_CMP_PATH];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (load_file(set, caps, path, 1, notes) == FILE_ERROR) st = BT_EINVAL;
    }
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    if (st == BT_OK && !set->nfiles)
        st = bt_fail(BT_EINVAL, "%s: no results (no bench JSON or tuning table in it)%s", dir,
                     subdirs ? "; give a machine's folder, results/<machine-id>/, not the folder "
                               "above it"
                             : "");
    return st;
}

/* Two runs of one set for the same (cache, problem, variant, threads), from two files: the
 * later-dated one is kept. Runs are ordered by that key, then by date, to find them. */
static int compare_run_keys(const void *a, const void *b, void *ctx) {
    const bt_cmp_set *set = ctx;
    const bt_cmp_run *x = &set->runs[*(const int *)a], *y = &set->runs[*(const int *)b];
    const bt_cmp_file *fx = &set->files[x->file], *fy = &set->files[y->file];
    int c = strcmp(fx->cache, fy->cache);
    if (!c) c = strcmp(x->problem, y->problem);
    if (!c) c = strcmp(x->variant, y->variant);
    if (!c) c = x->threads - y->threads;
    if (!c) c = strcmp(fx->date, fy->date);
    return c;
}

static bt_status drop_duplicate_runs(bt_cmp_set *set, FILE *notes) {
    if (set->nruns < 2) return BT_OK;
    int *order = malloc((size_t)set->nruns * sizeof *order);
    char *dropped = calloc((size_t)set->nruns, 1);
    if (!order || !dropped) {
        free(order);
        free(dropped);
        return bt_fail(BT_ENOMEM, "compare: out of memory");
    }
    for (int i = 0; i < set->nruns; i++) order[i] = i;
    qsort_r(order, (size_t)set->nruns, sizeof *order, compare_run_keys, set);
    int ndropped = 0;
    for (int i = 0; i + 1 < set->nruns; i++) {
        const bt_cmp_run *x = &set->runs[order[i]], *y = &set->runs[order[i + 1]];
        if (strcmp(set->files[x->file].cache, set->files[y->file].cache) ||
            strcmp(x->problem, y->problem) || strcmp(x->variant, y->variant) ||
            x->threads != y->threads)
            continue;
        if (!ndropped++ && notes)
            fprintf(notes,
                    "compare: %s: '%s' %s with %d threads is in %s and in %s: the later one "
                    "(%s) is used%s\n",
                    set->path, x->problem, x->variant, x->threads, set->files[x->file].path,
                    set->files[y->file].path, set->files[y->file].path,
                    " (and so for every run measured twice)");
        dropped[order[i]] = 1;
    }
    int kept = 0;
    for (int i = 0; i < set->nruns; i++)
        if (!dropped[i]) set->runs[kept++] = set->runs[i];
    set->nruns = kept;
    free(order);
    free(dropped);
    return BT_OK;
}

bt_status bt_cmp_set_load(const char *path, bt_cmp_set *set, FILE *notes) {
    memset(set, 0, sizeof *set);
    copy_text(set->path, sizeof set->path, path);
    copy_text(set->name, sizeof set->name, base_name(path));
    set_caps caps = {0};
    struct stat sb;
    bt_status st;
    if (stat(path, &sb) != 0)
        st = bt_fail(BT_EIO, "%s: no such results folder or file (%s)", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        st = load_folder(set, &caps, path, notes);
    else
        st = load_file(set, &caps, path, 0, notes) == FILE_LOADED ? BT_OK : BT_EINVAL;
    if (st == BT_OK) st = drop_duplicate_runs(set, notes);
    if (st != BT_OK) {
        bt_cmp_set_free(set);
        return st;
    }
    for (int i = 0; i < set->nfiles; i++) {
        const bt_cmp_file *f = &set->files[i];
        if (!set->machine_id[0]) copy_text(set->machine_id, sizeof set->machine_id, f->machine_id);
        if (!set->fingerprint_hash[0])
            copy_text(set->fingerprint_hash, sizeof set->fingerprint_hash, f->fingerprint_hash);
        else if (f->fingerprint_hash[0] && strcmp(f->fingerprint_hash, set->fingerprint_hash) &&
                 notes)
            fprintf(notes,
                    "compare: %s: files from different machine configurations (fingerprint %s "
                    "in %s, %s before): compared as one set\n",
                    path, f->fingerprint_hash, f->path, set->fingerprint_hash);
        const char *model =
            f->kind == BT_CMP_BENCH
                ? context_string(f->context, "machine_cpu_model")
                : context_string(json_object_get(f->context, "fingerprint"), "model_name");
        if (!set->cpu_model[0] && model) copy_text(set->cpu_model, sizeof set->cpu_model, model);
    }
    if (!set->machine_id[0])
        copy_text(set->machine_id, sizeof set->machine_id, "(unknown machine)");
    return BT_OK;
}

void bt_cmp_set_free(bt_cmp_set *set) {
    for (int i = 0; i < set->nfiles; i++) {
        json_decref(set->files[i].context);
        free(set->files[i].layers);
    }
    free(set->files);
    free(set->runs);
    free(set->choices);
    memset(set, 0, sizeof *set);
}

/* ---- machine values from the contexts ---- */

const char *bt_cmp_set_context(const bt_cmp_set *set, const char *key) {
    for (int i = 0; i < set->nfiles; i++) {
        if (set->files[i].kind != BT_CMP_BENCH) continue;
        const char *v = context_string(set->files[i].context, key);
        if (v) return v;
    }
    return NULL;
}

static double context_number(const bt_cmp_set *set, const char *key) {
    const char *v = bt_cmp_set_context(set, key);
    double d = v ? strtod(v, NULL) : 0;
    return d > 0 ? d : 0;
}

double bt_cmp_set_peak(const bt_cmp_set *set, const char *isa, int threads) {
    char key[64];
    snprintf(key, sizeof key, "peak_gflops_%s_t%d", strcmp(isa, "scalar") ? isa : "scalar_sse2",
             threads);
    return context_number(set, key);
}

double bt_cmp_set_best_peak(const bt_cmp_set *set, int threads) {
    static const char *const isas[] = {"avx512", "avx2", "scalar"};
    const char *used = bt_cmp_set_context(set, "machine_isa"); /* honours BACKTUNE_ISA_CAP */
    if (used && bt_cmp_set_peak(set, used, threads) > 0) return bt_cmp_set_peak(set, used, threads);
    double best = 0;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        double p = bt_cmp_set_peak(set, isas[i], threads);
        if (p > best) best = p;
    }
    return best;
}

double bt_cmp_set_bandwidth(const bt_cmp_set *set, int threads, int triad) {
    char key[64];
    snprintf(key, sizeof key, "bandwidth_%s_gbs_t%d", triad ? "triad" : "read", threads);
    return context_number(set, key);
}

static void add_count(int *counts, int *n, int max, int t) {
    int i = 0;
    while (i < *n && counts[i] < t) i++;
    if ((i < *n && counts[i] == t) || *n == max) return;
    memmove(counts + i + 1, counts + i, (size_t)(*n - i) * sizeof *counts);
    counts[i] = t;
    (*n)++;
}

int bt_cmp_set_thread_counts(const bt_cmp_set *set, int *counts, int max) {
    int n = 0;
    for (int i = 0; i < set->nruns; i++) add_count(counts, &n, max, set->runs[i].threads);
    for (int i = 0; i < set->nchoices; i++) add_count(counts, &n, max, set->choices[i].threads);
    return n;
}

/* `backtune compare` and `backtune report` (compare/): loading result sets, matching runs
 * across sets, noise marking, geomeans, tuning tables, and refusing bad input (missing
 * files, another schema version, files without results). The fixtures are small JSON files
 * in the shapes `backtune bench` (Google benchmark JSON) and `backtune tune` (table.json)
 * write, made here in a temporary folder. */
#include "compare.h"
#include "compare_cmd.h"
#include "plot.h"
#include "testlib.h"
#include "tuning.h"

#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_dir[256];

/* ---- fixtures ---- */

/* One benchmark of a bench file: its repetitions' GFLOP/s. With `aggregates`, Google
 * benchmark's mean/median/stddev/cv entries follow the repetitions (as with
 * --benchmark_repetitions=N, N > 1). */
typedef struct fixture_run {
    const char *problem, *variant;
    int threads;
    double gflops[8];
    int reps;
    int aggregates;
    int failed;
} fixture_run;

static const double flops_per_run = 1e6;

static json_t *bench_entry(const fixture_run *r, const char *aggregate, double seconds, double rate,
                           int rep) {
    char run_name[512], name[560], label[512];
    char path[256];
    snprintf(path, sizeof path, "%s", r->problem);
    for (char *c = path; *c; c++)
        if (*c == ' ') *c = '/';
    snprintf(run_name, sizeof run_name, "%s/%s/omp:%d/real_time", path, r->variant, r->threads);
    snprintf(name, sizeof name, "%s%s%s", run_name, aggregate ? "_" : "",
             aggregate ? aggregate : "");
    snprintf(label, sizeof label, "%s; %s; threads=%d", r->problem, r->variant, r->threads);
    json_t *e =
        json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:s, s:s}", "name", name, "run_name", run_name,
                  "run_type", aggregate ? "aggregate" : "iteration", "repetitions", r->reps,
                  "threads", 1, "real_time", seconds * 1e6, "time_unit", "us", "label", label);
    if (aggregate) json_object_set_new(e, "aggregate_name", json_string(aggregate));
    if (!aggregate) json_object_set_new(e, "repetition_index", json_integer(rep));
    if (r->failed) {
        json_object_set_new(e, "error_occurred", json_true());
        json_object_set_new(e, "error_message", json_string("failed on purpose"));
        return e;
    }
    json_object_set_new(e, "FLOP/s", json_real(rate));
    json_object_set_new(e, "AI", json_real(4.0));
    json_object_set_new(e, "peak_GFLOP/s", json_real(100.0));
    return e;
}

static void add_run(json_t *benchmarks, const fixture_run *r) {
    double seconds[8], mean = 0, var = 0;
    for (int i = 0; i < r->reps; i++) {
        seconds[i] = r->failed ? 0 : flops_per_run / (r->gflops[i] * 1e9);
        mean += seconds[i] / r->reps;
        json_array_append_new(benchmarks, bench_entry(r, NULL, seconds[i], r->gflops[i] * 1e9, i));
    }
    if (!r->aggregates || r->reps < 2 || r->failed) return;
    for (int i = 0; i < r->reps; i++) var += pow(seconds[i] - mean, 2) / (r->reps - 1);
    double sorted[8];
    memcpy(sorted, seconds, sizeof sorted);
    for (int i = 0; i < r->reps; i++)
        for (int j = i + 1; j < r->reps; j++)
            if (sorted[j] < sorted[i]) {
                double t = sorted[i];
                sorted[i] = sorted[j], sorted[j] = t;
            }
    double median =
        r->reps % 2 ? sorted[r->reps / 2] : 0.5 * (sorted[r->reps / 2 - 1] + sorted[r->reps / 2]);
    json_array_append_new(benchmarks, bench_entry(r, "mean", mean, flops_per_run / mean, 0));
    json_array_append_new(benchmarks, bench_entry(r, "median", median, flops_per_run / median, 0));
    json_array_append_new(benchmarks, bench_entry(r, "stddev", sqrt(var), 0, 0));
    json_t *cv = bench_entry(r, "cv", sqrt(var) / mean, 0, 0); /* real_time holds the fraction */
    json_object_set_new(cv, "real_time", json_real(sqrt(var) / mean));
    json_array_append_new(benchmarks, cv);
}

static void path_of(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", tmp_dir, name);
}

static void make_dir(const char *name) {
    char p[512];
    path_of(p, sizeof p, name);
    mkdir(p, 0777);
}

/* Writes a bench JSON file; schema NULL leaves backtune_schema out; problems (suite lines
 * "<problem> # xN", as bench writes them) NULL leaves backtune_problems out. */
static void write_bench_model(const char *name, const char *schema, const char *machine,
                              const char *suite, const char *date, const fixture_run *runs, int n,
                              const char *problems) {
    json_t *context =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "date", date, "backtune_version",
                  "0.1.0", "backtune_suite", suite, "bench_cache", "warm", "machine_id", machine,
                  "machine_fingerprint_hash", "0123456789ab", "machine_isa", "avx512",
                  "peak_gflops_avx512_t1", "100.00", "bandwidth_read_gbs_t1", "20.00");
    if (schema) json_object_set_new(context, "backtune_schema", json_string(schema));
    if (problems) json_object_set_new(context, "backtune_problems", json_string(problems));
    json_t *benchmarks = json_array();
    for (int i = 0; i < n; i++) add_run(benchmarks, &runs[i]);
    json_t *root = json_pack("{s:o, s:o}", "context", context, "benchmarks", benchmarks);
    char p[512];
    path_of(p, sizeof p, name);
    json_dump_file(root, p, JSON_INDENT(1));
    json_decref(root);
}

static void write_bench(const char *name, const char *schema, const char *machine,
                        const char *suite, const char *date, const fixture_run *runs, int n) {
    write_bench_model(name, schema, machine, suite, date, runs, n, NULL);
}

typedef struct fixture_choice {
    const char *problem, *variant, *default_variant;
    int threads;
    double gflops, default_gflops, spread;
    int reps;
} fixture_choice;

static void write_table(const char *name, int version, const char *machine,
                        const fixture_choice *choices, int n) {
    json_t *entries = json_array();
    for (int i = 0; i < n; i++) {
        const fixture_choice *c = &choices[i];
        json_array_append_new(entries,
                              json_pack("{s:s, s:i, s:s, s:s, s:f, s:f, s:i, s:s, s:f}", "problem",
                                        c->problem, "threads", c->threads, "variant", c->variant,
                                        "params", "threads=1", "gflops", c->gflops, "spread",
                                        c->spread, "reps", c->reps, "default_variant",
                                        c->default_variant, "default_gflops", c->default_gflops));
    }
    json_t *root =
        json_pack("{s:s, s:i, s:{s:s, s:s, s:s}, s:s, s:o}", "format", BT_TABLE_FORMAT,
                  "format_version", version, "fingerprint", "id", machine, "hash", "0123456789ab",
                  "model_name", "Test CPU", "updated", "2026-01-01T00:00:00Z", "entries", entries);
    char p[512];
    path_of(p, sizeof p, name);
    json_dump_file(root, p, JSON_INDENT(1));
    json_decref(root);
}

static void write_text(const char *name, const char *text) {
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* ---- helpers ---- */

static bt_status load(const char *name, bt_cmp_set *set) {
    char p[512];
    path_of(p, sizeof p, name);
    return bt_cmp_set_load(p, set, NULL);
}

static const bt_cmp_row *find_row(const bt_cmp_rows *rows, const char *problem, const char *variant,
                                  int threads) {
    for (int i = 0; i < rows->nrows; i++) {
        const bt_cmp_row *r = &rows->rows[i];
        int t = 0;
        for (int s = 0; s < rows->nsets && !t; s++) t = r->cell[s].present ? r->cell[s].threads : 0;
        if (!strcmp(r->problem, problem) && !strcmp(r->variant, variant) && t == threads) return r;
    }
    return NULL;
}

static int near(double a, double b) {
    return fabs(a - b) <= 1e-6 * fmax(1, fabs(b));
}

/* Expects loading `name` to fail with a message containing `needle`. */
static void expect_refused(const char *name, const char *needle, const char *what) {
    bt_cmp_set set;
    bt_status st = load(name, &set);
    int ok = st != BT_OK && strstr(bt_last_error(), needle);
    if (!tl_expect(ok, "refuses %s", what))
        tl_note("status %d, message: %s", st, bt_last_error());
    else
        tl_note("%s", bt_last_error());
    if (st == BT_OK) bt_cmp_set_free(&set);
}

/* Runs bt_compare_run on the fixtures, output into a buffer. */
static int run_compare(const char *a, const char *b, const char *threads, char *out, size_t size) {
    char pa[512], pb[512];
    path_of(pa, sizeof pa, a);
    path_of(pb, sizeof pb, b);
    bt_cmp_args args;
    memset(&args, 0, sizeof args);
    args.paths[0] = pa;
    args.paths[1] = pb;
    args.npaths = 2;
    if (threads) {
        args.match.threads[0] = threads[0] - '0';
        args.match.threads[1] = threads[2] - '0';
        args.match.nthreads = 2;
    }
    FILE *f = tmpfile(), *err = tmpfile();
    int rc = bt_compare_run(&args, f, err);
    rewind(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
    fclose(err);
    return rc;
}

/* ---- the fixtures of the tests ---- */

#define P1 "conv_bwd_w mb2ic16ih8oc16oh8kh3ph1"
#define P1_SHORT "conv_bwd_w mb2ic16ih8oc16kh3ph1" /* same problem, oh left out */
#define P2 "fc_bwd_d mb8ic64oc32"
#define P3 "conv_bwd_d mb2ic16ih8oc16oh8kh3ph1"

static void make_fixtures(void) {
    make_dir("a");
    make_dir("b");
    /* A: P1 with two variants (the avx512 one best) and two peers (LIBXSMM the faster, and
     * faster than ours), repeated with aggregates;
     * P2 measured once; P3 only here. */
    const fixture_run a_runs[] = {
        {P1, "conv_bwd_w__direct_nchw_avx512", 1, {50, 51, 49}, 3, 1, 0},
        {P1, "conv_bwd_w__naive", 1, {2, 2.1, 1.9}, 3, 1, 0},
        {P1, "peer:onednn", 1, {80, 80, 80}, 3, 1, 0},
        {P1, "peer:libxsmm", 1, {90, 91, 89}, 3, 1, 0},
        {P2, "fc_bwd_d__gemm_avx512", 1, {40}, 1, 0, 0},
        {P3, "conv_bwd_d__naive", 1, {3, 3, 3}, 3, 1, 0},
        {P3, "conv_bwd_d__direct_nchw_avx2", 1, {0}, 1, 0, 1}, /* failed: left out */
    };
    write_bench("a/bench_quick.json", "1", "machine-a", "quick", "2026-01-01T00:00:00+00:00",
                a_runs, 7);
    /* B: P1 (written without oh) slightly faster within noise for the best, clearly faster
     * for naive; P2 once; a run with two threads. */
    const fixture_run b_runs[] = {
        {P1_SHORT, "conv_bwd_w__direct_nchw_avx2", 1, {52, 40, 60}, 3, 1, 0},
        {P1_SHORT, "conv_bwd_w__naive", 1, {4, 4.1, 3.9}, 3, 1, 0},
        {P2, "fc_bwd_d__gemm_avx2", 1, {20}, 1, 0, 0},
        {P1_SHORT, "conv_bwd_w__direct_nchw_avx2", 2, {90, 91, 89}, 3, 0, 0}, /* no aggregates */
    };
    write_bench("b/bench_quick.json", "1", "machine-b", "quick", "2026-01-02T00:00:00+00:00",
                b_runs, 4);
    const fixture_choice a_table[] = {
        {P1, "conv_bwd_w__direct_nchw_avx512", "conv_bwd_w__direct_nchw_avx2", 1, 60, 50, 0.02, 5},
        {P2, "fc_bwd_d__gemm_avx512", "fc_bwd_d__gemm_avx512", 1, 45, 45, 0.01, 5},
    };
    const fixture_choice b_table[] = {
        {P1, "conv_bwd_w__direct_nchw_avx2", "conv_bwd_w__direct_nchw_avx2", 1, 30, 30, 0.02, 5},
        {P2, "fc_bwd_d__gemm_avx2", "fc_bwd_d__gemm_avx2", 1, 45.2, 40, 0.04, 5},
    };
    write_table("a/table.json", BT_TABLE_FORMAT_VERSION, "machine-a", a_table, 2);
    write_table("b/table.json", BT_TABLE_FORMAT_VERSION, "machine-b", b_table, 2);
    write_text("a/records.jsonl", "{}\n");                   /* not JSON by name: ignored */
    write_text("a/notes.json", "{\"something\": \"else\"}"); /* JSON, not results: left out */
}

/* ---- tests ---- */

static void test_loading(void) {
    bt_cmp_set a;
    if (!tl_expect(load("a", &a) == BT_OK, "loads a results folder")) {
        tl_note("%s", bt_last_error());
        return;
    }
    tl_expect(a.nfiles == 2 && a.nruns == 6 && a.nchoices == 2,
              "folder: 2 files (bench, table), 6 runs (the failed one left out), 2 entries "
              "(%d, %d, %d)",
              a.nfiles, a.nruns, a.nchoices);
    tl_expect(!strcmp(a.machine_id, "machine-a") && a.files[0].failed == 1,
              "machine id from the context, the failed run counted");
    const bt_cmp_run *r = NULL;
    for (int i = 0; i < a.nruns; i++)
        if (!strcmp(a.runs[i].variant, "conv_bwd_w__direct_nchw_avx512")) r = &a.runs[i];
    const bt_cmp_run *lx = NULL;
    for (int i = 0; i < a.nruns; i++)
        if (!strcmp(a.runs[i].variant, "peer:libxsmm")) lx = &a.runs[i];
    tl_expect(lx && lx->peer && near(lx->gflops, 90), "peer:libxsmm is loaded as a peer");
    tl_expect(r && r->reps == 3 && near(r->gflops, 50) && r->cv > 0 && r->cv < 0.05 &&
                  r->threads == 1 && !r->peer && near(r->peak_gflops, 100) && near(r->ai, 4),
              "repetitions folded: median 50 GFLOP/s, cv from the aggregate, threads from the "
              "name");
    tl_expect(near(bt_cmp_set_best_peak(&a, 1), 100) && near(bt_cmp_set_bandwidth(&a, 1, 0), 20),
              "peak and bandwidth from the context");
    bt_cmp_set_free(&a);

    bt_cmp_set b;
    if (tl_expect(load("b", &b) == BT_OK, "loads the second folder")) {
        const bt_cmp_run *two = NULL;
        for (int i = 0; i < b.nruns; i++)
            if (b.runs[i].threads == 2) two = &b.runs[i];
        tl_expect(two && near(two->gflops, 90) && two->cv > 0,
                  "repetitions without aggregates: median and cv computed");
        tl_expect(!strcmp(b.runs[0].problem, P1), "problem text made canonical ('%s')",
                  b.runs[0].problem);
        bt_cmp_set_free(&b);
    }
    char p[512];
    path_of(p, sizeof p, "a/bench_quick.json");
    bt_cmp_set one;
    if (tl_expect(bt_cmp_set_load(p, &one, NULL) == BT_OK && one.nfiles == 1 && one.nruns == 6,
                  "loads a single bench file"))
        bt_cmp_set_free(&one);
}

static void test_matching(void) {
    bt_cmp_set sets[2];
    if (load("a", &sets[0]) != BT_OK || load("b", &sets[1]) != BT_OK) {
        tl_fail("fixtures load: %s", bt_last_error());
        return;
    }
    bt_cmp_options o = {0};
    bt_cmp_rows rows;
    if (tl_expect(bt_cmp_match_runs(sets, 2, &o, &rows) == BT_OK, "matches the best variants")) {
        const bt_cmp_row *p1 = find_row(&rows, P1, "best", 1);
        tl_expect(p1 && p1->cell[0].present && p1->cell[1].present &&
                      !strcmp(p1->cell[0].variant, "conv_bwd_w__direct_nchw_avx512") &&
                      !strcmp(p1->cell[1].variant, "conv_bwd_w__direct_nchw_avx2") &&
                      near(p1->speedup[1], 52.0 / 50.0),
                  "best of ours on each side (peers left out), speedup B/A = 1.04");
        const bt_cmp_row *p2 = find_row(&rows, P2, "best", 1);
        tl_expect(p2 && near(p2->speedup[1], 0.5), "a problem measured once matches (0.5x)");
        tl_expect(rows.matched == 2 && rows.only_in[0] == 1 && rows.only_in[1] == 1,
                  "2 matched, P3 only in A, the 2-thread run only in B (%d, %d, %d)", rows.matched,
                  rows.only_in[0], rows.only_in[1]);
        tl_expect(rows.ngroups == 1 && !strcmp(rows.groups[0].suite, "quick"), "grouped by suite");
        bt_cmp_geomean g = bt_cmp_geomean_of(&rows, 0, rows.nrows, 1);
        tl_expect(g.count == 2 && near(g.value, sqrt(1.04 * 0.5)), "geomean of the speedups");
        bt_cmp_rows_free(&rows);
    }
    o.by_variant = 1;
    if (tl_expect(bt_cmp_match_runs(sets, 2, &o, &rows) == BT_OK, "matches variants by name")) {
        const bt_cmp_row *naive = find_row(&rows, P1, "conv_bwd_w__naive", 1);
        tl_expect(naive && near(naive->speedup[1], 2.0), "naive matched by name: 2x");
        tl_expect(find_row(&rows, P1, "peer:onednn", 1) != NULL &&
                      find_row(&rows, P1, "peer:libxsmm", 1) != NULL,
                  "peers are rows too");
        bt_cmp_rows_free(&rows);
    }
    bt_cmp_options mapped = {.threads = {1, 2}, .nthreads = 2};
    if (tl_expect(bt_cmp_match_runs(sets, 2, &mapped, &rows) == BT_OK,
                  "matches A at 1 thread with B at 2")) {
        const bt_cmp_row *p1 = find_row(&rows, P1, "best", 1);
        tl_expect(p1 && p1->cell[1].threads == 2 && near(p1->speedup[1], 90.0 / 50.0),
                  "thread counts mapped per set: 1.8x");
        bt_cmp_rows_free(&rows);
    }
    bt_cmp_options bad = {.threads = {1, 2, 3}, .nthreads = 3};
    tl_expect(bt_cmp_match_runs(sets, 2, &bad, &rows) != BT_OK,
              "refuses 3 thread counts for 2 sets");
    bt_cmp_options peers = {.variants = "peer:*"};
    if (bt_cmp_match_runs(sets, 2, &peers, &rows) == BT_OK) {
        const bt_cmp_row *p1 = find_row(&rows, P1, "best", 1);
        tl_expect(p1 && p1->cell[0].present && !p1->cell[1].present &&
                      !strcmp(p1->cell[0].variant, "peer:libxsmm"),
                  "--variants 'peer:*' takes the best peer (peer:libxsmm, not peer:onednn)");
        bt_cmp_rows_free(&rows);
    }
    if (tl_expect(bt_cmp_match_choices(sets, 2, &o, &rows) == BT_OK, "matches tuning tables")) {
        const bt_cmp_row *p1 = find_row(&rows, P1, "tuned", 1);
        tl_expect(p1 && near(p1->speedup[1], 0.5) && p1->noise[1] == BT_CMP_NOISE_OUTSIDE &&
                      !strcmp(p1->cell[1].variant, "conv_bwd_w__direct_nchw_avx2"),
                  "tables: the variant each picked, 0.5x, outside the noise");
        const bt_cmp_row *p2 = find_row(&rows, P2, "tuned", 1);
        tl_expect(p2 && p2->noise[1] == BT_CMP_NOISE_INSIDE,
                  "tables: 45 against 45.2 is inside the noise of their spread");
        bt_cmp_rows_free(&rows);
    }
    bt_cmp_set_free(&sets[0]);
    bt_cmp_set_free(&sets[1]);
}

static void test_noise(void) {
    tl_expect(bt_cmp_noise_of(1.04, 0.02, 0.03) == BT_CMP_NOISE_INSIDE,
              "4%% apart with cv 2%% and 3%%: inside the noise");
    tl_expect(bt_cmp_noise_of(1.5, 0.02, 0.03) == BT_CMP_NOISE_OUTSIDE,
              "50%% apart with cv 2%% and 3%%: outside");
    tl_expect(bt_cmp_noise_of(0.7, 0.02, -1) == BT_CMP_NOISE_UNKNOWN,
              "a side measured once: noise unknown");
    tl_expect(bt_cmp_noise_of(1 / 1.04, 0.02, 0.03) == BT_CMP_NOISE_INSIDE,
              "symmetric: slower by the same factor is inside too");
    tl_expect(bt_cmp_cv_from_spread(0.1, 1) < 0 && near(bt_cmp_cv_from_spread(0.2326, 5), 0.1),
              "cv from a spread: unknown for one repetition, range / d2(n) otherwise");

    bt_cmp_set sets[2];
    if (load("a", &sets[0]) != BT_OK || load("b", &sets[1]) != BT_OK) {
        tl_fail("fixtures load: %s", bt_last_error());
        return;
    }
    bt_cmp_options o = {.by_variant = 1};
    bt_cmp_rows rows;
    if (bt_cmp_match_runs(sets, 2, &o, &rows) == BT_OK) {
        const bt_cmp_row *naive = find_row(&rows, P1, "conv_bwd_w__naive", 1);
        tl_expect(naive && naive->noise[1] == BT_CMP_NOISE_OUTSIDE,
                  "naive 2x faster with cv ~5%%: outside the noise");
        const bt_cmp_row *p2 = find_row(&rows, P2, "fc_bwd_d__gemm_avx512", 1);
        tl_expect(p2 && !p2->cell[1].present, "different variants do not match by name");
        bt_cmp_rows_free(&rows);
    }
    o.by_variant = 0;
    if (bt_cmp_match_runs(sets, 2, &o, &rows) == BT_OK) {
        const bt_cmp_row *p1 = find_row(&rows, P1, "best", 1);
        tl_expect(p1 && p1->noise[1] == BT_CMP_NOISE_INSIDE,
                  "best: 50 against 52 with B's cv ~20%%: inside the noise");
        const bt_cmp_row *p2 = find_row(&rows, P2, "best", 1);
        tl_expect(p2 && p2->noise[1] == BT_CMP_NOISE_UNKNOWN,
                  "measured once on both sides: noise unknown, even at 2x");
        bt_cmp_rows_free(&rows);
    }
    bt_cmp_set_free(&sets[0]);
    bt_cmp_set_free(&sets[1]);

    char out[16384];
    int rc = run_compare("a", "b", NULL, out, sizeof out);
    tl_expect(rc == 0 && strstr(out, "1.04x ~") && strstr(out, "0.50x ?") &&
                  strstr(out, "geomean quick") && strstr(out, "only in A: 1 problem"),
              "compare prints '~' inside the noise, '?' when unknown, geomeans, unmatched");
    if (rc != 0 || !strstr(out, "1.04x ~")) tl_note("output:\n%s", out);
    rc = run_compare("a", "b", "1,2", out, sizeof out);
    tl_expect(rc == 0 && strstr(out, "A at 1, B at 2") && strstr(out, "1.80x"),
              "compare --threads 1,2: A at 1 thread against B at 2");
}

static void test_bad_input(void) {
    expect_refused("missing", "no such results folder or file", "a missing folder");
    expect_refused("missing.json", "no such results folder or file", "a missing file");

    const fixture_run one[] = {{P1, "conv_bwd_w__naive", 1, {2}, 1, 0, 0}};
    write_bench("noschema.json", NULL, "m", "quick", "2026-01-01", one, 1);
    expect_refused("noschema.json", "no backtune_schema", "a bench file without backtune_schema");
    write_bench("schema2.json", "2", "m", "quick", "2026-01-01", one, 1);
    expect_refused("schema2.json", "schema '2'", "a bench file of schema 2");
    write_table("table2.json", BT_TABLE_FORMAT_VERSION + 1, "m", NULL, 0);
    expect_refused("table2.json", "format version", "a tuning table of another format version");

    write_bench("empty.json", "1", "m", "quick", "2026-01-01", NULL, 0);
    expect_refused("empty.json", "no results", "a bench file with no benchmarks");
    const fixture_run failed[] = {{P1, "conv_bwd_w__naive", 1, {0}, 1, 0, 1}};
    write_bench("allfailed.json", "1", "m", "quick", "2026-01-01", failed, 1);
    expect_refused("allfailed.json", "no results", "a bench file whose runs all failed");
    write_table("emptytable.json", BT_TABLE_FORMAT_VERSION, "m", NULL, 0);
    expect_refused("emptytable.json", "no results", "a tuning table without entries");
    make_dir("emptydir");
    expect_refused("emptydir", "no results", "an empty folder");
    make_dir("results");
    make_dir("results/m1");
    expect_refused("results", "results/<machine-id>/", "results/ instead of a machine's folder");

    write_text("truncated.json", "{\"context\": {\"backtune_schema\": \"1\"}, \"benchmarks\": [");
    expect_refused("truncated.json", "not valid JSON", "a truncated file");
    write_text("other.json", "{\"hello\": 1}");
    expect_refused("other.json", "neither a backtune bench result", "JSON that is not results");
    write_text("plain_gbench.json", "{\"context\": {\"date\": \"x\"}, \"benchmarks\": []}");
    expect_refused("plain_gbench.json", "without backtune's context",
                   "Google benchmark JSON not written by backtune");

    make_dir("mixed");
    write_bench("mixed/bench.json", "1", "m", "quick", "2026-01-01", one, 1);
    write_bench("mixed/old.json", "0", "m", "quick", "2026-01-01", one, 1);
    expect_refused("mixed", "schema '0'", "a folder holding one file of another schema");

    char out[4096];
    tl_expect(run_compare("a", "missing", NULL, out, sizeof out) == 2,
              "compare exits 2 on a missing folder");
    make_dir("c");
    const fixture_run other[] = {{P3, "conv_bwd_d__naive", 4, {2}, 1, 0, 0}};
    write_bench("c/bench.json", "1", "m", "quick", "2026-01-01", other, 1);
    tl_expect(run_compare("b", "c", NULL, out, sizeof out) == 1,
              "compare exits 1 when the sets have nothing in common");
}

static void test_duplicates(void) {
    make_dir("dup");
    const fixture_run old_run[] = {{P1, "conv_bwd_w__naive", 1, {2}, 1, 0, 0}};
    const fixture_run new_run[] = {{P1, "conv_bwd_w__naive", 1, {3}, 1, 0, 0}};
    write_bench("dup/bench_1.json", "1", "m", "quick", "2026-03-01T00:00:00+00:00", new_run, 1);
    write_bench("dup/bench_2.json", "1", "m", "quick", "2026-01-01T00:00:00+00:00", old_run, 1);
    bt_cmp_set set;
    if (tl_expect(load("dup", &set) == BT_OK, "loads a folder with a run measured twice")) {
        tl_expect(set.nruns == 1 && near(set.runs[0].gflops, 3),
                  "the later-dated measurement is kept");
        bt_cmp_set_free(&set);
    }
}

static void test_plot_safety(void) {
    char safe[128];
    bt_plot_safe("a`rm -rf /`\"b'@c$d\\e#f\ng", safe, sizeof safe);
    tl_expect(!strpbrk(safe, "`\"'@$\\#\n") && !strncmp(safe, "a_rm -rf /__b", 13),
              "text for gnuplot keeps no quote, backquote, macro or comment character ('%s')",
              safe);
}

static int file_exists(const char *dir, const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) == 0 && sb.st_size > 0;
}

/* Whether dir/name holds `text`. */
static int file_contains(const char *dir, const char *name, const char *text) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static int in_path(const char *program) {
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, program);
        if (access(p, X_OK) == 0) return 1;
    }
    return 0;
}

static void test_report(void) {
    char a[512], b[512], out[512];
    path_of(a, sizeof a, "a");
    path_of(b, sizeof b, "b");
    path_of(out, sizeof out, "report");
    char *argv[] = {"report", a, b, "-o", out, NULL};
    int rc = bt_cmd_report(5, argv);
    /* gnuplot may be missing where the tests run: then the page is written, the plots not */
    int have_gnuplot = in_path("gnuplot");
    tl_expect(file_exists(out, "index.html"), "report writes index.html");
    /* P1's row of A's roofline table: ours, then the best peer */
    tl_expect(file_contains(out, "index.html", "<td>peer:libxsmm</td>") &&
                  !file_contains(out, "index.html", "<td>peer:onednn</td><td"),
              "the report's best peer is peer:libxsmm, the faster peer");
    if (have_gnuplot) {
        tl_expect(rc == 0 && file_exists(out, "roofline_a.png") &&
                      file_exists(out, "roofline_a.svg") && file_exists(out, "tuned_a.png") &&
                      file_exists(out, "versus_0_conv_bwd_w.png") &&
                      file_exists(out, "variants_a_0_conv_bwd_w.png"),
                  "report draws the roofline, tuning, versus and variants plots (PNG and SVG)");
    } else {
        tl_expect(rc == 1 && file_exists(out, "roofline_a.gp"),
                  "without gnuplot: exit 1, scripts written");
    }
    char *bad[] = {"report", a, NULL};
    tl_expect(bt_cmd_report(2, bad) == 2, "report without -o is a usage error");
}

/* Three machines: A and B measured a two-shape model (P1 three times, P3 once) at 1 and 2
 * threads, C only tuned. The verdict, model totals, scaling and tuning views, computed. */
static void test_report_fleet(void) {
    make_dir("m1"), make_dir("m2"), make_dir("m3");
    const char *model = P1 " # x3\n" P3 " # x1\n";
    const fixture_run m1[] = {
        {P1, "conv_bwd_w__direct_nchw_avx512", 1, {50}, 1, 0, 0},
        {P3, "conv_bwd_d__direct_nchw_avx512", 1, {20}, 1, 0, 0},
        {P1, "conv_bwd_w__direct_nchw_avx512", 2, {100}, 1, 0, 0},
        {P3, "conv_bwd_d__direct_nchw_avx512", 2, {40}, 1, 0, 0},
    };
    /* B: P1 at half A's speed (conv_bwd_w 0.50x), P3 at 0.80x with 2 threads: the model at
     * A's 3F/100 + F/40 = 0.055 F over 3F/50 + F/32 = 0.09125 F, 0.60x; from 1 to 2 threads
     * P1 2x, P3 1.6x: geomean 1.79x. */
    const fixture_run m2[] = {
        {P1, "conv_bwd_w__direct_nchw_avx512", 1, {25}, 1, 0, 0},
        {P3, "conv_bwd_d__direct_nchw_avx512", 1, {20}, 1, 0, 0},
        {P1, "conv_bwd_w__direct_nchw_avx512", 2, {50}, 1, 0, 0},
        {P3, "conv_bwd_d__direct_nchw_avx512", 2, {32}, 1, 0, 0},
    };
    write_bench_model("m1/bench_model.json", "1", "machine-1", "model", "2026-01-01T00:00:00+00:00",
                      m1, 4, model);
    write_bench_model("m2/bench_model.json", "1", "machine-2", "model", "2026-01-01T00:00:00+00:00",
                      m2, 4, model);
    const fixture_choice table[] = {
        {P1, "conv_bwd_w__direct_nchw_avx512", "conv_bwd_w__naive", 1, 60, 20, 0.02, 5},
        {P2, "fc_bwd_d__gemm_avx512", "fc_bwd_d__gemm_avx512", 1, 45, 45, 0.01, 5},
    };
    write_table("m3/table.json", BT_TABLE_FORMAT_VERSION, "machine-3", table, 2);
    write_table("m1/table.json", BT_TABLE_FORMAT_VERSION, "machine-1", table, 2);
    char a[512], b[512], c[512], out[512];
    path_of(a, sizeof a, "m1"), path_of(b, sizeof b, "m2"), path_of(c, sizeof c, "m3");
    path_of(out, sizeof out, "fleet");
    char *argv[] = {"report", a, b, c, "-o", out, NULL};
    int rc = bt_cmd_report(6, argv);
    tl_expect(file_contains(out, "index.html",
                            "runs the backward pass of all 2 of the model suite's 2 shapes (4 "
                            "layers, 2 threads) at <b>0.60x</b> A's speed"),
              "verdict: B runs the model at 0.60x A's speed (4 layers, 2 threads)");
    tl_expect(
        file_contains(out, "index.html", "<b>0.60x</b> per unit of peak (its peak is 1.00x") &&
            file_contains(out, "index.html",
                          "its weakest op is <b>conv_bwd_w</b> (0.50x A), its strongest "
                          "conv_bwd_d (0.80x)"),
        "verdict: per unit of peak, weakest conv_bwd_w 0.50x, strongest conv_bwd_d 0.80x");
    tl_expect(file_contains(out, "index.html", "has no bench suite in common with A.") &&
                  file_contains(out, "index.html", "On the 2 tuning keys both tuned"),
              "verdict: C has no bench in common but 2 tuning keys");
    tl_expect(file_contains(out, "index.html", "model, warm cache, 2 threads: 2 shapes, 4 layers"),
              "model totals: 2 shapes, 4 layers at 2 threads");
    tl_expect(file_contains(out, "index.html", "<td class=\"n\">1.79x</td>") &&
                  file_contains(out, "index.html", "<td class=\"n\">2.00x</td>"),
              "scaling 1 -> 2 threads: A 2.00x, B 1.79x (geomean)");
    tl_expect(file_contains(out, "index.html",
                            "has no problem measured at 1 thread and at more: record with"),
              "scaling: C without data says so, with the command that records it");
    tl_expect(file_contains(out, "index.html",
                            "Tuning gains over default dispatch (geomean of "
                            "each table's keys): A 1.73x, C 1.73x"),
              "tuning gains: sqrt(3 x 1) = 1.73x for A and C");
    if (in_path("gnuplot"))
        tl_expect(rc == 0 && file_exists(out, "totals_0_t2.png") &&
                      file_exists(out, "efficiency_0_t2.png") && file_exists(out, "scaling.png") &&
                      file_exists(out, "tuned_machines.png") && file_exists(out, "tuned_c.png") &&
                      !file_exists(out, "tuned_b.png"),
                  "fleet report draws totals, efficiency, scaling and tuning plots");
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "%s/bt_compare_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_fixtures();
    test_loading();
    test_matching();
    test_noise();
    test_bad_input();
    test_duplicates();
    test_plot_safety();
    test_report();
    test_report_fleet();
    if (!getenv("BT_KEEP_TMP") && nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp_dir);
    return tl_finish();
}

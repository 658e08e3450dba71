/* backtune bench: the interference verdict (see bench_cmd.c) and saving the results file with
 * it. */
#include "bench_run.h"

#include "peak.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Interference thresholds beyond the detector's own (cmdline/interference.h): a 1-thread
 * benchmark whose thread ran less than this fraction of the wall time was descheduled (with
 * more threads the main thread may rightly sleep at barriers, under OMP_WAIT_POLICY=PASSIVE
 * or while a peer's own pool works, so the ratio says nothing there); a peak that moved by
 * more than this fraction between the start and the end of the run. */
#define MIN_CPU_REAL_RATIO 0.85
#define MAX_PEAK_DRIFT 0.10
#define PEAK_SETTLE_SECONDS 0.25 /* before the end probe: peers' thread pools stop spinning */

/* The verdict: the whole run's window, every benchmark's, and the peak measured again. */
void bench_judge_interference(bench_run *run) {
    bench_verdict *v = &run->verdict;
    if (v->peak_start > 0) {
        struct timespec settle = {0, (long)(PEAK_SETTLE_SECONDS * 1e9)};
        nanosleep(&settle, NULL);
        v->peak_end = bt_peak_gflops_remeasure(v->peak_isa, v->peak_threads);
        v->peak_drifted = v->peak_end > 0 && fabs(v->peak_end / v->peak_start - 1) > MAX_PEAK_DRIFT;
    }
    bt_load_sample end;
    bt_load_sample_take(&end);
    int most = 1;
    for (int t = 0; t < run->opt.sel.nthreads; t++)
        if (run->opt.sel.threads[t] > most) most = run->opt.sel.threads[t];
    bt_interference_between(&run->load_start, &end, most, &v->run);
    for (int i = 0; i < run->ncases; i++) {
        bench_case *c = &run->cases[i];
        if (!c->timed_runs) continue;
        bt_interference ci;
        bt_interference_judge(&c->load, c->threads, &ci);
        int descheduled =
            c->threads == 1 && c->cpu_real_min > 0 && c->cpu_real_min < MIN_CPU_REAL_RATIO;
        if (!ci.detected && !descheduled) continue;
        char ratio[96] = "";
        if (descheduled)
            snprintf(ratio, sizeof ratio, "its thread ran %.0f%% of the wall time (limit %.0f%%)",
                     100 * c->cpu_real_min, 100 * MIN_CPU_REAL_RATIO);
        snprintf(c->flag_reason, sizeof c->flag_reason, "%s%s%s", ci.reasons,
                 ci.detected && descheduled ? "; " : "", ratio);
        c->flagged = 1;
        v->flagged++;
    }
    v->detected = v->run.detected || v->peak_drifted || v->flagged;
}

/* "peak (avx512 fma, 2 threads) 96.1 GFLOP/s at start, 51.0 at end (-47%, limit 10%)" */
static void peak_text(const bench_verdict *v, char *buf, size_t size) {
    if (!(v->peak_start > 0 && v->peak_end > 0)) {
        snprintf(buf, size, "peak not measured again");
        return;
    }
    snprintf(buf, size,
             "peak (%s, %d thread%s) %.1f GFLOP/s at start, %.1f at end (%+.0f%%, limit %.0f%%)",
             bt_peak_isa_label(v->peak_isa), v->peak_threads, v->peak_threads > 1 ? "s" : "",
             v->peak_start, v->peak_end, 100 * (v->peak_end / v->peak_start - 1),
             100 * MAX_PEAK_DRIFT);
}

/* What fired, in a few words. */
static void verdict_reasons(const bench_run *run, char *buf, size_t size) {
    const bench_verdict *v = &run->verdict;
    char peak[160];
    peak_text(v, peak, sizeof peak);
    int timed = 0;
    for (int i = 0; i < run->ncases; i++) timed += run->cases[i].timed_runs > 0;
    snprintf(buf, size, "%s%s%s%s", v->run.detected ? v->run.reasons : "",
             v->run.detected && (v->peak_drifted || v->flagged) ? "; " : "",
             v->peak_drifted ? peak : "", v->peak_drifted && v->flagged ? "; " : "");
    if (v->flagged) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%d of %d benchmarks flagged", v->flagged, timed);
    }
}

/* The verdict's last lines of the console output. */
void bench_print_interference(const bench_run *run) {
    FILE *out = run->report;
    const bench_verdict *v = &run->verdict;
    char peak[160];
    peak_text(v, peak, sizeof peak);
    if (!v->detected) {
        fprintf(out, "\ninterference: none detected (%s; %s)\n", v->run.text, peak);
        return;
    }
    char reasons[512];
    verdict_reasons(run, reasons, sizeof reasons);
    fprintf(out,
            "\ninterference: DETECTED: %s\n"
            "  Other work shared the CPUs: these results are not reliable; rerun on a quiet "
            "machine.\n",
            reasons);
    fprintf(out, "  whole run: %s\n  %s\n", v->run.text, peak);
    int shown = 0;
    for (int i = 0; i < run->ncases && shown < 20; i++)
        if (run->cases[i].flagged) {
            if (!shown++) fprintf(out, "  flagged benchmarks (marked in the summary table):\n");
            fprintf(out, "    %s: %s\n", run->cases[i].name, run->cases[i].flag_reason);
        }
    if (v->flagged > shown) fprintf(out, "    ... %d more\n", v->flagged - shown);
}

static json_t *verdict_json(const bench_run *run) {
    const bench_verdict *v = &run->verdict;
    json_t *o = bt_interference_to_json(&v->run);
    if (!o) return NULL;
    char reasons[512];
    verdict_reasons(run, reasons, sizeof reasons);
    int timed = 0;
    for (int i = 0; i < run->ncases; i++) timed += run->cases[i].timed_runs > 0;
    /* detected and reasons are the run's verdict; the other figures its whole-run window's. */
    json_object_set_new(o, "detected", json_boolean(v->detected));
    json_object_set_new(o, "reasons", json_string(reasons));
    json_object_set_new(o, "run_detected", json_boolean(v->run.detected));
    json_object_set_new(o, "peak_isa", json_string(bt_peak_isa_label(v->peak_isa)));
    json_object_set_new(o, "peak_threads", json_integer(v->peak_threads));
    json_object_set_new(o, "peak_start",
                        v->peak_start > 0 ? json_real(v->peak_start) : json_null());
    json_object_set_new(o, "peak_end", v->peak_end > 0 ? json_real(v->peak_end) : json_null());
    json_object_set_new(o, "peak_drift_limit", json_real(MAX_PEAK_DRIFT));
    json_object_set_new(o, "cpu_real_limit", json_real(MIN_CPU_REAL_RATIO));
    json_object_set_new(o, "benchmarks_flagged", json_integer(v->flagged));
    json_object_set_new(o, "benchmarks_checked", json_integer(timed));
    return o;
}

/* The case of the run named `name` (its name, then Google benchmark's "/real_time"),
 * searched from where the last one was found (the file lists the runs in the order they
 * ran). */
static bench_case *find_case(bench_run *run, const char *name, int *cursor) {
    for (int n = 0; name && n < run->ncases; n++) {
        int i = (*cursor + n) % run->ncases;
        size_t len = strlen(run->cases[i].name);
        if (!strncmp(run->cases[i].name, name, len) && (!name[len] || name[len] == '/')) {
            *cursor = i;
            return &run->cases[i];
        }
    }
    return NULL;
}

/* Adds the verdict to the JSON file Google benchmark wrote (context.interference, and per
 * benchmark "interference" and "interference_reason"), in place: it is still under its
 * temporary name. */
static int add_verdict_to_file(bench_run *run, const char *path) {
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    json_t *context = json_object_get(root, "context");
    if (!json_is_object(context)) {
        fprintf(stderr, "backtune bench: %s: %s; saved without the interference verdict\n", path,
                root ? "no context" : err.text);
        json_decref(root);
        return 0;
    }
    json_object_set_new(context, "interference", verdict_json(run));
    size_t i;
    json_t *b;
    int cursor = 0;
    json_array_foreach(json_object_get(root, "benchmarks"), i, b) {
        const bench_case *c =
            find_case(run, json_string_value(json_object_get(b, "run_name")), &cursor);
        if (!c) continue;
        json_object_set_new(b, "interference", json_boolean(c->flagged));
        if (c->flagged) json_object_set_new(b, "interference_reason", json_string(c->flag_reason));
    }
    int rc = json_dump_file(root, path, JSON_INDENT(2));
    if (rc) fprintf(stderr, "backtune bench: cannot rewrite %s\n", path);
    json_decref(root);
    return rc ? -1 : 0;
}

/* The results file: the verdict added (JSON), then renamed from its temporary name into
 * place; or, with --strict on interference, removed. Returns the exit status it calls for
 * (0 or STATUS_INTERFERENCE), -1 when it could not be saved. */
int bench_save_results(bench_run *run, const char *tmp, const char *out, int json, int judged) {
    const bench_verdict *v = &run->verdict;
    if (judged && v->detected && run->opt.strict) {
        unlink(tmp);
        fprintf(stderr, "backtune bench: --strict: interference detected, %s not saved\n", out);
        return STATUS_INTERFERENCE;
    }
    struct stat st;
    if (stat(tmp, &st) != 0) return 0; /* nothing written (a list of the benchmarks) */
    if ((json && judged && add_verdict_to_file(run, tmp)) || rename(tmp, out) != 0) {
        fprintf(stderr, "backtune bench: cannot save %s (the results are in %s)\n", out, tmp);
        return -1;
    }
    fprintf(stderr, "backtune bench: results in %s%s\n", out,
            judged && v->detected ? " (marked: interference)" : "");
    return 0;
}

/* backtune bench: the context block of the results (machine, peaks, build, binding, the
 * command and its problems), so that a results file says how it was made. */
#include "bench_run.h"

#include "bench_build.h"
#include "bt_gbench.h"
#include "cmdline.h"
#include "fingerprint.h"
#include "git_revision.h"
#include "peak.h"
#include "tuning.h"

#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void context_int(const char *key, long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    bt_gbench_add_context(key, buf);
}

static void context_double(const char *key, double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.2f", v);
    bt_gbench_add_context(key, buf);
}

static void context_env(const char *key, const char *var) {
    const char *v = getenv(var);
    bt_gbench_add_context(key, v ? v : "(unset)");
}

/* The machine fingerprint (kernels/core/fingerprint.h) in full, and its main fields one by one. */
static void add_machine_context(void) {
    const bt_fingerprint *fp = bt_fingerprint_get();
    const bt_machine *m = bt_machine_get();
    bt_gbench_add_context("machine_id", fp->id);
    bt_gbench_add_context("machine_fingerprint_hash", fp->hash);
    bt_gbench_add_context("machine_cpu_model", fp->model_name);
    bt_gbench_add_context("machine_uarch", fp->uarch);
    context_int("machine_packages", fp->packages);
    context_int("machine_numa_nodes", fp->numa_nodes);
    context_int("machine_cores", fp->cores);
    context_int("machine_pus", fp->pus);
    context_int("machine_pus_allowed", fp->pus_allowed);
    context_int("machine_l1d_bytes", m->l1d_bytes);
    context_int("machine_l2_bytes", m->l2_bytes);
    context_int("machine_l3_bytes", m->l3_bytes);
    bt_gbench_add_context("machine_isa", bt_isa_name(m->isa_cap));
    context_env("machine_backtune_isa_cap", "BACKTUNE_ISA_CAP");
    json_t *json = bt_fingerprint_to_json(fp);
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    bt_gbench_add_context("machine_fingerprint", text ? text : "(unavailable)");
    free(text);
    json_decref(json);
}

static void add_peak_context(const bench_run *run) {
    static const bt_isa isas[] = {BT_ISA_SCALAR, BT_ISA_AVX2, BT_ISA_AVX512};
    static const char *const isa_keys[] = {"scalar_sse2", "avx2", "avx512"};
    char key[64];
    for (int t = 0; t < run->opt.sel.nthreads; t++) {
        int threads = run->opt.sel.threads[t];
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            double g = bt_peak_gflops(isas[i], threads);
            if (g <= 0) continue;
            snprintf(key, sizeof key, "peak_gflops_%s_t%d", isa_keys[i], threads);
            context_double(key, g);
        }
        bt_bandwidth bw = bt_peak_bandwidth(threads);
        snprintf(key, sizeof key, "bandwidth_read_gbs_t%d", threads);
        context_double(key, bw.read_gbs);
        snprintf(key, sizeof key, "bandwidth_triad_gbs_t%d", threads);
        context_double(key, bw.triad_gbs);
        if (t == 0) context_int("bandwidth_buffer_bytes", (long long)bw.buffer_bytes);
        /* A busy machine (other jobs on the cores) shows as a peak that does not grow with
         * the threads; every result of this run is then suspect. */
        double one = bt_peak_gflops(BT_ISA_SCALAR, 1),
               many = bt_peak_gflops(BT_ISA_SCALAR, threads);
        if (threads > 1 && threads <= bt_machine_get()->cores && many < 0.75 * one * threads)
            fprintf(stderr,
                    "backtune bench: WARNING: the %d-thread peak is %.1fx the 1-thread one (not "
                    "%dx): are other jobs running? Results with %d threads are not reliable.\n",
                    threads, many / one, threads, threads);
    }
}

/* The problems run, as suite lines ("descriptor # xN"), so that the results can be rerun
 * or compared on a machine without this suite file. */
static void add_problems_context(const bench_run *run) {
    size_t size = 1;
    for (int i = 0; i < run->nproblems; i++) size += strlen(run->problems[i].text) + 160;
    char *text = malloc(size), *at = text;
    if (!text) return;
    *at = '\0';
    for (int i = 0; i < run->nproblems; i++) {
        const bench_problem *p = &run->problems[i];
        at += snprintf(at, size - (size_t)(at - text), "%s%s%s%s # x%d\n", p->text,
                       p->name[0] ? "n\"" : "", p->name, p->name[0] ? "\"" : "", p->count);
    }
    bt_gbench_add_context("backtune_problems", text);
    free(text);
}

/* The CPUs each thread of a team of each measured size really had ("thread_cpus_omp:T":
 * "0:0 1:1"), from a plan formed as every plan of the run is, so a binding is not merely
 * claimed; printed to stderr too. The plan's problem gives every thread 8 MFLOP: a smaller
 * one would run on fewer threads than asked (plan.c, useful_threads) and report those. */
static void add_affinity_context(const bench_run *run) {
    for (int t = 0; t < run->opt.sel.nthreads; t++) {
        char text[64], params[32], key[48], cpus[512];
        snprintf(text, sizeof text, "fc_bwd_d mb%dic1024oc1024", 4 * run->opt.sel.threads[t]);
        snprintf(params, sizeof params, "threads=%d", run->opt.sel.threads[t]);
        bt_problem p;
        bt_plan *plan;
        if (bt_problem_parse(text, &p) != BT_OK || bt_plan_create(&plan, &p, NULL, params) != BT_OK)
            continue;
        const char *bind = strstr(bt_plan_params(plan), "bind=");
        if (bt_plan_affinity(plan, cpus, sizeof cpus) == BT_OK) {
            snprintf(key, sizeof key, "thread_cpus_omp:%d", run->opt.sel.threads[t]);
            bt_gbench_add_context(key, cpus);
            if (!run->opt.quiet)
                fprintf(stderr, "backtune bench: %d threads, %s: cpus %s\n",
                        run->opt.sel.threads[t], bind ? bind : "bind=?", cpus);
        }
        bt_plan_destroy(plan);
    }
}

void bench_add_context(const bench_run *run, int argc, char **argv) {
    char command[2048] = "backtune";
    size_t used = strlen(command);
    for (int i = 0; i < argc && used < sizeof command; i++) {
        int w = snprintf(command + used, sizeof command - used, " %s", argv[i]);
        if (w > 0) used += (size_t)w;
    }
    bt_gbench_add_context("backtune_command", command);
    bt_gbench_add_context("backtune_version", BT_VERSION);
    context_int("backtune_schema", BT_RESULTS_SCHEMA);
    char suites[512];
    bench_suite_names(&run->opt, 0, suites, sizeof suites);
    bt_gbench_add_context("backtune_suite", run->opt.sel.nsuites ? suites : "(none)");
    add_problems_context(run);
    bt_gbench_add_context("backtune_registry_hash", bt_registry_hash());
    bt_gbench_add_context("build_git_revision", BT_GIT_REVISION);
    context_int("backtune_variants_registered", bt_variant_count());
    bt_gbench_add_context("bench_cache", run->opt.cold ? "cold" : "warm");
    if (run->opt.cold) context_int("bench_evict_bytes", (long long)(run->evict_floats * 4));
    if (run->opt.sel.mb) context_int("bench_mb_override", run->opt.sel.mb);
    bt_gbench_add_context("bench_denormals", "flushed to zero in bt_plan_execute; peers: their "
                                             "own setting");
    bt_gbench_add_context("build_compiler", BT_BUILD_COMPILER);
    bt_gbench_add_context("build_type", BT_BUILD_TYPE);
    bt_gbench_add_context("build_flags", BT_BUILD_FLAGS);
    bt_gbench_add_context("build_sanitize", BT_BUILD_SANITIZE);
    context_env("omp_proc_bind", "OMP_PROC_BIND");
    context_env("omp_places", "OMP_PLACES");
    context_env("omp_wait_policy", "OMP_WAIT_POLICY");
    context_env("omp_num_threads", "OMP_NUM_THREADS");
    context_int("omp_max_threads", omp_get_max_threads());
    add_affinity_context(run);
    /* As the process got it: the OpenBLAS peer clears it before loading the library. */
    bt_gbench_add_context("openblas_coretype", run->openblas_coretype);
    add_machine_context();
    add_peak_context(run);
}

/* backtune bench: every (problem x op x layout x variant or peer x thread count) as one
 * Google benchmark, through the C shim.
 *
 * Each benchmark creates its plan (or the peer's primitive) once, on buffers allocated,
 * filled and touched before timing, and times only the execute call. Results carry the
 * repro line, variant, parameters and threads in the label; FLOP/s and bytes/s as rates;
 * the arithmetic intensity, the measured peak for the variant's ISA and thread count and the
 * % of it as plain counters. The context block describes the machine, the peaks, the build
 * and the thread binding. A summary table per problem follows the run.
 *
 * Interference (cmdline/interference.h): other processes' CPU time on our CPUs over the whole
 * run and over each benchmark's timed runs, the CPU time / real time of 1-thread benchmarks,
 * and the peak probe measured again at the end. The verdict ends the console output and goes
 * into the saved JSON (context.interference, and an "interference" flag per benchmark), which
 * is written under a temporary name and renamed into place at the end; --strict removes it
 * instead when interference was seen, and exits with status 3.
 *
 * Ctrl-C: the first one stops the run cleanly. The benchmark in progress stops at its next
 * iteration and every later one is skipped at once; those runs are dropped from every report
 * (shim hook), and Google benchmark then finishes normally, closing the --benchmark_out file,
 * so the JSON holds every completed result and stays valid. A second Ctrl-C kills. */
#include "bench_cmd.h"

#include "bench_run.h"
#include "bench_util.h"
#include "cmdline.h"
#include "bt_gbench.h"
#include "peak.h"
#include "suite.h"
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MIN_TIME 0.1 /* seconds, when neither the command line nor the suite says */
/* Cold-cache eviction buffer: twice the L3, within bounds (a VM may report a huge L3). */
#define EVICT_MIN_BYTES ((size_t)32 << 20)
#define EVICT_MAX_BYTES ((size_t)1 << 30)

static void free_run(bench_run *run) {
    bench_release(run);
    free(run->problems);
    free(run->impls);
    free(run->cases);
    free(run->evict);
    bt_cli_selection_free(&run->opt.sel);
}

int bt_cmd_bench(int argc, char **argv) {
    bench_run run = {0};
    bt_world world = {.size = 1};
    run.start = bt_bench_now();
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    snprintf(run.openblas_coretype, sizeof run.openblas_coretype, "%s",
             coretype ? coretype : "(unset)");
    /* Google benchmark's flags to it (after our defaults, so the user's win), ours to getopt. */
    char **ours = calloc((size_t)argc + 1, sizeof *ours);
    char **gb = calloc((size_t)argc + 5, sizeof *gb);
    int nours = 0, ngb = 0, rc = 2, initialized = 0;
    if (!ours || !gb) goto done;
    ours[nours++] = argv[0];
    char **user_gb = gb + 4;
    int nuser_gb = 0;
    /* --benchmark_out=FILE is --out FILE: saved the same way (under a temporary name). */
    static const char gb_out_flag[] = "--benchmark_out=";
    const char *gb_out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], gb_out_flag, sizeof gb_out_flag - 1))
            gb_out = argv[i] + sizeof gb_out_flag - 1;
        else if (bench_is_gbench_flag(argv[i]))
            user_gb[nuser_gb++] = argv[i];
        else
            ours[nours++] = argv[i];
    }
    int parsed = bench_parse_options(nours, ours, &run.opt);
    if (parsed) {
        rc = parsed > 0 ? 0 : 2;
        goto done;
    }
    if (gb_out && (run.opt.out || run.opt.save)) {
        fprintf(stderr, "backtune bench: give one of --out, --save and --benchmark_out\n");
        goto done;
    }
    if (gb_out) run.opt.out = gb_out;
    if (bt_world_join(&world, "backtune bench", run.opt.allow_shared_node)) goto done;
    bt_load_sample_take(&run.load_start);
    double suite_min_time = 0; /* the suites' longest, read early: it becomes a default flag */
    for (int i = 0; i < run.opt.sel.nsuites; i++) {
        bt_suite s;
        if (bt_suite_load(run.opt.sel.suites[i], &s) == BT_OK) {
            if (s.min_time > suite_min_time) suite_min_time = s.min_time;
            bt_suite_free(&s);
        }
    }
    static char arg0[] = "backtune bench", min_time[64], out[1200];
    static char out_format[] = "--benchmark_out_format=json";
    gb[ngb++] = arg0;
    if (!bench_has_flag(user_gb, nuser_gb, "--benchmark_min_time")) {
        snprintf(min_time, sizeof min_time, "--benchmark_min_time=%g",
                 suite_min_time > 0 ? suite_min_time : DEFAULT_MIN_TIME);
        gb[ngb++] = min_time;
    }
    static char saved_path[512], tmp_path[1100];
    if (run.opt.save) {
        bench_default_out_path(&run.opt, &world, saved_path, sizeof saved_path);
        run.opt.out = saved_path;
    }
    if (run.opt.out) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", run.opt.out);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            if (bt_mkdirs(dir) != BT_OK) {
                fprintf(stderr, "backtune bench: %s\n", bt_last_error());
                goto done;
            }
        }
        snprintf(tmp_path, sizeof tmp_path, "%s.tmp.%ld", run.opt.out, (long)getpid());
        snprintf(out, sizeof out, "--benchmark_out=%s", tmp_path);
        gb[ngb++] = out;
        gb[ngb++] = out_format;
    }
    /* The file is JSON unless the user asked for another format (the last flag wins). */
    int out_json = 1;
    for (int i = 0; i < nuser_gb; i++)
        if (!strncmp(user_gb[i], "--benchmark_out_format=", 23))
            out_json = !strcmp(user_gb[i] + 23, "json");
    /* stdout in the json or csv format is data for another program: our summaries then go
     * to stderr. */
    run.report = stdout;
    for (int i = 0; i < nuser_gb; i++)
        if (!strncmp(user_gb[i], "--benchmark_format=", 19))
            run.report = strcmp(user_gb[i] + 19, "console") ? stderr : stdout;
    memmove(gb + ngb, user_gb, (size_t)nuser_gb * sizeof *gb);
    ngb += nuser_gb;
    bt_gbench_initialize(&ngb, gb);
    initialized = 1;
    if (bt_gbench_report_unrecognized(ngb, gb)) goto done;
    int list_only = bench_has_flag(user_gb, nuser_gb, "--benchmark_list_tests") &&
                    !bench_has_flag(user_gb, nuser_gb, "--benchmark_list_tests=false");

    if (bench_collect_problems(&run)) goto done;
    if (!list_only) bench_measure_peaks_before_peers(&run);
    if (bench_collect_impls(&run) || bench_collect_cases(&run)) goto done;
    if (run.opt.cold) {
        size_t bytes = run.opt.evict_bytes;
        if (!bytes) {
            bytes = 2 * (size_t)bt_machine_get()->l3_bytes;
            bytes = bytes < EVICT_MIN_BYTES   ? EVICT_MIN_BYTES
                    : bytes > EVICT_MAX_BYTES ? EVICT_MAX_BYTES
                                              : bytes;
        }
        run.evict_floats = bytes / sizeof(float);
        run.evict = bt_bench_alloc_zero(bytes);
        if (!run.evict) {
            fprintf(stderr, "backtune bench: no memory for the %zu MiB eviction buffer\n",
                    bytes >> 20);
            goto done;
        }
    }
    if (!run.opt.quiet)
        fprintf(stderr,
                "backtune bench: %d problems, %d impls, %d benchmarks (%d unsupported pairs "
                "skipped)%s\n",
                run.nproblems, run.nimpls, run.ncases, run.unsupported,
                list_only ? "" : "; measuring the peak...");
    for (int i = 0; i < run.ncases && !list_only; i++)
        run.cases[i].peak_gflops =
            bt_peak_gflops(bt_bench_impl_isa(run.cases[i].impl), run.cases[i].threads);
    if (bench_register_cases(&run)) goto done;
    if (!list_only) bench_add_context(&run, argc, argv);

    bench_run_cases(&run);
    if (!list_only) {
        bench_judge_interference(&run);
        bench_print_summary(&run);
        bench_print_model_totals(&run);
        bench_print_interference(&run);
        fflush(run.report);
        rc = bench_print_outcome(&run);
        int saved = run.opt.out ? bench_save_results(&run, tmp_path, run.opt.out, out_json, 1) : 0;
        if (saved < 0 && !rc) rc = 1;
        /* --save in a job of several ranks: every rank's file into rank 0's results/. */
        if (run.opt.save &&
            bt_world_gather_files(&world, "backtune bench", saved == 0 ? run.opt.out : NULL) < 0 &&
            !rc)
            rc = 1;
        if (run.verdict.detected && run.opt.strict) {
            if (!run.opt.out) fprintf(stderr, "backtune bench: --strict: interference detected\n");
            if (rc != 130) rc = STATUS_INTERFERENCE;
        }
    } else {
        rc = run.opt.out && bench_save_results(&run, tmp_path, run.opt.out, out_json, 0) < 0;
    }
done:
    if (initialized) bt_gbench_shutdown();
    bt_world_leave(&world);
    free_run(&run);
    free(ours);
    free(gb);
    return rc;
}

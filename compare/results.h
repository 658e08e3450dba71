/* Results sets for `backtune compare` and `backtune report`: what one machine (or build, or
 * configuration) measured, read from a results folder (results/<machine-id>/: bench JSON
 * files and a tuning table) or from single files.
 *
 * Bench JSON is Google benchmark's JSON as `backtune bench` writes it: the context block
 * says how and where it was measured, each benchmark entry is one repetition or one
 * aggregate (mean, median, stddev, cv) of a run whose label is "<problem>; <variant>;
 * <params>". The repetitions of a run are folded into one bt_cmp_run: its median GFLOP/s and
 * the coefficient of variation of its time, the noise that comparisons are judged against.
 *
 * Schema: a bench file must say context.backtune_schema = BT_RESULTS_SCHEMA (cmdline.h); a
 * tuning table must say format = "backtune-tuning-table", format_version =
 * BT_TABLE_FORMAT_VERSION (kernels/core/tuning.h). Files of another version, files that are not
 * backtune results, missing files and files without any result are refused with a message
 * (bt_last_error). */
#ifndef BT_COMPARE_RESULTS_H
#define BT_COMPARE_RESULTS_H

#include "cmdline.h"
#include "internal.h"

#include <jansson.h>
#include <stdio.h>

#define BT_CMP_PATH 1024
#define BT_CMP_TEXT 256
#define BT_CMP_NAME 128

typedef enum bt_cmp_file_kind { BT_CMP_BENCH, BT_CMP_TABLE } bt_cmp_file_kind;

/* A problem of a bench file's suite and its layer count in the model (the suite's "# xN"). */
typedef struct bt_cmp_layers {
    char problem[BT_CMP_TEXT]; /* canonical */
    int count;
} bt_cmp_layers;

/* One file of a set. */
typedef struct bt_cmp_file {
    char path[BT_CMP_PATH];
    bt_cmp_file_kind kind;
    char suite[BT_CMP_NAME]; /* bench: the suite's name, or the file's name without .json */
    char cache[8];           /* bench: "warm" or "cold" */
    char date[48];
    char machine_id[64], fingerprint_hash[20];
    json_t *context;       /* bench: the context object; table: the whole table (owned) */
    int failed;            /* bench runs that failed or were skipped */
    bt_cmp_layers *layers; /* bench: its context's backtune_problems (owned) */
    int nlayers;
} bt_cmp_file;

/* One benchmark (problem x variant x threads of a bench file), its repetitions folded. */
typedef struct bt_cmp_run {
    int file;                  /* index in the set's files */
    char problem[BT_CMP_TEXT]; /* canonical problem text, op first ("conv_bwd_w_nhwc mb...") */
    char variant[BT_CMP_NAME]; /* ours, or "peer:..." */
    char params[BT_CMP_TEXT];
    int threads, peer;
    int reps;           /* timed repetitions */
    double gflops;      /* median over the repetitions (the single one's when not repeated) */
    double gflops_max;  /* the best repetition */
    double cv;          /* coefficient of variation of the time; < 0: unknown (one repetition) */
    double peak_gflops; /* measured peak for its ISA and thread count; 0 unknown */
    double ai;          /* arithmetic intensity, flop per byte; 0 unknown */
    double flops;       /* of one call (bt_problem_flops); 0 when the text does not parse */
} bt_cmp_run;

/* One tuning-table entry: the variant the tuner picked for (problem, threads). */
typedef struct bt_cmp_choice {
    int file;
    char problem[BT_CMP_TEXT];
    int threads;
    char variant[BT_CMP_NAME], params[BT_CMP_TEXT];
    double gflops; /* from the minimum time, as the tuner ranks */
    double cv;     /* estimated from the spread of its repetitions; < 0 unknown */
    int reps;
    char default_variant[BT_CMP_NAME]; /* what dispatch picked without the table ("" unknown) */
    double default_gflops;             /* 0 when not measured */
} bt_cmp_choice;

typedef struct bt_cmp_set {
    char path[BT_CMP_PATH];
    char name[BT_CMP_NAME]; /* the folder's or file's base name */
    char machine_id[64], fingerprint_hash[20], cpu_model[BT_CMP_NAME];
    bt_cmp_file *files;
    int nfiles;
    bt_cmp_run *runs;
    int nruns;
    bt_cmp_choice *choices;
    int nchoices;
} bt_cmp_set;

/* Reads a results folder or one file into set. Notes on files of a folder that are left out
 * (not backtune results) go to `notes` (may be NULL). Errors: BT_EIO (missing, unreadable,
 * not JSON), BT_EINVAL (another schema, not a result, no results), with bt_last_error. */
bt_status bt_cmp_set_load(const char *path, bt_cmp_set *set, FILE *notes);
void bt_cmp_set_free(bt_cmp_set *set);

/* Measured values of the set's machine, from the context of its bench files (0 when no
 * file says): peak GFLOP/s of code for `isa` ("avx512", "avx2", "scalar") with `threads`
 * threads; the peak of the best ISA its variants could use (the context's machine_isa, which
 * honours BACKTUNE_ISA_CAP; else the highest recorded); the streaming bandwidth (GB/s). */
double bt_cmp_set_peak(const bt_cmp_set *set, const char *isa, int threads);
double bt_cmp_set_best_peak(const bt_cmp_set *set, int threads);
double bt_cmp_set_bandwidth(const bt_cmp_set *set, int threads, int triad);
/* The distinct thread counts of the set's runs and table entries, ascending; returns how
 * many (at most max). */
int bt_cmp_set_thread_counts(const bt_cmp_set *set, int *counts, int max);
/* Layers of `problem` in suite `suite` (a model's "# xN"): from the first bench file of that
 * suite in sets[0..nsets) that lists the problem (a count is the suite's, whichever file
 * the run itself came from); 1 when none does. */
int bt_cmp_layer_count(const bt_cmp_set *sets, int nsets, const char *suite, const char *problem);
/* A context value of the set's first bench file that has it, else NULL. */
const char *bt_cmp_set_context(const bt_cmp_set *set, const char *key);

/* The ISA a variant name is compiled for, from its suffix ("avx512", "avx2", "scalar"). */
const char *bt_cmp_variant_isa(const char *variant);
/* "conv_bwd_w_nhwc" of "conv_bwd_w_nhwc mb2...": the op (with layout) of a problem text. */
void bt_cmp_problem_op(const char *problem, char *op, size_t size);
/* The coefficient of variation estimated from a relative range (max - min) / min over n
 * repetitions (range / d2(n), the range estimator of a standard deviation); -1 if n < 2. */
double bt_cmp_cv_from_spread(double spread, int n);

#endif

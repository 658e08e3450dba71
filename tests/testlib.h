/* Shared by the test programs: case counting and reporting, the variant filter, plan
 * creation with skip handling, the covering shape matrix, and the bit-identical rerun.
 *
 * Every program prints one line per case (PASS/FAIL/SKIP ...) and ends with exactly
 * "N passed, M failed" (", K skipped" appended when something was skipped); tl_finish()
 * prints it and gives the exit status. BT_TEST_VARIANTS=glob[,glob...] restricts the
 * variants the tests run (fnmatch globs), for debugging one kernel. */
#ifndef BT_TESTLIB_H
#define BT_TESTLIB_H

#include "check.h"
#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* ---- reporting ---- */
void tl_pass(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* PASS or FAIL by `ok`; returns ok. */
int tl_expect(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A detail line under the last case (indented), e.g. the first mismatch or a repro. */
void tl_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the summary line; returns the process exit status (1 if anything failed). */
int tl_finish(void);

/* ---- variants ---- */
/* Whether variant i is of `op` and selected by BT_TEST_VARIANTS. */
int tl_variant_selected(int i, bt_op op);
/* Whether the CPU can run variant i; if not, prints one SKIP line saying so (with `what`,
 * the group of cases being skipped) and counts a skip. */
int tl_variant_runnable(int i, const char *what);

/* bt_plan_create, with the outcome reported the way every test wants it: returns 1 with a
 * plan, 0 if the variant does not take the problem (BT_EUNSUPPORTED: a SKIP line naming
 * `label` and the reason), -1 on any other error (a FAIL line). */
int tl_plan(bt_plan **plan, const bt_problem *p, const char *variant, const char *params,
            const char *label);

/* Thread counts the tests use: 1, 2, and more threads than this machine has (at least 3). */
enum { TL_THREAD_COUNTS = 3 };
int tl_threads(int index);

/* ---- the shape matrix ---- */
/* A covering design rather than a cross product: every shape of the op's list is crossed
 * with every layout and thread count, and the remaining binary choices (accumulate, check
 * mode, db NULL or not) rotate with the shape index so each of their 8 combinations meets
 * every (layout, threads) pair. */
typedef struct tl_case {
    bt_problem problem; /* op, layout and accumulate set */
    int shape_index;
    int threads;
    bt_check_mode mode;
    int with_bias; /* bwd_weights: db computed (else db NULL) */
    uint64_t seed;
    char text[256]; /* canonical problem text, a repro for `backtune check` */
} tl_case;

/* Number of cases of `op` (layouts filtered by `layout_mask`: bit 0 NCHW, bit 1 NHWC; FC
 * ignores it), and case `index` of them. */
int tl_case_count(bt_op op, int layout_mask);
int tl_case_get(bt_op op, int layout_mask, int index, tl_case *out);
/* The op's shape list, and a case built from shape `si` with the choices rotated by `salt`
 * (used by the parameter sweep: one case per shape, layout and threads rotating too). */
int tl_shape_count(bt_op op);
int tl_case_rotated(bt_op op, int si, int salt, int layout_mask, tl_case *out);

/* One line naming the case: "t3 exact acc=1 db 'conv_bwd_w_nhwc ...'". */
void tl_case_describe(const tl_case *c, char *buf, size_t size);
/* The `backtune check` command line that reruns the case's check. */
void tl_case_repro(const tl_case *c, const char *variant, const char *params, char *buf,
                   size_t size);

/* Executes the plan twice on the same inputs (and the same prior outputs when accumulating)
 * and compares the outputs bit for bit; also checks that the inputs were not written.
 * Returns 1 if all is well; else 0 with the first difference in `detail`. */
int tl_rerun_identical(bt_plan *plan, uint64_t seed, int with_bias, char *detail, size_t size);

/* ---- small helpers ---- */
float *tl_alloc(size_t n); /* exact size (ASan sees overruns); never NULL (aborts the test) */
bt_problem tl_parse(const char *text); /* a problem the test knows is valid; aborts if not */
/* "<op>[_layout] <desc>[ accumulate]" parsed, with layout and accumulate then set directly
 * (so a parser bug cannot silently change what a kernel test runs). */
bt_problem tl_problem(bt_op op, bt_layout layout, const char *desc, int accumulate);
int tl_op_is_data(bt_op op);
/* Each "key=values" item of bt_variant_param_space(vi), in order: fn(key, values, ctx) with
 * values "a|b|c" or "lo..hi" (a writable copy). */
typedef void tl_space_fn(const char *key, char *values, void *ctx);
void tl_param_space_each(int vi, tl_space_fn *fn, void *ctx);

#endif

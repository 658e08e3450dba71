/* Test support shared by every test program: see testlib.h. */
#include "testlib.h"

#include <fnmatch.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed, skipped;

/* Small test problems run on the teams the tests ask for (a plan by default takes fewer
 * threads where each would get little work), so every variant's splitting and barriers are
 * exercised, under ctest or run by hand; a test of the rule itself sets its own value. */
__attribute__((constructor)) static void every_thread_asked_for(void) {
    setenv("BACKTUNE_THREAD_MIN_FLOPS", "0", 0);
}

static void report(const char *tag, const char *fmt, va_list ap) {
    printf("%s ", tag);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

#define REPORT_WITH(tag, counter)                                                                  \
    do {                                                                                           \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        report(tag, fmt, ap);                                                                      \
        va_end(ap);                                                                                \
        counter++;                                                                                 \
    } while (0)

void tl_pass(const char *fmt, ...) {
    REPORT_WITH("PASS", passed);
}
void tl_fail(const char *fmt, ...) {
    REPORT_WITH("FAIL", failed);
}
void tl_skip(const char *fmt, ...) {
    REPORT_WITH("SKIP", skipped);
}

int tl_expect(int ok, const char *fmt, ...) {
    if (ok)
        REPORT_WITH("PASS", passed);
    else
        REPORT_WITH("FAIL", failed);
    return ok;
}

void tl_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report("    ", fmt, ap);
    va_end(ap);
}

int tl_finish(void) {
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

/* ---- variants ---- */

int tl_variant_selected(int i, bt_op op) {
    if (bt_variant_op(i) != op) return 0;
    const char *globs = getenv("BT_TEST_VARIANTS");
    if (!globs || !*globs) return 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", globs);
    for (char *save = NULL, *g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save))
        if (!fnmatch(g, bt_variant_name(i), 0)) return 1;
    return 0;
}

int tl_variant_runnable(int i, const char *what) {
    if (bt_variant_cpu_ok(i)) return 1;
    tl_skip("%s: %s (needs %s, which this CPU or BACKTUNE_ISA_CAP does not offer)",
            bt_variant_name(i), what, bt_variant_isa(i));
    return 0;
}

int tl_plan(bt_plan **plan, const bt_problem *p, const char *variant, const char *params,
            const char *label) {
    bt_status st = bt_plan_create(plan, p, variant, params);
    if (st == BT_OK) return 1;
    if (st == BT_EUNSUPPORTED) {
        tl_skip("%s %s: %s", variant ? variant : "(dispatch)", label, bt_last_error());
        return 0;
    }
    tl_fail("%s %s: bt_plan_create(params '%s') returned %s: %s", variant ? variant : "(dispatch)",
            label, params ? params : "", bt_strerror(st), bt_last_error());
    return -1;
}

int tl_threads(int index) {
    if (index <= 0) return 1;
    if (index == 1) return 2;
    /* More threads than the machine has, so teams larger than the work and oversubscribed
     * barriers are exercised everywhere. */
    int procs = omp_get_num_procs();
    return procs + 1 > 3 ? procs + 1 : 3;
}

/* ---- the shape matrix ---- */

/* Conv geometries (benchdnn descriptors). Between them every value the matrix needs
 * appears: batch 1, 2, 3; C and K of 1, 3, 15, 16, 17, 33; odd, even and non-square H/W
 * (1 to 12, and 23 for a 1x1 layer over more than 512 positions); kernels 1x1, 2x2, 3x3, 5x5, 7x7,
 * 1x7, 7x1, 3x5; stride 2, 3 and asymmetric; padding 0, kernel/2, larger than kernel/2 and larger
 * than the kernel; uneven padding (end padding from a given output size, larger or smaller than the
 * begin padding); dilation 2, 3, 4; groups 2 and 3, depthwise (g = C = K) and depthwise with a
 * channel multiplier; 1-D convolutions (width fields only). Sizes stay small so the whole matrix
 * runs fast under sanitizers with many variants. */
static const char *const conv_shapes[] = {
    "mb1ic1ih5oc1kh1",                          /* everything 1 */
    "mb3ic3ih7iw9oc16kh3kw3ph1pw1",             /* typical 3x3 'same', non-square */
    "mb2ic16ih9iw7oc3kh3kw3sh2sw2ph1pw1",       /* stride 2 */
    "mb1ic15ih11oc17kh1",                       /* 1x1, channel tails */
    "mb3ic17ih5iw7oc15kh1kw1sh2sw2",            /* strided 1x1: inputs never read, dx = 0 there */
    "mb2ic33ih7oc16kh3ph2",                     /* padding larger than kernel/2 */
    "mb1ic16ih9oc33kh5ph2",                     /* 5x5 */
    "mb3ic3ih11iw9oc17kh7kw7sh2sw2ph3pw3",      /* 7x7 stride 2, the first-layer shape */
    "mb2ic1ih7iw11oc15kh1kw7ph0pw3",            /* 1x7 */
    "mb1ic15ih11iw7oc15kh7kw1ph3pw0",           /* 7x1 */
    "mb2ic17ih9iw7oc33kh1kw5ph0pw2",            /* 1x5 on a tall image (walked as 5x1) */
    "mb2ic16ih9oc16kh3ph2dh1",                  /* dilation 2 */
    "mb3ic3ih9iw11oc3kh3kw3sh2sw2ph1pw1dh1dw1", /* dilation 2 with stride 2 */
    "mb1ic17ih12iw12oc16kh3kw5sh3sw3ph2pw1dh2dw2", /* 3x5, stride 3, dilation 3, even input */
    "g2mb2ic16ih7oc16kh3ph1",                      /* groups 2 */
    "g2mb3ic16ih5oc2kh3ph1",                       /* groups 2, one filter per group */
    "g3mb3ic15ih5oc33kh3sh2ph1",                   /* groups 3: C/G = 5, K/G = 11 */
    "g16mb2ic16ih7iw9oc16kh3kw3ph1pw1",            /* depthwise */
    "g19mb2ic19ih6iw9oc19kh3kw3ph1pw1",            /* depthwise 3x3, channel tail */
    "g18mb3ic18ih17iw3oc18kh3kw3ph1pw1",           /* depthwise 3x3, rows of 3 */
    "g5mb3ic5ih3iw5oc5kh3kw3ph1pw1",               /* depthwise 3x3, a plane under a vector */
    "g20mb2ic20ih9iw6oc20kh5kw5ph2pw2",            /* depthwise 5x5, output as large */
    "g19mb2ic19ih10iw6oc19kh3kw3sh2sw2ph1pw1",     /* depthwise 3x3 stride 2, even image */
    "g17mb3ic17ih9iw5oc17kh5kw5sh2sw2ph2pw2",      /* depthwise 5x5 stride 2 */
    "g33mb1ic33ih11oc33kh3ph2dh1",                 /* depthwise dilated */
    "g3mb2ic3ih7oc3kh7ph3",                        /* depthwise 7x7 */
    "g3mb1ic3ih6oc6kh3ph1",                        /* depthwise with channel multiplier 2 */
    "mb1ic33ih5oc33kh3ph1",                        /* widest channels */
    "mb2ic17ih8iw12oc17kh5kw5sh2sw2ph3pw3",        /* even sizes, padding > kernel/2 */
    "mb1ic16ih12oc1kh3",                           /* one filter, no padding */
    "mb3ic1ih3oc33kh3",                            /* 1x1 output */
    "mb1ic3ih1oc15kh1",                            /* 1x1 image */
    "mb2ic15ih7iw9oc3kh3kw3sh2sw1ph1pw2",          /* asymmetric stride and padding */
    "mb2ic3ih5oc3kh3ph3",      /* padding >= kernel: outputs that see only padding */
    "mb2ic3ih5oc16kh1ph1",     /* 1x1 with padding */
    "mb2ic3ih7oc3kh2sh3",      /* even kernel, stride > kernel */
    "g2mb1ic2ih9oc2kh3ph4dh3", /* dilation 4, depthwise-like groups of one */
    /* Uneven padding: a given output size sets the end padding (benchdnn's padding_r). */
    "mb2ic3ih5oc4oh8kh3ph3",                      /* 3 before, 2 after */
    "mb2ic16ih4oc8oh5kh3",                        /* 1 before, 2 after */
    "mb1ic3ih8oc16oh4kh3sh2",                     /* TF 'SAME' stride 2: 0 before, 1 after */
    "mb2ic17ih9iw10oc15oh5ow5kh3kw3sh2sw2ph1pw0", /* uneven in the width only */
    "mb2ic15ih6iw7oc16oh6ow7kh2kw2",              /* even kernel 'SAME': 0 before, 1 after */
    "g16mb2ic16ih8oc16oh4kh3sh2",                 /* depthwise 'SAME' stride 2 */
    "g17mb1ic17ih10oc17oh5kh5sh2", /* depthwise 5x5 'SAME' stride 2: 1 before, 2 after */
    "mb2ic16ih4oc8oh5kh1ph0",      /* 1x1 with end padding only */
    "g2mb3ic14ih23oc18kh1",        /* 1x1 on 529 positions (NCHW bwd_w sums them in place) */
    "mb2ic33ih24oc5kh1",           /* 1x1, few filters, many planes: NCHW bwd_d's store order */
    "mb1ic3ih3oc4oh6kh3ph0",       /* end padding past the kernel: padding-only rows */
    "mb2ic16ih9oc16oh9kh3dh1ph1",  /* dilated: 1 before, 3 after */
    "g2mb2ic16ih7oc16oh7kh2",      /* groups, even kernel 'SAME' */
    /* 1-D: width fields only (ih = kh = oh = 1). */
    "mb2ic16iw33oc16kw3pw1",       /* 1-D 'same' */
    "mb1ic15iw40oc17kw5sw2pw2",    /* 1-D stride 2 */
    "g16mb2ic16iw20oc16kw3pw2dw1", /* 1-D depthwise dilated (WaveNet-style) */
    "g3mb2ic3iw70oc6kw5sw2pw2",    /* 1-D depthwise, multiplier 2, stride 2, rows of 70 */
    "mb2ic3iw17oc16ow9kw4sw2",     /* 1-D uneven: 1 before, 2 after */
};
enum { CONV_SHAPES = (int)(sizeof conv_shapes / sizeof conv_shapes[0]) };

/* FC: batch 1, 3, 17 (and 64), features 1 to 33 and 64. */
static const char *const fc_shapes[] = {
    "mb1ic1oc1",    "mb3ic17oc33", "mb17ic33oc17", "mb1ic64oc3",  "mb3ic16oc64",
    "mb17ic15oc16", "mb3ic64oc64", "mb1ic33oc1",   "mb17ic1oc64", "mb1ic3oc15",
    "mb17ic64oc33", "mb3ic1oc16",  "mb64ic33oc64", "mb2ic31oc5",
};
enum { FC_SHAPES = (int)(sizeof fc_shapes / sizeof fc_shapes[0]) };

int tl_op_is_data(bt_op op) {
    return op == BT_FC_BWD_DATA || op == BT_CONV_BWD_DATA;
}
static int op_is_fc(bt_op op) {
    return op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS;
}

int tl_shape_count(bt_op op) {
    return op_is_fc(op) ? FC_SHAPES : CONV_SHAPES;
}

/* Layouts the case list crosses with: FC has one. */
static int layouts_of(bt_op op, int layout_mask, bt_layout out[2]) {
    if (op_is_fc(op)) {
        out[0] = BT_NCHW;
        return 1;
    }
    int n = 0;
    if (layout_mask & 1) out[n++] = BT_NCHW;
    if (layout_mask & 2) out[n++] = BT_NHWC;
    return n;
}

bt_problem tl_problem(bt_op op, bt_layout layout, const char *desc, int accumulate) {
    char text[256];
    snprintf(text, sizeof text, "%s%s %s%s", bt_op_name(op),
             op_is_fc(op) ? "" : (layout == BT_NHWC ? "_nhwc" : "_nchw"), desc,
             accumulate ? " accumulate" : "");
    bt_problem p = tl_parse(text);
    /* Set, not only parsed: the tests must not depend on the parser they also test. */
    if (!op_is_fc(op)) p.layout = layout;
    p.accumulate = accumulate;
    return p;
}

static int make_case(bt_op op, int si, bt_layout layout, int threads, int flags, uint64_t seed,
                     tl_case *out) {
    memset(out, 0, sizeof *out);
    out->problem =
        tl_problem(op, layout, op_is_fc(op) ? fc_shapes[si] : conv_shapes[si], flags & 1);
    out->shape_index = si;
    out->threads = threads;
    out->mode = (flags & 2) ? BT_CHECK_RANDOM : BT_CHECK_EXACT;
    out->with_bias = !tl_op_is_data(op) && !(flags & 4);
    out->seed = seed;
    bt_problem_format(&out->problem, out->text, sizeof out->text);
    return 1;
}

int tl_case_count(bt_op op, int layout_mask) {
    bt_layout l[2];
    return tl_shape_count(op) * layouts_of(op, layout_mask, l) * TL_THREAD_COUNTS;
}

int tl_case_get(bt_op op, int layout_mask, int index, tl_case *out) {
    bt_layout l[2];
    int nl = layouts_of(op, layout_mask, l);
    if (index < 0 || index >= tl_case_count(op, layout_mask)) return 0;
    int ti = index % TL_THREAD_COUNTS, li = (index / TL_THREAD_COUNTS) % nl,
        si = index / (TL_THREAD_COUNTS * nl);
    /* Layout indexes by the layout itself, so a NHWC-only run rotates like a full one. */
    int flags = (si + 3 * (int)l[li] + 5 * ti) % 8;
    return make_case(op, si, l[li], tl_threads(ti), flags, 1000u * (uint64_t)op + (uint64_t)index,
                     out);
}

int tl_case_rotated(bt_op op, int si, int salt, int layout_mask, tl_case *out) {
    bt_layout l[2];
    int nl = layouts_of(op, layout_mask, l);
    if (si < 0 || si >= tl_shape_count(op) || nl == 0) return 0;
    int k = si + salt;
    return make_case(op, si, l[k % nl], tl_threads(k % TL_THREAD_COUNTS), (k * 5 + salt) % 8,
                     7000u + 100u * (uint64_t)si + (uint64_t)salt, out);
}

void tl_case_describe(const tl_case *c, char *buf, size_t size) {
    snprintf(buf, size, "t%d %-6s%s '%s'", c->threads,
             c->mode == BT_CHECK_EXACT ? "exact" : "random",
             tl_op_is_data(c->problem.op) ? "" : (c->with_bias ? " db" : " db=NULL"), c->text);
}

void tl_case_repro(const tl_case *c, const char *variant, const char *params, char *buf,
                   size_t size) {
    snprintf(buf, size, "backtune check --variant %s --params '%s' --mode %s --seed %llu%s '%s'",
             variant, params, c->mode == BT_CHECK_EXACT ? "exact" : "random",
             (unsigned long long)c->seed,
             tl_op_is_data(c->problem.op) || c->with_bias ? "" : " --no-bias", c->text);
}

/* ---- reruns ---- */

/* Index of the first element that differs bit for bit, or -1. */
static ptrdiff_t first_difference(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float))) return (ptrdiff_t)i;
    return -1;
}

int tl_rerun_identical(bt_plan *plan, uint64_t seed, int with_bias, char *detail, size_t size) {
    const bt_shape *s = &plan->shape;
    int data = tl_op_is_data(s->op);
    int bias = !data && with_bias;
    size_t nin = data ? bt_shape_w_elems(s) : bt_shape_x_elems(s), ndy = bt_shape_dy_elems(s);
    size_t nout = data ? bt_shape_x_elems(s) : bt_shape_w_elems(s), nk = (size_t)s->k;
    /* Index 0: the input (w or x), 1: dy, 2: the output (dx or dw), 3: db. */
    size_t count[4] = {nin, ndy, nout, bias ? nk : 0};
    const char *name[4] = {data ? "w" : "x", "dy", data ? "dx" : "dw", "db"};
    float *buf[4], *keep[4], *first[4];
    for (int b = 0; b < 4; b++) {
        buf[b] = tl_alloc(count[b]), keep[b] = tl_alloc(count[b]), first[b] = tl_alloc(count[b]);
        bt_fill_random(keep[b], count[b], seed + 11 + (uint64_t)b);
        if (b >= 2 && !s->accumulate) /* garbage the variant must overwrite */
            for (size_t i = 0; i < count[b]; i++) keep[b][i] = NAN;
    }
    bt_tensors t = {.x = data ? NULL : buf[0],
                    .w = data ? buf[0] : NULL,
                    .dy = buf[1],
                    .dx = data ? buf[2] : NULL,
                    .dw = data ? NULL : buf[2],
                    .db = bias ? buf[3] : NULL};
    int same = 1;
    for (int run = 0; run < 2 && same; run++) {
        for (int b = 0; b < 4; b++) memcpy(buf[b], keep[b], count[b] * sizeof(float));
        bt_status st = bt_plan_execute(plan, &t);
        if (st != BT_OK) {
            snprintf(detail, size, "execute returned %s: %s", bt_strerror(st), bt_last_error());
            same = 0;
        }
        for (int b = 0; b < 2 && same; b++) { /* inputs are const */
            ptrdiff_t i = first_difference(buf[b], keep[b], count[b]);
            if (i >= 0) {
                snprintf(detail, size, "the input %s was written: %s[%td]", name[b], name[b], i);
                same = 0;
            }
        }
        for (int b = 2; b < 4 && same; b++) {
            if (run == 0) {
                memcpy(first[b], buf[b], count[b] * sizeof(float));
                continue;
            }
            ptrdiff_t i = first_difference(first[b], buf[b], count[b]);
            if (i >= 0) {
                snprintf(detail, size, "rerun differs: %s[%td] = %.9g, then %.9g", name[b], i,
                         first[b][i], buf[b][i]);
                same = 0;
            }
        }
    }
    for (int b = 0; b < 4; b++) free(buf[b]), free(keep[b]), free(first[b]);
    return same;
}

/* ---- helpers ---- */

float *tl_alloc(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "test: out of memory (%zu floats)\n", n);
        exit(2);
    }
    return p;
}

bt_problem tl_parse(const char *text) {
    bt_problem p;
    if (bt_problem_parse(text, &p) != BT_OK) {
        fprintf(stderr, "test bug: '%s' does not parse: %s\n", text, bt_last_error());
        exit(2);
    }
    return p;
}

void tl_param_space_each(int vi, tl_space_fn *fn, void *ctx) {
    char space[512];
    snprintf(space, sizeof space, "%s", bt_variant_param_space(vi));
    for (char *save = NULL, *item = strtok_r(space, ";", &save); item;
         item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) continue;
        *eq = '\0';
        fn(item, eq + 1, ctx);
    }
}

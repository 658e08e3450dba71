/* The packed SGEMM (kernels/common/gemm.h) against a double-accumulating triple loop.
 *
 * Every ISA the CPU supports (others are skipped with a note), all four transpose
 * combinations, beta 0 (C prefilled with NaN: it must never be read) and beta 1, sizes at
 * the register tiles' edges (MR, NR +-1 for each ISA) and between, k = 0 included, under
 * several blockings (the default one, and small ones that cut m, n and k into ragged
 * blocks). Matrices have leading dimensions larger than their width; the gaps of A and B
 * hold NaN (reading them would poison C) and the gaps of C a sentinel (writing them is
 * caught). Buffers, pack buffers included, are allocated to their exact size so
 * AddressSanitizer sees any access past the end.
 *
 * Two fills: exact (small integers, so every float partial sum is exact and results must
 * equal the reference bit for bit) and random (uniform, compared with a tolerance that grows
 * with k). One line per case (ISA x transposes x beta x blocking x fill), then
 * "N passed, M failed"; the exit status is nonzero on failure.
 */
#include "common/gemm.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C_SENTINEL 12345.0f

enum { FILL_EXACT, FILL_RANDOM, FILLS };
enum { BLK_DEFAULT_FIT, BLK_DEFAULT, BLK_SMALL, BLK_TILES, BLOCKINGS };
static const char *const fill_names[FILLS] = {"exact", "random"};
static const char *const blocking_names[BLOCKINGS] = {"default-fitted", "default", "small",
                                                      "tile-multiples"};
static const bt_isa isas[] = {BT_ISA_SCALAR, BT_ISA_AVX2, BT_ISA_AVX512};
#define NISA 3

/* Sizes: every ISA's MR and NR +-1 (4, 6, 14 rows; 4, 16, 32 columns), tiny, and beyond
 * two tiles; columns also past four tiles of every ISA (the GEMM reads A in place up to
 * four column panels, and packs it beyond). */
static const int64_t m_sizes[] = {1, 2, 3, 5, 6, 7, 13, 14, 15, 29, 70};
static const int64_t n_sizes[] = {1, 3, 4, 5, 7, 15, 16, 17, 31, 32, 33, 67, 137};
static const int64_t k_sizes[] = {0, 1, 2, 5, 16, 17, 70};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Cache sizes the default blocking is derived from in the test (Zen 5 per core). */
#define TEST_L1D (48 << 10)
#define TEST_L2 (1 << 20)
#define TEST_L3 (32 << 20)

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rng_next(void) {
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33);
}
static float rng_value(int fill) {
    if (fill == FILL_EXACT) return (float)((int)(rng_next() % 5u) - 2); /* -2..2 */
    return (float)rng_next() / (float)(1u << 31) - 1.0f;                /* [-1, 1) */
}

/* A rows x cols matrix with leading dimension ld, allocated to exactly the floats it spans
 * (at least one, for empty matrices). */
typedef struct matrix {
    float *data;
    int64_t rows, cols, ld;
} matrix;

static size_t matrix_span(const matrix *x) {
    return x->rows > 0 && x->cols > 0 ? (size_t)((x->rows - 1) * x->ld + x->cols) : 1;
}

static int matrix_alloc(matrix *x, int64_t rows, int64_t cols, int64_t ld) {
    x->rows = rows;
    x->cols = cols;
    x->ld = ld;
    x->data = malloc(matrix_span(x) * sizeof(float));
    return x->data != NULL;
}

/* Values in the matrix, `gap` in the padding between rows. */
static void matrix_fill(matrix *x, int fill, float gap) {
    size_t span = matrix_span(x);
    for (size_t e = 0; e < span; e++) x->data[e] = gap;
    for (int64_t r = 0; r < x->rows; r++)
        for (int64_t c = 0; c < x->cols; c++) x->data[r * x->ld + c] = rng_value(fill);
}

static float *floats_alloc(size_t count) {
    return malloc((count > 0 ? count : 1) * sizeof(float));
}

/* Element (row, col) of op(X) for X stored as `x`. */
static double op_at(const matrix *x, int trans, int64_t row, int64_t col) {
    return trans ? x->data[col * x->ld + row] : x->data[row * x->ld + col];
}

typedef struct case_stats {
    int64_t runs, bad;
    double worst; /* largest |error| / tolerance (exact: largest |error|) */
} case_stats;

static case_stats stats[NISA][2][2][2][BLOCKINGS][FILLS]; /* isa, ta, tb, beta, blk, fill */

static void blocking_for(int which, bt_isa isa, int64_t m, int64_t n, int64_t k,
                         bt_gemm_blocking *blk) {
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    switch (which) {
    case BLK_DEFAULT_FIT:
        bt_gemm_default_blocking(isa, TEST_L1D, TEST_L2, TEST_L3, blk);
        bt_gemm_fit_blocking(isa, m, n, k, blk);
        break;
    case BLK_DEFAULT:
        bt_gemm_default_blocking(isa, TEST_L1D, TEST_L2, TEST_L3, blk);
        break;
    case BLK_SMALL: /* no multiples: ragged panels inside every block */
        blk->mc = mr + 1;
        blk->nc = nr + 3;
        blk->kc = 5;
        break;
    default: /* several whole tiles per block */
        blk->mc = 2 * mr;
        blk->nc = 2 * nr;
        blk->kc = 16;
        break;
    }
}

/* One GEMM against the reference; returns the error ratio (<= 1 passes, exact: must be 0)
 * or INFINITY when C's padding was written or a pack buffer could not be allocated. */
/* Pack buffers: exact-size allocations (so AddressSanitizer sees any overrun) when small;
 * the unfitted default blocking's megabyte buffers are kept and reused across cases, since
 * allocating and freeing them thousands of times is slow under the sanitizer. */
#define PACK_REUSE_FLOATS ((size_t)1 << 18)
static float *pack_cache[2];
static size_t pack_cache_floats[2];

static float *pack_alloc(int slot, size_t floats) {
    if (floats < PACK_REUSE_FLOATS) return floats_alloc(floats);
    if (pack_cache_floats[slot] != floats) {
        free(pack_cache[slot]);
        pack_cache[slot] = floats_alloc(floats);
        pack_cache_floats[slot] = pack_cache[slot] ? floats : 0;
    }
    return pack_cache[slot];
}

static void pack_free(int slot, float *p) {
    if (p != pack_cache[slot]) free(p);
}

static double run_one(bt_isa isa, int ta, int tb, int64_t m, int64_t n, int64_t k, float beta,
                      int which_blk, int fill, const matrix *a, const matrix *b, const matrix *c0,
                      const double *sum, const double *mag) {
    bt_gemm_blocking blk;
    blocking_for(which_blk, isa, m, n, k, &blk);
    size_t pa_floats = bt_sgemm_pack_a_floats(&blk, isa);
    size_t pb_floats = bt_sgemm_pack_b_floats(&blk, isa);
    float *pack_a = pack_alloc(0, pa_floats), *pack_b = pack_alloc(1, pb_floats);
    matrix c = *c0;
    c.data = floats_alloc(matrix_span(c0));
    if (!pack_a || !pack_b || !c.data) {
        pack_free(0, pack_a);
        pack_free(1, pack_b);
        free(c.data);
        return INFINITY;
    }
    /* Garbage in the part of the pack buffers this problem can use (the unfitted default
     * blocking's buffers are megabytes): values the GEMM reads without packing them show. */
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    int64_t k_used = k < blk.kc ? k : blk.kc;
    size_t pa_used = (size_t)(((m < blk.mc ? m : blk.mc) + mr - 1) / mr * mr * k_used);
    size_t pb_used = (size_t)(((n < blk.nc ? n : blk.nc) + nr - 1) / nr * nr * k_used);
    for (size_t e = 0; e < pa_used && e < pa_floats; e++) pack_a[e] = NAN;
    for (size_t e = 0; e < pb_used && e < pb_floats; e++) pack_b[e] = NAN;
    memcpy(c.data, c0->data, matrix_span(c0) * sizeof(float));
    if (beta == 0.0f)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c.data[i * c.ld + j] = NAN;

    bt_sgemm(isa, ta, tb, m, n, k, a->data, a->ld, b->data, b->ld, beta, c.data, c.ld, &blk, pack_a,
             pack_b);

    double worst = 0.0;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = c.cols; j < c.ld && i + 1 < m; j++)
            if (c.data[i * c.ld + j] != C_SENTINEL) worst = INFINITY;
        for (int64_t j = 0; j < n; j++) {
            double want = sum[i * n + j] + (beta != 0.0f ? beta * c0->data[i * c.ld + j] : 0.0);
            double got = c.data[i * c.ld + j];
            double err = fabs(got - want);
            if (isnan(got)) err = INFINITY;
            if (fill == FILL_RANDOM) {
                double bound = mag[i * n + j] + fabs(beta * c0->data[i * c.ld + j]);
                err /= (double)(k + 2) * FLT_EPSILON * bound + DBL_MIN;
            }
            if (err > worst) worst = err;
        }
    }
    pack_free(0, pack_a);
    pack_free(1, pack_b);
    free(c.data);
    return worst;
}

/* All ISAs, betas and blockings on one input set. */
static void run_set(const int *isa_ok, int ta, int tb, int64_t m, int64_t n, int64_t k, int fill) {
    const int64_t pad_a = 3, pad_b = 5, pad_c = 2;
    matrix a, b, c0;
    int ok = ta ? matrix_alloc(&a, k, m, m + pad_a) : matrix_alloc(&a, m, k, k + pad_a);
    ok &= tb ? matrix_alloc(&b, n, k, k + pad_b) : matrix_alloc(&b, k, n, n + pad_b);
    ok &= matrix_alloc(&c0, m, n, n + pad_c);
    double *sum = malloc((size_t)(m * n) * sizeof(double));
    double *mag = malloc((size_t)(m * n) * sizeof(double));
    if (!ok || !sum || !mag) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    matrix_fill(&a, fill, NAN);
    matrix_fill(&b, fill, NAN);
    matrix_fill(&c0, fill, C_SENTINEL);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0.0, g = 0.0;
            for (int64_t p = 0; p < k; p++) {
                double prod = op_at(&a, ta, i, p) * op_at(&b, tb, p, j);
                s += prod;
                g += fabs(prod);
            }
            sum[i * n + j] = s;
            mag[i * n + j] = g;
        }
    for (int x = 0; x < NISA; x++) {
        if (!isa_ok[x]) continue;
        for (int beta = 0; beta < 2; beta++)
            for (int blk = 0; blk < BLOCKINGS; blk++) {
                double worst = run_one(isas[x], ta, tb, m, n, k, (float)beta, blk, fill, &a, &b,
                                       &c0, sum, mag);
                case_stats *cs = &stats[x][ta][tb][beta][blk][fill];
                int bad = fill == FILL_EXACT ? worst != 0.0 : !(worst <= 1.0);
                cs->runs++;
                cs->bad += bad;
                if (worst > cs->worst) cs->worst = worst;
                if (bad && cs->bad <= 3)
                    printf("  mismatch: %s ta=%d tb=%d beta=%d blocking=%s fill=%s m=%" PRId64
                           " n=%" PRId64 " k=%" PRId64 " error=%g\n",
                           bt_isa_name((bt_isa)x), ta, tb, beta, blocking_names[blk],
                           fill_names[fill], m, n, k, worst);
            }
    }
    free(a.data);
    free(b.data);
    free(c0.data);
    free(sum);
    free(mag);
}

static int passed, failed;

static void report(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok)
        passed++;
    else
        failed++;
}

/* The default blocking's invariants for a few cache configurations, and the pack sizes. */
static void check_blocking(bt_isa isa, const char *name) {
    static const int64_t caches[][3] = {{48 << 10, 1 << 20, 32 << 20},
                                        {32 << 10, 256 << 10, 0},
                                        {48 << 10, 1 << 20, 508LL << 20}, /* a VM's L3 */
                                        {1, 1, 1}};
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    for (int i = 0; i < COUNT(caches); i++) {
        bt_gemm_blocking blk;
        bt_gemm_default_blocking(isa, caches[i][0], caches[i][1], caches[i][2], &blk);
        size_t pa = bt_sgemm_pack_a_floats(&blk, isa), pb = bt_sgemm_pack_b_floats(&blk, isa);
        int ok = blk.mc >= mr && blk.mc % mr == 0 && blk.nc >= nr && blk.nc % nr == 0 &&
                 blk.kc >= 1 && pa >= (size_t)(blk.mc * blk.kc) &&
                 pb >= (size_t)(blk.nc * blk.kc) && pa % 16 == 0 && pb % 16 == 0 &&
                 /* the L3 share is capped: the B block stays within 4 L2s */
                 (caches[i][1] < 16 || blk.nc * blk.kc * 4 <= 4 * caches[i][1]);
        report(ok,
               "%s default blocking l1d=%" PRId64 " l2=%" PRId64 " l3=%" PRId64 ": mc=%" PRId64
               " nc=%" PRId64 " kc=%" PRId64 " pack floats a=%zu b=%zu",
               name, caches[i][0], caches[i][1], caches[i][2], blk.mc, blk.nc, blk.kc, pa, pb);

        /* Fitting shrinks to the problem, keeps whole tiles, and never grows a block. */
        bt_gemm_blocking fit = blk;
        bt_gemm_fit_blocking(isa, 2 * blk.mc + 1, nr - 1, blk.kc + 1, &fit);
        int fit_ok = fit.mc <= blk.mc && fit.mc % mr == 0 && fit.nc == nr && fit.kc <= blk.kc &&
                     fit.kc * 2 >= blk.kc + 1 && fit.kc >= 1;
        report(fit_ok,
               "%s fit blocking to m=%" PRId64 " n=%" PRId64 " k=%" PRId64 ": mc=%" PRId64
               " nc=%" PRId64 " kc=%" PRId64,
               name, 2 * blk.mc + 1, nr - 1, blk.kc + 1, fit.mc, fit.nc, fit.kc);
    }
}

static int cpu_supports(bt_isa isa) {
    __builtin_cpu_init();
    switch (isa) {
    case BT_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case BT_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case BT_ISA_SCALAR:
        break;
    }
    return 1;
}

int main(void) {
    int isa_ok[NISA];
    for (int x = 0; x < NISA; x++) {
        isa_ok[x] = cpu_supports(isas[x]);
        if (!isa_ok[x]) printf("SKIP %s: the CPU does not support it\n", bt_isa_name((bt_isa)x));
    }
    for (int x = 0; x < NISA; x++) check_blocking(isas[x], bt_isa_name((bt_isa)x));

    /* m == 0 or n == 0: nothing to do, C untouched. */
    for (int x = 0; x < NISA; x++) {
        if (!isa_ok[x]) continue;
        float a = 1.0f, b = 1.0f, c = 7.0f, pack[64];
        bt_gemm_blocking blk = {1, 1, 1};
        bt_sgemm(isas[x], 0, 0, 0, 1, 1, &a, 1, &b, 1, 0.0f, &c, 1, &blk, pack, pack);
        bt_sgemm(isas[x], 0, 0, 1, 0, 1, &a, 1, &b, 1, 0.0f, &c, 1, &blk, pack, pack);
        report(c == 7.0f, "%s empty m or n leaves C alone", bt_isa_name((bt_isa)x));
    }

    for (int fill = 0; fill < FILLS; fill++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int mi = 0; mi < COUNT(m_sizes); mi++)
                    for (int ni = 0; ni < COUNT(n_sizes); ni++)
                        for (int ki = 0; ki < COUNT(k_sizes); ki++)
                            run_set(isa_ok, ta, tb, m_sizes[mi], n_sizes[ni], k_sizes[ki], fill);

    for (int x = 0; x < NISA; x++) {
        if (!isa_ok[x]) continue;
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int beta = 0; beta < 2; beta++)
                    for (int blk = 0; blk < BLOCKINGS; blk++)
                        for (int fill = 0; fill < FILLS; fill++) {
                            const case_stats *cs = &stats[x][ta][tb][beta][blk][fill];
                            report(cs->runs > 0 && cs->bad == 0,
                                   "%s %s x %s beta=%d blocking=%s fill=%s: %" PRId64
                                   " sizes, %" PRId64 " wrong, worst %s %g",
                                   bt_isa_name((bt_isa)x), ta ? "A^T" : "A", tb ? "B^T" : "B", beta,
                                   blocking_names[blk], fill_names[fill], cs->runs, cs->bad,
                                   fill == FILL_EXACT ? "|error|" : "error/tolerance", cs->worst);
                        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    free(pack_cache[0]);
    free(pack_cache[1]);
    return failed ? 1 : 0;
}

/* Plan set-up of the conv GEMM variants (see im2col_common.h). */
#include "conv/im2col_common.h"

#include <math.h>
#include <stdlib.h>

static const char *const bwd_w_par[] = {"mb", "k", NULL};
static const char *const bwd_d_par[] = {"mb", "c", NULL};

#define CONVG_COLS_SPEC                                                                            \
    {                                                                                              \
        .key = "cols", .min = 1, .max = INT64_C(1) << 40, .tune = "64|256|1024",                   \
        .doc =                                                                                     \
            "output positions per column block (the GEMM's sum for bwd_w, its columns for bwd_d)"  \
    }

const bt_param_spec bt_conv_gemm_bwd_w_params[] = {
    {.key = "par",
     .choices = bwd_w_par,
     .doc = "threads split the samples with a private dW each (mb) or the filters (k)"},
    CONVG_COLS_SPEC,
    BT_GEMM_BLOCKING_PARAM_SPECS,
    {0}};
const bt_param_spec bt_conv_gemm_bwd_d_params[] = {
    {.key = "par",
     .choices = bwd_d_par,
     .doc = "threads split the samples (mb) or the channels (c)"},
    CONVG_COLS_SPEC,
    BT_GEMM_BLOCKING_PARAM_SPECS,
    {.key = "chb",
     .min = 1,
     .max = 1 << 30,
     .tune = "4|16|64",
     .doc = "input channels per column block (col2im scatters a block once its sum is done)"},
    {0}};

/* Threads that would share out `total` items get at least one each. */
static int64_t share(int64_t total, int threads) {
    return bt_div_up(total, bt_min64(threads, total));
}

/* bwd_weights: what each thread builds or packs, in floats. par=mb: its share of every
 * column matrix and of dy, plus writing and re-reading a partial dW; par=k: the column
 * matrices of every group its filters touch (all of them unless there are more groups than
 * threads) and its share of dy. */
static int bwd_w_default_par(const bt_shape *s, int threads) {
    if (threads == 1) return BT_CONVG_PAR_CH;
    double pos = (double)(s->n * s->p * s->q), taps = (double)(s->r * s->s);
    double w = (double)bt_shape_w_elems(s);
    double groups_each = s->g >= threads ? (double)bt_div_up(s->g, threads) : 1.0;
    double by_mb = (pos * (double)s->c * taps + pos * (double)s->k) / threads + 2.0 * w;
    double by_k = pos * (double)s->cg * taps * groups_each + pos * (double)s->k / threads;
    return by_mb < by_k ? BT_CONVG_PAR_MB : BT_CONVG_PAR_CH;
}

/* bwd_data: samples split evenly (or many per thread) keep threads apart; otherwise each
 * thread takes a range of input channels, packing all of dy. */
static int bwd_d_default_par(const bt_shape *s, int threads) {
    if (threads == 1 || s->n % threads == 0 || s->n >= 4 * (int64_t)threads) return BT_CONVG_PAR_MB;
    return BT_CONVG_PAR_CH;
}

/* Columns of `height` floats a thread's column block may hold: all `cols` asked for if they
 * fit bt_scratch_block_floats, else as many as fit (at least one). */
static int64_t capped_cols(const bt_shape *s, int64_t cols, int64_t height) {
    return bt_min64(cols, bt_max64(1, bt_scratch_block_floats(s) / height));
}

static int64_t round_down_unit(int64_t x, int64_t unit) {
    return bt_max64(x / unit, 1) * unit;
}

/* bwd_weights blocks: `cols` positions are the GEMM's sum, dW_g[kg x cg*R*S] its output. */
static void bwd_w_blocks(bt_plan *plan, bt_conv_gemm_plan *cp, const bt_gemm_blocking *cache,
                         int64_t *m, int64_t *n, int64_t *k) {
    const bt_shape *s = &plan->shape;
    int64_t taps = s->r * s->s, pq = s->p * s->q, npos = s->n * pq;
    /* Positions one thread's blocks range over (NCHW blocks stop at the end of a sample). */
    int64_t span = cp->par == BT_CONVG_PAR_MB ? share(npos, plan->threads) : npos;
    if (s->layout == BT_NCHW && !cp->batched && !cp->dot) span = bt_min64(span, pq);
    int64_t filters =
        cp->par == BT_CONVG_PAR_CH ? bt_min64(s->kg, share(s->k, plan->threads)) : s->kg;
    if (cp->dot && !plan->param_given[BT_CONVG_COLS]) {
        /* The dot kernel holds a tile of the larger operand (up to DOT_RC rows of a block's
         * positions) while every tile of the smaller one passes it: that tile stays in half
         * of L1, so only the smaller operand comes from L2, and each block then sums its
         * tiles across lanes. Blocks of half of L1 (1024 positions on a 48 KB L1) ran 1.0-1.31x
         * the blocks of half of L2 before them on 50 of 53 suite layers, 0.97-0.99 on three,
         * geomean 1.10 (results/amd-epyc-zen5-2c-avx512/dot_cols.txt); the tuner's picks on
         * Zen 4 (32 KB L1) were 256-1024 on 11 of 13 such keys in its records, 3136 on two. */
        int64_t tile_rows = plan->variant->isa == BT_ISA_AVX512 ? BT_DOT_RC_AVX512 : BT_DOT_RC_AVX2;
        int64_t fit_l1 = bt_machine_get()->l1d_bytes / 2 / (tile_rows * (int64_t)sizeof(float));
        plan->param[BT_CONVG_COLS] = bt_max64(round_down_unit(fit_l1, 16), 256);
    } else if (!plan->param_given[BT_CONVG_COLS]) {
        int64_t fit_l2 = bt_machine_get()->l2_bytes / 2 / (s->cg * taps * (int64_t)sizeof(float));
        /* direct: no column buffer, the GEMM blocks the whole span itself; otherwise a block
         * stays in L2 between im2col and packing, and is at least one kc slice of the sum */
        plan->param[BT_CONVG_COLS] = cp->direct || cp->batched
                                         ? span
                                         : round_down_unit(bt_max64(fit_l2, cache->kc), cache->kc);
    }
    cp->cols = bt_min64(plan->param[BT_CONVG_COLS], span);
    if (!cp->direct && !cp->batched) cp->cols = capped_cols(s, cp->cols, s->cg * taps);
    plan->param[BT_CONVG_COLS] = cp->cols;
    cp->col = cp->direct || cp->batched ? 0 : bt_floats_aligned(cp->cols * s->cg * taps);
    *m = filters;
    *n = s->cg * taps;
    *k = cp->cols;
}

/* bwd_data blocks (batched strided too: a column block is scattered once, after its whole
 * sum, not after every kc slice): the GEMM writes col for `cols` positions x `chb` channels and
 * col2im reads it back, so the block should stay in L2 (budget). Within that, each block repacks
 * its weights once per position block and dy once per channel block: packing per sample is
 * proportional to R*S / cols + 1 / chb, least for cols = sqrt(budget) (or the span of
 * positions, if smaller). */
static void bwd_d_blocks(bt_plan *plan, bt_conv_gemm_plan *cp, int64_t *m, int64_t *n, int64_t *k) {
    const bt_shape *s = &plan->shape;
    int64_t taps = s->r * s->s, pq = s->p * s->q;
    int64_t span = s->layout == BT_NCHW && !cp->batched ? pq
                   : cp->par == BT_CONVG_PAR_MB         ? share(s->n, plan->threads) * pq
                                                        : s->n * pq;
    int64_t lc = cp->par == BT_CONVG_PAR_CH ? bt_min64(s->cg, share(s->c, plan->threads)) : s->cg;
    int64_t budget = bt_machine_get()->l2_bytes / 2 / (int64_t)sizeof(float);
    if (!plan->param_given[BT_CONVG_CHB]) {
        int64_t cols = bt_min64((int64_t)sqrt((double)budget), span);
        plan->param[BT_CONVG_CHB] =
            cp->direct ? s->cg : bt_max64(1, bt_min64(lc, budget / (taps * cols)));
    }
    cp->chb = cp->direct ? bt_min64(plan->param[BT_CONVG_CHB], s->cg)
                         : capped_cols(s, bt_min64(plan->param[BT_CONVG_CHB], s->cg), taps);
    plan->param[BT_CONVG_CHB] = cp->chb;
    if (!plan->param_given[BT_CONVG_COLS]) {
        int64_t fit = budget / (cp->chb * taps);
        plan->param[BT_CONVG_COLS] =
            cp->direct || fit >= span ? span : round_down_unit(bt_max64(fit, 16), 16);
    }
    cp->cols = bt_min64(plan->param[BT_CONVG_COLS], span);
    if (!cp->direct) cp->cols = capped_cols(s, cp->cols, cp->chb * taps);
    plan->param[BT_CONVG_COLS] = cp->cols;
    cp->col = cp->direct ? 0 : bt_floats_aligned(cp->cols * cp->chb * taps);
    int64_t width = bt_min64(cp->chb, lc) * taps;
    *m = s->layout == BT_NCHW ? width : cp->cols;
    *n = s->layout == BT_NCHW ? cp->cols : width;
    *k = s->kg;
}

/* NCHW bwd_data written in place (direct) with a short sum (few filters) does little
 * arithmetic per element of dx, so the order of its stores sets its speed. The cache-derived
 * blocks sweep each NR-column panel down all rows of the block, a few cache lines into each
 * of dozens of channel planes in turn; one register panel of rows (mc = MR) over 256 columns
 * writes each plane in runs of 1 KB (a 2-thread store microbenchmark of the two orders on
 * this problem class: about 20 GB/s against 30). With at most two panels of rows the sweep
 * is short and left as it is. On mb8ic32ih112oc16 (Zen 4, 2 threads): 1.06-1.5x over three
 * sessions of a noisy VM (results/amd-epyc-zen4-2c-avx512/gemm_col2im_short_sum.txt). */
#define SHORT_SUM_FILTERS 16
#define SHORT_SUM_RUN_COLS 256
static void bwd_d_short_sum_blocks(bt_plan *plan, const bt_conv_gemm_plan *cp, bt_isa isa,
                                   int64_t n, bt_gemm_blocking *blk) {
    const bt_shape *s = &plan->shape;
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    if (s->layout != BT_NCHW || !cp->direct || cp->batched || s->kg > SHORT_SUM_FILTERS ||
        cp->chb <= 2 * mr)
        return;
    if (!plan->param_given[BT_CONVG_MC]) plan->param[BT_CONVG_MC] = blk->mc = mr;
    if (!plan->param_given[BT_CONVG_NC])
        plan->param[BT_CONVG_NC] = blk->nc =
            bt_min64(blk->nc, bt_min64(bt_div_up(n, nr), SHORT_SUM_RUN_COLS / nr) * nr);
}

bt_status bt_conv_gemm_prepare(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    const bt_machine *mach = bt_machine_get();
    bt_isa isa = plan->variant->isa;
    int data = s->op == BT_CONV_BWD_DATA, threads = plan->threads;
    bt_conv_gemm_plan *cp = calloc(1, sizeof *cp);
    if (!cp) return bt_fail(BT_ENOMEM, "%s: out of memory", plan->variant->name);
    plan->priv = cp;

    int64_t taps = s->r * s->s;
    cp->direct = taps == 1 && s->sh == 1 && s->sw == 1 && bt_shape_unpadded(s);
    cp->permuted = s->layout == BT_NHWC && taps > 1 && s->cg > 1;
    /* Batched when strided (x / dx is gathered or scattered anyway) or when a sample has too
     * few positions to fill a GEMM; a large sample does better on the plain GEMM, whose
     * packing fuses with the arithmetic and whose tiles store straight into dx. */
    int64_t pq = s->p * s->q;
    cp->batched =
        s->layout == BT_NCHW && taps == 1 && bt_shape_unpadded(s) && (!cp->direct || pq < 512);
    if (!plan->param_given[BT_CONVG_PAR])
        plan->param[BT_CONVG_PAR] =
            data ? bwd_d_default_par(s, threads) : bwd_w_default_par(s, threads);
    cp->par = (int)plan->param[BT_CONVG_PAR];
    /* bwd_w on a direct NCHW sample of 512 positions or more sums in place (the dot kernel of
     * im2col_gemm_impl.h); smaller samples leave too many lanes idle at each sample's end (7x7:
     * 49 positions in 4 vectors) and run batched on the packed GEMM. */
    cp->dot = !data && s->layout == BT_NCHW && cp->direct && !cp->batched;

    bt_gemm_blocking cache_blk;
    bt_gemm_default_blocking(isa, mach->l1d_bytes, mach->l2_bytes,
                             mach->l3_bytes / bt_max64(1, mach->cores), &cache_blk);
    int64_t m, n, k; /* the largest GEMM a thread runs */
    if (data)
        bwd_d_blocks(plan, cp, &m, &n, &k);
    else
        bwd_w_blocks(plan, cp, &cache_blk, &m, &n, &k);
    bt_gemm_blocking_params(plan, BT_CONVG_MC, m, n, k, &cp->blk);
    if (data) bwd_d_short_sum_blocks(plan, cp, isa, n, &cp->blk);

    cp->pack_a = cp->dot ? 0 : (int64_t)bt_sgemm_pack_a_floats(&cp->blk, isa);
    cp->pack_b = cp->dot ? 0 : (int64_t)bt_sgemm_pack_b_floats(&cp->blk, isa);
    /* A thread may run with a smaller team than planned and then owns more channels: the
     * reordered weights (bwd_d) are sized for all of them. */
    int64_t wsize = bt_floats_aligned((int64_t)bt_shape_w_elems(s));
    cp->wperm = data && cp->permuted ? wsize : 0;
    cp->per_thread = cp->col + cp->pack_a + cp->pack_b + cp->wperm;
    cp->slots = cp->per_thread * threads;
    cp->slot = wsize;
    if (!data && cp->par == BT_CONVG_PAR_MB)
        cp->nslots = cp->permuted ? threads : threads - 1; /* thread 0 sums into dW itself */
    else if (!data && cp->permuted)
        cp->nslots = 1; /* par=k: one dW in GEMM order, each thread its filters' rows */
    plan->scratch_bytes = (size_t)(cp->slots + cp->nslots * cp->slot) * sizeof(float);
    return BT_OK;
}

/* Measured with each variant's default parameters on the 15 ResNet-50 1x1 layers at batch 32,
 * 2 threads, medians of 5 interleaved repetitions (results/intel-xeon-emeraldrapids-2c-avx512/
 * heuristic_1x1_avx512.txt; two benchmarks of one plan differed by 0.73-1.33x there: a noisy VM):
 * the direct default's GFLOP/s over this choice's, NCHW bwd_d 0.37-0.87 on every layer; NCHW
 * bwd_w 0.55 in geomean, down to 0.16 on strided layers (with 64 filters the GEMM of then was
 * not ahead: 0.91x and 0.99x the direct); NHWC bwd_w 0.80 in geomean; NHWC bwd_d even (left to the
 * direct family). Capped at AVX2 the same (heuristic_1x1_avx2.txt), and the tuned winners on
 * Zen 4 and Zen 5 agree (tune_resnet50.txt). */
int bt_conv_gemm_leads(const bt_shape *s) {
    if (s->g != 1 || s->r != 1 || s->s != 1 || !bt_shape_unpadded(s)) return 0;
    if (s->op == BT_CONV_BWD_DATA) return s->layout == BT_NCHW;
    /* NCHW bwd_w with fewer filters: since the dot kernel (samples of 512 positions or more)
     * and the vectorised transposing pack (smaller samples, batched), single-thread best of 9-15
     * on a loaded machine: 1.15-1.9x the direct default on MobileNet-v2 / EfficientNet-B0 /
     * Inception-v3 1x1 layers at batch 8 (28x28 to 112x112: dot, 14x14: packed) and
     * 1.1-1.2x on ResNet-50's 56x56 64-filter layers at batch 32. */
    return 1;
}

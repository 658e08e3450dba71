/* Work splits, blocking parameters and the FC plan set-up shared by the GEMM-based
 * variants (see gemm_common.h). */
#include "fc/gemm_common.h"

#include <stdlib.h>

void bt_gemm_grid(int64_t m, int64_t n, int nthr, int *tr, int *tc) {
    int best_r = 1;
    int64_t best = -1;
    for (int r = 1; r <= nthr; r++) {
        if (nthr % r) continue;
        /* Parts beyond the extent would idle: a thread's share is at least one row/column. */
        int64_t cost = bt_div_up(m, bt_min64(r, m)) + bt_div_up(n, bt_min64(nthr / r, n));
        if (best < 0 || cost < best) best = cost, best_r = r;
    }
    *tr = best_r;
    *tc = nthr / best_r;
}

void bt_gemm_split_grid(int split, int64_t m, int64_t n, int nthr, int *tr, int *tc) {
    switch (split) {
    case BT_SPLIT_ROWS:
        *tr = nthr, *tc = 1;
        return;
    case BT_SPLIT_COLS:
        *tr = 1, *tc = nthr;
        return;
    case BT_SPLIT_2D:
        bt_gemm_grid(m, n, nthr, tr, tc);
        return;
    default: /* the sum is split; every thread computes the whole output */
        *tr = *tc = 1;
        return;
    }
}

void bt_split_units(int64_t total, int64_t unit, int part, int parts, int64_t *begin,
                    int64_t *end) {
    int64_t b, e;
    bt_split(bt_div_up(total, unit), part, parts, &b, &e);
    *begin = bt_min64(b * unit, total);
    *end = bt_min64(e * unit, total);
}

void bt_gemm_grid_block(int64_t m, int64_t n, int64_t mr, int64_t nr, int tr, int tc, int tid,
                        bt_gemm_block *b) {
    if (tid >= tr * tc) {
        b->m0 = b->m1 = b->n0 = b->n1 = 0;
        return;
    }
    bt_split_units(m, mr, tid / tc, tr, &b->m0, &b->m1);
    bt_split_units(n, nr, tid % tc, tc, &b->n0, &b->n1);
}

void bt_gemm_blocking_params(bt_plan *plan, int first, int64_t m, int64_t n, int64_t k,
                             bt_gemm_blocking *blk) {
    const bt_machine *mach = bt_machine_get();
    bt_isa isa = plan->variant->isa;
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    bt_gemm_default_blocking(isa, mach->l1d_bytes, mach->l2_bytes,
                             mach->l3_bytes / bt_max64(1, mach->cores), blk);
    /* A sum a little longer than kc is one slice, not two half slices: each extra slice
     * re-reads and re-writes all of C (1x1 convs, k = 256 against kc = 192: C is MBs). The
     * longer B panel still fits L1 beside an A panel; mc shrinks to keep the A block's size. */
    if (k > blk->kc && 2 * k <= 3 * blk->kc) {
        blk->mc = bt_max64(blk->mc * blk->kc / k / mr, 1) * mr;
        blk->kc = k;
    }
    /* A skinny GEMM reads A in place and streams its whole B block (kc x n) for every row
     * panel: the block may fill a quarter of L2 rather than a panel half of L1, so the sum
     * takes fewer slices, each of which re-reads and re-writes C (1x1 convs with 64-96
     * channels: k = 384-576 in one slice). */
    int64_t kc_skinny = mach->l2_bytes / 4 / (bt_div_up(bt_max64(n, 1), nr) * nr * 4);
    if (n <= BT_GEMM_SKINNY_PANELS * nr && kc_skinny > blk->kc) {
        blk->mc = bt_max64(blk->mc * blk->kc / kc_skinny / mr, 1) * mr;
        blk->kc = kc_skinny;
    }
    bt_gemm_fit_blocking(isa, m, n, k, blk);
    /* A given block larger than the GEMM (rounded up to the register tile) computes the same
     * as one that just covers it, with larger pack buffers: it is clamped. */
    const int64_t useful[3] = {bt_div_up(bt_max64(m, 1), mr) * mr,
                               bt_div_up(bt_max64(n, 1), nr) * nr, bt_max64(k, 1)};
    int64_t *value[3] = {&blk->mc, &blk->nc, &blk->kc};
    for (int i = 0; i < 3; i++) {
        if (plan->param_given[first + i]) *value[i] = bt_min64(plan->param[first + i], useful[i]);
        plan->param[first + i] = *value[i];
    }
}

/* ---- FC ---- */

static const char *const fc_bwd_d_par[] = {"mb", "c", "2d", NULL};      /* rows of dX = batch */
static const char *const fc_bwd_w_par[] = {"k", "c", "2d", "mb", NULL}; /* mb splits the sum */

const bt_param_spec bt_fc_gemm_bwd_d_params[] = {
    {.key = "par",
     .choices = fc_bwd_d_par,
     .doc =
         "threads split dX's rows (mb: the samples), its columns (c: the channels) or both (2d)"},
    BT_GEMM_BLOCKING_PARAM_SPECS,
    {0}};
const bt_param_spec bt_fc_gemm_bwd_w_params[] = {
    {.key = "par",
     .choices = fc_bwd_w_par,
     .doc = "threads split dW's rows (k: filters), its columns (c: channels), both (2d), or the "
            "sum over the samples with a private dW each (mb)"},
    BT_GEMM_BLOCKING_PARAM_SPECS,
    {0}};

/* The FC GEMM as m x n x k: dX[N x C] = dY W (sum over K), dW[K x C] = dYt X (sum over N). */
static void fc_dims(const bt_shape *s, int64_t *m, int64_t *n, int64_t *k) {
    int data = s->op == BT_FC_BWD_DATA;
    *m = data ? s->n : s->k;
    *n = s->c;
    *k = data ? s->k : s->n;
}

/* Splitting the sum pays when the output is small next to the sum: each thread then packs
 * (m + n) * k / T floats plus writes and re-reads a partial output, against
 * (m / tr + n / tc) * k for the best output grid. */
static int fc_default_split(const bt_shape *s, int threads) {
    int64_t m, n, k;
    fc_dims(s, &m, &n, &k);
    if (s->op == BT_FC_BWD_DATA || threads == 1) return BT_SPLIT_2D;
    int tr, tc;
    bt_gemm_grid(m, n, threads, &tr, &tc);
    double grid_cost = ((double)bt_div_up(m, tr) + (double)bt_div_up(n, tc)) * (double)k;
    double sum_cost = (double)(m + n) * (double)k / threads + 2.0 * (double)m * (double)n;
    return sum_cost < grid_cost ? BT_SPLIT_SUM : BT_SPLIT_2D;
}

bt_status bt_fc_gemm_prepare(bt_plan *plan) {
    const bt_shape *s = &plan->shape;
    bt_fc_gemm_plan *fp = calloc(1, sizeof *fp);
    if (!fp) return bt_fail(BT_ENOMEM, "%s: out of memory", plan->variant->name);
    plan->priv = fp;
    if (!plan->param_given[BT_FCG_PAR])
        plan->param[BT_FCG_PAR] = fc_default_split(s, plan->threads);
    fp->split = (int)plan->param[BT_FCG_PAR];
    bt_gemm_micro_tile(plan->variant->isa, &fp->mr, &fp->nr);

    /* The largest GEMM a thread runs: thread 0's block (bt_split favours the first). */
    int64_t m, n, k;
    fc_dims(s, &m, &n, &k);
    int64_t bm = m, bn = n, bk = k;
    if (fp->split == BT_SPLIT_SUM) {
        bk = bt_div_up(k, plan->threads);
    } else {
        int tr, tc;
        bt_gemm_split_grid(fp->split, m, n, plan->threads, &tr, &tc);
        bt_gemm_block b;
        bt_gemm_grid_block(m, n, fp->mr, fp->nr, tr, tc, 0, &b);
        bm = b.m1 - b.m0, bn = b.n1 - b.n0;
    }
    bt_gemm_blocking_params(plan, BT_FCG_MC, bm, bn, bk, &fp->blk);

    bt_isa isa = plan->variant->isa;
    fp->pack_a = (int64_t)bt_sgemm_pack_a_floats(&fp->blk, isa);
    fp->per_thread = fp->pack_a + (int64_t)bt_sgemm_pack_b_floats(&fp->blk, isa);
    fp->slots = fp->per_thread * plan->threads;
    fp->slot = bt_floats_aligned(m * n);
    int64_t floats = fp->slots + (fp->split == BT_SPLIT_SUM ? (plan->threads - 1) * fp->slot : 0);
    plan->scratch_bytes = (size_t)floats * sizeof(float);
    return BT_OK;
}

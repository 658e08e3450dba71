/* Packed SGEMM: what is independent of the ISA (dispatch, tile shapes, pack-buffer sizes,
 * blocking). The algorithm is in common/gemm_impl.h; see common/gemm.h. */
#include "common/gemm.h"

#define GEMM_FLOAT_BYTES ((int64_t)sizeof(float))

bt_sgemm_fn *bt_sgemm_for(bt_isa isa) {
    switch (isa) {
    case BT_ISA_AVX512:
        return bt_sgemm_avx512;
    case BT_ISA_AVX2:
        return bt_sgemm_avx2;
    case BT_ISA_SCALAR:
        break;
    }
    return bt_sgemm_scalar;
}

void bt_sgemm(bt_isa isa, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
              const bt_gemm_blocking *blk, float *pack_a, float *pack_b) {
    bt_sgemm_for(isa)(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, blk, pack_a, pack_b);
}

void bt_gemm_micro_tile(bt_isa isa, int64_t *mr, int64_t *nr) {
    switch (isa) {
    case BT_ISA_AVX512:
        *mr = BT_GEMM_MR_AVX512;
        *nr = BT_GEMM_NR_AVX512;
        return;
    case BT_ISA_AVX2:
        *mr = BT_GEMM_MR_AVX2;
        *nr = BT_GEMM_NR_AVX2;
        return;
    case BT_ISA_SCALAR:
        break;
    }
    *mr = BT_GEMM_MR_SCALAR;
    *nr = BT_GEMM_NR_SCALAR;
}

static int64_t round_up(int64_t x, int64_t unit) {
    return bt_div_up(x, unit) * unit;
}

/* x rounded down to a multiple of unit, at least unit. */
static int64_t round_down_min_unit(int64_t x, int64_t unit) {
    return bt_max64(x / unit, 1) * unit;
}

/* Floats rounded up to whole cache lines. */
static size_t whole_lines(int64_t floats) {
    return (size_t)round_up(floats, BT_ALIGN / GEMM_FLOAT_BYTES);
}

size_t bt_sgemm_pack_a_floats(const bt_gemm_blocking *blk, bt_isa isa) {
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    return whole_lines(round_up(blk->mc, mr) * blk->kc);
}

size_t bt_sgemm_pack_b_floats(const bt_gemm_blocking *blk, bt_isa isa) {
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    return whole_lines(round_up(blk->nc, nr) * blk->kc);
}

void bt_gemm_default_blocking(bt_isa isa, int64_t l1d, int64_t l2, int64_t l3,
                              bt_gemm_blocking *out) {
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    /* A VM may report the host's whole L3 (hundreds of MB). A core's real share of L3 is at
     * most a few times its L2 on current x86 parts (Zen 5: 4 MB per 1 MB L2), so the share
     * is capped at 4 L2s; unknown (0) means no more than L2. */
    int64_t l3_share = bt_min64(bt_max64(l3, l2), 4 * l2);
    out->kc = bt_max64(l1d / 2 / (nr * GEMM_FLOAT_BYTES), 1);
    out->mc = round_down_min_unit(l2 / 2 / (out->kc * GEMM_FLOAT_BYTES), mr);
    out->nc = round_down_min_unit(l3_share / 2 / (out->kc * GEMM_FLOAT_BYTES), nr);
}

/* The block size that cuts total into as few blocks of at most `block` as possible, all
 * about equal (no thin last block), rounded up to a multiple of unit. */
static int64_t even_block(int64_t total, int64_t block, int64_t unit) {
    int64_t blocks = bt_div_up(total, bt_max64(block, 1));
    return round_up(bt_div_up(total, blocks), unit);
}

void bt_gemm_fit_blocking(bt_isa isa, int64_t m, int64_t n, int64_t k, bt_gemm_blocking *blk) {
    int64_t mr, nr;
    bt_gemm_micro_tile(isa, &mr, &nr);
    if (m > 0) blk->mc = bt_min64(blk->mc, even_block(m, blk->mc, mr));
    if (n > 0) blk->nc = bt_min64(blk->nc, even_block(n, blk->nc, nr));
    if (k > 0) blk->kc = bt_min64(blk->kc, even_block(k, blk->kc, 1));
    blk->mc = bt_max64(blk->mc, 1);
    blk->nc = bt_max64(blk->nc, 1);
    blk->kc = bt_max64(blk->kc, 1);
}

void bt_gemm_scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

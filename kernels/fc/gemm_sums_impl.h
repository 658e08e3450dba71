/* Vector sums shared by the GEMM-based and Winograd variants: bias gradients and the reduction of
 * per-thread partial weight gradients. A template (see common/simd.h): included once per
 * ISA instance after common/simd.h, its functions are static to that instance.
 * Every sum runs in a fixed order, so results are identical from run to run. */

#ifndef BT_VLEN
#error "include common/simd.h before fc/gemm_sums_impl.h"
#endif

#define GEMM_SUMS_UNROLL 4 /* independent vector accumulators per loop: hides the add latency */

/* out[j] (+)= sum over rows i of a[i * ld + j], for j in [j0, j1): the column sums of a
 * row-major matrix (db of FC, and of NHWC conv where rows are positions). */
static inline void gemm_sums_columns(const float *a, int64_t rows, int64_t ld, int64_t j0,
                                     int64_t j1, int accumulate, float *out) {
    for (int64_t j = j0; j < j1; j += GEMM_SUMS_UNROLL * BT_VLEN) {
        bt_vf acc[GEMM_SUMS_UNROLL];
        bt_vmask_t mask[GEMM_SUMS_UNROLL];
        for (int u = 0; u < GEMM_SUMS_UNROLL; u++) {
            int64_t left = bt_max64(0, bt_min64(BT_VLEN, j1 - j - u * BT_VLEN));
            mask[u] = bt_vmask((int)left);
            acc[u] = accumulate ? bt_vload_mask(out + j + u * BT_VLEN, mask[u]) : bt_vzero();
        }
        for (int64_t i = 0; i < rows; i++)
            for (int u = 0; u < GEMM_SUMS_UNROLL; u++)
                acc[u] = bt_vadd(acc[u], bt_vload_mask(a + i * ld + j + u * BT_VLEN, mask[u]));
        for (int u = 0; u < GEMM_SUMS_UNROLL; u++)
            bt_vstore_mask(out + j + u * BT_VLEN, mask[u], acc[u]);
    }
}

/* Sum of a contiguous run of n floats (one order for a given n). */
static inline float gemm_sums_run(const float *a, int64_t n) {
    bt_vf acc[GEMM_SUMS_UNROLL];
    for (int u = 0; u < GEMM_SUMS_UNROLL; u++) acc[u] = bt_vzero();
    int64_t i = 0;
    for (; i + GEMM_SUMS_UNROLL * BT_VLEN <= n; i += GEMM_SUMS_UNROLL * BT_VLEN)
        for (int u = 0; u < GEMM_SUMS_UNROLL; u++)
            acc[u] = bt_vadd(acc[u], bt_vload(a + i + u * BT_VLEN));
    for (; i < n; i += BT_VLEN)
        acc[0] = bt_vadd(acc[0], bt_vload_mask(a + i, bt_vmask((int)bt_min64(BT_VLEN, n - i))));
    for (int u = 1; u < GEMM_SUMS_UNROLL; u++) acc[0] = bt_vadd(acc[0], acc[u]);
    return bt_vhsum(acc[0]);
}

/* db[k0, k1) (+)= sums of a convolution's dy over every position. */
static inline void gemm_sums_conv_bias(const bt_shape *s, const float *dy, int64_t k0, int64_t k1,
                                       float *db) {
    int64_t pq = s->p * s->q;
    if (s->layout == BT_NHWC) {
        gemm_sums_columns(dy, s->n * pq, s->k, k0, k1, s->accumulate, db);
        return;
    }
    for (int64_t k = k0; k < k1; k++) {
        float sum = 0.0f;
        for (int64_t n = 0; n < s->n; n++) sum += gemm_sums_run(dy + (n * s->k + k) * pq, pq);
        db[k] = s->accumulate ? db[k] + sum : sum;
    }
}

/* dst[e] += sum over slots t < nslots of src[t * slot_stride + e], e in [0, count): adds the
 * partial results of other threads, slot 0 first. */
static inline void gemm_sums_add_slots(float *dst, const float *src, int64_t slot_stride,
                                       int nslots, int64_t count) {
    int64_t e = 0;
    for (; e + BT_VLEN <= count; e += BT_VLEN) {
        bt_vf acc = bt_vload(dst + e);
        for (int t = 0; t < nslots; t++) acc = bt_vadd(acc, bt_vload(src + t * slot_stride + e));
        bt_vstore(dst + e, acc);
    }
    if (e < count) {
        bt_vmask_t mask = bt_vmask((int)(count - e));
        bt_vf acc = bt_vload_mask(dst + e, mask);
        for (int t = 0; t < nslots; t++)
            acc = bt_vadd(acc, bt_vload_mask(src + t * slot_stride + e, mask));
        bt_vstore_mask(dst + e, mask, acc);
    }
}

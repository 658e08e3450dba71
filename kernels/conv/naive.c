/* Naive conv variants: the definition as float loops, no blocking. bwd_data scatters each
 * dy element through the kernel (the forward's connectivity run backwards), which is a
 * different loop order from the reference's gather, so the two check each other.
 * Threads split the batch (bwd_data) or the filters (bwd_weights): no two threads write
 * the same output, and each output's summation order is fixed. */
#include "internal.h"

#include <string.h>

static void run_bwd_data(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    int64_t n0, n1;
    bt_split(s->n, tid, nthr, &n0, &n1);
    size_t sample = (size_t)(s->c * s->h * s->w);
    if (!s->accumulate && n1 > n0)
        memset(t->dx + (size_t)n0 * sample, 0, (size_t)(n1 - n0) * sample * sizeof(float));
    for (int64_t n = n0; n < n1; n++)
        for (int64_t k = 0; k < s->k; k++) {
            int64_t c0 = (k / s->kg) * s->cg;
            for (int64_t p = 0; p < s->p; p++)
                for (int64_t q = 0; q < s->q; q++) {
                    float d = t->dy[bt_dy_off(s, n, k, p, q)];
                    for (int64_t cl = 0; cl < s->cg; cl++)
                        for (int64_t r = 0; r < s->r; r++) {
                            int64_t i = p * s->sh - s->ph + r * s->dh;
                            if (i < 0 || i >= s->h) continue;
                            for (int64_t ss = 0; ss < s->s; ss++) {
                                int64_t j = q * s->sw - s->pw + ss * s->dw;
                                if (j < 0 || j >= s->w) continue;
                                t->dx[bt_x_off(s, n, c0 + cl, i, j)] +=
                                    d * t->w[bt_w_off(s, k, cl, r, ss)];
                            }
                        }
                }
        }
}

static void run_bwd_weights(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    int64_t k0, k1;
    bt_split(s->k, tid, nthr, &k0, &k1);
    for (int64_t k = k0; k < k1; k++) {
        int64_t c0 = (k / s->kg) * s->cg;
        for (int64_t cl = 0; cl < s->cg; cl++)
            for (int64_t r = 0; r < s->r; r++)
                for (int64_t ss = 0; ss < s->s; ss++) {
                    float sum = 0;
                    for (int64_t n = 0; n < s->n; n++)
                        for (int64_t p = 0; p < s->p; p++) {
                            int64_t i = p * s->sh - s->ph + r * s->dh;
                            if (i < 0 || i >= s->h) continue;
                            for (int64_t q = 0; q < s->q; q++) {
                                int64_t j = q * s->sw - s->pw + ss * s->dw;
                                if (j < 0 || j >= s->w) continue;
                                sum += t->dy[bt_dy_off(s, n, k, p, q)] *
                                       t->x[bt_x_off(s, n, c0 + cl, i, j)];
                            }
                        }
                    float *o = &t->dw[bt_w_off(s, k, cl, r, ss)];
                    *o = s->accumulate ? *o + sum : sum;
                }
        if (t->db) {
            float sum = 0;
            for (int64_t n = 0; n < s->n; n++)
                for (int64_t p = 0; p < s->p; p++)
                    for (int64_t q = 0; q < s->q; q++) sum += t->dy[bt_dy_off(s, n, k, p, q)];
            t->db[k] = s->accumulate ? t->db[k] + sum : sum;
        }
    }
}

BT_DEFINE_VARIANT(conv_bwd_d, naive, .layouts = BT_TAKES_ANY, .run = run_bwd_data);
BT_DEFINE_VARIANT(conv_bwd_w, naive, .layouts = BT_TAKES_ANY, .run = run_bwd_weights);

/* Naive FC variants: dX = dY.W, dW = dYt.X, db = sum over the batch of dY, as float loops.
 * Threads split the batch rows of dX, or the rows (output features) of dW. */
#include "internal.h"

static void run_bwd_data(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    int64_t n0, n1;
    bt_split(s->n, tid, nthr, &n0, &n1);
    for (int64_t n = n0; n < n1; n++)
        for (int64_t c = 0; c < s->c; c++) {
            float sum = 0;
            for (int64_t k = 0; k < s->k; k++) sum += t->dy[n * s->k + k] * t->w[k * s->c + c];
            float *o = &t->dx[n * s->c + c];
            *o = s->accumulate ? *o + sum : sum;
        }
}

static void run_bwd_weights(const bt_plan *plan, const bt_tensors *t, int tid, int nthr) {
    const bt_shape *s = &plan->shape;
    int64_t k0, k1;
    bt_split(s->k, tid, nthr, &k0, &k1);
    for (int64_t k = k0; k < k1; k++) {
        for (int64_t c = 0; c < s->c; c++) {
            float sum = 0;
            for (int64_t n = 0; n < s->n; n++) sum += t->dy[n * s->k + k] * t->x[n * s->c + c];
            float *o = &t->dw[k * s->c + c];
            *o = s->accumulate ? *o + sum : sum;
        }
        if (t->db) {
            float sum = 0;
            for (int64_t n = 0; n < s->n; n++) sum += t->dy[n * s->k + k];
            t->db[k] = s->accumulate ? t->db[k] + sum : sum;
        }
    }
}

BT_DEFINE_VARIANT(fc_bwd_d, naive, .layouts = BT_TAKES_ANY, .run = run_bwd_data);
BT_DEFINE_VARIANT(fc_bwd_w, naive, .layouts = BT_TAKES_ANY, .run = run_bwd_weights);

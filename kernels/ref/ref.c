/* The reference: each output element is one double sum over exactly the terms of §1. */
#include "ref.h"

/* The output index p with p*stride - pad + r*dil == i, or -1 if there is none. */
static int64_t source_index(int64_t i, int64_t r, int64_t stride, int64_t pad, int64_t dil,
                            int64_t out) {
    int64_t t = i + pad - r * dil;
    if (t < 0 || t % stride) return -1;
    t /= stride;
    return t < out ? t : -1;
}

static float store(float old, double sum, int accumulate) {
    return accumulate ? (float)((double)old + sum) : (float)sum;
}

void bt_ref_bwd_data_range(const bt_shape *s, const float *w, const float *dy, float *dx,
                           int64_t nc_begin, int64_t nc_end) {
    for (int64_t nc = nc_begin; nc < nc_end; nc++) {
        int64_t n = nc / s->c, c = nc % s->c, g = c / s->cg, cl = c % s->cg;
        for (int64_t i = 0; i < s->h; i++)
            for (int64_t j = 0; j < s->w; j++) {
                double sum = 0;
                for (int64_t kl = 0; kl < s->kg; kl++) {
                    int64_t k = g * s->kg + kl;
                    for (int64_t r = 0; r < s->r; r++) {
                        int64_t p = source_index(i, r, s->sh, s->ph, s->dh, s->p);
                        if (p < 0) continue;
                        for (int64_t ss = 0; ss < s->s; ss++) {
                            int64_t q = source_index(j, ss, s->sw, s->pw, s->dw, s->q);
                            if (q < 0) continue;
                            sum += (double)dy[bt_dy_off(s, n, k, p, q)] *
                                   (double)w[bt_w_off(s, k, cl, r, ss)];
                        }
                    }
                }
                float *o = &dx[bt_x_off(s, n, c, i, j)];
                *o = store(*o, sum, s->accumulate);
            }
    }
}

void bt_ref_bwd_weights_range(const bt_shape *s, const float *x, const float *dy, float *dw,
                              float *db, int64_t kc_begin, int64_t kc_end) {
    for (int64_t kc = kc_begin; kc < kc_end; kc++) {
        int64_t k = kc / s->cg, cl = kc % s->cg, c = (k / s->kg) * s->cg + cl;
        for (int64_t r = 0; r < s->r; r++)
            for (int64_t ss = 0; ss < s->s; ss++) {
                double sum = 0;
                for (int64_t n = 0; n < s->n; n++)
                    for (int64_t p = 0; p < s->p; p++) {
                        int64_t i = p * s->sh - s->ph + r * s->dh;
                        if (i < 0 || i >= s->h) continue;
                        for (int64_t q = 0; q < s->q; q++) {
                            int64_t j = q * s->sw - s->pw + ss * s->dw;
                            if (j < 0 || j >= s->w) continue;
                            sum += (double)dy[bt_dy_off(s, n, k, p, q)] *
                                   (double)x[bt_x_off(s, n, c, i, j)];
                        }
                    }
                float *o = &dw[bt_w_off(s, k, cl, r, ss)];
                *o = store(*o, sum, s->accumulate);
            }
        if (db && cl == 0) {
            double sum = 0;
            for (int64_t n = 0; n < s->n; n++)
                for (int64_t p = 0; p < s->p; p++)
                    for (int64_t q = 0; q < s->q; q++) sum += dy[bt_dy_off(s, n, k, p, q)];
            db[k] = store(db[k], sum, s->accumulate);
        }
    }
}

void bt_ref_forward(const bt_shape *s, const float *x, const float *w, const float *b, double *y) {
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t k = 0; k < s->k; k++) {
            int64_t g = k / s->kg;
            for (int64_t p = 0; p < s->p; p++)
                for (int64_t q = 0; q < s->q; q++) {
                    double sum = b ? b[k] : 0.0;
                    for (int64_t cl = 0; cl < s->cg; cl++)
                        for (int64_t r = 0; r < s->r; r++) {
                            int64_t i = p * s->sh - s->ph + r * s->dh;
                            if (i < 0 || i >= s->h) continue;
                            for (int64_t ss = 0; ss < s->s; ss++) {
                                int64_t j = q * s->sw - s->pw + ss * s->dw;
                                if (j < 0 || j >= s->w) continue;
                                sum += (double)x[bt_x_off(s, n, g * s->cg + cl, i, j)] *
                                       (double)w[bt_w_off(s, k, cl, r, ss)];
                            }
                        }
                    y[bt_dy_off(s, n, k, p, q)] = sum;
                }
        }
}

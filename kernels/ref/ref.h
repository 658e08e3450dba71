/* The double-accumulating reference, written straight from the definition in README.md. Never
 * optimised: it is the oracle of the tests and the last entry of every dispatch list. FC problems
 * are 1x1 convolutions of 1x1 images and use the same functions. The *_range functions compute a
 * slice of the outputs so the reference variants can split work across threads. */
#ifndef BT_REF_H
#define BT_REF_H

#include "internal.h"

/* dx rows [nc_begin, nc_end) of the flattened (n, c) index. */
void bt_ref_bwd_data_range(const bt_shape *s, const float *w, const float *dy, float *dx,
                           int64_t nc_begin, int64_t nc_end);
/* dw filters [kc_begin, kc_end) of the flattened (k, c/g) index, and db[k] for the k whose
 * first filter (c/g == 0) is in range. db may be NULL. */
void bt_ref_bwd_weights_range(const bt_shape *s, const float *x, const float *dy, float *dw,
                              float *db, int64_t kc_begin, int64_t kc_end);
/* Forward y = conv(x, w) (+ b if not NULL), in double; y has dy's shape and layout. */
void bt_ref_forward(const bt_shape *s, const float *x, const float *w, const float *b, double *y);

static inline void bt_ref_bwd_data(const bt_shape *s, const float *w, const float *dy, float *dx) {
    bt_ref_bwd_data_range(s, w, dy, dx, 0, s->n * s->c);
}
static inline void bt_ref_bwd_weights(const bt_shape *s, const float *x, const float *dy, float *dw,
                                      float *db) {
    bt_ref_bwd_weights_range(s, x, dy, dw, db, 0, s->k * s->cg);
}

#endif

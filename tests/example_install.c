/* A complete backtune program: the weight and bias gradients of a 3x3 convolution layer
 * (NHWC, batch 2, 16 -> 32 channels, 8x8 images) on the plan dispatch chooses for this
 * machine. Against an installed backtune:
 *
 *     cc example.c $(pkg-config --cflags --libs backtune) -o example && ./example
 */
#include <backtune.h>
#include <stdio.h>
#include <stdlib.h>

static double sum_abs(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] < 0 ? -a[i] : a[i];
    return s;
}

int main(void) {
    bt_problem p;
    if (bt_problem_parse("conv_bwd_w_nhwc mb2ic16ih8oc32kh3ph1", &p) != BT_OK) {
        fprintf(stderr, "parse: %s\n", bt_last_error());
        return 1;
    }
    size_t nx = bt_problem_x_elems(&p), ndy = bt_problem_dy_elems(&p);
    size_t nw = bt_problem_w_elems(&p), nb = bt_problem_db_elems(&p);
    float *x = malloc(nx * sizeof *x), *dy = malloc(ndy * sizeof *dy);
    float *dw = malloc(nw * sizeof *dw), *db = malloc(nb * sizeof *db);
    bt_plan *plan = NULL;
    bt_status st = BT_ENOMEM;
    if (x && dy && dw && db) {
        /* Small integers, so every variant computes exactly the same sums. */
        for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 7) - 3;
        for (size_t i = 0; i < ndy; i++) dy[i] = (float)(i % 5) - 2;
        /* Plan once (variant NULL: the tuning table's or the heuristic's choice; params NULL:
         * defaults derived from this machine's caches), then execute as often as needed. */
        st = bt_plan_create(&plan, &p, NULL, NULL);
        if (st == BT_OK) {
            bt_tensors t = {.x = x, .dy = dy, .dw = dw, .db = db};
            st = bt_plan_execute(plan, &t);
        }
    }
    if (st == BT_OK) {
        char text[256];
        bt_problem_format(&p, text, sizeof text);
        printf("problem  %s\nvariant  %s\nparams   %s\nchecksum |dw| %.0f |db| %.0f\n", text,
               bt_plan_variant(plan), bt_plan_params(plan), sum_abs(dw, nw), sum_abs(db, nb));
    } else {
        fprintf(stderr, "backtune: %s: %s\n", bt_strerror(st), bt_last_error());
    }
    bt_plan_destroy(plan);
    free(x), free(dy), free(dw), free(db);
    return st == BT_OK ? 0 : 1;
}

/* Checks the peers against the double reference on small odd shapes (both layouts, stride,
 * padding, dilation, groups, depthwise, 1x1, FC, accumulate), so a peer's numbers in a
 * bench table are for the same work. Peers working in their own blocked layouts cannot be
 * compared element-wise; they are only created and run. Exit status 1 on any mismatch. */
#include "bench_impl.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const descriptors[] = {
    "mb2ic5ih9oc7kh3ph1",      "mb2ic4ih10iw9oc6kh3kw2sh2sw1ph1pw0",
    "mb1ic3ih11oc4kh3dh1ph2",  "g2mb2ic4ih7oc6kh3ph1",
    "g8mb2ic8ih7oc8kh3sh2ph1", "mb2ic6ih5oc7kh1",
    "mb2ic6ih6oc4kh1sh2",      "mb1ic3ih4oc2kh3ph3",
};
static const char *const fc_problems[] = {"fc_bwd_d mb3ic17oc9", "fc_bwd_w mb3ic17oc9",
                                          "fc_bwd_w mb1ic5oc3 accumulate"};

typedef struct buffers {
    float *x, *w, *dy, *dx, *dw, *db;
} buffers;

static int alloc_buffers(const bt_problem *p, buffers *b) {
    size_t nx = bt_problem_x_elems(p), nw = bt_problem_w_elems(p), ndy = bt_problem_dy_elems(p),
           ndb = bt_problem_db_elems(p);
    b->x = malloc(nx * sizeof(float)), b->dx = malloc(nx * sizeof(float));
    b->w = malloc(nw * sizeof(float)), b->dw = malloc(nw * sizeof(float));
    b->dy = malloc(ndy * sizeof(float)), b->db = malloc(ndb * sizeof(float));
    if (!b->x || !b->dx || !b->w || !b->dw || !b->dy || !b->db) return -1;
    bt_fill_random(b->x, nx, 1), bt_fill_random(b->w, nw, 2), bt_fill_random(b->dy, ndy, 3);
    /* Outputs start as random: what an accumulating run adds to, garbage otherwise. */
    bt_fill_random(b->dx, nx, 4), bt_fill_random(b->dw, nw, 5), bt_fill_random(b->db, ndb, 6);
    return 0;
}

static void free_buffers(buffers *b) {
    free(b->x), free(b->w), free(b->dy), free(b->dx), free(b->dw), free(b->db);
}

static bt_tensors tensors(const buffers *b) {
    return (bt_tensors){b->x, b->w, b->dy, b->dx, b->dw, b->db};
}

/* Max |got - want| relative to 1 + max |want|. */
static double rel_error(const float *got, const float *want, size_t n) {
    double err = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > err || isnan(d)) err = isnan(d) ? INFINITY : d;
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    }
    return err / scale;
}

/* 0 pass or skip, 1 fail. */
static int check_one(const bt_bench_impl *peer, const char *text) {
    bt_problem p;
    if (bt_problem_parse(text, &p) != BT_OK) {
        printf("FAIL %-22s %s: %s\n", peer->name, text, bt_last_error());
        return 1;
    }
    if (peer->supports(peer, &p) != BT_OK) {
        printf("SKIP %-22s %-45s %s\n", peer->name, text, bt_last_error());
        return 0;
    }
    buffers got, want;
    if (alloc_buffers(&p, &got) || alloc_buffers(&p, &want)) {
        printf("FAIL %-22s %s: out of memory\n", peer->name, text);
        return 1;
    }
    char ref_name[64];
    snprintf(ref_name, sizeof ref_name, "%s__ref", bt_op_name(p.op));
    bt_plan *ref = NULL;
    void *state = NULL;
    int fail = 1;
    bt_tensors tg = tensors(&got), tw = tensors(&want);
    if (bt_plan_create(&ref, &p, ref_name, NULL) != BT_OK || bt_plan_execute(ref, &tw) != BT_OK)
        printf("FAIL %-22s %s: reference: %s\n", peer->name, text, bt_last_error());
    else if (peer->create(peer, &p, 2, &state) != BT_OK || peer->execute(state, &tg) != BT_OK)
        printf("FAIL %-22s %s: %s\n", peer->name, text, bt_last_error());
    else if (strstr(peer->name, "blocked")) {
        printf("RAN  %-22s %-45s (own layouts: not compared)\n", peer->name, text);
        fail = 0;
    } else {
        int bwd_data = p.op == BT_CONV_BWD_DATA || p.op == BT_FC_BWD_DATA;
        double err = bwd_data ? rel_error(got.dx, want.dx, bt_problem_x_elems(&p))
                              : fmax(rel_error(got.dw, want.dw, bt_problem_w_elems(&p)),
                                     rel_error(got.db, want.db, bt_problem_db_elems(&p)));
        fail = !(err <= 1e-4);
        printf("%s %-22s %-45s rel_err=%.2g %s\n", fail ? "FAIL" : "PASS", peer->name, text, err,
               peer->describe(state));
    }
    if (state) peer->destroy(state);
    bt_plan_destroy(ref);
    free_buffers(&got), free_buffers(&want);
    return fail;
}

int main(void) {
    int failures = 0, peers = 0;
    for (int i = 0; bt_bench_peers[i]; i++) {
        const bt_bench_impl *peer = bt_bench_peers[i];
        if (peer->setup && peer->setup(peer) != BT_OK) {
            printf("SKIP %-22s unavailable: %s\n", peer->name, bt_last_error());
            continue;
        }
        peers++;
        static const char *const conv_ops[] = {"conv_bwd_d", "conv_bwd_w", "conv_bwd_d_nhwc",
                                               "conv_bwd_w_nhwc"};
        char text[160];
        for (size_t d = 0; d < sizeof descriptors / sizeof descriptors[0]; d++)
            for (size_t o = 0; o < sizeof conv_ops / sizeof conv_ops[0]; o++) {
                snprintf(text, sizeof text, "%s %s", conv_ops[o], descriptors[d]);
                failures += check_one(peer, text);
            }
        snprintf(text, sizeof text, "conv_bwd_w_nhwc %s accumulate", descriptors[3]);
        failures += check_one(peer, text);
        snprintf(text, sizeof text, "conv_bwd_d %s accumulate", descriptors[1]);
        failures += check_one(peer, text);
        for (size_t f = 0; f < sizeof fc_problems / sizeof fc_problems[0]; f++)
            failures += check_one(peer, fc_problems[f]);
    }
    printf("peer_selftest: %d peers, %d failures\n", peers, failures);
    return failures ? 1 : 0;
}

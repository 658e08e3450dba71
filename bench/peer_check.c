/* A peer against the double reference (peer_check.h). */
#include "peer_check.h"

#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buffers {
    float *x, *w, *dy, *dx, *dw, *db;
} buffers;

static void free_buffers(buffers *b) {
    free(b->x), free(b->w), free(b->dy), free(b->dx), free(b->dw), free(b->db);
    *b = (buffers){0};
}

static bt_status alloc_buffers(const bt_problem *p, buffers *b) {
    size_t nx = bt_problem_x_elems(p), nw = bt_problem_w_elems(p), ndy = bt_problem_dy_elems(p),
           ndb = bt_problem_db_elems(p);
    b->x = malloc(nx * sizeof(float)), b->dx = malloc(nx * sizeof(float));
    b->w = malloc(nw * sizeof(float)), b->dw = malloc(nw * sizeof(float));
    b->dy = malloc(ndy * sizeof(float)), b->db = malloc(ndb * sizeof(float));
    if (!b->x || !b->dx || !b->w || !b->dw || !b->dy || !b->db) {
        free_buffers(b);
        return bt_fail(BT_ENOMEM, "out of memory");
    }
    bt_fill_random(b->x, nx, 1), bt_fill_random(b->w, nw, 2), bt_fill_random(b->dy, ndy, 3);
    /* Outputs start as random: what an accumulating run adds to, garbage otherwise. */
    bt_fill_random(b->dx, nx, 4), bt_fill_random(b->dw, nw, 5), bt_fill_random(b->db, ndb, 6);
    return BT_OK;
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

/* The reference's outputs in `want`, the peer's in `got`. */
static bt_status run_both(const bt_bench_impl *peer, const bt_problem *p, int threads, buffers *got,
                          buffers *want, bt_peer_check_result *res) {
    char ref_name[64];
    snprintf(ref_name, sizeof ref_name, "%s__ref", bt_op_name(p->op));
    bt_plan *ref = NULL;
    bt_tensors tw = tensors(want), tg = tensors(got);
    bt_status st = bt_plan_create(&ref, p, ref_name, NULL);
    if (st == BT_OK) st = bt_plan_execute(ref, &tw);
    bt_plan_destroy(ref);
    if (st != BT_OK) return bt_fail(st, "reference: %s", bt_last_error());
    void *state = NULL;
    st = peer->create(peer, p, threads, &state);
    if (st == BT_OK && peer->load) st = peer->load(state, &tg);
    /* Twice, as the bench runs it, the second run's outputs compared: a peer must not add to
     * what the first left (unless the problem accumulates: then once). */
    for (int run = 0; run < (p->accumulate ? 1 : 2) && st == BT_OK; run++)
        st = peer->execute(state, &tg);
    res->compared = !peer->own_layouts || peer->store;
    if (st == BT_OK && peer->own_layouts && peer->store) st = peer->store(state, &tg);
    if (st == BT_OK) snprintf(res->describe, sizeof res->describe, "%s", peer->describe(state));
    if (state) peer->destroy(state);
    return st;
}

bt_status bt_peer_check(const bt_bench_impl *peer, const char *text, int threads,
                        bt_peer_check_result *res) {
    memset(res, 0, sizeof *res);
    bt_problem p;
    bt_status st = bt_problem_parse(text, &p);
    if (st != BT_OK) return st;
    if (peer->supports(peer, &p) != BT_OK) return BT_EUNSUPPORTED; /* the message kept */
    buffers got = {0}, want = {0};
    st = alloc_buffers(&p, &got);
    if (st == BT_OK) st = alloc_buffers(&p, &want);
    if (st == BT_OK) st = run_both(peer, &p, threads, &got, &want, res);
    if (st == BT_OK && res->compared) {
        int bwd_data = p.op == BT_CONV_BWD_DATA || p.op == BT_FC_BWD_DATA;
        res->rel_err = bwd_data ? rel_error(got.dx, want.dx, bt_problem_x_elems(&p))
                                : fmax(rel_error(got.dw, want.dw, bt_problem_w_elems(&p)),
                                       rel_error(got.db, want.db, bt_problem_db_elems(&p)));
    }
    res->pass = st == BT_OK && (!res->compared || res->rel_err <= BT_PEER_CHECK_TOLERANCE);
    free_buffers(&got), free_buffers(&want);
    return st;
}

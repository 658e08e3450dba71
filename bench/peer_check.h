/* A peer's outputs against the double reference on one problem: the check behind the peers'
 * self-test (peer_selftest, and a peer's own check at setup), so that a peer's numbers in a
 * bench table are for the same work. */
#ifndef BT_PEER_CHECK_H
#define BT_PEER_CHECK_H

#include "bench_impl.h"

/* Largest relative error (max |got - want| / (1 + max |want|)) a peer may have. */
#define BT_PEER_CHECK_TOLERANCE 1e-4

typedef struct bt_peer_check_result {
    int compared;       /* 0: the peer keeps its outputs in its own layouts and cannot hand
                         * them back (no store): it was only created and run */
    double rel_err;     /* over the op's outputs (bwd_weights: dW and db) */
    int pass;           /* compared and rel_err within the tolerance (or not compared) */
    char describe[256]; /* the peer's describe() of the run */
} bt_peer_check_result;

/* Runs `peer` with `threads` threads on the problem `text` (inputs random, outputs starting
 * random) twice (once if it accumulates) and compares the last run's outputs. BT_OK: it ran
 * (verdict in res); BT_EUNSUPPORTED: the peer does not take the problem; another status: it failed
 * to run. bt_last_error() says why. */
bt_status bt_peer_check(const bt_bench_impl *peer, const char *text, int threads,
                        bt_peer_check_result *res);

#endif

/* What `backtune bench` times, behind one interface: our registered variants and the peers
 * (other libraries doing the same work), so a peer is one more entry in the same tables,
 * timed and reported the same way. */
#ifndef BT_BENCH_IMPL_H
#define BT_BENCH_IMPL_H

#include "internal.h"

typedef struct bt_bench_impl bt_bench_impl;
struct bt_bench_impl {
    const char *name; /* the variant's name, or "peer:<library>[_<how>]" */
    int peer;         /* 1 for other libraries */
    int variant;      /* registry index of our variants, -1 for peers and dispatch */
    /* Once, before anything is registered, if the impl is selected: load the library, check
     * it if the peer has its own check, and add what the report should say about it
     * (bt_gbench_add_context). Failure (with bt_fail) drops the impl from the run with that
     * message: BT_EUNSUPPORTED when the library is not there or cannot start, BT_EINVAL when
     * the peer's own check found its results wrong. NULL: nothing to do. */
    bt_status (*setup)(const bt_bench_impl *impl);
    /* BT_OK if it can run p on this CPU, else BT_EUNSUPPORTED (bt_fail says why). */
    bt_status (*supports)(const bt_bench_impl *impl, const bt_problem *p);
    /* Everything execute needs (plan, primitives, scratch), allocated and touched, to run
     * with `threads` threads. Not timed. */
    bt_status (*create)(const bt_bench_impl *impl, const bt_problem *p, int threads, void **state);
    /* Peers that keep their tensors in their own layouts (1): execute reads its inputs from
     * and writes its outputs to those, not to t; load and store, when not NULL, copy between
     * them and t's plain buffers. Neither is timed. */
    int own_layouts;
    /* After create, before the first execute: t's inputs into the impl's layouts. */
    bt_status (*load)(void *state, const bt_tensors *t);
    /* After an execute: its outputs into t's plain buffers (the self-test compares them). */
    bt_status (*store)(void *state, const bt_tensors *t);
    /* The timed work: the problem's gradients from t (plain NCHW/NHWC float buffers). */
    bt_status (*execute)(void *state, const bt_tensors *t);
    /* Parameters or configuration in words, for the result's label. */
    const char *(*describe)(void *state);
    void (*destroy)(void *state);
};

/* Our registry's variant i as a bench impl. */
void bt_bench_variant_impl(int i, bt_bench_impl *out);

/* "dispatch": bt_plan_create with variant NULL (tuning table, else heuristic). */
extern const bt_bench_impl bt_bench_dispatch;

/* The peers compiled in, NULL-terminated. */
extern const bt_bench_impl *const bt_bench_peers[];

/* The ISA whose peak a result is compared with: the variant's own, or for a peer the best
 * this CPU has (libraries pick their kernels at run time). */
bt_isa bt_bench_impl_isa(const bt_bench_impl *impl);

#endif

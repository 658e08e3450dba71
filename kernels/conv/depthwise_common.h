/* Pieces shared by the depthwise variants (depthwise_{nhwc,nchw}_common.h and their op templates):
 * which shapes they take, the thread grid behind `par`, the interval bookkeeping that splits
 * a row into segments with a constant set of valid kernel taps, and the deterministic
 * reduction of per-thread partial dW/db. ISA-independent. */
#ifndef BT_DEPTHWISE_COMMON_H
#define BT_DEPTHWISE_COMMON_H

#include "internal.h"

#include <stdint.h>
#include <stdio.h>

/* par: how threads share the work. Threads form a grid of `rows` x `cols`: rows split the
 * batch (with its spatial rows where the variant allows it), cols split channels. */
static const char *const depthwise_par_choices[] = {"mb", "c", "2d", NULL};
#define DEPTHWISE_PAR_DOC "threads form a grid over samples (mb), channels (c), or both (2d)"
#define DEPTHWISE_NT_DOC "1: dx written with streaming (non-temporal) stores"
#define DEPTHWISE_CC_DOC                                                                           \
    "channels per chunk: rows outermost, channels in chunks of cc, so the rows in use stay in L2"
enum { DEPTHWISE_PAR_MB, DEPTHWISE_PAR_C, DEPTHWISE_PAR_2D };

/* Depthwise: one input channel per group (C/G = 1). kg = K/G is the channel multiplier. */
static inline int depthwise_supports(const bt_shape *s, bt_layout layout, int multiplier_ok,
                                     char *why, size_t size) {
    if (s->op != BT_CONV_BWD_DATA && s->op != BT_CONV_BWD_WEIGHTS) {
        snprintf(why, size, "conv only");
        return 0;
    }
    if (s->layout != layout) {
        snprintf(why, size, "%s only", layout == BT_NHWC ? "NHWC" : "NCHW");
        return 0;
    }
    if (s->cg != 1) {
        snprintf(why, size, "depthwise only (groups = input channels)");
        return 0;
    }
    if (s->kg != 1 && !multiplier_ok) {
        snprintf(why, size, "depthwise without channel multiplier only (K = C = groups)");
        return 0;
    }
    return 1;
}

typedef struct depthwise_range {
    int64_t u0, u1; /* this thread's units along the grid's rows (batch, or batch x rows) */
    int64_t c0, c1; /* this thread's channel units */
} depthwise_range;

/* Grid rows x cols = nthr for `par`; 2d picks the factorisation with the least work on the
 * busiest thread (ties: fewer rows, so less reduction). */
static inline void depthwise_grid(int par, int nthr, int64_t units, int64_t chans, int *rows,
                                  int *cols) {
    if (par == DEPTHWISE_PAR_MB) {
        *rows = nthr, *cols = 1;
        return;
    }
    if (par == DEPTHWISE_PAR_C) {
        *rows = 1, *cols = nthr;
        return;
    }
    int64_t best = -1;
    *rows = nthr, *cols = 1;
    for (int r = 1; r <= nthr; r++) {
        if (nthr % r) continue;
        int64_t work = bt_div_up(units, r) * bt_div_up(chans, nthr / r);
        if (best < 0 || work < best) best = work, *rows = r, *cols = nthr / r;
    }
}

static inline depthwise_range depthwise_thread_range(int par, int tid, int nthr, int64_t units,
                                                     int64_t chans) {
    int rows, cols;
    depthwise_grid(par, nthr, units, chans, &rows, &cols);
    depthwise_range g;
    bt_split(units, tid / cols, rows, &g.u0, &g.u1);
    bt_split(chans, tid % cols, cols, &g.c0, &g.c1);
    return g;
}

/* a / b rounded towards -inf and +inf (b > 0). */
static inline int64_t depthwise_floor_div(int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}
static inline int64_t depthwise_ceil_div(int64_t a, int64_t b) {
    return -depthwise_floor_div(-a, b);
}

/* Splits [0, total) at every bound of the n intervals [lo[i], hi[i]) that falls inside it;
 * writes the sorted distinct cut points, 0 and total included, to cuts (room for 2n + 2) and
 * returns their count. Between two consecutive cuts each interval either covers all or none. */
static inline int depthwise_segments(const int64_t *lo, const int64_t *hi, int n, int64_t total,
                                     int64_t *cuts) {
    int count = 0;
    cuts[count++] = 0;
    cuts[count++] = total;
    for (int i = 0; i < n; i++) {
        int64_t cand[2] = {lo[i], hi[i]};
        for (int e = 0; e < 2; e++) {
            int64_t v = cand[e];
            if (v <= 0 || v >= total) continue;
            int at = count;
            while (at > 0 && cuts[at - 1] > v) at--;
            if (at > 0 && cuts[at - 1] == v) continue;
            for (int m = count; m > at; m--) cuts[m] = cuts[m - 1];
            cuts[at] = v;
            count++;
        }
    }
    return count;
}

/* Final dW (and db) from per-thread partials: partial t holds, for channel k and slot
 * (slot < R*S: tap r*S+s; slot R*S: bias), the value at
 *     parts[t * part_stride + (k / lanes) * (taps + 1) * lanes + slot * lanes + k % lanes].
 * Threads split the channels; each output is prior (if accumulating) + partial 0 + partial 1
 * + ..., a fixed order, so reruns at one thread count are bit-identical. */
static inline void depthwise_reduce_partials(const bt_shape *s, const bt_tensors *t,
                                             const float *parts, size_t part_stride, int64_t lanes,
                                             int tid, int nthr) {
    int64_t taps = s->r * s->s, k0, k1;
    bt_split(s->k, tid, nthr, &k0, &k1);
    for (int64_t k = k0; k < k1; k++) {
        const float *base = parts + (k / lanes) * (taps + 1) * lanes + k % lanes;
        for (int64_t slot = 0; slot <= taps; slot++) {
            float *out = slot < taps ? &t->dw[k * taps + slot] : t->db ? &t->db[k] : NULL;
            if (!out) continue;
            float sum = s->accumulate ? *out : 0.0f;
            for (int th = 0; th < nthr; th++) sum += base[th * part_stride + slot * lanes];
            *out = sum;
        }
    }
}

/* The barrier between a variant's phases. One thread has nothing to wait for, and skipping the
 * barrier then keeps a single-threaded plan safe to run inside a caller's own parallel region
 * (an orphaned barrier would bind to the caller's team). */
static inline void depthwise_barrier(int nthr) {
    if (nthr > 1) {
#pragma omp barrier
    }
}

/* Prefetches (into L2) slice i of n of the cache lines of [base, base + bytes): spread over
 * the n steps of the current block's compute, it brings in the next block while this one runs
 * from cache, so the streams never stall between blocks. NULL base: nothing. */
static inline void depthwise_prefetch_slice(const void *base, int64_t bytes, int64_t i, int64_t n) {
    if (!base || bytes <= 0) return;
    const char *first = (const char *)((uintptr_t)base & ~(uintptr_t)(BT_ALIGN - 1));
    int64_t lines = ((const char *)base + bytes - first + BT_ALIGN - 1) / BT_ALIGN;
    for (int64_t l = lines * i / n; l < lines * (i + 1) / n; l++)
        __builtin_prefetch(first + l * BT_ALIGN, 0, 2);
}

/* A prefetch cursor over a run of cache lines, advanced a few lines per micro-kernel call
 * when the number of calls ahead is only known roughly. */
typedef struct depthwise_pf {
    const char *at;
    int64_t left, step; /* lines still to fetch, lines per call */
} depthwise_pf;

/* Cursor over [base, base + bytes) to be consumed in about `calls` calls. */
static inline depthwise_pf depthwise_pf_make(const void *base, int64_t bytes, int64_t calls) {
    depthwise_pf f = {NULL, 0, 0};
    if (!base || bytes <= 0) return f;
    f.at = (const char *)((uintptr_t)base & ~(uintptr_t)(BT_ALIGN - 1));
    f.left = ((const char *)base + bytes - f.at + BT_ALIGN - 1) / BT_ALIGN;
    f.step = (f.left + calls - 1) / bt_max64(1, calls);
    return f;
}

static inline void depthwise_pf_next(depthwise_pf *f) {
    for (int64_t m = 0; m < f->step && f->left > 0; m++, f->left--, f->at += BT_ALIGN)
        __builtin_prefetch(f->at, 0, 2);
}

/* Whether bwd_data writes dx with streaming stores by default: when dx is larger than the
 * team's L2 caches, as the shared L3 did not keep it between calls on the machine measured
 * (a Zen 4 VM, MobileNet-v2's depthwise layers at batch 8: streaming ahead from a dx of
 * 2.4 MB up, e.g. 445 vs 481 us on g192 28x28 NHWC, 1.67 vs 3.28 ms on g144 56x56; behind at
 * 1.5 MB, g960 7x7), so skipping the read-for-ownership saves a third of the traffic. */
static inline int depthwise_dx_streams(const bt_shape *s, int threads) {
    return !s->accumulate && (int64_t)(bt_shape_x_elems(s) * sizeof(float)) >
                                 (int64_t)threads * bt_machine_get()->l2_bytes;
}

/* Bytes rounded up to whole cache lines, so scratch regions stay 64-byte aligned. */
static inline size_t depthwise_align(size_t bytes) {
    return (bytes + BT_ALIGN - 1) / BT_ALIGN * BT_ALIGN;
}

#endif

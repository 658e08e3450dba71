/* Buffers, timing and reduced problems for the tuner (see measure.h). */
#include "measure.h"

#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

double bt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_filled(size_t n, uint64_t seed) {
    size_t bytes = ((n ? n : 1) * sizeof(float) + BT_ALIGN - 1) / BT_ALIGN * BT_ALIGN;
    float *p = aligned_alloc(BT_ALIGN, bytes);
    if (!p) return NULL;
    if (bytes >= (2u << 20)) madvise(p, bytes, MADV_HUGEPAGE);
    bt_fill_random(p, n, seed); /* also the first touch of every page */
    return p;
}

void bt_buffers_free(bt_buffers *b) {
    float **all[] = {&b->x, &b->w, &b->dy, &b->dx, &b->dw, &b->db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(*all[i]), *all[i] = NULL;
}

bt_status bt_buffers_alloc(bt_buffers *b, const bt_problem *p) {
    memset(b, 0, sizeof *b);
    size_t nx = bt_problem_x_elems(p), nw = bt_problem_w_elems(p);
    size_t ndy = bt_problem_dy_elems(p), ndb = bt_problem_db_elems(p);
    if (!nx || !nw || !ndy) return bt_fail(BT_EINVAL, "tuner: invalid problem");
    b->x = alloc_filled(nx, 1);
    b->w = alloc_filled(nw, 2);
    b->dy = alloc_filled(ndy, 3);
    b->dx = alloc_filled(nx, 4);
    b->dw = alloc_filled(nw, 5);
    b->db = alloc_filled(ndb, 6);
    if (!b->x || !b->w || !b->dy || !b->dx || !b->dw || !b->db) {
        bt_buffers_free(b);
        return bt_fail(BT_ENOMEM, "tuner: cannot allocate the problem's tensors");
    }
    return BT_OK;
}

bt_tensors bt_buffers_tensors(const bt_buffers *b) {
    return (bt_tensors){.x = b->x, .w = b->w, .dy = b->dy, .dx = b->dx, .dw = b->dw, .db = b->db};
}

void bt_timing_defaults(bt_timing_options *o) {
    *o = (bt_timing_options){.min_reps = 3,
                             .max_reps = 15,
                             .rep_seconds = 0.2,
                             .cap_seconds = 2.0,
                             .abandon_ratio = 1.3,
                             .abandon_reps = 2,
                             .warmup_ratio = 5.2,
                             .best_seconds = 0};
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bt_status run_timed(bt_plan *plan, const bt_tensors *t, double *seconds) {
    double t0 = bt_now();
    bt_status st = bt_plan_execute(plan, t);
    *seconds = bt_now() - t0;
    return st;
}

double bt_sort_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void summarize(const double *runs, int n, bt_timing *out) {
    double sorted[64];
    memcpy(sorted, runs, (size_t)n * sizeof *runs);
    out->median_s = bt_sort_median(sorted, n);
    out->reps = n;
    out->min_s = sorted[0];
    out->max_s = sorted[n - 1];
    out->spread = out->min_s > 0 ? (out->max_s - out->min_s) / out->min_s : 0;
}

bt_status bt_time_plan(bt_plan *plan, const bt_buffers *b, const bt_timing_options *o,
                       bt_timing *out) {
    memset(out, 0, sizeof *out);
    bt_tensors t = bt_buffers_tensors(b);
    double runs[64];
    int max_reps = o->max_reps < 64 ? o->max_reps : 64;
    bt_status st = run_timed(plan, &t, &out->warmup_s);
    if (st != BT_OK) return st;
    double best = o->best_seconds;
    out->timed_out = out->warmup_s > o->cap_seconds;
    /* A cold first run can be slow: only a far slower one (a naive kernel) ends it here. */
    out->abandoned = best > 0 && out->warmup_s > o->warmup_ratio * best;
    if (out->timed_out || out->abandoned) {
        summarize(&out->warmup_s, 1, out);
        return BT_OK;
    }
    double spent = out->warmup_s, timed = 0;
    int n = 0;
    while (n < max_reps) {
        if ((st = run_timed(plan, &t, &runs[n])) != BT_OK) return st;
        timed += runs[n], spent += runs[n], n++;
        double min = runs[0];
        for (int i = 1; i < n; i++) min = runs[i] < min ? runs[i] : min;
        if (best > 0 && n >= o->abandon_reps && min > o->abandon_ratio * best) {
            out->abandoned = 1;
            break;
        }
        if ((n >= o->min_reps && timed >= o->rep_seconds) || spent >= o->cap_seconds) break;
    }
    summarize(runs, n, out);
    return BT_OK;
}

bt_status bt_time_min(bt_plan *plan, const bt_buffers *b, int runs, double *min_s) {
    bt_tensors t = bt_buffers_tensors(b);
    *min_s = 0;
    for (int i = 0; i < runs; i++) {
        double s;
        bt_status st = run_timed(plan, &t, &s);
        if (st != BT_OK) return st;
        *min_s = i == 0 || s < *min_s ? s : *min_s;
    }
    return BT_OK;
}

/* Smallest input extent that keeps two output positions of this stride (or the whole extent
 * when it is smaller already). */
static int64_t min_extent(int64_t in, int64_t ker, int64_t stride, int64_t pad, int64_t pad_end,
                          int64_t dil) {
    int64_t need = dil * (ker - 1) + 1 + stride - pad - pad_end;
    if (need < 1) need = 1;
    return need < in ? need : in;
}

int bt_reduce_problem(const bt_problem *p, double max_flops, bt_problem *out) {
    bt_problem q;
    if (bt_problem_normalize(p, &q) != BT_OK) {
        *out = *p;
        return 0;
    }
    int fc = q.op == BT_FC_BWD_DATA || q.op == BT_FC_BWD_WEIGHTS;
    /* A negative end padding only drops a stride's leftover rows; on a smaller image the same
     * value could cut whole strides off, which no problem may, so the copy pads with 0. */
    q.pad_h_end = bt_max64(q.pad_h_end, 0);
    q.pad_w_end = bt_max64(q.pad_w_end, 0);
    int64_t hmin =
        min_extent(q.h, q.r, q.stride_h, q.pad_h, q.pad_end_set ? q.pad_h_end : q.pad_h, q.dil_h);
    int64_t wmin =
        min_extent(q.w, q.s, q.stride_w, q.pad_w, q.pad_end_set ? q.pad_w_end : q.pad_w, q.dil_w);
    if (q.n > 2 && !fc) q.n = 2; /* FC keeps what it can: its batch is its M dimension */
    while (bt_problem_flops(&q) > max_flops) {
        if (q.h > hmin || q.w > wmin) {
            q.h = bt_max64(hmin, q.h / 2);
            q.w = bt_max64(wmin, q.w / 2);
        } else if (q.n > 1) {
            q.n = q.n / 2;
        } else {
            break;
        }
    }
    *out = q;
    bt_problem norm;
    bt_problem_normalize(p, &norm);
    return q.n != norm.n || q.h != norm.h || q.w != norm.w;
}

int bt_cut_minibatch(const bt_problem *p, int threads, double cost, double target_cost,
                     bt_problem *out) {
    *out = *p;
    if (!(cost > 0) || threads < 1) return 0;
    double wanted = (double)p->n * target_cost / cost;
    int64_t n = ((int64_t)wanted + threads) / threads * threads; /* above wanted, a multiple */
    if (2 * n > p->n) return 0;
    out->n = n;
    return 1;
}

int bt_screen_problem(const bt_problem *p, int threads, double run_seconds, double target_seconds,
                      bt_problem *out) {
    *out = *p;
    if (p->op == BT_FC_BWD_DATA || p->op == BT_FC_BWD_WEIGHTS) return 0;
    return bt_cut_minibatch(p, threads, run_seconds, target_seconds, out);
}

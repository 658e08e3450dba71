/* The window kernel of depthwise bwd_data in NCHW, 3x3 and 5x5 flat planes
 * (depthwise_bwd_d_nchw_impl.h, AVX-512 and AVX2 builds; included once per ISA build, so no
 * include guard).
 *
 * The flat case (stride 1, dx plane = dy plane) with 3x3 taps, no dilation, padding 1:
 * dx[f] = sum over taps (r, s) of w[r][s] * dy[f + (1 - r) * w + (1 - s)], where the dy
 * position lies in the plane and in f's row shifted by 1 - s. With
 * T_s[g] = sum over r of w[r][s] * dy[g + (1 - r) * w] (dy masked to zero outside the plane),
 * dx[f] = T_1[f] + T_0[f + 1] + T_2[f - 1], the outer two where f's column plus one, and
 * minus one, lies in the row. So each vector of positions loads three dy vectors, one per tap
 * row, makes the three T by nine FMAs at aligned positions, and shifts T_0 and T_2 by one
 * lane (valignd on AVX-512) from a sliding window: four loads and two shuffles per nine FMAs, where
 * the masked-load flat kernel needs nine unaligned loads, which split cache lines and leave
 * the load port, not the FMAs, setting the pace.
 */

typedef struct depthwise_bwd_d_window_args {
    int64_t hw, w, nvec; /* plane, row, vectors per plane */
    /* Lane masks per vector v (K = 3 or 5 taps a side, P = K / 2): col[v][K - 1], for tap
     * column s != P, the lanes whose column plus P - s lies in the row; inside[v][K] (v up to
     * nvec), those of tap row r's dy load, at v * V + (P - r) * w, inside the plane. */
    const uint16_t *col, *inside;
    int accumulate, stream;
} depthwise_bwd_d_window_args;

/* T_s of vector v for the K tap columns: the K dy loads of its tap rows times the weights. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_window_sums(const depthwise_bwd_d_window_args *a,
                                                       const float *dy, const float *w, int64_t v,
                                                       bt_vf *t, const int K) {
    const uint16_t *in = a->inside + K * v;
    bt_vf d[5];
#pragma GCC unroll 5
    for (int r = 0; r < K; r++)
        d[r] = depthwise_lanes_load(&in[r], dy + v * DEPTHWISE_NCHW_V + (K / 2 - r) * a->w);
#pragma GCC unroll 5
    for (int s = 0; s < K; s++) {
        t[s] = bt_vmul(bt_vbcast(w + s), d[0]);
#pragma GCC unroll 5
        for (int r = 1; r < K; r++) t[s] = bt_vfmadd(bt_vbcast(w + r * K + s), d[r], t[s]);
    }
}

/* dx plane (+)= the transposed KxK convolution of dy plane with weights w[K * K]. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_window_plane(const depthwise_bwd_d_window_args *a,
                                                        const float *dy, const float *w, float *dx,
                                                        const float *pf, const int K) {
    const int P = K / 2;
    const int64_t nvec = a->nvec, last = nvec - 1;
    const uint16_t tail = (uint16_t)((1u << (a->hw - last * DEPTHWISE_NCHW_V)) - 1u);
    bt_vf prev[5], cur[5], next[5];
#pragma GCC unroll 5
    for (int s = 0; s < K; s++) prev[s] = bt_vzero();
    depthwise_bwd_d_window_sums(a, dy, w, 0, cur, K);
    const uint16_t *col = a->col;
    for (int64_t v = 0; v < nvec; v++, col += K - 1) {
        __builtin_prefetch(pf + v * DEPTHWISE_NCHW_V, 0, 2);
        depthwise_bwd_d_window_sums(a, dy, w, v + 1, next, K);
        /* dx[f] = sum over s of T_s[f + P - s], in f's row. */
        bt_vf out = cur[P];
#pragma GCC unroll 5
        for (int s = 0; s < K; s++)
            if (s != P)
                out = depthwise_lanes_add(out, &col[s < P ? s : s - 1],
                                          depthwise_lanes_shift(prev[s], cur[s], next[s], P - s));
        float *o = dx + v * DEPTHWISE_NCHW_V;
        if (v == last && tail != DEPTHWISE_NCHW_ALL_LANES) {
            if (a->accumulate) out = bt_vadd(out, depthwise_lanes_load(&tail, o));
            depthwise_lanes_store(o, tail, out);
        } else if (a->accumulate) {
            bt_vstore(o, bt_vadd(bt_vload(o), out));
        } else if (a->stream) {
            depthwise_nchw_vstream(o, out);
        } else {
            bt_vstore(o, out);
        }
#pragma GCC unroll 5
        for (int s = 0; s < K; s++) prev[s] = cur[s], cur[s] = next[s];
    }
}

/* The thread's (sample, channel) planes, channels inner: planes in memory order. masks:
 * scratch of depthwise_bwd_d_window_masks. */
static void BT_SIMD_NAME(depthwise_bwd_d_window_run)(const bt_plan *plan, const bt_tensors *t,
                                                     int stream, uint16_t *masks, int tid,
                                                     int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t hw = s->h * s->w, nvec = bt_div_up(hw, DEPTHWISE_NCHW_V);
    const int64_t K = s->r, P = K / 2;
    uint16_t *col = masks, *inside = masks + (K - 1) * nvec;
    for (int64_t v = 0; v <= nvec; v++) {
        const int64_t f0 = v * DEPTHWISE_NCHW_V;
        for (int64_t r = 0; r < K; r++)
            inside[K * v + r] = depthwise_nchw_lanes_inside(f0 + (P - r) * s->w, hw);
        if (v == nvec) break;
        for (int64_t ks = 0, m = 0; ks < K; ks++)
            if (ks != P) col[(K - 1) * v + m++] = depthwise_nchw_lanes_in_row(f0, s->w, P - ks);
    }
    const depthwise_bwd_d_window_args a = {.hw = hw,
                                           .w = s->w,
                                           .nvec = nvec,
                                           .col = col,
                                           .inside = inside,
                                           .accumulate = s->accumulate,
                                           .stream = stream};
    depthwise_range g =
        depthwise_thread_range((int)plan->param[DEPTHWISE_BWD_D_NCHW_PAR], tid, nthr, s->n, s->c);
    for (int64_t n = g.u0; n < g.u1; n++)
        for (int64_t c = g.c0; c < g.c1; c++) {
            /* Next in this order: channel c + 1, or the first of sample n + 1. */
            const int64_t ahead = c + 1 < g.c1   ? hw
                                  : n + 1 < g.u1 ? (s->c - (g.c1 - g.c0) + 1) * hw
                                                 : 0;
            const float *dy = t->dy + (n * s->k + c) * hw;
            float *dx = t->dx + (n * s->c + c) * hw;
            if (K == 3)
                depthwise_bwd_d_window_plane(&a, dy, t->w + c * 9, dx, dy + ahead, 3);
            else
                depthwise_bwd_d_window_plane(&a, dy, t->w + c * 25, dx, dy + ahead, 5);
        }
    if (stream) _mm_sfence();
}

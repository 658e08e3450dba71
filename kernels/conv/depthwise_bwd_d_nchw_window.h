/* The window kernel of depthwise bwd_data in NCHW, 3x3 flat planes
 * (depthwise_bwd_d_nchw_impl.h, AVX-512 builds; included once per ISA build, so no include
 * guard).
 *
 * The flat case (stride 1, dx plane = dy plane) with 3x3 taps, no dilation, padding 1:
 * dx[f] = sum over taps (r, s) of w[r][s] * dy[f + (1 - r) * w + (1 - s)], where the dy
 * position lies in the plane and in f's row shifted by 1 - s. With
 * T_s[g] = sum over r of w[r][s] * dy[g + (1 - r) * w] (dy masked to zero outside the plane),
 * dx[f] = T_1[f] + T_0[f + 1] + T_2[f - 1], the outer two where f's column plus one, and
 * minus one, lies in the row. So each vector of positions loads three dy vectors, one per tap
 * row, makes the three T by nine FMAs at aligned positions, and shifts T_0 and T_2 by one
 * lane with valignd from a sliding window: four loads and two shuffles per nine FMAs, where
 * the masked-load flat kernel needs nine unaligned loads, which split cache lines and leave
 * the load port, not the FMAs, setting the pace.
 */

typedef struct depthwise_bwd_d_window_args {
    int64_t hw, w, nvec; /* plane, row, vectors per plane */
    /* Lane masks per vector v: col[v][2], the lanes whose column plus one, and minus one, lies
     * in the row; inside[v][3] (v up to nvec), those of tap row r's dy load, at
     * v * V + (1 - r) * w, inside the plane. */
    const uint16_t *col, *inside;
    int accumulate, stream;
} depthwise_bwd_d_window_args;

/* T_0, T_1, T_2 of vector v: the three dy loads of its tap rows times the weights. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_window_sums(const depthwise_bwd_d_window_args *a,
                                                       const float *dy, const bt_vf *wv, int64_t v,
                                                       bt_vf *t) {
    const uint16_t *in = a->inside + 3 * v;
    bt_vf d[3];
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++)
        d[r] = _mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)&in[r]),
                                     dy + v * DEPTHWISE_NCHW_V + (1 - r) * a->w);
#pragma GCC unroll 3
    for (int s = 0; s < 3; s++)
        t[s] = bt_vfmadd(wv[6 + s], d[2], bt_vfmadd(wv[3 + s], d[1], bt_vmul(wv[s], d[0])));
}

/* dx plane (+)= the transposed 3x3 convolution of dy plane with weights w[9]. */
DEPTHWISE_NCHW_INLINE void depthwise_bwd_d_window_plane(const depthwise_bwd_d_window_args *a,
                                                        const float *dy, const float *w, float *dx,
                                                        const float *pf) {
    bt_vf wv[9];
#pragma GCC unroll 9
    for (int k = 0; k < 9; k++) wv[k] = bt_vbcast(w + k);
    const int64_t nvec = a->nvec, last = nvec - 1;
    const __mmask16 tail = bt_vmask((int)(a->hw - last * DEPTHWISE_NCHW_V));
    bt_vf cur[3], next[3], t2prev = bt_vzero();
    depthwise_bwd_d_window_sums(a, dy, wv, 0, cur);
    const uint16_t *col = a->col;
    for (int64_t v = 0; v < nvec; v++, col += 2) {
        __builtin_prefetch(pf + v * DEPTHWISE_NCHW_V, 0, 2);
        depthwise_bwd_d_window_sums(a, dy, wv, v + 1, next);
        const __m512i t0c = _mm512_castps_si512(cur[0]), t0n = _mm512_castps_si512(next[0]),
                      t2p = _mm512_castps_si512(t2prev), t2c = _mm512_castps_si512(cur[2]);
        bt_vf out = _mm512_mask_add_ps(cur[1], _load_mask16((__mmask16 *)&col[0]), cur[1],
                                       _mm512_castsi512_ps(_mm512_alignr_epi32(t0n, t0c, 1)));
        out = _mm512_mask_add_ps(out, _load_mask16((__mmask16 *)&col[1]), out,
                                 _mm512_castsi512_ps(_mm512_alignr_epi32(t2c, t2p, 15)));
        float *o = dx + v * DEPTHWISE_NCHW_V;
        if (v == last && tail != (__mmask16)0xffff) {
            if (a->accumulate) out = bt_vadd(out, _mm512_maskz_loadu_ps(tail, o));
            _mm512_mask_storeu_ps(o, tail, out);
        } else if (a->accumulate) {
            bt_vstore(o, bt_vadd(bt_vload(o), out));
        } else if (a->stream) {
            depthwise_nchw_vstream(o, out);
        } else {
            bt_vstore(o, out);
        }
        t2prev = cur[2];
        cur[0] = next[0], cur[1] = next[1], cur[2] = next[2];
    }
}

/* The thread's (sample, channel) planes, channels inner: planes in memory order. masks:
 * scratch of depthwise_bwd_d_window_masks. */
static void BT_SIMD_NAME(depthwise_bwd_d_window_run)(const bt_plan *plan, const bt_tensors *t,
                                                     int stream, uint16_t *masks, int tid,
                                                     int nthr) {
    const bt_shape *s = &plan->shape;
    const int64_t hw = s->h * s->w, nvec = bt_div_up(hw, DEPTHWISE_NCHW_V);
    uint16_t *col = masks, *inside = masks + 2 * nvec;
    for (int64_t v = 0; v <= nvec; v++) {
        const int64_t f0 = v * DEPTHWISE_NCHW_V;
        for (int64_t r = 0; r < 3; r++)
            inside[3 * v + r] = depthwise_nchw_lanes_inside(f0 + (1 - r) * s->w, hw);
        if (v == nvec) break;
        col[2 * v] = depthwise_nchw_lanes_in_row(f0, s->w, 1);
        col[2 * v + 1] = depthwise_nchw_lanes_in_row(f0, s->w, -1);
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
            depthwise_bwd_d_window_plane(&a, dy, t->w + c * 9, t->dx + (n * s->c + c) * hw,
                                         dy + ahead);
        }
    if (stream) _mm_sfence();
}

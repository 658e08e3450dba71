/* Direct conv bwd_weights (direct_bwd_w_impl.h): the register tiles, one function per tile shape of
 * the grid and kind of operand. Part of the template, included once per ISA build; no include
 * guard. */

/* The grid of register tiles (rows kt x column units cw) that exist as functions: every
 * kt of direct_bwd_w_kt_sizes with cw <= 4 and at most 24 accumulators. Smaller tiles of the grid
 * cover the edges of the rows and columns (greedy), so it is closed under shrinking. */
#define DIRECT_BWD_W_KT_MAX 12
#define DIRECT_BWD_W_CW_MAX 4
#define DIRECT_BWD_W_KT_COUNT 7
/* clang-format off */
#define DIRECT_BWD_W_TILE_GRID(X)                                                                  \
    X(1, 1)  X(1, 2)  X(1, 3)  X(1, 4)                                                             \
    X(2, 1)  X(2, 2)  X(2, 3)  X(2, 4)                                                             \
    X(4, 1)  X(4, 2)  X(4, 3)  X(4, 4)                                                             \
    X(6, 1)  X(6, 2)  X(6, 3)  X(6, 4)                                                             \
    X(7, 1)  X(7, 2)  X(7, 3)                                                                      \
    X(8, 1)  X(8, 2)  X(8, 3)                                                                      \
    X(12, 1) X(12, 2)
/* clang-format on */
static const int direct_bwd_w_kt_sizes[DIRECT_BWD_W_KT_COUNT] = {12, 8, 7, 6, 4, 2, 1};
/* Index of a grid kt in the function table. */
#define DIRECT_BWD_W_KT_INDEX(kt)                                                                  \
    ((kt) == 1   ? 0                                                                               \
     : (kt) == 2 ? 1                                                                               \
     : (kt) == 4 ? 2                                                                               \
     : (kt) == 6 ? 3                                                                               \
     : (kt) == 7 ? 4                                                                               \
     : (kt) == 8 ? 5                                                                               \
                 : 6)

static int direct_bwd_w_in_grid(int kt, int cw) {
    for (int i = 0; i < DIRECT_BWD_W_KT_COUNT; i++)
        if (direct_bwd_w_kt_sizes[i] == kt)
            return cw >= 1 && cw <= DIRECT_BWD_W_CW_MAX && kt * cw <= 24;
    return 0;
}

/* Filters in the next tile: the main size while it fits, then the largest grid size left. */
static int direct_bwd_w_next_kt(int64_t remaining, int main_kt) {
    if (remaining >= main_kt) return main_kt;
    for (int i = 0; i < DIRECT_BWD_W_KT_COUNT; i++)
        if (direct_bwd_w_kt_sizes[i] <= remaining) return direct_bwd_w_kt_sizes[i];
    return 1;
}

/* One kernel call: a tile of dW_rs summed over a block of output positions, images x rows x
 * positions per row (NCHW flat: one run per image). The tile's row operand `a` (kt rows) and
 * column operand `b` (cw units) are dy and x, or x and dy for NHWC vec=k. */
typedef struct direct_bwd_w_call {
    const float *a, *b;           /* at the block's first position, first row / column */
    int64_t images, rows, len;    /* block extent: images x rows x positions (or lanes) per row */
    int64_t a_img, a_row, a_step; /* a's steps per image, per row, and NHWC: per position, */
    int64_t b_img, b_row, b_step; /* NCHW: per tile row (a) / tile column (b); same for b */
    float *out;                   /* partial at (first row, tap, first column) */
    int64_t out_row;              /* its tile-row stride */
    int fresh;                    /* 1: overwrite out, 0: add to it */
    bt_vmask_t tail;              /* NHWC: lanes of the last column vector */
    const bt_vmask_t *phase_mask; /* NCHW flat: x lane masks by q phase of a vector's lane 0 */
    int64_t q, v_mod_q;           /* NCHW flat: Q and BT_VLEN mod Q */
} direct_bwd_w_call;

typedef void (*direct_bwd_w_tile_fn)(const direct_bwd_w_call *);

/* NHWC: acc[i][v] += a[pos, i] * b[pos, v*VLEN ..] over the block: a broadcast, b loaded. */
DIRECT_BWD_W_INLINE void direct_bwd_w_nhwc_tile(const int kt, const int cw, const int masked,
                                                const direct_bwd_w_call *call) {
    bt_vf acc[DIRECT_BWD_W_KT_MAX][DIRECT_BWD_W_CW_MAX];
    const bt_vmask_t tail = call->tail;
#define NHWC_LAST(v) (masked && (v) == cw - 1)
    if (call->fresh) {
        DIRECT_BWD_W_UNROLL for (int i = 0; i < kt; i++)
            DIRECT_BWD_W_UNROLL for (int v = 0; v < cw; v++) acc[i][v] = bt_vzero();
    } else {
        DIRECT_BWD_W_UNROLL for (int i = 0; i < kt; i++)
            DIRECT_BWD_W_UNROLL for (int v = 0; v < cw; v++) {
            const float *o = call->out + i * call->out_row + v * BT_VLEN;
            acc[i][v] = NHWC_LAST(v) ? bt_vload_mask(o, tail) : bt_vload(o);
        }
    }
    for (int64_t img = 0; img < call->images; img++) {
        const float *a_row = call->a + img * call->a_img, *b_row = call->b + img * call->b_img;
        for (int64_t row = 0; row < call->rows; row++, a_row += call->a_row, b_row += call->b_row) {
            const float *pa = a_row, *pb = b_row;
            for (int64_t q = 0; q < call->len; q++, pa += call->a_step, pb += call->b_step) {
                bt_vf bv[DIRECT_BWD_W_CW_MAX];
                DIRECT_BWD_W_UNROLL for (int v = 0; v < cw; v++) bv[v] =
                    NHWC_LAST(v) ? bt_vload_mask(pb + v * BT_VLEN, tail)
                                 : bt_vload(pb + v * BT_VLEN);
                DIRECT_BWD_W_UNROLL for (int i = 0; i < kt; i++) {
                    const bt_vf av = bt_vbcast(pa + i);
                    DIRECT_BWD_W_UNROLL for (int v = 0; v < cw; v++) acc[i][v] =
                        bt_vfmadd(av, bv[v], acc[i][v]);
                }
            }
        }
    }
    DIRECT_BWD_W_UNROLL for (int i = 0; i < kt; i++)
        DIRECT_BWD_W_UNROLL for (int v = 0; v < cw; v++) {
        float *o = call->out + i * call->out_row + v * BT_VLEN;
        if (NHWC_LAST(v))
            bt_vstore_mask(o, tail, acc[i][v]);
        else
            bt_vstore(o, acc[i][v]);
    }
#undef NHWC_LAST
}

/* NCHW: one vector step of a tile; a (dy) and b (x) lanes masked when asked. */
DIRECT_BWD_W_INLINE void direct_bwd_w_nchw_step(const int kt, const int ct,
                                                bt_vf acc[DIRECT_BWD_W_KT_MAX][DIRECT_BWD_W_CW_MAX],
                                                const float *pa, int64_t a_step, const float *pb,
                                                int64_t b_step, const int a_masked,
                                                bt_vmask_t a_mask, const int b_masked,
                                                bt_vmask_t b_mask) {
    bt_vf bv[DIRECT_BWD_W_CW_MAX];
    DIRECT_BWD_W_UNROLL for (int c = 0; c < ct; c++) bv[c] =
        b_masked ? bt_vload_mask(pb + c * b_step, b_mask) : bt_vload(pb + c * b_step);
    DIRECT_BWD_W_UNROLL for (int i = 0; i < kt; i++) {
        const bt_vf av =
            a_masked ? bt_vload_mask(pa + i * a_step, a_mask) : bt_vload(pa + i * a_step);
        DIRECT_BWD_W_UNROLL for (int c = 0; c < ct; c++) acc[i][c] =
            bt_vfmadd(av, bv[c], acc[i][c]);
    }
}

/* NCHW: acc[i][c] += dy[n, k0+i, pos..] * x[n, c0+c, pos'..], vectors along positions,
 * summed horizontally into the partial at the end. */
DIRECT_BWD_W_INLINE void direct_bwd_w_nchw_tile(const int kt, const int ct, const int flat,
                                                const direct_bwd_w_call *call) {
    bt_vf acc[DIRECT_BWD_W_KT_MAX][DIRECT_BWD_W_CW_MAX];
    DIRECT_BWD_W_UNROLL for (int i = 0; i < kt; i++)
        DIRECT_BWD_W_UNROLL for (int c = 0; c < ct; c++) acc[i][c] = bt_vzero();
    const int64_t a_step = call->a_step, b_step = call->b_step;
    for (int64_t img = 0; img < call->images; img++) {
        const float *a_row = call->a + img * call->a_img, *b_row = call->b + img * call->b_img;
        for (int64_t row = 0; row < call->rows; row++, a_row += call->a_row, b_row += call->b_row) {
            const float *pa = a_row, *pb = b_row;
            int64_t q = 0, phase = 0;
            for (; q + BT_VLEN <= call->len; q += BT_VLEN, pa += BT_VLEN, pb += BT_VLEN) {
                if (flat) {
                    direct_bwd_w_nchw_step(kt, ct, acc, pa, a_step, pb, b_step, 0, call->tail, 1,
                                           call->phase_mask[phase]);
                    phase += call->v_mod_q;
                    if (phase >= call->q) phase -= call->q;
                } else {
                    direct_bwd_w_nchw_step(kt, ct, acc, pa, a_step, pb, b_step, 0, call->tail, 0,
                                           call->tail);
                }
            }
            if (q < call->len) {
                const bt_vmask_t t = bt_vmask((int)(call->len - q));
                const bt_vmask_t bm = flat ? direct_bwd_w_mask_and(call->phase_mask[phase], t) : t;
                direct_bwd_w_nchw_step(kt, ct, acc, pa, a_step, pb, b_step, 1, t, 1, bm);
            }
        }
    }
    const bt_vf zero = bt_vzero();
    DIRECT_BWD_W_UNROLL for (int i = 0; i < kt; i++) {
        float sums[DIRECT_BWD_W_CW_MAX];
        direct_bwd_w_hsum4(acc[i][0], ct > 1 ? acc[i][1] : zero, ct > 2 ? acc[i][2] : zero,
                           ct > 3 ? acc[i][3] : zero, sums);
        float *o = call->out + i * call->out_row;
        DIRECT_BWD_W_UNROLL for (int c = 0; c < ct; c++) o[c] =
            call->fresh ? sums[c] : o[c] + sums[c];
    }
}

/* Kinds of tile function, the last index of direct_bwd_w_tiles. */
enum {
    DIRECT_BWD_W_NHWC,
    DIRECT_BWD_W_NHWC_MASKED,
    DIRECT_BWD_W_NCHW_ROWS,
    DIRECT_BWD_W_NCHW_FLAT,
    DIRECT_BWD_W_KINDS
};

#define DIRECT_BWD_W_DEFINE(kt, cw)                                                                \
    static void direct_bwd_w_nhwc_##kt##x##cw(const direct_bwd_w_call *call) {                     \
        direct_bwd_w_nhwc_tile(kt, cw, 0, call);                                                   \
    }                                                                                              \
    static void direct_bwd_w_nhwc_##kt##x##cw##_masked(const direct_bwd_w_call *call) {            \
        direct_bwd_w_nhwc_tile(kt, cw, 1, call);                                                   \
    }                                                                                              \
    static void direct_bwd_w_nchw_##kt##x##cw(const direct_bwd_w_call *call) {                     \
        direct_bwd_w_nchw_tile(kt, cw, 0, call);                                                   \
    }                                                                                              \
    static void direct_bwd_w_nchw_##kt##x##cw##_flat(const direct_bwd_w_call *call) {              \
        direct_bwd_w_nchw_tile(kt, cw, 1, call);                                                   \
    }
DIRECT_BWD_W_TILE_GRID(DIRECT_BWD_W_DEFINE)
#undef DIRECT_BWD_W_DEFINE

#define DIRECT_BWD_W_ENTRY(kt, cw)                                                                 \
    [DIRECT_BWD_W_KT_INDEX(kt)][(cw)-1] = {                                                        \
        direct_bwd_w_nhwc_##kt##x##cw, direct_bwd_w_nhwc_##kt##x##cw##_masked,                     \
        direct_bwd_w_nchw_##kt##x##cw, direct_bwd_w_nchw_##kt##x##cw##_flat},
static const direct_bwd_w_tile_fn direct_bwd_w_tiles[DIRECT_BWD_W_KT_COUNT][DIRECT_BWD_W_CW_MAX]
                                                    [DIRECT_BWD_W_KINDS] = {
                                                        DIRECT_BWD_W_TILE_GRID(DIRECT_BWD_W_ENTRY)};
#undef DIRECT_BWD_W_ENTRY

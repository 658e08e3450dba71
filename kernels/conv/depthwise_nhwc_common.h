/* Depthwise convolution backward in NHWC, the part its two op templates share
 * (depthwise_bwd_d_nhwc_impl.h, depthwise_bwd_w_nhwc_impl.h): per-ISA settings, the shape
 * check, the channel chunk and the per-thread lists. Included once per ISA build after
 * common/simd.h, so it has no include guard. Takes groups = C = K (channel multiplier 1); any
 * stride, padding, dilation. Both ops walk rows outermost and channels inside, in chunks of
 * `cc` channels, so the few rows in use stay in L2 while every channel of them is processed.
 */
#include "common/simd.h"
#include "conv/depthwise_common.h"

#include <string.h>

/* Register tiles from the build's registers (common/simd.h), not its ISA's name. */
#define DEPTHWISE_NHWC_NREG BT_VREGS
#define DEPTHWISE_NHWC_STREAM BT_VSTREAM
#define depthwise_nhwc_vstream(p, v) bt_vstream((p), (v))
#if BT_VREGS >= 32
#define DEPTHWISE_NHWC_JB_TUNE "4|8|12"
#else
#define DEPTHWISE_NHWC_JB_TUNE "4|6"
#endif

#define DEPTHWISE_NHWC_V BT_VLEN
#define DEPTHWISE_NHWC_JB_MAX 12
#define DEPTHWISE_NHWC_CB_MAX 2
/* Registers for accumulators: the rest hold weights (bwd_data) or dy and x (bwd_weights). */
#define DEPTHWISE_NHWC_ACC_MAX (DEPTHWISE_NHWC_NREG * 3 / 4)
/* bwd_weights taps per register chunk for cb vectors: acc + dy + db + one x in registers. */
#define DEPTHWISE_NHWC_TMAX_ABS 9
#define DEPTHWISE_NHWC_TMAX(cb)                                                                    \
    ((DEPTHWISE_NHWC_NREG - 3 * (cb)-1) / (cb) < DEPTHWISE_NHWC_TMAX_ABS                           \
         ? (DEPTHWISE_NHWC_NREG - 3 * (cb)-1) / (cb)                                               \
         : DEPTHWISE_NHWC_TMAX_ABS)
/* The register tile's channel vectors and the channel chunk, parameters of both ops. */
#define DEPTHWISE_NHWC_CB_CC_SPECS                                                                 \
    {.key = "cb",                                                                                  \
     .min = 1,                                                                                     \
     .max = DEPTHWISE_NHWC_CB_MAX,                                                                 \
     .tune = "1|2",                                                                                \
     .doc = "register tile: channel vectors"},                                                     \
    {                                                                                              \
        .key = "cc", .min = 1, .max = (int64_t)1 << 24, .doc = DEPTHWISE_CC_DOC                    \
    }
#define DEPTHWISE_NHWC_INLINE static inline __attribute__((always_inline))

static inline int BT_SIMD_NAME(depthwise_nhwc_supports)(const bt_shape *s, char *why, size_t size) {
    return depthwise_supports(s, BT_NHWC, 0, why, size);
}

static inline int64_t depthwise_nhwc_vectors(const bt_shape *s) {
    return bt_div_up(s->c, DEPTHWISE_NHWC_V);
}

/* Default channel chunk: the rows a chunk touches (R dy rows + 1 dx row for bwd_data, R x rows
 * + 1 dy row for bwd_weights, about W positions each) fill at most half of L2. */
static inline int64_t depthwise_nhwc_default_cc(const bt_shape *s) {
    int64_t row_bytes = (s->r + 1) * bt_max64(s->w, s->q) * (int64_t)sizeof(float);
    int64_t cc = bt_machine_get()->l2_bytes / 2 / row_bytes;
    cc = cc / DEPTHWISE_NHWC_V * DEPTHWISE_NHWC_V;
    return bt_max64(DEPTHWISE_NHWC_V, bt_min64(cc, depthwise_nhwc_vectors(s) * DEPTHWISE_NHWC_V));
}

/* Per-thread lists (pointer-sized slots): bwd_data's tap arrays and row/segment bookkeeping. */
static inline size_t depthwise_nhwc_list_bytes(const bt_shape *s) {
    return depthwise_align((size_t)(4 * s->r * s->s + 5 * s->s + s->r + 2) * sizeof(int64_t));
}

typedef struct depthwise_nhwc_lists {
    const float **tap_x; /* bwd_weights, per tap: x at the segment's first position */
    int64_t *slot;       /* bwd_weights, per tap: its slot r*S + s */
    int64_t *tap_off;    /* bwd_data, per tap: dy offset, weight offset (interleaved) */
    int64_t *lo, *hi, *qb, *cuts, *rows;
} depthwise_nhwc_lists;

static inline depthwise_nhwc_lists depthwise_nhwc_lists_at(const bt_shape *s, void *base) {
    int64_t taps = s->r * s->s;
    depthwise_nhwc_lists l;
    l.tap_x = (const float **)base;
    l.slot = (int64_t *)(l.tap_x + taps);
    l.tap_off = l.slot + taps;
    l.lo = l.tap_off + 2 * taps;
    l.hi = l.lo + s->s;
    l.qb = l.hi + s->s;
    l.cuts = l.qb + s->s;
    l.rows = l.cuts + 2 * s->s + 2;
    return l;
}

/* How channel vectors [b0, b1) are walked: blocks of cb (= 2) full vectors, then single
 * vectors, the channel tail (the last vector when C % V != 0) alone and masked. Returns the
 * block at b: 2 or 1 full vectors, or DEPTHWISE_NHWC_TAIL. */
enum { DEPTHWISE_NHWC_TAIL = -1 };
static inline int depthwise_nhwc_block_at(int64_t b, int64_t b1, int cb, int64_t cvecs, int tail) {
    int tail_in_pair = tail && b + 1 >= cvecs - 1;
    if (cb == 2 && b + 2 <= b1 && !tail_in_pair) return 2;
    return tail && b == cvecs - 1 ? DEPTHWISE_NHWC_TAIL : 1;
}

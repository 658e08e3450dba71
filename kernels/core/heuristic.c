/* The heuristic: the order in which dispatch (no table entry, no forced variant) tries the
 * variants that take a shape. One list per op, read top to bottom as oneDNN's implementation
 * list: the widest ISA first, and within an ISA the first family whose entry applies; then
 * the naive loops, then the double reference. A family may stand twice, the first time with
 * a predicate (where it was measured ahead of the families below it). */
#include "internal.h"

#include "conv/as_fc_common.h"
#include "conv/im2col_common.h"

#include <string.h>

typedef struct heuristic_entry {
    const char *family;
    int (*applies)(const bt_shape *s); /* NULL: always */
} heuristic_entry;

/* A convolution whose kernel covers its whole unpadded image is the FC of its flattened
 * input, and runs as one (as_fc): the conv families would spend their setup on one output
 * position. */
/* The GEMM families lead on unpadded 1x1 convolutions without groups where measured ahead
 * (bt_conv_gemm_leads); depthwise takes g = C only; the direct families take their layout. */
static const heuristic_entry conv_bwd_data[] = {
    {"as_fc", bt_conv_kernel_covers_image},
    {"gemm_col2im", bt_conv_gemm_leads},
    {"depthwise_nhwc", NULL},
    {"depthwise_nchw", NULL},
    {"direct_nhwc", NULL},
    {"direct_nchw", NULL},
    {"gemm_col2im", NULL},
    {NULL, NULL},
};
static const heuristic_entry conv_bwd_weights[] = {
    {"as_fc", bt_conv_kernel_covers_image},
    {"im2col_gemm", bt_conv_gemm_leads},
    {"depthwise_nhwc", NULL},
    {"depthwise_nchw", NULL},
    {"direct_nhwc", NULL},
    {"direct_nchw", NULL},
    {"im2col_gemm", NULL},
    {NULL, NULL},
};
static const heuristic_entry fc[] = {
    {"gemm", NULL},
    {NULL, NULL},
};

static const heuristic_entry *order_of(bt_op op) {
    switch (op) {
    case BT_FC_BWD_DATA:
    case BT_FC_BWD_WEIGHTS:
        return fc;
    case BT_CONV_BWD_DATA:
        return conv_bwd_data;
    case BT_CONV_BWD_WEIGHTS:
        return conv_bwd_weights;
    }
    return fc;
}

enum { ENTRIES_MAX = 100 }; /* rank room per ISA: more than any list's entries */

int bt_variant_priority(const bt_variant *v, const bt_shape *s) {
    if (v->is_reference) return 0;
    const heuristic_entry *list = order_of(v->op);
    for (int i = 0; list[i].family && i < ENTRIES_MAX; i++)
        if (!strcmp(list[i].family, v->family) && (!list[i].applies || list[i].applies(s)))
            return 2 + ENTRIES_MAX * ((int)v->isa + 1) - i;
    return 1; /* the naive loops, and any family not listed */
}

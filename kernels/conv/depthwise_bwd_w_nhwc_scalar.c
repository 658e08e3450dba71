/* Depthwise conv bwd_weights, NHWC, scalar build (algorithm: depthwise_bwd_w_nhwc_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/depthwise_bwd_w_nhwc_impl.h"

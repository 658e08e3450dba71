/* Depthwise conv bwd_data, NHWC, scalar build (algorithm: depthwise_bwd_d_nhwc_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/depthwise_bwd_d_nhwc_impl.h"

/* Depthwise conv bwd_weights, NHWC, avx2 build (algorithm: depthwise_bwd_w_nhwc_impl.h). */
#define BT_SIMD_AVX2
#include "conv/depthwise_bwd_w_nhwc_impl.h"

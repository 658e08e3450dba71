/* Depthwise conv bwd_data, NHWC, avx2 build (algorithm: depthwise_bwd_d_nhwc_impl.h). */
#define BT_SIMD_AVX2
#include "conv/depthwise_bwd_d_nhwc_impl.h"

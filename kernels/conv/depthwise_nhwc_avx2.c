/* Depthwise conv backward, NHWC, avx2 instance (the algorithm: depthwise_nhwc_impl.h). */
#define BT_SIMD_AVX2
#include "conv/depthwise_nhwc_impl.h"

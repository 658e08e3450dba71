/* Depthwise conv backward, NHWC, avx512 instance (the algorithm: depthwise_nhwc_impl.h). */
#define BT_SIMD_AVX512
#include "conv/depthwise_nhwc_impl.h"

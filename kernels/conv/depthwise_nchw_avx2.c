/* Depthwise conv backward, NCHW, avx2 instance (the algorithm: depthwise_nchw_impl.h). */
#define BT_SIMD_AVX2
#include "conv/depthwise_nchw_impl.h"

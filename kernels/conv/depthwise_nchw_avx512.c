/* Depthwise conv backward, NCHW, avx512 instance (the algorithm: depthwise_nchw_impl.h). */
#define BT_SIMD_AVX512
#include "conv/depthwise_nchw_impl.h"

/* Depthwise conv bwd_data, NHWC, avx512_ymm build (algorithm: depthwise_bwd_d_nhwc_impl.h). */
#define BT_SIMD_AVX512_YMM
#include "conv/depthwise_bwd_d_nhwc_impl.h"

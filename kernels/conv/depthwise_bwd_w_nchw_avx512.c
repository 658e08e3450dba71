/* Depthwise conv bwd_weights, NCHW, avx512 build (algorithm: depthwise_bwd_w_nchw_impl.h). */
#define BT_SIMD_AVX512
#include "conv/depthwise_bwd_w_nchw_impl.h"

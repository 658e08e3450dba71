/* Depthwise conv bwd_data, NCHW, avx512 build (algorithm: depthwise_bwd_d_nchw_impl.h). */
#define BT_SIMD_AVX512
#include "conv/depthwise_bwd_d_nchw_impl.h"

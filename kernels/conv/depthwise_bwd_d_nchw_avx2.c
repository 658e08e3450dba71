/* Depthwise conv bwd_data, NCHW, avx2 build (algorithm: depthwise_bwd_d_nchw_impl.h). */
#define BT_SIMD_AVX2
#include "conv/depthwise_bwd_d_nchw_impl.h"

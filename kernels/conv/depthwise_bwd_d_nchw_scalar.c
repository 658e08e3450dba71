/* Depthwise conv bwd_data, NCHW, scalar build (algorithm: depthwise_bwd_d_nchw_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/depthwise_bwd_d_nchw_impl.h"

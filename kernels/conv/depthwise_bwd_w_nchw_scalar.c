/* Depthwise conv bwd_weights, NCHW, scalar build (algorithm: depthwise_bwd_w_nchw_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/depthwise_bwd_w_nchw_impl.h"

/* Depthwise conv backward, NCHW, scalar instance (the algorithm: depthwise_nchw_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/depthwise_nchw_impl.h"

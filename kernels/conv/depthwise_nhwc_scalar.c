/* Depthwise conv backward, NHWC, scalar instance (the algorithm: depthwise_nhwc_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/depthwise_nhwc_impl.h"

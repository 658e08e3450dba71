/* Direct conv bwd_data, NHWC, scalar instance (the algorithm is in direct_bwd_d_nhwc_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/direct_bwd_d_nhwc_impl.h"

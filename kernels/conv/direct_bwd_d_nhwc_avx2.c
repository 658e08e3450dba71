/* Direct conv bwd_data, NHWC, avx2 instance (the algorithm is in direct_bwd_d_nhwc_impl.h). */
#define BT_SIMD_AVX2
#include "conv/direct_bwd_d_nhwc_impl.h"

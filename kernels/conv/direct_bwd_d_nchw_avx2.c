/* Direct conv bwd_data, NCHW, avx2 instance (the algorithm is in direct_bwd_d_nchw_impl.h). */
#define BT_SIMD_AVX2
#include "conv/direct_bwd_d_nchw_impl.h"

/* Direct conv bwd_data, NCHW, avx512 instance (the algorithm is in direct_bwd_d_nchw_impl.h). */
#define BT_SIMD_AVX512
#include "conv/direct_bwd_d_nchw_impl.h"

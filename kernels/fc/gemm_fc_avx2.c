/* FC backward on the packed GEMM, avx2 instance (the algorithm is in gemm_fc_impl.h). */
#define BT_SIMD_AVX2
#include "fc/gemm_fc_impl.h"

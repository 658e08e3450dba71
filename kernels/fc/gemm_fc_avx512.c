/* FC backward on the packed GEMM, avx512 instance (the algorithm is in gemm_fc_impl.h). */
#define BT_SIMD_AVX512
#include "fc/gemm_fc_impl.h"

/* Packed SGEMM, avx2 instance (the algorithm is in common/gemm_impl.h). */
#define BT_SIMD_AVX2
#define BT_GEMM_MR BT_GEMM_MR_AVX2
#define BT_GEMM_NR BT_GEMM_NR_AVX2
#include "common/gemm_impl.h"

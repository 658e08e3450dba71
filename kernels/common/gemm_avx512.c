/* Packed SGEMM, avx512 instance (the algorithm is in common/gemm_impl.h). */
#define BT_SIMD_AVX512
#define BT_GEMM_MR BT_GEMM_MR_AVX512
#define BT_GEMM_NR BT_GEMM_NR_AVX512
#include "common/gemm_impl.h"

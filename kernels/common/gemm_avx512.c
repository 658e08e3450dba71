/* Packed SGEMM, avx512 build (the algorithm is in common/gemm_impl.h). */
#define BT_SIMD_AVX512
#include "common/gemm_impl.h"

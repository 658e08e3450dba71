/* Packed SGEMM, avx2 build (the algorithm is in common/gemm_impl.h). */
#define BT_SIMD_AVX2
#include "common/gemm_impl.h"

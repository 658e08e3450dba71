/* Packed SGEMM, scalar build (the algorithm is in common/gemm_impl.h). */
#define BT_SIMD_SCALAR
#include "common/gemm_impl.h"

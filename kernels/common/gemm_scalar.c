/* Packed SGEMM, scalar instance (the algorithm is in common/gemm_impl.h). */
#define BT_SIMD_SCALAR
#define BT_GEMM_MR BT_GEMM_MR_SCALAR
#define BT_GEMM_NR BT_GEMM_NR_SCALAR
#include "common/gemm_impl.h"

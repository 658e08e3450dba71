/* FC backward on the packed GEMM, scalar instance (the algorithm is in gemm_fc_impl.h). */
#define BT_SIMD_SCALAR
#include "fc/gemm_fc_impl.h"

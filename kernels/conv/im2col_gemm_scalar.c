/* Conv im2col + GEMM (bwd_weights) and GEMM + col2im (bwd_data), scalar instance (the
 * algorithm is in im2col_gemm_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/im2col_gemm_impl.h"

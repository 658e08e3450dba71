/* Conv im2col + GEMM (bwd_weights) and GEMM + col2im (bwd_data), avx2 instance (the
 * algorithm is in im2col_gemm_impl.h). */
#define BT_SIMD_AVX2
#include "conv/im2col_gemm_impl.h"

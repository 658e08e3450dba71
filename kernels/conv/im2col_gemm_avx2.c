/* Conv im2col+GEMM (bwd_w) and GEMM+col2im (bwd_d), avx2 build (im2col_gemm_impl.h). */
#define BT_SIMD_AVX2
#include "conv/im2col_gemm_impl.h"

/* Conv im2col+GEMM (bwd_w) and GEMM+col2im (bwd_d), scalar build (im2col_gemm_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/im2col_gemm_impl.h"

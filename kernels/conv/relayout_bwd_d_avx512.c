/* Conv bwd_d of NCHW on an NHWC plan, avx512 instance (relayout_bwd_d_impl.h). */
#define BT_SIMD_AVX512
#include "conv/relayout_bwd_d_impl.h"

/* Conv bwd_d of NCHW on an NHWC plan, avx2 instance (relayout_bwd_d_impl.h). */
#define BT_SIMD_AVX2
#include "conv/relayout_bwd_d_impl.h"

/* Conv bwd_w of NCHW on an NHWC plan, avx2 instance (relayout_bwd_w_impl.h). */
#define BT_SIMD_AVX2
#include "conv/relayout_bwd_w_impl.h"

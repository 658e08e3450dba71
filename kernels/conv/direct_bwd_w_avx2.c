/* Direct conv bwd_weights, avx2 instance (the algorithm is in direct_bwd_w_impl.h). */
#define BT_SIMD_AVX2
#include "conv/direct_bwd_w_impl.h"

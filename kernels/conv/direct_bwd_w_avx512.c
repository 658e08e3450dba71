/* Direct conv bwd_weights, avx512 instance (the algorithm is in direct_bwd_w_impl.h). */
#define BT_SIMD_AVX512
#include "conv/direct_bwd_w_impl.h"

/* Winograd conv bwd_data and bwd_weights, avx2 instance (the algorithm is in winograd_impl.h). */
#define BT_SIMD_AVX2
#include "conv/winograd_impl.h"

/* Winograd conv bwd_data and bwd_weights, avx512 instance (the algorithm is in winograd_impl.h). */
#define BT_SIMD_AVX512
#include "conv/winograd_impl.h"

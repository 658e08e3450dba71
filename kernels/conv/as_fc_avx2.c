/* Convolutions that are FC layers, avx2 instance (as_fc_impl.h). */
#define BT_SIMD_AVX2
#include "conv/as_fc_impl.h"

/* Convolutions that are FC layers, avx512 instance (as_fc_impl.h). */
#define BT_SIMD_AVX512
#include "conv/as_fc_impl.h"

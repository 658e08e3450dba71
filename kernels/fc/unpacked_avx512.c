/* FC backward on unpacked operands, avx512 instance (unpacked_impl.h). */
#define BT_SIMD_AVX512
#include "fc/unpacked_impl.h"

/* FC backward on unpacked operands, avx2 instance (unpacked_impl.h). */
#define BT_SIMD_AVX2
#include "fc/unpacked_impl.h"

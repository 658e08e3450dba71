/* FC backward on unpacked operands, scalar instance (unpacked_impl.h). */
#define BT_SIMD_SCALAR
#include "fc/unpacked_impl.h"

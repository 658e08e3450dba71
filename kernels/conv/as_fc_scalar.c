/* Convolutions that are FC layers, scalar instance (as_fc_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/as_fc_impl.h"

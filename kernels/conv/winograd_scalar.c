/* Winograd conv bwd_data and bwd_weights, scalar instance (the algorithm is in winograd_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/winograd_impl.h"

/* Direct conv bwd_weights, scalar instance (the algorithm is in direct_bwd_w_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/direct_bwd_w_impl.h"

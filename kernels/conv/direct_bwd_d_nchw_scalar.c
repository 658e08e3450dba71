/* Direct conv bwd_data, NCHW, scalar instance (the algorithm is in direct_bwd_d_nchw_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/direct_bwd_d_nchw_impl.h"

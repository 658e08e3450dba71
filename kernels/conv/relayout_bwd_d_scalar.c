/* Conv bwd_d of NCHW on an NHWC plan, scalar instance (relayout_bwd_d_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/relayout_bwd_d_impl.h"

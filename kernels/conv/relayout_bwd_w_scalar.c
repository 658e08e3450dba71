/* Conv bwd_w of NCHW on an NHWC plan, scalar instance (relayout_bwd_w_impl.h). */
#define BT_SIMD_SCALAR
#include "conv/relayout_bwd_w_impl.h"

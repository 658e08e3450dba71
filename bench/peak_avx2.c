/* Peak probe, avx2 instance (see peak_impl.h). */
#define BT_PEAK_AVX2
#include "peak_impl.h"

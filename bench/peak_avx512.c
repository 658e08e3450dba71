/* Peak probe, avx512 instance (see peak_impl.h). */
#define BT_PEAK_AVX512
#include "peak_impl.h"

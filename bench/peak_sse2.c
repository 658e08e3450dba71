/* Peak probe, sse2 instance (see peak_impl.h). */
#define BT_PEAK_SSE2
#include "peak_impl.h"

/* Small helpers shared by the bench command, the peak probe and the peers. */
#ifndef BT_BENCH_UTIL_H
#define BT_BENCH_UTIL_H

#include <stddef.h>

/* Memory for benchmark buffers: 64-byte aligned; buffers of 2 MiB and more are aligned to
 * 2 MiB and asked to be backed by huge pages (first touch of 4 KiB pages costs ~2.5 ms per MB
 * on the target machine). Not touched: fill it before timing. Release with free(). */
void *bt_bench_alloc(size_t bytes);
/* Same, and zero-filled (every page touched). */
void *bt_bench_alloc_zero(size_t bytes);

/* Monotonic wall clock, seconds. */
double bt_bench_now(void);

#endif

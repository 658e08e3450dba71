/* Helpers shared by the bench command, the peak probe and the peers. */
#include "bench_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE_PAGE_BYTES ((size_t)2 << 20)
#define CACHE_LINE_BYTES 64

void *bt_bench_alloc(size_t bytes) {
    size_t align = bytes >= HUGE_PAGE_BYTES ? HUGE_PAGE_BYTES : CACHE_LINE_BYTES;
    size_t rounded = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (p && align == HUGE_PAGE_BYTES) madvise(p, rounded, MADV_HUGEPAGE); /* a hint only */
    return p;
}

void *bt_bench_alloc_zero(size_t bytes) {
    void *p = bt_bench_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

double bt_bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

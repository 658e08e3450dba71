/* Measured peak of this machine: FMA throughput per ISA and thread count, and streaming
 * memory bandwidth. Measured the first time they are asked for and cached for the process
 * (a few hundred milliseconds each); % of peak and roofline numbers in results use them. */
#ifndef BT_PEAK_H
#define BT_PEAK_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* One ISA's throughput loop (peak_impl.h): `loop` runs `iters` iterations of
 * `flops_per_iter` single-precision flops and returns a checksum. */
typedef struct bt_peak_kernel {
    double (*loop)(int64_t iters, float a, float b);
    int flops_per_iter;
} bt_peak_kernel;
extern const bt_peak_kernel bt_peak_kernel_avx512, bt_peak_kernel_avx2, bt_peak_kernel_sse2;

/* Peak GFLOP/s (float) of code compiled for `isa` running `threads` OpenMP threads; 0 if
 * this CPU lacks the ISA. BT_ISA_SCALAR is measured as SSE2 multiply + add (no FMA), the
 * most the baseline-compiled "scalar" variants can reach, auto-vectorised. */
double bt_peak_gflops(bt_isa isa, int threads);
/* The same measured again now, not cached: the probe at the end of a run, compared with the
 * one at its start, shows whether the machine was as free at the end as at the start. */
double bt_peak_gflops_remeasure(bt_isa isa, int threads);
/* How the peak of `isa` is measured, in words ("avx512 fma", "sse2 mul+add"). */
const char *bt_peak_isa_label(bt_isa isa);

typedef struct bt_bandwidth {
    double read_gbs;     /* summing a buffer */
    double triad_gbs;    /* a = b + s*c, counted as STREAM does (3 x 4 bytes per element) */
    size_t buffer_bytes; /* total touched per pass; much bigger than the caches */
} bt_bandwidth;
/* Streaming bandwidth with `threads` OpenMP threads, GB/s (1e9 bytes/s). */
bt_bandwidth bt_peak_bandwidth(int threads);

#endif

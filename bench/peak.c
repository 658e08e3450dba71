/* The peak probe's driver: times the per-ISA throughput loops (peak_impl.h) on 1..N OpenMP
 * threads and a streaming read and triad over a buffer much bigger than the caches. Every
 * figure is the best of a few short runs (the machine's best, not its average), measured
 * once per process and cached. */
#include "peak.h"

#include "bench_cmd.h"
#include "bench_util.h"

#include <omp.h>
#include <stdlib.h>

#define PEAK_RUN_SECONDS 0.02 /* one timed run of the throughput loop */
#define PEAK_RUNS 5           /* best of */
#define PEAK_CACHED_THREADS 256
/* The bandwidth buffer: 4x the L3 so the caches hold almost none of it, within bounds that
 * keep the probe short (hwloc may report a VM's L3 as hundreds of MB; on a CPU whose L3 is
 * bigger than the cap the figure is partly a cache bandwidth). */
#define BW_MIN_BYTES ((size_t)96 << 20)
#define BW_MAX_BYTES ((size_t)384 << 20)
#define BW_RUNS 5
/* Independent partial sums of the read probe: enough vector add chains that the adds keep
 * up with the loads. */
#define READ_PARTIALS 32

static volatile double peak_sink; /* keeps checksums alive */

static const bt_peak_kernel *kernel_for(bt_isa isa) {
    const bt_machine *m = bt_machine_get();
    switch (isa) {
    case BT_ISA_AVX512:
        return m->has_avx512 ? &bt_peak_kernel_avx512 : NULL;
    case BT_ISA_AVX2:
        return m->has_avx2 ? &bt_peak_kernel_avx2 : NULL;
    case BT_ISA_SCALAR:
        return &bt_peak_kernel_sse2;
    }
    return NULL;
}

const char *bt_peak_isa_label(bt_isa isa) {
    switch (isa) {
    case BT_ISA_AVX512:
        return "avx512 fma";
    case BT_ISA_AVX2:
        return "avx2 fma";
    case BT_ISA_SCALAR:
        return "sse2 mul+add";
    }
    return "?";
}

/* GFLOP/s of every thread running `iters` iterations from a common start. */
static double run_kernel(const bt_peak_kernel *k, int threads, int64_t iters, double *seconds) {
    double start = 0, stop = 0, checksum = 0;
    int team = 1;
#pragma omp parallel num_threads(threads) reduction(+ : checksum)
    {
#pragma omp single
        {
            team = omp_get_num_threads();
            start = bt_bench_now();
        }
        checksum += k->loop(iters, 1.0f, 1e-6f);
#pragma omp barrier
#pragma omp single
        stop = bt_bench_now();
    }
    peak_sink = checksum;
    *seconds = stop - start;
    return *seconds > 0 ? (double)iters * k->flops_per_iter * team / *seconds * 1e-9 : 0;
}

static double measure_gflops(const bt_peak_kernel *k, int threads) {
    int64_t iters = 1024;
    double seconds, best = run_kernel(k, threads, iters, &seconds);
    /* Grow the run until it lasts PEAK_RUN_SECONDS (this also wakes the thread pool and
     * lets the clock ramp up), then keep the best of PEAK_RUNS runs. */
    while (seconds < PEAK_RUN_SECONDS && iters < ((int64_t)1 << 40)) {
        double scale = seconds > 0 ? 1.2 * PEAK_RUN_SECONDS / seconds : 16;
        iters = (int64_t)((double)iters * (scale < 2 ? 2 : scale > 16 ? 16 : scale));
        best = run_kernel(k, threads, iters, &seconds);
    }
    for (int run = 1; run < PEAK_RUNS; run++) {
        double g = run_kernel(k, threads, iters, &seconds);
        if (g > best) best = g;
    }
    return best;
}

static double peak_cache[3][PEAK_CACHED_THREADS + 1];

double bt_peak_gflops(bt_isa isa, int threads) {
    const bt_peak_kernel *k = kernel_for(isa);
    if (!k || threads < 1) return 0;
    if (threads > PEAK_CACHED_THREADS) return measure_gflops(k, threads);
    double *cached = &peak_cache[isa][threads];
    if (*cached == 0) *cached = measure_gflops(k, threads);
    return *cached;
}

double bt_peak_gflops_remeasure(bt_isa isa, int threads) {
    const bt_peak_kernel *k = kernel_for(isa);
    return k && threads >= 1 ? measure_gflops(k, threads) : 0;
}

static size_t bandwidth_buffer_bytes(void) {
    size_t bytes = 4 * (size_t)bt_machine_get()->l3_bytes;
    return bytes < BW_MIN_BYTES ? BW_MIN_BYTES : bytes > BW_MAX_BYTES ? BW_MAX_BYTES : bytes;
}

/* Sum of buf[0..n), n a multiple of READ_PARTIALS, read by `threads` threads. */
static double read_sum(const float *buf, int64_t n, int threads) {
    double total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        int64_t begin, end;
        bt_split(n / READ_PARTIALS, omp_get_thread_num(), omp_get_num_threads(), &begin, &end);
        float partial[READ_PARTIALS] = {0};
        for (int64_t block = begin; block < end; block++)
            for (int j = 0; j < READ_PARTIALS; j++) partial[j] += buf[block * READ_PARTIALS + j];
        for (int j = 0; j < READ_PARTIALS; j++) total += partial[j];
    }
    return total;
}

static bt_bandwidth measure_bandwidth(int threads) {
    bt_bandwidth bw = {0, 0, 0};
    int64_t third =
        (int64_t)(bandwidth_buffer_bytes() / (3 * sizeof(float))) / READ_PARTIALS * READ_PARTIALS;
    int64_t n = 3 * third;
    float *buf = bt_bench_alloc((size_t)n * sizeof(float));
    if (!buf) return bw;
    bw.buffer_bytes = (size_t)n * sizeof(float);
    /* First touch by the threads that will stream it (same static schedule). */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; i++) buf[i] = 1.0f;
    float *a = buf, *b = buf + third, *c = buf + 2 * third;
    const float scalar = 3.0f;
    for (int run = 0; run < BW_RUNS; run++) {
        double t0 = bt_bench_now();
        peak_sink = read_sum(buf, n, threads);
        double t1 = bt_bench_now();
#pragma omp parallel for simd schedule(static) num_threads(threads)
        for (int64_t i = 0; i < third; i++) a[i] = b[i] + scalar * c[i];
        double t2 = bt_bench_now();
        double read = (double)n * sizeof(float) / (t1 - t0) * 1e-9;
        double triad = 3.0 * (double)third * sizeof(float) / (t2 - t1) * 1e-9;
        if (read > bw.read_gbs) bw.read_gbs = read;
        if (triad > bw.triad_gbs) bw.triad_gbs = triad;
    }
    free(buf);
    return bw;
}

static bt_bandwidth bandwidth_cache[PEAK_CACHED_THREADS + 1];

bt_bandwidth bt_peak_bandwidth(int threads) {
    if (threads < 1) threads = 1;
    if (threads > PEAK_CACHED_THREADS) return measure_bandwidth(threads);
    if (bandwidth_cache[threads].buffer_bytes == 0)
        bandwidth_cache[threads] = measure_bandwidth(threads);
    return bandwidth_cache[threads];
}

void bt_bench_print_machine(FILE *out) {
    int counts[2] = {1, omp_get_max_threads()};
    int ncounts = counts[1] > 1 ? 2 : 1;
    fprintf(out, "peak:       measured, GFLOP/s (float)");
    for (int i = 0; i < ncounts; i++)
        fprintf(out, "  %3d thread%s", counts[i], counts[i] > 1 ? "s" : " ");
    fputc('\n', out);
    static const bt_isa isas[] = {BT_ISA_AVX512, BT_ISA_AVX2, BT_ISA_SCALAR};
    for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
        if (!kernel_for(isas[k])) continue;
        fprintf(out, "            %-26s", bt_peak_isa_label(isas[k]));
        for (int i = 0; i < ncounts; i++)
            fprintf(out, "  %11.1f", bt_peak_gflops(isas[k], counts[i]));
        fputc('\n', out);
    }
    bt_bandwidth bw[2];
    for (int i = 0; i < ncounts; i++) bw[i] = bt_peak_bandwidth(counts[i]);
    fprintf(out, "bandwidth:  measured, GB/s (%zu MiB buffer)\n", bw[0].buffer_bytes >> 20);
    fprintf(out, "            %-26s", "read");
    for (int i = 0; i < ncounts; i++) fprintf(out, "  %11.1f", bw[i].read_gbs);
    fprintf(out, "\n            %-26s", "triad (STREAM counting)");
    for (int i = 0; i < ncounts; i++) fprintf(out, "  %11.1f", bw[i].triad_gbs);
    fputc('\n', out);
}

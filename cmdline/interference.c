/* Interference of other processes with a measurement (see interference.h). */
#include "interference.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int bt_load_parse_stat(const char *text, const cpu_set_t *cpus, unsigned long long *busy,
                       unsigned long long *steal) {
    *busy = *steal = 0;
    if (!text || strncmp(text, "cpu ", 4)) return -1;
    int counted = 0;
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9') continue;
        char *end;
        unsigned long cpu = strtoul(line + 3, &end, 10);
        if (cpus && (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, cpus))) continue;
        /* user nice system idle iowait irq softirq steal (guest is inside user) */
        unsigned long long v[8] = {0};
        int n = 0;
        for (const char *at = end; n < 8; n++) {
            char *next;
            v[n] = strtoull(at, &next, 10);
            if (next == at) break;
            at = next;
        }
        if (n < 4) return -1;
        *busy += v[0] + v[1] + v[2];
        *steal += v[7];
        counted++;
    }
    return counted;
}

double bt_load_parse_loadavg(const char *text) {
    char *end;
    double load = text ? strtod(text, &end) : -1;
    return text && end != text && load >= 0 ? load : -1;
}

void bt_load_sample_from_text(bt_load_sample *s, const char *stat, const char *loadavg,
                              const cpu_set_t *cpus, double tick, double wall, double self_cpu) {
    memset(s, 0, sizeof *s);
    s->wall = wall;
    s->self_cpu = self_cpu;
    s->tick = tick;
    unsigned long long busy, steal;
    int n = bt_load_parse_stat(stat, cpus, &busy, &steal);
    if (n > 0) {
        s->cpus = n;
        s->busy = (double)busy * tick;
        s->steal = (double)steal * tick;
    }
    s->load1 = bt_load_parse_loadavg(loadavg);
}

/* Whole (small) file into buf, NUL-terminated; NULL if unreadable. */
static char *read_proc(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n ? buf : NULL;
}

/* OpenMP's places, else this thread's affinity; 0 if neither is known (every CPU). */
static int watched_cpus(cpu_set_t *set) {
    CPU_ZERO(set);
    int places = omp_get_num_places();
    for (int p = 0; p < places; p++) {
        int n = omp_get_place_num_procs(p);
        int *ids = n > 0 ? malloc((size_t)n * sizeof *ids) : NULL;
        if (!ids) continue;
        omp_get_place_proc_ids(p, ids);
        for (int i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < CPU_SETSIZE) CPU_SET(ids[i], set);
        free(ids);
    }
    if (CPU_COUNT(set) > 0) return 1;
    return sched_getaffinity(0, sizeof *set, set) == 0 && CPU_COUNT(set) > 0;
}

static double clock_seconds(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bt_load_sample_take(bt_load_sample *s) {
    static cpu_set_t cpus;
    static int known = -1;
    static double tick;
    if (known < 0) {
        known = watched_cpus(&cpus);
        long hz = sysconf(_SC_CLK_TCK);
        tick = hz > 0 ? 1.0 / (double)hz : 0.01;
    }
    /* Every CPU line of a machine of 1024 CPUs, and the interrupt counts that follow. */
    static char stat[1 << 18];
    char loadavg[256];
    double wall = clock_seconds(CLOCK_MONOTONIC);
    double self = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    bt_load_sample_from_text(s, read_proc("/proc/stat", stat, sizeof stat),
                             read_proc("/proc/loadavg", loadavg, sizeof loadavg),
                             known ? &cpus : NULL, tick, wall, self);
}

void bt_load_sample_end(bt_load_sample *end, const bt_load_sample *start, double min_seconds) {
    bt_load_sample_take(end);
    double left = min_seconds - (end->wall - start->wall);
    if (!(left > 0)) return;
    struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) continue; /* a signal: sleep the rest */
    bt_load_sample_take(end);
}

void bt_load_window_add(bt_load_window *w, const bt_load_sample *a, const bt_load_sample *b) {
    if (!w->pairs) w->load_start = a->load1;
    w->load_end = b->load1;
    w->pairs++;
    if (!a->cpus || a->cpus != b->cpus) {
        w->cpus = -1; /* unknown from now on */
        return;
    }
    if (w->cpus < 0) return;
    w->cpus = a->cpus;
    w->wall += b->wall - a->wall;
    w->self_cpu += b->self_cpu - a->self_cpu;
    w->busy += b->busy - a->busy;
    w->steal += b->steal - a->steal;
    /* /proc/stat counts whole ticks: up to one per CPU off at each end, independently. */
    w->tolerance2 += (a->cpus * a->tick) * (a->cpus * a->tick);
}

void bt_interference_judge(const bt_load_window *w, int threads, bt_interference *out) {
    memset(out, 0, sizeof *out);
    out->load_start = w->pairs ? w->load_start : -1;
    out->load_end = w->pairs ? w->load_end : -1;
    out->seconds = w->wall;
    out->known = w->cpus > 0 && w->wall > 0;
    if (!out->known) {
        snprintf(out->text, sizeof out->text,
                 "not checked (no /proc/stat figures for the CPUs this process runs on)");
        return;
    }
    out->cpus = w->cpus;
    double others = w->busy - w->self_cpu;
    out->others_cores = others > 0 ? others / w->wall : 0;
    int free_cpus = w->cpus - (threads > 0 ? threads : 1) - 1;
    out->others_limit = BT_INTERFERENCE_OTHERS_CORES + (free_cpus > 0 ? free_cpus : 0);
    out->steal_pct = w->steal > 0 ? 100 * w->steal / (w->wall * w->cpus) : 0;
    double tolerance = sqrt(w->tolerance2);
    int others_hit = (others - tolerance) / w->wall > out->others_limit;
    int steal_hit = 100 * (w->steal - tolerance) / (w->wall * w->cpus) > BT_INTERFERENCE_STEAL_PCT;
    out->detected = others_hit || steal_hit;
    char others_text[96], steal_text[64], load[96] = "";
    snprintf(others_text, sizeof others_text, "others used %.2f cores on average (limit %.2f)",
             out->others_cores, out->others_limit);
    snprintf(steal_text, sizeof steal_text, "steal %.1f%% (limit %.0f%%)", out->steal_pct,
             BT_INTERFERENCE_STEAL_PCT);
    snprintf(out->reasons, sizeof out->reasons, "%s%s%s", others_hit ? others_text : "",
             others_hit && steal_hit ? "; " : "", steal_hit ? steal_text : "");
    if (out->load_start >= 0 && out->load_end >= 0)
        snprintf(load, sizeof load, "; load average %.2f at start, %.2f at end", out->load_start,
                 out->load_end);
    snprintf(out->text, sizeof out->text, "%s; %s over %.3g s on %d CPUs%s", others_text,
             steal_text, w->wall, w->cpus, load);
}

void bt_interference_between(const bt_load_sample *a, const bt_load_sample *b, int threads,
                             bt_interference *out) {
    bt_load_window w = {0};
    bt_load_window_add(&w, a, b);
    bt_interference_judge(&w, threads, out);
}

/* Finite figures as reals, the rest (unknown) as null. */
static json_t *real_or_null(double v, int known) {
    return known && isfinite(v) ? json_real(v) : json_null();
}

json_t *bt_interference_to_json(const bt_interference *v) {
    return json_pack(
        "{s:b, s:b, s:s, s:s, s:f, s:i, s:o, s:o, s:o, s:o, s:o}", "detected", v->detected,
        "checked", v->known, "reasons", v->reasons, "text", v->text, "seconds", v->seconds, "cpus",
        v->cpus, "others_cores", real_or_null(v->others_cores, v->known), "others_limit",
        real_or_null(v->others_limit, v->known), "steal_pct", real_or_null(v->steal_pct, v->known),
        "load_start", real_or_null(v->load_start, v->load_start >= 0), "load_end",
        real_or_null(v->load_end, v->load_end >= 0));
}

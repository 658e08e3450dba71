/* Interference: whether other processes used the CPUs while backtune measured (bench and
 * tune share it), so that numbers taken on a loaded machine are said to be so.
 *
 * A sample holds the wall clock, this process's CPU time (every thread), the busy and steal
 * time of the CPUs this process may run on (/proc/stat: user + nice + system; steal), and
 * the 1-minute load average (/proc/loadavg). Between two samples (or over a window of several
 * pairs), the CPU time of other processes on those CPUs is their busy time less ours.
 *
 * A window shows interference when
 *   - other processes used more than 0.2 cores on average, beyond the CPUs the measurement
 *     leaves free (cpus - threads - 1, at least 0: a job on a core we do not use is not in
 *     our way; one core is kept as a margin for the caches and memory bandwidth they share),
 *     after a tolerance for /proc/stat's resolution (up to one clock tick per CPU off in each
 *     pair, the errors of several pairs adding as independent ones); or
 *   - the hypervisor stole more than 5% of those CPUs' time.
 * The load average is reported but not judged: it is a one-minute moving average, so it
 * stays high for minutes after an earlier job ended (a tune followed by a bench) and misses
 * a job that starts during the run; the busy time measures what happened in the window.
 *
 * The watched CPUs are OpenMP's places when there are any (backtune binds its threads, and
 * libgomp binds the initial thread to the first place before main, so the thread's own
 * affinity would name one CPU), else the affinity of the calling thread. */
#ifndef BT_INTERFERENCE_H
#define BT_INTERFERENCE_H

#include <jansson.h>
#include <sched.h>

#define BT_INTERFERENCE_OTHERS_CORES 0.2 /* beyond the free CPUs */
#define BT_INTERFERENCE_STEAL_PCT 5.0

typedef struct bt_load_sample {
    double wall, self_cpu; /* seconds: monotonic clock, this process's CPU time */
    double busy, steal;    /* seconds summed over the watched CPUs */
    double tick;           /* seconds of one /proc/stat unit */
    int cpus;              /* watched CPUs found in /proc/stat; 0: nothing known */
    double load1;          /* 1-minute load average; -1 unknown */
} bt_load_sample;

/* Several sample pairs summed: a benchmark's timed sections, or one pair for a whole run. */
typedef struct bt_load_window {
    double wall, self_cpu, busy, steal; /* seconds */
    double tolerance2;                  /* of /proc/stat's resolution, squared */
    int cpus, pairs;
    double load_start, load_end;
} bt_load_window;

typedef struct bt_interference {
    int detected;
    int known;           /* /proc/stat was read */
    double seconds;      /* wall time of the window */
    int cpus;            /* watched */
    double others_cores; /* other processes' CPU time / wall time, on the watched CPUs */
    double others_limit; /* cores they may use before it counts */
    double steal_pct;    /* of the watched CPUs' time */
    double load_start, load_end;
    char reasons[256]; /* the criteria that fired, "" if none */
    char text[384];    /* every figure, in words */
} bt_interference;

/* Busy (user + nice + system) and steal units of /proc/stat text summed over the CPUs in
 * `cpus` (NULL: every "cpuN" line). Returns the number of CPU lines summed, -1 if the text
 * is not /proc/stat. */
int bt_load_parse_stat(const char *text, const cpu_set_t *cpus, unsigned long long *busy,
                       unsigned long long *steal);
/* The 1-minute load average of /proc/loadavg text; -1 if the text is not that. */
double bt_load_parse_loadavg(const char *text);

/* A sample from the texts of /proc/stat and /proc/loadavg (either may be NULL: unknown),
 * with `tick` seconds per /proc/stat unit. */
void bt_load_sample_from_text(bt_load_sample *s, const char *stat, const char *loadavg,
                              const cpu_set_t *cpus, double tick, double wall, double self_cpu);
/* A sample of this machine now. */
void bt_load_sample_take(bt_load_sample *s);

/* The sample that ends a section begun at `start`. A section shorter than `min_seconds` is
 * first lengthened to it by sleeping: /proc/stat counts whole clock ticks, too coarse to say
 * anything of a few milliseconds, and what other processes do while this one sleeps is
 * theirs alone. */
void bt_load_sample_end(bt_load_sample *end, const bt_load_sample *start, double min_seconds);

/* Adds the section from a to b to the window (a zeroed window is empty). */
void bt_load_window_add(bt_load_window *w, const bt_load_sample *a, const bt_load_sample *b);
/* The verdict on a window for a measurement running `threads` threads. */
void bt_interference_judge(const bt_load_window *w, int threads, bt_interference *out);
/* Window of one pair, judged. */
void bt_interference_between(const bt_load_sample *a, const bt_load_sample *b, int threads,
                             bt_interference *out);

/* {"detected", "checked" (whether /proc/stat was read), "reasons", "text", "seconds",
 *  "cpus", "others_cores", "others_limit", "steal_pct", "load_start", "load_end"}: a new
 *  object; figures not known are null. */
json_t *bt_interference_to_json(const bt_interference *v);

#endif

/* The interference detector (cmdline/interference.h) on synthetic /proc/stat and
 * /proc/loadavg texts: parsing, the CPU filter, the others-CPU arithmetic, the free-CPU
 * allowance, the tick tolerance, steal, and the JSON it saves. */
#include "interference.h"
#include "testlib.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TICK 0.01 /* USER_HZ 100 */

/* /proc/stat of two CPUs: per CPU user nice system idle iowait irq softirq steal guest gnice
 * (units of TICK). The totals line is not what is summed. */
static void stat_text(char *buf, size_t size, const unsigned long long busy[2],
                      const unsigned long long steal[2]) {
    snprintf(buf, size,
             "cpu  999 0 0 999 0 0 0 0 0 0\n"
             "cpu0 %llu 0 %llu 5000 10 7 3 %llu 0 0\n"
             "cpu1 %llu 2 %llu 5000 10 7 3 %llu 0 0\n"
             "intr 12345 0 0 1\nctxt 999\nbtime 1700000000\n",
             busy[0] - busy[0] / 4, busy[0] / 4, steal[0], busy[1] - busy[1] / 4 - 2, busy[1] / 4,
             steal[1]);
}

static int near(double a, double b, double eps) {
    return fabs(a - b) <= eps;
}

static void test_parse(void) {
    unsigned long long busy, steal;
    const char *text = "cpu  10 20 30 40 50 60 70 80 90 100\n"
                       "cpu0 1 2 3 4 5 6 7 8 9 10\n"
                       "cpu1 100 200 300 400 500 600 700 800 900 1000\n"
                       "cpu3 5 5 5 5 5 5 5 5\n"
                       "intr 1 2 3\n";
    int n = bt_load_parse_stat(text, NULL, &busy, &steal);
    tl_expect(n == 3 && busy == 6 + 600 + 15 && steal == 8 + 800 + 5,
              "every cpuN line: busy user+nice+system, steal (n %d busy %llu steal %llu)", n, busy,
              steal);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    CPU_SET(2, &set); /* absent from the text */
    n = bt_load_parse_stat(text, &set, &busy, &steal);
    tl_expect(n == 1 && busy == 600 && steal == 800, "only the watched CPUs (n %d busy %llu)", n,
              busy);
    tl_expect(bt_load_parse_stat("intr 1 2\n", NULL, &busy, &steal) == -1 &&
                  bt_load_parse_stat("", NULL, &busy, &steal) == -1 &&
                  bt_load_parse_stat(NULL, NULL, &busy, &steal) == -1,
              "text that is not /proc/stat is refused");
    tl_expect(bt_load_parse_stat("cpu  1 2 3 4\ncpu0 1 2\n", NULL, &busy, &steal) == -1,
              "a truncated CPU line is refused");
    /* Older kernels: no steal column. */
    n = bt_load_parse_stat("cpu  1 2 3 4\ncpu0 1 2 3 4\n", NULL, &busy, &steal);
    tl_expect(n == 1 && busy == 6 && steal == 0, "four columns: steal 0");
    tl_expect(near(bt_load_parse_loadavg("2.10 1.50 0.90 3/181 4242\n"), 2.10, 1e-9) &&
                  bt_load_parse_loadavg("") == -1 && bt_load_parse_loadavg(NULL) == -1 &&
                  bt_load_parse_loadavg("x") == -1,
              "/proc/loadavg: the 1-minute figure, -1 when unreadable");
}

/* Two samples `wall` seconds apart: the CPUs' busy units grow by busy_delta, ours by self. */
static void judge(const unsigned long long busy_delta[2], const unsigned long long steal_delta[2],
                  double wall, double self, int threads, bt_interference *v) {
    static const unsigned long long busy0[2] = {40000, 52000}, steal0[2] = {100, 100};
    unsigned long long busy1[2] = {busy0[0] + busy_delta[0], busy0[1] + busy_delta[1]};
    unsigned long long steal1[2] = {steal0[0] + steal_delta[0], steal0[1] + steal_delta[1]};
    char t0[512], t1[512];
    stat_text(t0, sizeof t0, busy0, steal0);
    stat_text(t1, sizeof t1, busy1, steal1);
    bt_load_sample a, b;
    bt_load_sample_from_text(&a, t0, "2.10 1.00 0.50 3/100 7\n", NULL, TICK, 100.0, 7.0);
    bt_load_sample_from_text(&b, t1, "2.35 1.10 0.50 1/100 7\n", NULL, TICK, 100.0 + wall,
                             7.0 + self);
    bt_interference_between(&a, &b, threads, v);
}

static void test_verdicts(void) {
    bt_interference v;
    /* 10 s; we used 20 CPU-seconds (two threads, all of both CPUs): nobody else. */
    judge((const unsigned long long[]){1000, 1000}, (const unsigned long long[]){0, 0}, 10, 20, 2,
          &v);
    tl_expect(v.known && !v.detected && near(v.others_cores, 0, 1e-9) && v.cpus == 2 &&
                  !v.reasons[0],
              "our own work only: no interference (%s)", v.text);
    /* 10 s, one thread of ours (10 s), CPU busy 23 s: others used 1.3 cores. */
    judge((const unsigned long long[]){1000, 1300}, (const unsigned long long[]){0, 0}, 10, 10, 1,
          &v);
    tl_expect(v.detected && near(v.others_cores, 1.3, 1e-6) && near(v.others_limit, 0.2, 1e-9) &&
                  strstr(v.reasons, "others used 1.30 cores") && !strstr(v.reasons, "steal"),
              "others 1.3 cores with 1 thread on 2 CPUs: detected (%s)", v.reasons);
    tl_expect(near(v.load_start, 2.10, 1e-9) && near(v.load_end, 2.35, 1e-9) &&
                  strstr(v.text, "load average 2.10 at start, 2.35 at end"),
              "the load average is reported (%s)", v.text);
    /* 0.15 cores: under the limit. */
    judge((const unsigned long long[]){1000, 150}, (const unsigned long long[]){0, 0}, 10, 10, 1,
          &v);
    tl_expect(!v.detected && near(v.others_cores, 0.15, 1e-6), "0.15 cores: not detected (%s)",
              v.text);
    /* Steal: 8% of 2 CPUs over 10 s = 1.6 s = 160 units. */
    judge((const unsigned long long[]){1000, 1000}, (const unsigned long long[]){80, 80}, 10, 20, 2,
          &v);
    tl_expect(v.detected && near(v.steal_pct, 8, 1e-6) && strstr(v.reasons, "steal 8.0%") &&
                  !strstr(v.reasons, "others"),
              "8%% steal: detected (%s)", v.reasons);
    judge((const unsigned long long[]){1000, 1000}, (const unsigned long long[]){20, 20}, 10, 20, 2,
          &v);
    tl_expect(!v.detected && near(v.steal_pct, 2, 1e-6), "2%% steal: not detected");
    /* Quantization: 20 ms of others in 50 ms reads as 0.4 cores, but it is within one tick
     * per CPU (20 ms) of nothing: not enough to say. */
    judge((const unsigned long long[]){5, 2}, (const unsigned long long[]){0, 0}, 0.05, 0.05, 1,
          &v);
    tl_expect(!v.detected && near(v.others_cores, 0.4, 1e-6),
              "a short window within /proc/stat's resolution: not detected (%s)", v.text);
    /* Ticks that lag our precise CPU time: negative others read as 0. */
    judge((const unsigned long long[]){99, 99}, (const unsigned long long[]){0, 0}, 1, 2, 2, &v);
    tl_expect(!v.detected && v.others_cores == 0, "busy below our CPU time: 0 cores");
}

static void test_free_cpus(void) {
    /* Eight CPUs, others using 3 cores for 10 s. */
    char t0[4096], t1[4096];
    size_t n0 = 0, n1 = 0;
    n0 += (size_t)snprintf(t0, sizeof t0, "cpu  0 0 0 0\n");
    n1 += (size_t)snprintf(t1, sizeof t1, "cpu  0 0 0 0\n");
    for (int c = 0; c < 8; c++) {
        /* ours: 2 threads on cpu0-1 (10 s each); others: cpu2-4 */
        int busy = c < 5 ? 1000 : 0;
        n0 += (size_t)snprintf(t0 + n0, sizeof t0 - n0, "cpu%d 100 0 0 900 0 0 0 0\n", c);
        n1 +=
            (size_t)snprintf(t1 + n1, sizeof t1 - n1, "cpu%d %d 0 0 900 0 0 0 0\n", c, 100 + busy);
    }
    bt_load_sample a, b;
    bt_load_sample_from_text(&a, t0, NULL, NULL, TICK, 0, 0);
    bt_load_sample_from_text(&b, t1, NULL, NULL, TICK, 10, 20);
    bt_interference v;
    bt_interference_between(&a, &b, 2, &v);
    tl_expect(!v.detected && near(v.others_cores, 3, 1e-6) && near(v.others_limit, 5.2, 1e-9),
              "2 threads on 8 CPUs: others on 3 of the 6 others are no interference (%s)", v.text);
    bt_interference_between(&a, &b, 8, &v);
    tl_expect(v.detected && near(v.others_limit, 0.2, 1e-9),
              "8 threads on 8 CPUs: the same 3 cores are (%s)", v.reasons);
    /* Watching cpu0-1 only (our binding): the others ran elsewhere. */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    CPU_SET(1, &set);
    bt_load_sample_from_text(&a, t0, NULL, &set, TICK, 0, 0);
    bt_load_sample_from_text(&b, t1, NULL, &set, TICK, 10, 20);
    bt_interference_between(&a, &b, 2, &v);
    tl_expect(!v.detected && v.cpus == 2 && near(v.others_cores, 0, 1e-9),
              "only the watched CPUs count (%s)", v.text);
}

static void test_window(void) {
    /* Ten sections of 0.1 s of one benchmark, each with 0.03 s of others on 2 CPUs: a single
     * one is within the tick tolerance (0.02 s); together, 0.3 cores over 1 s are not (the
     * tolerance of independent errors grows as the square root of the sections). */
    bt_load_window w = {0};
    double t = 0, self = 0;
    unsigned long long busy[2] = {1000, 1000}, steal[2] = {0, 0};
    for (int i = 0; i < 10; i++) {
        char t0[512], t1[512];
        stat_text(t0, sizeof t0, busy, steal);
        busy[0] += 10; /* ours, 0.1 s */
        busy[1] += 3;  /* others, 0.03 s */
        stat_text(t1, sizeof t1, busy, steal);
        bt_load_sample a, b;
        bt_load_sample_from_text(&a, t0, NULL, NULL, TICK, t, self);
        bt_load_sample_from_text(&b, t1, NULL, NULL, TICK, t + 0.1, self + 0.1);
        bt_load_window_add(&w, &a, &b);
        t += 1, self += 0.5; /* time between sections is not in the window */
        if (i == 0) {
            bt_interference v;
            bt_interference_judge(&w, 1, &v);
            tl_expect(!v.detected, "one 0.1 s section with 0.3 cores: within resolution (%s)",
                      v.text);
        }
    }
    bt_interference v;
    bt_interference_judge(&w, 1, &v);
    tl_expect(v.detected && near(v.seconds, 1.0, 1e-9) && near(v.others_cores, 0.3, 1e-6),
              "ten sections summed: detected (%s)", v.text);
    /* A sample without /proc/stat makes the window unknown, never a false verdict. */
    bt_load_sample a, b;
    bt_load_sample_from_text(&a, NULL, NULL, NULL, TICK, 0, 0);
    bt_load_sample_from_text(&b, NULL, NULL, NULL, TICK, 1, 0);
    bt_load_window_add(&w, &a, &b);
    bt_interference_judge(&w, 1, &v);
    tl_expect(!v.known && !v.detected && strstr(v.text, "not checked"),
              "unreadable /proc/stat: not checked (%s)", v.text);
}

static void test_json(void) {
    bt_interference v;
    judge((const unsigned long long[]){1000, 1300}, (const unsigned long long[]){0, 0}, 10, 10, 1,
          &v);
    json_t *o = bt_interference_to_json(&v);
    tl_expect(o && json_is_true(json_object_get(o, "detected")) &&
                  json_is_true(json_object_get(o, "checked")) &&
                  near(json_real_value(json_object_get(o, "others_cores")), 1.3, 1e-6) &&
                  near(json_real_value(json_object_get(o, "load_start")), 2.1, 1e-9) &&
                  json_is_string(json_object_get(o, "reasons")),
              "JSON: detected, figures and reasons");
    json_decref(o);
    bt_load_window empty = {0};
    bt_interference_judge(&empty, 1, &v);
    o = bt_interference_to_json(&v);
    tl_expect(o && json_is_false(json_object_get(o, "detected")) &&
                  json_is_null(json_object_get(o, "others_cores")) &&
                  json_is_null(json_object_get(o, "load_start")),
              "JSON of an unchecked window: unknown figures are null");
    json_decref(o);
}

static void test_this_machine(void) {
    /* The live sample reads something (no verdict: the machine may be loaded). */
    bt_load_sample a, b;
    bt_load_sample_take(&a);
    bt_load_sample_take(&b);
    tl_expect(a.cpus > 0 && a.tick > 0 && b.wall >= a.wall && b.self_cpu >= a.self_cpu &&
                  b.busy >= a.busy,
              "a live sample of this machine: %d CPUs watched, load %.2f", a.cpus, a.load1);
}

int main(void) {
    test_parse();
    test_verdicts();
    test_free_cpus();
    test_window();
    test_json();
    test_this_machine();
    return tl_finish();
}

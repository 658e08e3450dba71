/* The binding a plan reports is the one its threads really get (bt_plan_affinity reads each
 * team thread's CPU set as bt_plan_execute forms the team). Run twice by ctest: with no
 * OpenMP places (OMP_PLACES and OMP_PROC_BIND unset: nothing may be bound, every thread has
 * every allowed CPU and the plan says bind=none), and with OMP_PLACES=cores and
 * OMP_PROC_BIND=close (the plan says bind=close and threads sit on distinct places). */
#include "testlib.h"

#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "a-b,c", the form bt_plan_affinity writes. */
static void format_cpus(const cpu_set_t *set, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && n < size; c++) {
        if (!CPU_ISSET(c, set)) continue;
        int last = c;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) last++;
        n += (size_t)snprintf(buf + n, size - n, last > c ? "%s%d-%d" : "%s%d", n ? "," : "", c,
                              last);
        c = last;
    }
}

/* The CPU lists of "0:a 1:b ..." into cpus[] (at most max); the count. */
static int split_affinity(char *text, char **cpus, int max) {
    int n = 0;
    for (char *save = NULL, *item = strtok_r(text, " ", &save); item && n < max;
         item = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(item, ':');
        cpus[n++] = colon ? colon + 1 : item;
    }
    return n;
}

int main(void) {
    const char *places = getenv("OMP_PLACES"), *proc_bind = getenv("OMP_PROC_BIND");
    int bound = (places && *places) || (proc_bind && strcmp(proc_bind, "false"));
    int threads = omp_get_num_procs() >= 2 ? 2 : 1;
    bt_problem p;
    if (bt_problem_parse("fc_bwd_d mb4ic8oc8", &p) != BT_OK) {
        tl_fail("parse: %s", bt_last_error());
        return tl_finish();
    }
    char params[64];
    snprintf(params, sizeof params, "threads=%d", threads);
    bt_plan *plan;
    if (bt_plan_create(&plan, &p, NULL, params) != BT_OK) {
        tl_fail("plan: %s", bt_last_error());
        return tl_finish();
    }
    const char *text = bt_plan_params(plan);
    tl_expect(strstr(text, bound ? "bind=close" : "bind=none") != NULL,
              "%s OpenMP places: the plan says %s (%s)", bound ? "with" : "without",
              bound ? "bind=close" : "bind=none", text);
    char affinity[512], *cpus[8];
    tl_expect(bt_plan_affinity(plan, affinity, sizeof affinity) == BT_OK, "bt_plan_affinity: %s",
              bt_last_error());
    tl_note("team of %d: %s", threads, affinity);
    int n = split_affinity(affinity, cpus, 8);
    tl_expect(n == threads, "one entry per team thread (%d of %d)", n, threads);
    if (bound) {
        if (n == 2)
            tl_expect(strcmp(cpus[0], cpus[1]) != 0,
                      "bound close: the two threads sit on different places (%s, %s)", cpus[0],
                      cpus[1]);
    } else {
        /* Unbound: each thread may run anywhere the process may. */
        cpu_set_t set;
        char all[256] = "?";
        if (sched_getaffinity(0, sizeof set, &set) == 0) format_cpus(&set, all, sizeof all);
        for (int t = 0; t < n; t++)
            tl_expect(!strcmp(cpus[t], all),
                      "unbound: thread %d has every allowed CPU (%s, want %s)", t, cpus[t], all);
    }
    tl_expect(bt_plan_affinity(NULL, affinity, sizeof affinity) == BT_EINVAL,
              "bt_plan_affinity(NULL plan) is BT_EINVAL");
    tl_expect(bt_plan_affinity(plan, affinity, 2) == BT_EINVAL,
              "bt_plan_affinity into a 2-byte buffer is BT_EINVAL");
    bt_plan_destroy(plan);
    return tl_finish();
}

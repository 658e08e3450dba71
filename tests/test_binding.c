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

/* The set a CPU list "a-b,c" names; 0 if the text is not such a list. */
static int parse_cpus(const char *text, cpu_set_t *set) {
    CPU_ZERO(set);
    while (*text) {
        char *end;
        long first = strtol(text, &end, 10), last = first;
        if (end == text) return 0;
        if (*end == '-') last = strtol(end + 1, &end, 10);
        for (long c = first; c <= last && c < CPU_SETSIZE; c++) CPU_SET((int)c, set);
        if (*end == ',')
            end++;
        else if (*end)
            return 0;
        text = end;
    }
    return 1;
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
        cpu_set_t all, got;
        tl_expect(sched_getaffinity(0, sizeof all, &all) == 0, "sched_getaffinity");
        for (int t = 0; t < n; t++)
            tl_expect(parse_cpus(cpus[t], &got) && CPU_EQUAL(&got, &all),
                      "unbound: thread %d has every CPU the process may use (%s)", t, cpus[t]);
    }
    tl_expect(bt_plan_affinity(NULL, affinity, sizeof affinity) == BT_EINVAL,
              "bt_plan_affinity(NULL plan) is BT_EINVAL");
    tl_expect(bt_plan_affinity(plan, affinity, 2) == BT_EINVAL,
              "bt_plan_affinity into a 2-byte buffer is BT_EINVAL");
    bt_plan_destroy(plan);
    return tl_finish();
}

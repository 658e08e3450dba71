/* backtune info / list: what this machine is and which variants exist. */
#include "commands.h"
#include "internal.h"

#include <getopt.h>
#include <hwloc.h>
#include <stdio.h>
#include <string.h>

static const char *const isa_names[] = {"scalar", "avx2", "avx512"};

static int only_help(int argc, char **argv, const char *text) {
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(text, stdout);
            return 0;
        }
        fputs(text, stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n%s", argv[0], argv[optind], text);
        return 2;
    }
    return -1;
}

int bt_cmd_info(int argc, char **argv) {
    int rc = only_help(argc, argv,
                       "usage: backtune info\n"
                       "Prints the CPU model, the ISA backtune will use (capped by "
                       "BACKTUNE_ISA_CAP=scalar|avx2|avx512),\ncores, PUs and cache sizes.\n");
    if (rc >= 0) return rc;
    const bt_machine *m = bt_machine_get();
    const char *model = "unknown";
    hwloc_topology_t topo;
    int have_topo = hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0;
    if (have_topo) {
        hwloc_obj_t root = hwloc_get_root_obj(topo);
        const char *v = hwloc_obj_get_info_by_name(root, "CPUModel");
        if (!v) {
            hwloc_obj_t pkg = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PACKAGE, NULL);
            if (pkg) v = hwloc_obj_get_info_by_name(pkg, "CPUModel");
        }
        if (v) model = v;
    }
    printf("cpu:        %s\n", model);
    printf("isa:        %s%s (cpu: avx2 %s, avx512 %s)\n", isa_names[m->isa_cap],
           getenv("BACKTUNE_ISA_CAP") ? " (capped by BACKTUNE_ISA_CAP)" : "",
           m->has_avx2 ? "yes" : "no", m->has_avx512 ? "yes" : "no");
    printf("cores:      %d (PUs %d)\n", m->cores, m->pus);
    printf("caches:     L1d %lld KiB, L2 %lld KiB, L3 %lld KiB\n", (long long)m->l1d_bytes >> 10,
           (long long)m->l2_bytes >> 10, (long long)m->l3_bytes >> 10);
    printf("variants:   %d registered\n", bt_variant_count());
    if (have_topo) hwloc_topology_destroy(topo);
    return 0;
}

int bt_cmd_list(int argc, char **argv) {
    int rc = only_help(argc, argv,
                       "usage: backtune list\n"
                       "Lists every registered variant: op, ISA, whether this CPU runs it, and "
                       "its tunable parameters\n(every variant also takes threads=N and "
                       "bind=none|close|spread).\n");
    if (rc >= 0) return rc;
    printf("%-40s %-11s %-7s %-4s %s\n", "variant", "op", "isa", "cpu", "parameters");
    for (int i = 0; i < bt_variant_count(); i++)
        printf("%-40s %-11s %-7s %-4s %s\n", bt_variant_name(i), bt_op_name(bt_variant_op(i)),
               bt_variant_isa(i), bt_variant_cpu_ok(i) ? "yes" : "no", bt_variant_param_space(i));
    return 0;
}

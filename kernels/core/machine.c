/* What this machine is: ISA (cpuid via gcc builtins, capped by BACKTUNE_ISA_CAP) and cache
 * sizes (hwloc), detected once. Blocking defaults are derived from these. */
#include "internal.h"

#include <hwloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static bt_machine machine;
static pthread_once_t machine_once = PTHREAD_ONCE_INIT;

static int64_t cache_size(hwloc_topology_t topo, hwloc_obj_type_t type, int64_t fallback) {
    hwloc_obj_t obj = hwloc_get_next_obj_by_type(topo, type, NULL);
    if (obj && obj->attr && obj->attr->cache.size > 0) return (int64_t)obj->attr->cache.size;
    return fallback;
}

static bt_isa parse_isa_cap(const char *text, bt_isa hw) {
    if (!text || !*text) return hw;
    bt_isa cap = hw;
    if (!strcasecmp(text, "scalar"))
        cap = BT_ISA_SCALAR;
    else if (!strcasecmp(text, "avx2"))
        cap = BT_ISA_AVX2;
    else if (!strcasecmp(text, "avx512"))
        cap = BT_ISA_AVX512;
    return cap < hw ? cap : hw;
}

static void detect(void) {
    __builtin_cpu_init();
    machine.has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    machine.has_avx512 = machine.has_avx2 && __builtin_cpu_supports("avx512f") &&
                         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512dq");
    bt_isa hw = machine.has_avx512 ? BT_ISA_AVX512 : machine.has_avx2 ? BT_ISA_AVX2 : BT_ISA_SCALAR;
    machine.isa_cap = parse_isa_cap(getenv("BACKTUNE_ISA_CAP"), hw);

    long sys_l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), sys_l2 = sysconf(_SC_LEVEL2_CACHE_SIZE),
         sys_l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    machine.l1d_bytes = sys_l1 > 0 ? sys_l1 : 32 << 10;
    machine.l2_bytes = sys_l2 > 0 ? sys_l2 : 512 << 10;
    machine.l3_bytes = sys_l3 > 0 ? sys_l3 : 8 << 20;
    machine.cores = machine.pus = ncpu > 0 ? (int)ncpu : 1;

    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) == 0) {
        if (hwloc_topology_load(topo) == 0) {
            machine.l1d_bytes = cache_size(topo, HWLOC_OBJ_L1CACHE, machine.l1d_bytes);
            machine.l2_bytes = cache_size(topo, HWLOC_OBJ_L2CACHE, machine.l2_bytes);
            machine.l3_bytes = cache_size(topo, HWLOC_OBJ_L3CACHE, machine.l3_bytes);
            int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
            int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
            if (cores > 0) machine.cores = cores;
            if (pus > 0) machine.pus = pus;
        }
        hwloc_topology_destroy(topo);
    }
}

const bt_machine *bt_machine_get(void) {
    pthread_once(&machine_once, detect);
    return &machine;
}

/* Machine fingerprint: hwloc for the topology and the CPUID strings, gcc's cpu builtins for
 * the ISA flags, CMake for the compiler (see fingerprint.h). */
#include "fingerprint.h"

#include "internal.h"

#include <cpuid.h>
#include <ctype.h>
#include <limits.h>
#include <omp.h>
#include <stddef.h>
#include <hwloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef BT_COMPILER_TEXT
#define BT_COMPILER_TEXT "unknown " __VERSION__
#endif
#ifndef BT_BUILD_FLAGS_TEXT
#define BT_BUILD_FLAGS_TEXT "unknown"
#endif

static bt_fingerprint fingerprint;
static pthread_once_t fingerprint_once = PTHREAD_ONCE_INIT;

uint64_t bt_fnv1a(uint64_t h, const char *text) {
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        h ^= *c;
        h *= 0x100000001b3ull;
    }
    return h;
}

void bt_fingerprint_sanitize(const char *text, char *out, size_t size) {
    size_t n = 0;
    if (!size) return;
    for (const char *c = text; *c && n + 1 < size; c++) {
        char ch = (char)tolower((unsigned char)*c);
        if (isalnum((unsigned char)ch) && (unsigned char)ch < 128)
            out[n++] = ch;
        else if (n && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n && out[n - 1] == '-') n--;
    out[n] = '\0';
}

static void copy_trimmed(char *dst, size_t size, const char *src) {
    if (!src) src = "";
    while (isspace((unsigned char)*src)) src++;
    snprintf(dst, size, "%s", src);
    size_t n = strlen(dst);
    while (n && isspace((unsigned char)dst[n - 1])) dst[--n] = '\0';
}

/* First info attribute `name` on the root or the first package (x86 puts CPUID there). */
static const char *cpu_info(hwloc_topology_t topo, const char *name) {
    const char *v = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), name);
    hwloc_obj_t pkg = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PACKAGE, NULL);
    if (!v && pkg) v = hwloc_obj_get_info_by_name(pkg, name);
    return v;
}

static void os_model_name(char *out, size_t size) {
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            const char *colon = strchr(line, ':');
            if (colon) copy_trimmed(out, size, colon + 1);
            break;
        }
    fclose(f);
}

static void cpuid_identity(bt_fingerprint *fp) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    if (!fp->vendor[0]) {
        char v[13];
        memcpy(v, &b, 4), memcpy(v + 4, &d, 4), memcpy(v + 8, &c, 4), v[12] = '\0';
        snprintf(fp->vendor, sizeof fp->vendor, "%s", v);
    }
    if (fp->family <= 0 && __get_cpuid(1, &a, &b, &c, &d)) {
        unsigned base = (a >> 8) & 0xf, ext = (a >> 20) & 0xff;
        unsigned model = (a >> 4) & 0xf, ext_model = (a >> 16) & 0xf;
        fp->family = (int)(base == 0xf ? base + ext : base);
        fp->model = (int)(base == 0xf || base == 0x6 ? (ext_model << 4) | model : model);
        fp->stepping = (int)(a & 0xf);
    }
}

/* Microarchitecture from the CPUID family/model: the few that matter for tuning tables. */
static void derive_uarch(bt_fingerprint *fp) {
    int f = fp->family, m = fp->model;
    const char *u = NULL;
    if (!strcmp(fp->vendor, "AuthenticAMD")) {
        if (f == 0x17)
            u = m < 0x30 ? "zen" : "zen2";
        else if (f == 0x19)
            u = (m >= 0x10 && m < 0x20) || (m >= 0x60 && m < 0x80) || (m >= 0xa0 && m < 0xb0)
                    ? "zen4"
                    : "zen3";
        else if (f == 0x1a)
            u = "zen5";
    } else if (!strcmp(fp->vendor, "GenuineIntel") && f == 6) {
        static const struct {
            int model;
            const char *name;
        } intel[] = {{0x3f, "haswell"},       {0x4f, "broadwell"},      {0x55, "skylakex"},
                     {0x6a, "icelakex"},      {0x6c, "icelakex"},       {0x7e, "icelake"},
                     {0x8c, "tigerlake"},     {0x8f, "sapphirerapids"}, {0x97, "alderlake"},
                     {0x9a, "alderlake"},     {0xb7, "raptorlake"},     {0xba, "raptorlake"},
                     {0xcf, "emeraldrapids"}, {0xad, "graniterapids"},  {0xae, "graniterapids"},
                     {0xaa, "meteorlake"},    {0xc6, "arrowlake"},      {0xbd, "lunarlake"},
                     {0x9e, "kabylake"},      {0xa5, "cometlake"},      {0x5e, "skylake"},
                     {0x66, "cannonlake"},    {0x7d, "icelake"},        {0x8d, "tigerlake"}};
        for (size_t i = 0; i < sizeof intel / sizeof intel[0]; i++)
            if (intel[i].model == m) u = intel[i].name;
    }
    if (u)
        snprintf(fp->uarch, sizeof fp->uarch, "%s", u);
    else
        snprintf(fp->uarch, sizeof fp->uarch, "f%dm%d", f, m);
}

static void detect_isa(bt_fingerprint *fp) {
    __builtin_cpu_init();
    /* __builtin_cpu_supports takes a literal: one macro use per flag. */
#define FLAG(name)                                                                                 \
    if (__builtin_cpu_supports(name))                                                              \
        snprintf(fp->isa_flags + strlen(fp->isa_flags),                                            \
                 sizeof fp->isa_flags - strlen(fp->isa_flags), "%s%s",                             \
                 fp->isa_flags[0] ? " " : "", name);
    FLAG("avx")
    FLAG("avx2")
    FLAG("fma")
    FLAG("f16c")
    FLAG("avx512f")
    FLAG("avx512cd")
    FLAG("avx512bw")
    FLAG("avx512dq")
    FLAG("avx512vl")
    FLAG("avx512vnni")
    FLAG("avx512bf16")
    FLAG("avx512fp16")
    FLAG("amx-tile")
#undef FLAG
    /* The class backtune runs with (BACKTUNE_ISA_CAP lowers it): tuning results depend on it. */
    snprintf(fp->isa_class, sizeof fp->isa_class, "%s", bt_isa_name(bt_machine_get()->isa_cap));
}

/* With OpenMP places (OMP_PLACES, OMP_PROC_BIND) the runtime pins the initial thread to the
 * first place before main, so the process's binding would name one core: the places, built
 * from the CPUs the process was given, say what it may use. 0 without places. */
static int omp_places_cpus(hwloc_bitmap_t set) {
    int places = omp_get_num_places();
    if (places <= 0) return 0;
    hwloc_bitmap_zero(set);
    for (int p = 0; p < places; p++) {
        int ids[1024], n = omp_get_place_num_procs(p);
        if (n > (int)(sizeof ids / sizeof ids[0])) return 0; /* the process's binding, then */
        omp_get_place_proc_ids(p, ids);
        for (int i = 0; i < n; i++) hwloc_bitmap_set(set, (unsigned)ids[i]);
    }
    return 1;
}

/* The PUs this process may run on: OpenMP's places, else its binding, else all allowed. */
static void allowed_cpus(hwloc_topology_t topo, hwloc_bitmap_t allowed) {
    if (!omp_places_cpus(allowed) && hwloc_get_cpubind(topo, allowed, HWLOC_CPUBIND_PROCESS) != 0)
        hwloc_bitmap_copy(allowed, hwloc_topology_get_allowed_cpuset(topo));
    hwloc_bitmap_and(allowed, allowed, hwloc_topology_get_topology_cpuset(topo));
}

int bt_fingerprint_cpus(char *list, size_t size) {
    hwloc_topology_t topo;
    int ok = 0;
    if (size) list[0] = '\0';
    if (hwloc_topology_init(&topo) != 0) return 0;
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    if (allowed && hwloc_topology_load(topo) == 0) {
        allowed_cpus(topo, allowed);
        int n = hwloc_bitmap_list_snprintf(list, size, allowed);
        ok = n > 0 && (size_t)n < size;
    }
    hwloc_bitmap_free(allowed);
    hwloc_topology_destroy(topo);
    return ok;
}

static void cache_info(hwloc_topology_t topo, hwloc_obj_type_t type, bt_cache_info *out) {
    hwloc_obj_t obj = hwloc_get_next_obj_by_type(topo, type, NULL);
    if (!obj) return;
    out->bytes = obj->attr ? (int64_t)obj->attr->cache.size : 0;
    out->instances = hwloc_get_nbobjs_by_type(topo, type);
    out->pus_sharing = obj->cpuset ? hwloc_bitmap_weight(obj->cpuset) : 0;
}

static void detect_topology(bt_fingerprint *fp) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) return;
    if (hwloc_topology_load(topo) == 0) {
        const char *v;
        if ((v = cpu_info(topo, "CPUVendor"))) copy_trimmed(fp->vendor, sizeof fp->vendor, v);
        if ((v = cpu_info(topo, "CPUModel")))
            copy_trimmed(fp->model_name, sizeof fp->model_name, v);
        if ((v = cpu_info(topo, "CPUFamilyNumber"))) fp->family = atoi(v);
        if ((v = cpu_info(topo, "CPUModelNumber"))) fp->model = atoi(v);
        if ((v = cpu_info(topo, "CPUStepping"))) fp->stepping = atoi(v);
        fp->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
        fp->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
        fp->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
        fp->numa_nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
        cache_info(topo, HWLOC_OBJ_L1CACHE, &fp->l1d);
        cache_info(topo, HWLOC_OBJ_L2CACHE, &fp->l2);
        cache_info(topo, HWLOC_OBJ_L3CACHE, &fp->l3);
        /* The PUs this process may run on (taskset, cgroups), and the cores they belong to. */
        hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
        if (allowed) {
            allowed_cpus(topo, allowed);
            fp->pus_allowed = hwloc_bitmap_weight(allowed);
            for (hwloc_obj_t core = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, NULL); core;
                 core = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, core))
                if (hwloc_bitmap_intersects(core->cpuset, allowed)) fp->cores_allowed++;
            hwloc_bitmap_free(allowed);
        }
    }
    hwloc_topology_destroy(topo);
}

static const char *const brands[] = {"epyc", "ryzen", "threadripper", "opteron", "xeon",
                                     "core", "atom",  "pentium",      "celeron"};

/* "amd-epyc-zen5-2c-avx512": vendor, brand, microarchitecture, cores allowed, ISA class. */
static void derive_id(bt_fingerprint *fp) {
    const char *vendor = !strcmp(fp->vendor, "AuthenticAMD")   ? "amd"
                         : !strcmp(fp->vendor, "GenuineIntel") ? "intel"
                                                               : fp->vendor;
    char brand[32] = "";
    const char *names[] = {fp->model_name, fp->os_model_name};
    for (size_t b = 0; b < sizeof brands / sizeof brands[0] && !brand[0]; b++)
        for (size_t i = 0; i < 2 && !brand[0]; i++)
            if (strcasestr(names[i], brands[b])) snprintf(brand, sizeof brand, "%s", brands[b]);
    if (!brand[0]) { /* the brand string's first word that is not the vendor's name */
        char words[128];
        bt_fingerprint_sanitize(fp->model_name, words, sizeof words);
        for (char *save = NULL, *w = strtok_r(words, "-", &save); w; w = strtok_r(NULL, "-", &save))
            if (strcmp(w, vendor) && strcmp(w, "r") && strcmp(w, "tm")) {
                snprintf(brand, sizeof brand, "%.16s", w);
                break;
            }
    }
    char raw[160];
    snprintf(raw, sizeof raw, "%s-%s-%s-%dc-%s", vendor[0] ? vendor : "unknown",
             brand[0] ? brand : "cpu", fp->uarch, fp->cores_allowed, fp->isa_class);
    bt_fingerprint_sanitize(raw, fp->id, sizeof fp->id);
}

/* Canonical text of the hardware fields, then (with_build) of the compiler and flags. */
static void canonical_text(const bt_fingerprint *fp, int with_build, char *buf, size_t size) {
    int n =
        snprintf(buf, size,
                 "vendor=%s;model=%s;fms=%d/%d/%d;isa=%s;class=%s;topo=%d/%d/%d/%d;allowed=%d/%d;"
                 "l1d=%lld/%d/%d;l2=%lld/%d/%d;l3=%lld/%d/%d",
                 fp->vendor, fp->model_name, fp->family, fp->model, fp->stepping, fp->isa_flags,
                 fp->isa_class, fp->packages, fp->cores, fp->pus, fp->numa_nodes, fp->cores_allowed,
                 fp->pus_allowed, (long long)fp->l1d.bytes, fp->l1d.instances, fp->l1d.pus_sharing,
                 (long long)fp->l2.bytes, fp->l2.instances, fp->l2.pus_sharing,
                 (long long)fp->l3.bytes, fp->l3.instances, fp->l3.pus_sharing);
    if (with_build && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ";cc=%s;flags=%s", fp->compiler, fp->build_flags);
}

static void hash_text(const char *text, char *out, size_t size) {
    snprintf(out, size, "%012llx",
             (unsigned long long)(bt_fnv1a(BT_FNV1A_INIT, text) & 0xffffffffffffull));
}

void bt_fingerprint_hardware_hash(const bt_fingerprint *fp, char *out, size_t size) {
    char text[1024];
    canonical_text(fp, 0, text, sizeof text);
    hash_text(text, out, size);
}

static void detect(void) {
    bt_fingerprint *fp = &fingerprint;
    detect_topology(fp);
    cpuid_identity(fp);
    char os_name[128];
    os_model_name(os_name, sizeof os_name);
    if (strcmp(os_name, fp->model_name))
        snprintf(fp->os_model_name, sizeof fp->os_model_name, "%s", os_name);
    if (!fp->model_name[0]) snprintf(fp->model_name, sizeof fp->model_name, "%s", os_name);
    derive_uarch(fp);
    detect_isa(fp);
    snprintf(fp->compiler, sizeof fp->compiler, "%s", BT_COMPILER_TEXT);
    snprintf(fp->build_flags, sizeof fp->build_flags, "%s", BT_BUILD_FLAGS_TEXT);
    snprintf(fp->version, sizeof fp->version, "%s", bt_version());
    derive_id(fp);
    char text[1024];
    canonical_text(fp, 1, text, sizeof text);
    hash_text(text, fp->hash, sizeof fp->hash);
    bt_fingerprint_hardware_hash(fp, fp->hardware, sizeof fp->hardware);
}

const bt_fingerprint *bt_fingerprint_get(void) {
    pthread_once(&fingerprint_once, detect);
    return &fingerprint;
}

const char *bt_fingerprint_id(void) {
    return bt_fingerprint_get()->id;
}

/* The JSON fields, once, for both directions of the mapping. */
typedef struct field_spec {
    const char *key;
    size_t offset, size; /* of the member in bt_fingerprint */
} field_spec;
#define MEMBER(m) offsetof(bt_fingerprint, m), sizeof(((bt_fingerprint *)0)->m)
static const field_spec string_fields[] = {{"id", MEMBER(id)},
                                           {"hash", MEMBER(hash)},
                                           {"hardware_hash", MEMBER(hardware)},
                                           {"vendor", MEMBER(vendor)},
                                           {"model_name", MEMBER(model_name)},
                                           {"os_model_name", MEMBER(os_model_name)},
                                           {"uarch", MEMBER(uarch)},
                                           {"isa_flags", MEMBER(isa_flags)},
                                           {"isa_class", MEMBER(isa_class)},
                                           {"compiler", MEMBER(compiler)},
                                           {"build_flags", MEMBER(build_flags)},
                                           {"version", MEMBER(version)}};
static const field_spec int_fields[] = {{"family", MEMBER(family)},
                                        {"model", MEMBER(model)},
                                        {"stepping", MEMBER(stepping)},
                                        {"packages", MEMBER(packages)},
                                        {"cores", MEMBER(cores)},
                                        {"pus", MEMBER(pus)},
                                        {"numa_nodes", MEMBER(numa_nodes)},
                                        {"cores_allowed", MEMBER(cores_allowed)},
                                        {"pus_allowed", MEMBER(pus_allowed)}};
static const field_spec cache_fields[] = {
    {"l1d", MEMBER(l1d)}, {"l2", MEMBER(l2)}, {"l3", MEMBER(l3)}};
#undef MEMBER
#define COUNT(a) (sizeof a / sizeof a[0])
#define FIELD(fp, type, f) ((type *)((char *)(fp) + (f).offset))

json_t *bt_fingerprint_to_json(const bt_fingerprint *fp) {
    json_t *o = json_object();
    if (!o) return NULL;
    for (size_t i = 0; i < COUNT(string_fields); i++)
        json_object_set_new(o, string_fields[i].key,
                            json_string(FIELD(fp, const char, string_fields[i])));
    for (size_t i = 0; i < COUNT(int_fields); i++)
        json_object_set_new(o, int_fields[i].key,
                            json_integer(*FIELD(fp, const int, int_fields[i])));
    for (size_t i = 0; i < COUNT(cache_fields); i++) {
        const bt_cache_info *c = FIELD(fp, const bt_cache_info, cache_fields[i]);
        json_object_set_new(o, cache_fields[i].key,
                            json_pack("{sIsisi}", "bytes", (json_int_t)c->bytes, "instances",
                                      c->instances, "pus_sharing", c->pus_sharing));
    }
    return o;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* An integer field within int range into *out; 0 with a reason if present and not one. */
static int get_int(const json_t *obj, const char *key, const char *where, int *out, char *why,
                   size_t size) {
    const json_t *v = json_object_get(obj, key);
    if (!v) return 1;
    if (!json_is_integer(v) || json_integer_value(v) < INT_MIN || json_integer_value(v) > INT_MAX) {
        snprintf(why, size, "fingerprint field \"%s%s\" is %s, not an integer", where, key,
                 json_is_integer(v) ? "out of range" : type_name(v));
        return 0;
    }
    *out = (int)json_integer_value(v);
    return 1;
}

int bt_fingerprint_from_json(const json_t *obj, bt_fingerprint *out, char *why, size_t why_size) {
    char scratch[8];
    if (!why) why = scratch, why_size = sizeof scratch;
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj)) {
        snprintf(why, why_size, "the fingerprint is %s, not an object",
                 obj ? type_name(obj) : "missing");
        return 0;
    }
    for (size_t i = 0; i < COUNT(string_fields); i++) {
        const json_t *v = json_object_get(obj, string_fields[i].key);
        if (v && !json_is_string(v)) {
            snprintf(why, why_size, "fingerprint field \"%s\" is %s, not a string",
                     string_fields[i].key, type_name(v));
            return 0;
        }
        snprintf(FIELD(out, char, string_fields[i]), string_fields[i].size, "%s",
                 v ? json_string_value(v) : "");
    }
    for (size_t i = 0; i < COUNT(int_fields); i++)
        if (!get_int(obj, int_fields[i].key, "", FIELD(out, int, int_fields[i]), why, why_size))
            return 0;
    for (size_t i = 0; i < COUNT(cache_fields); i++) {
        const json_t *c = json_object_get(obj, cache_fields[i].key);
        bt_cache_info *info = FIELD(out, bt_cache_info, cache_fields[i]);
        char where[16];
        snprintf(where, sizeof where, "%s.", cache_fields[i].key);
        if (c && !json_is_object(c)) {
            snprintf(why, why_size, "fingerprint field \"%s\" is %s, not an object",
                     cache_fields[i].key, type_name(c));
            return 0;
        }
        const json_t *b = json_object_get(c, "bytes");
        if (b && (!json_is_integer(b) || json_integer_value(b) < 0)) {
            snprintf(why, why_size, "fingerprint field \"%sbytes\" is %s, not a size", where,
                     json_is_integer(b) ? "negative" : type_name(b));
            return 0;
        }
        info->bytes = (int64_t)json_integer_value(b);
        if (!get_int(c, "instances", where, &info->instances, why, why_size) ||
            !get_int(c, "pus_sharing", where, &info->pus_sharing, why, why_size))
            return 0;
    }
    if (!out->hardware[0]) bt_fingerprint_hardware_hash(out, out->hardware, sizeof out->hardware);
    if (!out->id[0] || !out->hash[0] || !out->isa_class[0]) {
        snprintf(why, why_size, "the fingerprint lacks its id, hash or isa_class");
        return 0;
    }
    return 1;
}

bt_fingerprint_match bt_fingerprint_compare(const bt_fingerprint *mine,
                                            const bt_fingerprint *other) {
    if (!strcmp(mine->hardware, other->hardware)) return BT_FP_EXACT;
    if (!strcmp(mine->isa_class, other->isa_class) && !strcmp(mine->vendor, other->vendor) &&
        !strcmp(mine->uarch, other->uarch))
        return BT_FP_SAME_UARCH;
    if (!strcmp(mine->isa_class, other->isa_class)) return BT_FP_SAME_ISA;
    return BT_FP_FOREIGN;
}

const char *bt_fingerprint_match_name(bt_fingerprint_match m) {
    switch (m) {
    case BT_FP_EXACT:
        return "exact fingerprint";
    case BT_FP_SAME_UARCH:
        return "same microarchitecture";
    case BT_FP_SAME_ISA:
        return "same ISA class only";
    case BT_FP_FOREIGN:
        return "another ISA class";
    }
    return "?";
}

static void print_cache(FILE *out, const char *name, const bt_cache_info *c) {
    if (!c->bytes) {
        fprintf(out, "  %-4s none\n", name);
        return;
    }
    fprintf(out, "  %-4s %lld KiB x %d, each shared by %d PU%s\n", name, (long long)c->bytes >> 10,
            c->instances, c->pus_sharing, c->pus_sharing == 1 ? "" : "s");
}

void bt_fingerprint_print(FILE *out) {
    const bt_fingerprint *fp = bt_fingerprint_get();
    fprintf(out, "machine id: %s (hardware hash %s; with this build %s)\n", fp->id, fp->hardware,
            fp->hash);
    fprintf(out, "cpu:        %s%s%s%s\n", fp->model_name, fp->os_model_name[0] ? " (OS: " : "",
            fp->os_model_name, fp->os_model_name[0] ? ")" : "");
    fprintf(out, "            %s family %d model %d stepping %d (%s)\n", fp->vendor, fp->family,
            fp->model, fp->stepping, fp->uarch);
    fprintf(out, "isa flags:  %s\n", fp->isa_flags[0] ? fp->isa_flags : "(none of interest)");
    fprintf(out, "isa class:  %s%s\n", fp->isa_class,
            getenv("BACKTUNE_ISA_CAP") ? " (capped by BACKTUNE_ISA_CAP)" : "");
    fprintf(out, "topology:   %d package%s, %d cores, %d PUs, %d NUMA node%s\n", fp->packages,
            fp->packages == 1 ? "" : "s", fp->cores, fp->pus, fp->numa_nodes,
            fp->numa_nodes == 1 ? "" : "s");
    fprintf(out, "allowed:    %d cores, %d PUs (this process's CPU binding)\n", fp->cores_allowed,
            fp->pus_allowed);
    fprintf(out, "caches:\n");
    print_cache(out, "L1d", &fp->l1d);
    print_cache(out, "L2", &fp->l2);
    print_cache(out, "L3", &fp->l3);
    fprintf(out, "compiler:   %s\n", fp->compiler);
    fprintf(out, "flags:      %s\n", fp->build_flags);
    fprintf(out, "backtune:   %s\n", fp->version);
}

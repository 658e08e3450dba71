/* Machine fingerprint: what a tuning result depends on. CPU (vendor, model,
 * family/model/stepping, ISA flags), topology as this process sees it (packages, cores and
 * PUs it may run on, NUMA nodes, cache sizes and sharing) and how backtune was compiled.
 *
 * The readable id ("amd-epyc-zen5-2c-avx512") names results/<id>/, which two different
 * machines may share. The hardware hash (12 hex digits of FNV-1a over every field but the
 * compiler, build flags and version) tells machines apart: tables match on it, so a Debug or
 * sanitizer build on the same machine is the same machine. The hash covers the build too and
 * is recorded with every measurement. Compiled into the library (tables are checked against
 * it at load time) and used by the tuner and the benchmarks. Detected once per process;
 * thread safe. */
#ifndef BT_FINGERPRINT_H
#define BT_FINGERPRINT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef struct bt_cache_info {
    int64_t bytes;   /* size of one instance; 0 if absent */
    int instances;   /* how many the machine has */
    int pus_sharing; /* PUs attached to one instance */
} bt_cache_info;

typedef struct bt_fingerprint {
    char vendor[32];         /* "AuthenticAMD" */
    char model_name[128];    /* CPUID brand string (hwloc CPUModel), trimmed */
    char os_model_name[128]; /* /proc/cpuinfo "model name" when it differs, else "" */
    int family, model, stepping;
    char uarch[32];      /* "zen5", "sapphirerapids", or "f<family>m<model>" */
    char isa_flags[160]; /* space separated: avx2 fma avx512f ... */
    char isa_class[16];  /* "avx512", "avx2" or "scalar": what backtune's variants can use */
    int packages, cores, pus, numa_nodes; /* the whole machine */
    int cores_allowed, pus_allowed;       /* those this process may run on */
    bt_cache_info l1d, l2, l3;
    char compiler[64];     /* "GNU 12.2.0" */
    char build_flags[256]; /* build type and C flags */
    char version[32];      /* backtune's version */
    char id[64];
    char hash[16];     /* every field but id and version: hardware and build */
    char hardware[16]; /* the hardware fields only (JSON "hardware_hash") */
} bt_fingerprint;

/* Match between a table's fingerprint and this machine, best first. */
typedef enum bt_fingerprint_match {
    BT_FP_EXACT,      /* same hardware hash (the build may differ) */
    BT_FP_SAME_UARCH, /* other hardware, same vendor, microarchitecture and ISA class */
    BT_FP_SAME_ISA,   /* another microarchitecture (or vendor) of the same ISA class */
    BT_FP_FOREIGN     /* a different ISA class */
} bt_fingerprint_match;

const bt_fingerprint *bt_fingerprint_get(void);
const char *bt_fingerprint_id(void);
/* A new JSON object holding every field (the caller owns the reference). */
json_t *bt_fingerprint_to_json(const bt_fingerprint *fp);
/* Reads the fields back from a JSON object (missing fields stay zero/empty; a missing
 * hardware hash, as in tables written before it existed, is computed from the fields).
 * Returns 0, with the reason in why (may be NULL), if `obj` is not an object, a field has the
 * wrong JSON type (or an integer out of range), or the id, hash or ISA class is missing. */
int bt_fingerprint_from_json(const json_t *obj, bt_fingerprint *out, char *why, size_t why_size);
bt_fingerprint_match bt_fingerprint_compare(const bt_fingerprint *mine,
                                            const bt_fingerprint *other);
const char *bt_fingerprint_match_name(bt_fingerprint_match m);
/* The hardware hash of the fields of fp (as detection computes it). */
void bt_fingerprint_hardware_hash(const bt_fingerprint *fp, char *out, size_t size);
/* The CPUs this process may run on (those its fingerprint counts) as an hwloc list, "0-3,8":
 * OpenMP's places when there are any, else the process's binding. 0 if hwloc failed or the
 * list does not fit. */
int bt_fingerprint_cpus(char *list, size_t size);
/* Human-readable report (`backtune info`). */
void bt_fingerprint_print(FILE *out);

/* Lower-case [a-z0-9-] version of text: other characters become '-', runs collapse, no
 * leading/trailing '-', at most size-1 characters. */
void bt_fingerprint_sanitize(const char *text, char *out, size_t size);
/* 64-bit FNV-1a, for the fingerprint and registry hashes. */
uint64_t bt_fnv1a(uint64_t h, const char *text);
#define BT_FNV1A_INIT 0xcbf29ce484222325ull

#endif

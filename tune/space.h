/* The tuner's search space for one problem: every variant of its op that this CPU runs and
 * that takes the problem, each with its tunable parameters (the descriptor's `tune` lists,
 * read through bt_variant_param_space: "key=v1|v2;key2=lo..hi"; a bare range is not
 * enumerated: the variant's machine-derived default is used), crossed with thread counts.
 *
 * A variant whose family has a wider-ISA sibling that takes the problem here (the AVX2 and
 * scalar builds beside an AVX-512 one) enters with its defaults only.
 *
 * A configuration picks, for each parameter, either the variant's default (choice 0) or one
 * of the listed values (choice i = value i-1). */
#ifndef BT_TUNE_SPACE_H
#define BT_TUNE_SPACE_H

#include "internal.h"

#include <stdint.h>

#define BT_SPACE_MAX_VALUES 16
#define BT_SPACE_MAX_THREADS 12

typedef struct bt_space_param {
    char key[32];
    int count; /* listed values; 0: default only */
    char values[BT_SPACE_MAX_VALUES][24];
} bt_space_param;

typedef struct bt_space_variant {
    int index; /* in the registry */
    const char *name;
    int nparams;
    bt_space_param params[BT_MAX_PARAMS];
    int narrowed; /* a wider-ISA sibling takes the problem: defaults only (space.c) */
} bt_space_variant;

typedef struct bt_space_skip {
    const char *name;
    char reason[200];
} bt_space_skip;

typedef struct bt_space {
    int nvariants, nskipped;
    bt_space_variant *variants;
    bt_space_skip *skipped; /* variants of the op that cannot take the problem, and why */
    int nthreads;
    int threads[BT_SPACE_MAX_THREADS]; /* candidate thread counts, largest first */
} bt_space;

typedef struct bt_config {
    int variant; /* index into space->variants */
    int threads; /* index into space->threads */
    int choice[BT_MAX_PARAMS];
} bt_config;

/* The space for `p` planned with `threads` threads (thread counts tried: threads, threads/2,
 * ..., 1). The reference (priority 0) is never a candidate. */
bt_status bt_space_build(const bt_problem *p, int threads, bt_space *out);
void bt_space_free(bt_space *s);

/* Configurations that use listed values only (plus one all-default one per variant and
 * thread count): what an exhaustive search evaluates. */
int64_t bt_space_size(const bt_space *s);
/* The i-th of them, 0 <= i < bt_space_size(s): per variant and thread count, the all-default
 * configuration first, then the cross product of the listed values. */
void bt_space_config(const bt_space *s, int64_t i, bt_config *out);
/* A configuration of variant `variant` (-1: a random one) with a random thread count and
 * every parameter at a random listed value (state: any seed). */
void bt_space_random(const bt_space *s, int variant, uint64_t *state, bt_config *out);
/* "key=value,...,threads=T" for bt_plan_create (defaulted parameters omitted). */
void bt_space_params(const bt_space *s, const bt_config *c, char *buf, size_t size);

#endif

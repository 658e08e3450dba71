/* An independent model of oneDNN benchdnn's conv and ip (FC) descriptor rules, written from
 * the grammar's rules (rules 1-5 and the FC section of the problem grammar) and not from
 * backtune's parser, so that the grammar tests can compare the library against it.
 *
 * The model reads only the descriptor ("mb2ic4ih8oc4kh3ph1", no op word, no 'accumulate')
 * and says what benchdnn computes for it: per spatial dimension the input, output and kernel
 * sizes, stride, begin and end padding and dilation (counted from 0, as benchdnn does). It
 * then applies backtune's validity limits (rule 5) and says which one refuses a descriptor
 * that benchdnn reads, so a test can tell a legitimate refusal from a parser bug. */
#ifndef BT_BENCHDNN_MODEL_H
#define BT_BENCHDNN_MODEL_H

#include "backtune.h"

#include <stddef.h>
#include <stdint.h>

typedef enum bdm_status {
    BDM_OK,          /* benchdnn reads it and backtune's limits allow it */
    BDM_INVALID,     /* benchdnn rejects it: syntax, a missing field, no output */
    BDM_UNSUPPORTED, /* rule 4: a depth dimension that is not trivial */
    BDM_LIMIT        /* benchdnn reads it, backtune's rule 5 refuses it (see bdm_limit) */
} bdm_status;

typedef enum bdm_limit {
    BDM_LIMIT_NONE,
    BDM_LIMIT_NEGATIVE_PAD, /* begin padding deduced from oX is negative */
    BDM_LIMIT_END_PAD,      /* pX_r <= -sX */
    BDM_LIMIT_ZERO,         /* 0 for a key other than pd ph pw dd dh dw */
    BDM_LIMIT_GROUPS,       /* g does not divide ic or oc */
    BDM_LIMIT_TOO_LARGE,    /* a value or a tensor's byte size does not fit in int64 */
    BDM_LIMIT_COUNT
} bdm_limit;

/* One spatial dimension after the rules. d is benchdnn's dilation (0 = dense). */
typedef struct bdm_dim {
    int64_t i, o, k, s, p, p_r, d;
    int present;   /* rule 1, before any promotion */
    int p_deduced; /* p came from oX (rule 2) */
} bdm_dim;

enum { BDM_NAME_SIZE = 64 };

typedef struct bdm_conv {
    int64_t mb, g, ic, oc;
    bdm_dim depth, h, w;
    unsigned written; /* bit per key that the text wrote: see bdm_conv_wrote */
    bdm_limit limit;  /* which limit, when the status is BDM_LIMIT */
    char field[4];    /* the key the status is about ("ph", "kw", ...), or "" */
    /* Keys written as 0 and then again with another value ("ic0ic4"), '|'-separated: benchdnn
     * keeps the last value, while a limit read token by token would refuse the 0. */
    char overwritten_zero[BDM_NAME_SIZE];
    char name[BDM_NAME_SIZE];
} bdm_conv;

typedef struct bdm_ip {
    int64_t mb, ic, oc; /* ic folded with the spatial size, as backtune holds it */
    int64_t ic_unfolded, id, ih, iw;
    unsigned written;
    bdm_limit limit;
    char field[4];
    char overwritten_zero[BDM_NAME_SIZE];
    char name[BDM_NAME_SIZE];
} bdm_ip;

/* Reads a conv descriptor. Returns its status; for anything but BDM_OK, err says why in
 * words (naming out->field). For BDM_OK and BDM_LIMIT every field of out is filled in (for
 * BDM_LIMIT_TOO_LARGE and BDM_LIMIT_ZERO only the fields read so far). */
bdm_status bdm_parse_conv(const char *desc, bdm_conv *out, char *err, size_t errsz);
/* Reads an ip (FC) descriptor: keys mb ic oc and the optional spatial id ih iw (id as rule
 * 4 reads a depth: ih and iw copy it, or both are given). */
bdm_status bdm_parse_ip(const char *desc, bdm_ip *out, char *err, size_t errsz);

/* Whether the descriptor wrote `key` ("ih", "g", ...). */
int bdm_conv_wrote(const bdm_conv *m, const char *key);

const char *bdm_status_name(bdm_status s);
const char *bdm_limit_name(bdm_limit l);

/* Whether the normalized problem p (from bt_problem_parse) is the computation the model
 * describes: the same n, c, k, groups and, per dimension, input, kernel, stride, dilation
 * (bt_problem's = d + 1), begin padding and output size; with pad_end_set also the end
 * padding. Returns 1 if so; else 0 with the first difference in why. */
int bdm_conv_same_computation(const bt_problem *p, const bdm_conv *m, char *why, size_t size);
int bdm_ip_same_computation(const bt_problem *p, const bdm_ip *m, char *why, size_t size);

/* ---- helpers the grammar tests share ---- */

/* Whether msg names every entry of `names`: entries are separated by spaces and each is a
 * '|'-separated list of alternatives ("ph oh" needs both, "kh|oh" either). A name counts
 * when it stands as a word (not inside a longer word: "id" is not found in "invalid"),
 * digits and punctuation around it allowed ("'ph'", "ph-1" and "oh3" all name it). */
int bdm_message_names(const char *msg, const char *names);

/* Every field of two problems equal, the end padding fields included. */
int bdm_problem_equal(const bt_problem *a, const bt_problem *b);
/* The canonical text of p (parsed from `text`) into canon: format must return its length,
 * parsing it must give p back field for field, and formatting that must give canon again.
 * Returns 1 if so; else 0 with the reason in why. */
int bdm_round_trip(const char *text, const bt_problem *p, char *canon, size_t canon_size, char *why,
                   size_t size);
/* All fields of p in one line, for failure notes. */
void bdm_problem_describe(const bt_problem *p, char *buf, size_t size);

/* The fuzz loops' random numbers (xorshift64*: reproducible from the seed in *state, which
 * must not be 0), and a number in [0, n). */
uint64_t bdm_rng(uint64_t *state);
/* BT_FUZZ_SEED=n in the environment moves *state to another sequence (else it is kept). */
void bdm_rng_seed_from_env(uint64_t *state);
int bdm_rng_below(uint64_t *state, int n);

#endif

/* Tuning tables: the format the tuner writes (tune/records.c) and dispatch reads.
 *
 * A table is a JSON object:
 *   {"format": "backtune-tuning-table", "format_version": 1,
 *    "fingerprint": {...machine, fingerprint.h...}, "registry_hash": "<16 hex>",
 *    "backtune_version": "0.1.0", "updated": "<UTC date>",
 *    "entries": [{"problem": "<canonical problem text>", "threads": T, "variant": "...",
 *                 "params": "key=value,...", "request": "key=value,...", "gflops": ...,
 *                 ...}, ...]}
 * One entry per (problem, threads): the best configuration the tuner measured for a caller
 * planning `problem` with T threads (its params may use fewer). "params" are all the
 * parameters of the measured plan, "request" (optional) those the tuner set explicitly.
 *
 * Loading (bt_tuning_load, or BACKTUNE_TABLE read on the first dispatch) accepts a regular
 * file (a FIFO or device is refused, not read), a machine directory (table.json and
 * tables/<hardware hash>.json: machines sharing an id), or a directory of machine directories
 * (results/): then the table of the best-matching machine is taken. Several paths may be
 * given separated by ':'; earlier ones win (a user's table before a shipped one). Which
 * machines' tables are followed: the same hardware (hardware hash; the build does not count)
 * always; the same vendor, microarchitecture and ISA class with a note on stderr; others are
 * refused with a message unless BACKTUNE_TABLE_MATCH says so (exact: the same hardware only;
 * uarch, the default; isa: any of the same ISA class; any: any machine). A table is also
 * refused, and dispatch falls back to the heuristic, when it is unreadable, not valid JSON
 * (corrupt or truncated), of another format, has a fingerprint field of the wrong JSON type,
 * or is stale (tuned against another variant registry: variants or their parameter spaces
 * changed since). Entries that do not parse, name a variant this build lacks or parameters it
 * does not take (unknown keys, values out of range) are skipped; their count and the first
 * reason are said on stderr when the table loads, whatever the verbosity, and after
 * bt_tuning_load in bt_last_error() (which holds "" when nothing needs saying).
 *
 * Lookup for a normalized problem and thread count: an exact entry (same problem, accumulate
 * ignored, same threads) with its "params", else the nearest entry (bt_tuning_distance <=
 * BT_TUNING_NEAREST_MAX) with its "request" (other parameters derived again for this shape;
 * its thread count replaced by the caller's if they differ), else nothing (the heuristic). */
#ifndef BT_TUNING_H
#define BT_TUNING_H

#include "backtune.h"

#include <jansson.h>

#include <stddef.h>

#define BT_TABLE_FORMAT "backtune-tuning-table"
#define BT_TABLE_FORMAT_VERSION 1
#define BT_TUNING_NEAREST_MAX 3.0

/* If the loaded table has an entry for this normalized problem at this thread count, copy
 * its variant and params and a description of the match into why, and return 1. Otherwise
 * return 0 with why saying why not ("" when no table is loaded). */
int bt_tuning_lookup(const bt_problem *norm, int threads, char *variant, size_t variant_size,
                     char *params, size_t params_size, char *why, size_t why_size);

/* Distance between two normalized problems, for the nearest-entry lookup, or -1 when they
 * are not comparable. Comparable: same op, layout, kernel size, stride and dilation, and the
 * same kind of grouping (none, depthwise, or the same group count). Distance: the sum over
 * n, c, k, h, w and groups of |log2(a / b)|, plus 0.5 per padding side that differs, plus
 * |log2(ta / tb)| for the thread counts ta, tb (0 when equal). */
double bt_tuning_distance(const bt_problem *a, int threads_a, const bt_problem *b, int threads_b);

/* Hash (16 hex digits) of every registered variant's name and parameter space, computed at
 * run time. Table entries carry their own variant's hash (bt_variant_hash) and are checked
 * one by one; entries without one (older tables) are stale under another registry. */
const char *bt_registry_hash(void);
/* Hash of variant i's name and parameter space, 16 hex digits, into buf (17 bytes or more);
 * 0 if i or buf is bad. A table entry and a record carry it, so a change to one variant
 * invalidates only what was tuned with it. */
int bt_variant_hash(int i, char *buf, size_t size);

/* The table's "key=value,..." items whose key `caller` does not give, then caller's items:
 * a caller's threads=N (or any parameter) overrides the table's without a key given twice. */
void bt_tuning_merge_params(const char *table, const char *caller, char *out, size_t size);

/* json_load_file for a regular file only: a FIFO or device given as a table would block or
 * never end. NULL with err->text saying why (for a file that is not regular, *irregular = 1;
 * for an empty one, *empty = 1). */
json_t *bt_json_load_regular(const char *path, size_t flags, json_error_t *err, int *irregular,
                             int *empty);

/* Forgets any loaded table; BACKTUNE_TABLE is read again at the next dispatch. */
void bt_tuning_unload(void);

/* One line on what is loaded ("2 tables: PATH (12 entries, exact fingerprint), ...") or
 * why nothing is; returns the number of tables loaded. */
int bt_tuning_describe(char *buf, size_t size);

#endif

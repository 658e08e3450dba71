/* Tuning-table lookup used by dispatch. */
#ifndef BT_TUNING_H
#define BT_TUNING_H

#include "backtune.h"

#include <stddef.h>

/* If the loaded table has an entry for this normalized problem at this thread count, copy
 * its variant and params and a description of the match into why, and return 1. Otherwise
 * return 0 with why saying why not ("" when no table is loaded). */
int bt_tuning_lookup(const bt_problem *norm, int threads, char *variant, size_t variant_size,
                     char *params, size_t params_size, char *why, size_t why_size);

#endif

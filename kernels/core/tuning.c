/* Tuning tables. The table format and loader arrive with the autotuner (issue 5); until
 * then dispatch uses the heuristic and bt_tuning_load says so. */
#include "internal.h"
#include "tuning.h"

bt_status bt_tuning_load(const char *path) {
    if (!path) return bt_fail(BT_EINVAL, "bt_tuning_load: path is NULL");
    return bt_fail(BT_EUNSUPPORTED,
                   "bt_tuning_load(%s): tuning tables are not supported by "
                   "this build yet",
                   path);
}

int bt_tuning_lookup(const bt_problem *norm, int threads, char *variant, size_t variant_size,
                     char *params, size_t params_size, char *why, size_t why_size) {
    (void)norm, (void)threads, (void)variant, (void)variant_size, (void)params, (void)params_size;
    if (why && why_size) why[0] = '\0';
    return 0;
}

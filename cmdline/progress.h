/* Progress lines of the long-running commands (bench, tune), one format for both:
 * "3/10, 42 s, ETA 1 min 20 s", the ETA extrapolated from what has run so far. */
#ifndef BT_CMDLINE_PROGRESS_H
#define BT_CMDLINE_PROGRESS_H

#include <stddef.h>

/* Item `index` of `total`, `elapsed` seconds since the command began, of which `working`
 * seconds went to the fraction `done` (0..1) of the work: ETA = working x (1 - done) / done,
 * "ETA ?" while nothing is done. */
void bt_cli_progress_text(int index, int total, double elapsed, double working, double done,
                          char *buf, size_t size);

/* "42 s", "3 min 05 s", "2 h 07 min". */
void bt_cli_duration_text(double seconds, char *buf, size_t size);

#endif

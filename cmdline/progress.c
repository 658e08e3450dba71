/* Progress lines (see progress.h). */
#include "progress.h"

#include <stdio.h>

void bt_cli_duration_text(double seconds, char *buf, size_t size) {
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s < 60)
        snprintf(buf, size, "%ld s", s);
    else if (s < 3600)
        snprintf(buf, size, "%ld min %02ld s", s / 60, s % 60);
    else
        snprintf(buf, size, "%ld h %02ld min", s / 3600, s / 60 % 60);
}

void bt_cli_progress_text(int index, int total, double elapsed, double working, double done,
                          char *buf, size_t size) {
    char took[32], eta[32] = "?";
    bt_cli_duration_text(elapsed, took, sizeof took);
    if (done > 0) bt_cli_duration_text(working * (1 - done) / done, eta, sizeof eta);
    snprintf(buf, size, "%d/%d, %s, ETA %s", index, total, took, eta);
}

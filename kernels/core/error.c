/* Status strings, the per-thread last-error message and the library's version. */
#include "internal.h"

#include <stdio.h>

static _Thread_local char last_error[512];

const char *bt_strerror(bt_status s) {
    switch (s) {
    case BT_OK:
        return "success";
    case BT_EINVAL:
        return "invalid argument";
    case BT_EUNSUPPORTED:
        return "unsupported";
    case BT_ENOMEM:
        return "out of memory";
    case BT_EIO:
        return "input/output error";
    }
    return "unknown status";
}

const char *bt_version(void) {
    return BT_VERSION_STRING;
}

const char *bt_last_error(void) {
    return last_error;
}

void bt_clear_error(void) {
    last_error[0] = '\0';
}

bt_status bt_fail(bt_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

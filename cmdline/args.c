/* Argument parsing shared by the subcommands (see cmdline.h). */
#include "cmdline.h"

#include "internal.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int bt_cli_parse_threads(const char *command, const char *text, int max_value, int max_count,
                         int *out, int *count) {
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf) {
        fprintf(stderr, "%s: thread list too long '%s'\n", command, text);
        return -1;
    }
    *count = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long t = strtol(tok, &end, 10);
        if (*end || t < 1 || t > max_value || *count == max_count) {
            fprintf(stderr, "%s: bad thread count '%s' (1..%d, at most %d of them)\n", command, tok,
                    max_value, max_count);
            return -1;
        }
        int dup = 0;
        for (int i = 0; i < *count; i++) dup |= out[i] == t;
        if (!dup) out[(*count)++] = (int)t;
    }
    if (!*count) {
        fprintf(stderr, "%s: empty thread list\n", command);
        return -1;
    }
    return 0;
}

void bt_cli_try_help(const char *command) {
    fprintf(stderr, "try '%s --help'\n", command);
}

void bt_cli_bad_option(const char *command, int code, char **argv) {
    /* The option as written: a long one from its argument (without any "=value"), a short
     * one from optopt (it may sit inside a cluster like -xq). */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char option[64];
    if (!strncmp(arg, "--", 2) || !optopt)
        snprintf(option, sizeof option, "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(option, sizeof option, "-%c", optopt);
    if (code == ':')
        fprintf(stderr, "%s: option '%s' needs a value\n", command, option);
    else
        fprintf(stderr, "%s: unknown option '%s'\n", command, option);
    bt_cli_try_help(command);
}

int bt_cli_name_selected(const char *name, const char *globs) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", globs);
    int positives = 0, matched = 0;
    for (char *save = NULL, *g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
        if (g[0] == '!') {
            if (!fnmatch(g + 1, name, 0)) return 0;
        } else {
            positives++;
            if (!fnmatch(g, name, 0)) matched = 1;
        }
    }
    return matched || !positives;
}

bt_status bt_mkdirs(const char *path) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return bt_fail(BT_EINVAL, "path too long: %s", path);
    for (char *c = buf + 1;; c++) {
        if (*c != '/' && *c) continue;
        char saved = *c;
        *c = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return bt_fail(BT_EIO, "cannot create directory %s: %s", buf, strerror(errno));
        if (!saved) break;
        *c = saved;
    }
    return BT_OK;
}

int bt_cli_descriptor_is_conv(const char *d) {
    const char *name = strstr(d, "n\"");
    size_t len = name ? (size_t)(name - d) : strlen(d);
    static const char *const keys[] = {"id", "ih", "iw", "od", "oh", "ow", "kd", "kh", "kw"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *hit = strstr(d, keys[i]);
        if (hit && (size_t)(hit - d) < len) return 1;
    }
    return 0;
}

/* Reading suites (see suite.h). */
#include "suite.h"

#include "suite_dirs.h"
#include "internal.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_path(const char *s) {
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 4 && !strcmp(s + n - 4, ".txt"));
}

/* "a, b, c" : the suites in dir, into buf. */
static void list_suites(const char *dir, char *buf, size_t size) {
    buf[0] = '\0';
    DIR *d = opendir(dir);
    if (!d) return;
    size_t used = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n <= 4 || strcmp(e->d_name + n - 4, ".txt")) continue;
        int w =
            snprintf(buf + used, size - used, "%s%.*s", used ? ", " : "", (int)(n - 4), e->d_name);
        if (w < 0 || (size_t)w >= size - used) break;
        used += (size_t)w;
    }
    closedir(d);
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bt_suite_print_names(FILE *out) {
    const char *dirs[] = {getenv("BACKTUNE_SUITE_DIR"), BT_SUITE_DIR, BT_SUITE_INSTALL_DIR};
    char **names = NULL;
    size_t count = 0, cap = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        DIR *d = dirs[i] && *dirs[i] ? opendir(dirs[i]) : NULL;
        if (!d) continue;
        for (struct dirent *e; (e = readdir(d));) {
            size_t n = strlen(e->d_name);
            if (n <= 4 || strcmp(e->d_name + n - 4, ".txt")) continue;
            if (count == cap) {
                size_t grown = cap ? 2 * cap : 32;
                char **more = realloc(names, grown * sizeof *names);
                if (!more) break;
                names = more, cap = grown;
            }
            if ((names[count] = strndup(e->d_name, n - 4))) count++;
        }
        closedir(d);
    }
    if (count) qsort(names, count, sizeof *names, compare_strings);
    for (size_t i = 0; i < count; i++) {
        if (!i || strcmp(names[i], names[i - 1])) fprintf(out, "%s\n", names[i]);
    }
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

static FILE *open_suite(const char *name, char *path, size_t path_size) {
    if (is_path(name)) {
        snprintf(path, path_size, "%s", name);
        return fopen(path, "r");
    }
    const char *dirs[] = {getenv("BACKTUNE_SUITE_DIR"), BT_SUITE_DIR, BT_SUITE_INSTALL_DIR};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i] || !*dirs[i]) continue;
        snprintf(path, path_size, "%s/%s.txt", dirs[i], name);
        FILE *f = fopen(path, "r");
        if (f) return f;
    }
    return NULL;
}

static bt_status not_found(const char *name) {
    if (is_path(name)) return bt_fail(BT_EIO, "suite file '%s' cannot be read", name);
    const char *dirs[] = {getenv("BACKTUNE_SUITE_DIR"), BT_SUITE_DIR, BT_SUITE_INSTALL_DIR};
    char available[512] = "";
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !available[0]; i++)
        if (dirs[i] && *dirs[i]) list_suites(dirs[i], available, sizeof available);
    return bt_fail(BT_EIO, "no suite '%s' in $BACKTUNE_SUITE_DIR, %s or %s (suites: %s)", name,
                   BT_SUITE_DIR, BT_SUITE_INSTALL_DIR, available[0] ? available : "none found");
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* The '#' that starts the comment: the first one outside a quoted name. */
static char *comment_start(char *s) {
    int quoted = 0;
    for (; *s; s++) {
        if (*s == '"') quoted = !quoted;
        if (*s == '#' && !quoted) return s;
    }
    return NULL;
}

static bt_status parse_line(bt_suite *suite, char *text, int line, int *capacity) {
    char *hash = comment_start(text);
    int count = 1;
    if (hash == text && hash[1] == '!') { /* directive */
        char *d = trim(hash + 2);
        if (!strncmp(d, "min_time", 8) && isspace((unsigned char)d[8])) {
            char *end;
            double v = strtod(d + 8, &end);
            if (v > 0 && !*trim(end)) {
                suite->min_time = v;
                return BT_OK;
            }
        }
        return bt_fail(BT_EINVAL, "%s:%d: unknown directive '#!%s' (known: '#! min_time S')",
                       suite->path, line, d);
    }
    if (hash) {
        *hash = '\0';
        char *c = trim(hash + 1);
        if (c[0] == 'x' && isdigit((unsigned char)c[1])) {
            char *end;
            long v = strtol(c + 1, &end, 10);
            if (v < 1 || v > 1000000 || (*end && !isspace((unsigned char)*end)))
                return bt_fail(BT_EINVAL, "%s:%d: bad occurrence count '%s'", suite->path, line, c);
            count = (int)v;
        }
    }
    char *descriptor = trim(text);
    if (!*descriptor) return BT_OK;
    if (strlen(descriptor) >= BT_SUITE_TEXT)
        return bt_fail(BT_EINVAL, "%s:%d: descriptor too long", suite->path, line);
    if (suite->count == *capacity) {
        int grown = *capacity ? 2 * *capacity : 32;
        bt_suite_entry *e = realloc(suite->entries, (size_t)grown * sizeof *e);
        if (!e) return bt_fail(BT_ENOMEM, "out of memory reading %s", suite->path);
        suite->entries = e;
        *capacity = grown;
    }
    bt_suite_entry *e = &suite->entries[suite->count++];
    snprintf(e->descriptor, sizeof e->descriptor, "%s", descriptor);
    e->count = count;
    e->line = line;
    return BT_OK;
}

bt_status bt_suite_load(const char *name, bt_suite *out) {
    memset(out, 0, sizeof *out);
    if (!name || !*name) return bt_fail(BT_EINVAL, "no suite name given");
    FILE *f = open_suite(name, out->path, sizeof out->path);
    if (!f) return not_found(name);
    char buf[2 * BT_SUITE_TEXT];
    int line = 0, capacity = 0;
    bt_status st = BT_OK;
    while (st == BT_OK && fgets(buf, sizeof buf, f)) {
        line++;
        if (!strchr(buf, '\n') && !feof(f))
            st = bt_fail(BT_EINVAL, "%s:%d: line too long", out->path, line);
        else
            st = parse_line(out, buf, line, &capacity);
    }
    fclose(f);
    if (st == BT_OK && out->count == 0)
        st = bt_fail(BT_EINVAL, "suite %s has no descriptors", out->path);
    if (st != BT_OK) bt_suite_free(out);
    return st;
}

void bt_suite_free(bt_suite *suite) {
    free(suite->entries);
    suite->entries = NULL;
    suite->count = 0;
}

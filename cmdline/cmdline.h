/* Argument parsing shared by the backtune subcommands (bench, tune, compare, report):
 * thread-count lists and variant-name globs, so every command reads them the same way. */
#ifndef BT_CMDLINE_H
#define BT_CMDLINE_H

#include "backtune.h"

/* Version of what backtune bench's JSON holds (names, labels, counters, context keys),
 * written as context.backtune_schema; readers (compare/results.h) refuse others. Bump on
 * change. */
#define BT_RESULTS_SCHEMA 1

/* Parses "1,2,4" into out[0..*count): distinct values in 1..max_value, at most max_count of
 * them. On bad input prints "<command>: bad thread count ..." to stderr and returns -1. */
int bt_cli_parse_threads(const char *command, const char *text, int max_value, int max_count,
                         int *out, int *count);

/* A bad command line in one line and a pointer to the help, instead of the whole help:
 * bt_cli_bad_option after getopt_long returned '?' (unknown option) or ':' (missing value;
 * the short options must start with ':' so that getopt prints nothing itself) says
 * "<command>: unknown option '--x'" or "...: option '--x' needs a value"; then, as
 * bt_cli_try_help alone does after any other usage error, "try '<command> --help'". */
void bt_cli_bad_option(const char *command, int code, char **argv);
void bt_cli_try_help(const char *command);

/* Whether `name` passes the comma-separated shell globs: it matches a positive glob (or
 * there are only negative ones) and no '!'-prefixed one. */
int bt_cli_name_selected(const char *name, const char *globs);

/* Whether a descriptor without its op is a convolution: it has a spatial field (input,
 * output or kernel size) before its name. FC descriptors in suites carry mb, ic, oc only; a
 * spatial FC (benchdnn's ip with ih) needs its op written, so a convolution that lacks its
 * kernel is reported as such instead of being read as a FC. */
int bt_cli_descriptor_is_conv(const char *descriptor);

/* mkdir -p: creates path and its missing parents; BT_EIO (or BT_EINVAL for a path over
 * 1023 characters) with bt_last_error() naming the directory that failed. */
bt_status bt_mkdirs(const char *path);

#endif

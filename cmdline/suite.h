/* Suites: text files of benchdnn descriptors (the .txt files in bench/suites, format at the top
 * of bench/suites/resnet50.txt). A line is a descriptor, optionally followed by a comment
 * whose first word "xN" is the shape's occurrence count in the model; "#! min_time S" sets
 * the suite's default --benchmark_min_time. */
#ifndef BT_SUITE_H
#define BT_SUITE_H

#include "backtune.h"

#include <stddef.h>
#include <stdio.h>

#define BT_SUITE_TEXT 512

typedef struct bt_suite_entry {
    char descriptor[BT_SUITE_TEXT];
    int count; /* occurrences in the model, >= 1 */
    int line;  /* in the file, for messages */
} bt_suite_entry;

typedef struct bt_suite {
    char path[BT_SUITE_TEXT]; /* the file read */
    bt_suite_entry *entries;
    int count;
    double min_time; /* seconds; 0 when the suite does not say */
} bt_suite;

/* Reads a suite given by name ("resnet50": <dir>/resnet50.txt in $BACKTUNE_SUITE_DIR, the
 * source tree, then the install tree) or by path (contains '/' or ends in .txt). BT_EIO
 * (with the places looked at and the suites there) or BT_EINVAL (bad line) on failure. */
bt_status bt_suite_load(const char *name_or_path, bt_suite *out);
void bt_suite_free(bt_suite *suite);

/* Prints the names bt_suite_load finds ("resnet50"), one a line, sorted, each once: the
 * .txt files of $BACKTUNE_SUITE_DIR, the source tree and the install tree. */
void bt_suite_print_names(FILE *out);

#endif

/* `backtune bench` and the measured-machine part of `backtune info` (bench/ provides both;
 * cli/backtune.c dispatches to them). */
#ifndef BT_BENCH_CMD_H
#define BT_BENCH_CMD_H

#include <stdio.h>

/* backtune bench [options] [google-benchmark flags]: argv[0] is "bench". Returns the exit
 * status: 0 ok, 1 some benchmark failed, 2 usage or set-up error, 130 interrupted. */
int bt_cmd_bench(int argc, char **argv);

/* Prints the measured FMA peak per ISA and the streaming bandwidth, for 1 thread and for
 * OpenMP's default thread count (about a second the first time; cached after). */
void bt_bench_print_machine(FILE *out);

#endif

/* `backtune compare` and `backtune report` (cli/backtune.c dispatches to them). argc/argv
 * start at the command's name; they return the exit status: 0 ok, 1 nothing to compare (or
 * plots not drawn), 2 usage or bad input. */
#ifndef BT_COMPARE_CMD_H
#define BT_COMPARE_CMD_H

int bt_cmd_compare(int argc, char **argv);
int bt_cmd_report(int argc, char **argv);

#endif

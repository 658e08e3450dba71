/* `backtune tune`: tunes a suite or problems for this machine and writes the tuning table.
 * argc/argv start at the command's name; returns the exit status (0 ok, 1 a key found no
 * valid candidate, 2 usage or runtime error). */
#ifndef BT_TUNE_CMD_H
#define BT_TUNE_CMD_H

int bt_cmd_tune(int argc, char **argv);

#endif

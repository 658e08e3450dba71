/* Subcommands of the backtune command. Each takes argc/argv starting at its own name and
 * returns the process exit status (0 ok, 1 failure found, 2 usage or runtime error). */
#ifndef BT_CLI_COMMANDS_H
#define BT_CLI_COMMANDS_H

int bt_cmd_info(int argc, char **argv);
int bt_cmd_list(int argc, char **argv);
int bt_cmd_check(int argc, char **argv);
int bt_cmd_import_model(int argc, char **argv); /* runs the Python package */

#endif

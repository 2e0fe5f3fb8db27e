/* SPDX-License-Identifier: Apache-2.0 */
/* The ferry command line: one cmd-<name>.c per subcommand. */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <stdbool.h>

struct cli_context {
	bool tty; /* stdout is a terminal: show progress */
	const char *argv0;
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(struct cli_context *ctx, int argc, char **argv);
};

int cmd_demo(struct cli_context *ctx, int argc, char **argv);

/* Prints "ferry: <msg>" on stderr; returns the exit code 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

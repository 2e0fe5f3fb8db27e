/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferry: the command line. A table of subcommands, as crun's crun.c; each
 * lives in its cmd-<name>.c, parses its own options and returns an exit code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/log.h"

static int cmd_version(struct cli_context *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	printf("ferry %s\n", FERRY_VERSION);
	return 0;
}

static const struct cli_command commands[] = {
	{ "demo", "start, checkpoint and restore a stateful container (the quick start)", cmd_demo },
	{ "version", "print the version", cmd_version },
};

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("ferry: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: ferry [--log-level LEVEL] COMMAND [OPTIONS]\n\n"
		     "Live-migrate containers and pods between nodes.\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'ferry COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	struct cli_context ctx = { .tty = isatty(STDOUT_FILENO), .argv0 = argv[0] };
	int i = 1;

	log_set_level(LOG_WARNING);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			int l = log_level_from_string(argv[i + 1]);
			if (l < 0)
				return cli_fail("unknown log level '%s' (error, warning, notice, "
						"info, debug)",
						argv[i + 1]);
			log_set_level(l);
			i += 2;
		} else {
			usage(stderr);
			return cli_fail("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < ELEMENTSOF(commands); c++)
		if (strcmp(argv[i], commands[c].name) == 0)
			return commands[c].run(&ctx, argc - i, argv + i);
	usage(stderr);
	return cli_fail("unknown command '%s'", argv[i]);
}

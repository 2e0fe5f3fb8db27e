/* SPDX-License-Identifier: Apache-2.0 */
/* ferry logs NAME [-c CONTAINER] [-f] [--tail N]: what a container printed. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/client.h"

int cmd_logs(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "container", required_argument, NULL, 'c' },
					      { "follow", no_argument, NULL, 'f' },
					      { "tail", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *ns = "default", *container = NULL;
	long tail = -1;
	bool follow = false;
	int c;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "n:c:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ns = optarg; break;
		case 'c': container = optarg; break;
		case 'f': follow = true; break;
		case 't': {
			char *end;
			tail = strtol(optarg, &end, 10);
			if (*end || tail < 0)
				return cli_fail("logs: --tail: '%s' is not a count", optarg);
			break;
		}
		case 'h':
			printf("Usage: ferry logs POD [-c CONTAINER] [-f] [--tail N] [-n NS]\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_fail("logs: usage: ferry logs POD [-c CONTAINER] [-f]");
	const char *name = argv[optind];
	if (!cli_name_ok("namespace", ns) || !cli_name_ok("pod name", name) ||
	    (container && !cli_name_ok("container name", container)))
		return 1;

	char path[512];
	int n = snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/log?follow=%s", ns,
			 name, follow ? "true" : "false");
	if (container)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&container=%s", container);
	if (tail >= 0)
		snprintf(path + n, sizeof(path) - (size_t)n, "&tailLines=%ld", tail);

	struct client *cl = cli_client(ctx);
	struct error err = { 0 };
	long status = 0;
	if (!cl)
		return 1;
	int r = client_stream(cl, path, STDOUT_FILENO, &status, &err);
	client_free(cl);
	return r < 0 ? cli_fail("%s", err.msg) : 0;
}

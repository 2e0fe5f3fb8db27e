/* SPDX-License-Identifier: Apache-2.0 */
/* ferry exec POD [-c CONTAINER] -- CMD...: runs a command, passes its exit code through. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferry.h"
#include "ferry/cleanup.h"

int cmd_exec(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "container", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *ns = "default", *container = NULL;
	int c;

	const char *name = NULL;

	/* Options may stand before and after POD; "--" ends them. */
	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	for (;;) {
		while ((c = getopt_long(argc, argv, "+n:c:h", opts, NULL)) != -1) {
			switch (c) {
			case 'n': ns = optarg; break;
			case 'c': container = optarg; break;
			case 'h':
				printf("Usage: ferry exec POD [-c CONTAINER] [-n NS] -- COMMAND "
				       "[ARG...]\n\nThe command's exit code is ferry's.\n");
				return 0;
			default: return 2;
			}
		}
		if (name || optind >= argc || strcmp(argv[optind - 1], "--") == 0)
			break;
		name = argv[optind++];
	}
	if (!name)
		return cli_fail("exec: usage: ferry exec POD [-c CONTAINER] -- COMMAND [ARG...]");
	if (optind >= argc)
		return cli_fail("exec: no command given (ferry exec POD -- COMMAND)");
	if (!cli_name_ok("namespace", ns) || !cli_name_ok("pod name", name))
		return 1;

	json_t *cmd = json_array();
	for (int i = optind; i < argc; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	json_t *body = json_pack("{s:o}", "command", cmd);
	if (container)
		json_object_set_new(body, "container", json_string(container));
	cleanup_free char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	char path[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/exec", ns, name);
	json_t *res = NULL;
	int r = cli_call(ctx, "POST", path, text, strlen(text), "application/json", &res);
	if (r)
		return r;
	fputs(json_string_value(json_object_get(res, "output")) ?: "", stdout);
	int code = (int)json_integer_value(json_object_get(res, "exitCode"));
	json_decref(res);
	return code;
}

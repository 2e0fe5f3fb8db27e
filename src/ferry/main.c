/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferry: the command line. A table of subcommands, as crun's crun.c; each
 * lives in its cmd-<name>.c, parses its own options and returns an exit code.
 *
 * The node comes from --node URL (anywhere before "--"), else FERRY_NODE, else
 * "node" in the config file ($FERRY_CONFIG, default ~/.config/ferry/config);
 * the CA certificate likewise from --ca, FERRY_CA, or "ca".
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/log.h"
#include "ferry/pod.h"

static int cmd_version(struct cli_context *ctx, int argc, char **argv)
{
	printf("ferry %s\n", FERRY_VERSION);
	return 0;
}

static const struct cli_command commands[] = {
	{ "apply", "create a pod from a YAML or JSON file", cmd_apply },
	{ "get", "list pods, or show one", cmd_get },
	{ "describe", "show a pod's status, containers and events", cmd_describe },
	{ "logs", "print a container's log", cmd_logs },
	{ "delete", "delete a pod gracefully", cmd_delete },
	{ "exec", "run a command in a container", cmd_exec },
	{ "checkpoint", "checkpoint a pod or container into an archive; inspect one", cmd_checkpoint },
	{ "restore", "restore a pod from a checkpoint archive", cmd_restore },
	{ "migrate", "live-migrate a pod to another node", cmd_migrate },
	{ "image", "import, list and remove images on a node", cmd_image },
	{ "ca", "make a cluster CA", cmd_ca },
	{ "demo", "start, checkpoint and restore a stateful container (the quick start)", cmd_demo },
	{ "version", "print the version", cmd_version },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: ferry [--node URL] [--ca FILE] [--log-level LEVEL] COMMAND [OPTIONS]\n\n"
		     "Live-migrate containers and pods between nodes.\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nThe node: --node https://ADDR:PORT, FERRY_NODE, or 'node' in the config file\n"
		     "($FERRY_CONFIG, default ~/.config/ferry/config); the CA to verify it with:\n"
		     "--ca FILE, FERRY_CA, or 'ca'. Run 'ferry COMMAND --help' for a command's "
		     "options.\n");
}

/* Takes --node/--ca/--log-level out of argv (up to a "--"), wherever they stand. */
static int take_globals(struct cli_context *ctx, int *argc, char **argv)
{
	int w = 1;
	bool rest = false;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		const char *val = NULL;
		if (!rest && strcmp(a, "--") == 0)
			rest = true;
		if (!rest) {
			if (strcmp(a, "--node") == 0 || strncmp(a, "--node=", 7) == 0)
				dst = &ctx->node;
			else if (strcmp(a, "--ca") == 0 || strncmp(a, "--ca=", 5) == 0)
				dst = &ctx->ca;
			else if (strcmp(a, "--log-level") == 0 || strncmp(a, "--log-level=", 12) == 0) {
				const char *eq = strchr(a, '=');
				val = eq ? eq + 1 : (i + 1 < *argc ? argv[++i] : NULL);
				int l = val ? log_level_from_string(val) : -1;
				if (l < 0)
					return cli_fail("unknown log level '%s' (error, warning, "
							"notice, info, debug)",
							val ? val : "");
				log_set_level(l);
				continue;
			}
		}
		if (dst) {
			const char *eq = strchr(a, '=');
			val = eq ? eq + 1 : (i + 1 < *argc ? argv[++i] : NULL);
			if (!val)
				return cli_fail("%s needs a value", a);
			*dst = val;
			continue;
		}
		argv[w++] = argv[i];
	}
	*argc = w;
	argv[w] = NULL;
	return 0;
}

static void load_config(struct cli_context *ctx)
{
	cleanup_free char *text = NULL, *def = NULL;
	const char *path = getenv("FERRY_CONFIG");
	struct error err = { 0 };
	size_t len;

	if (!path) {
		const char *home = getenv("HOME");
		if (!home || asprintf(&def, "%s/.config/ferry/config", home) < 0)
			return;
		path = def;
	}
	if (read_file(path, 1 << 20, &text, &len, &err) < 0)
		return;
	if (pod_body_parse(text, len, &ctx->config, &err) < 0) {
		fprintf(stderr, "ferry: config '%s', ignoring: %s\n", path, err.msg);
		return;
	}
	if (!ctx->node)
		ctx->node = json_string_value(json_object_get(ctx->config, "node"));
	if (!ctx->ca)
		ctx->ca = json_string_value(json_object_get(ctx->config, "ca"));
}

int main(int argc, char **argv)
{
	struct cli_context ctx = { .tty = isatty(STDOUT_FILENO), .argv0 = argv[0] };
	int r;

	log_set_level(LOG_WARNING);
	if (take_globals(&ctx, &argc, argv))
		return 1;
	if (!ctx.node)
		ctx.node = getenv("FERRY_NODE");
	if (!ctx.ca)
		ctx.ca = getenv("FERRY_CA");
	load_config(&ctx);

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argv[1][0] == '-') {
		usage(stderr);
		return cli_fail("unknown option '%s'", argv[1]);
	}
	for (size_t c = 0; c < ELEMENTSOF(commands); c++)
		if (strcmp(argv[1], commands[c].name) == 0) {
			r = commands[c].run(&ctx, argc - 1, argv + 1);
			json_decref(ctx.config);
			return r;
		}
	usage(stderr);
	return cli_fail("unknown command '%s'", argv[1]);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The ferry command line: one cmd-<name>.c per subcommand, helpers in cli.c. */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <jansson.h>
#include <stdbool.h>

struct client;

struct cli_context {
	bool tty; /* stdout is a terminal: show progress */
	const char *argv0;
	const char *node; /* --node, FERRY_NODE or the config file */
	const char *ca;	  /* --ca, FERRY_CA or the config file */
	json_t *config;	  /* the config file, if any */
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(struct cli_context *ctx, int argc, char **argv);
};

int cmd_apply(struct cli_context *ctx, int argc, char **argv);
int cmd_get(struct cli_context *ctx, int argc, char **argv);
int cmd_describe(struct cli_context *ctx, int argc, char **argv);
int cmd_logs(struct cli_context *ctx, int argc, char **argv);
int cmd_delete(struct cli_context *ctx, int argc, char **argv);
int cmd_exec(struct cli_context *ctx, int argc, char **argv);
int cmd_image(struct cli_context *ctx, int argc, char **argv);
int cmd_checkpoint(struct cli_context *ctx, int argc, char **argv);
int cmd_restore(struct cli_context *ctx, int argc, char **argv);
int cmd_migrate(struct cli_context *ctx, int argc, char **argv);
int cmd_ca(struct cli_context *ctx, int argc, char **argv);
int cmd_demo(struct cli_context *ctx, int argc, char **argv);
int demo_local(struct cli_context *ctx, int argc, char **argv);
/* The demo image: FERRY_DEMO_IMAGE, the installed one, or the one beside the binary. */
const char *demo_image_default(char *buf, size_t len);

/* Prints "ferry: <msg>" on stderr; returns the exit code 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The client for the selected node, or prints why not and returns NULL. */
struct client *cli_client(struct cli_context *ctx);

/*
 * A request whose answer is JSON. On a 2xx answer returns 0 and the body in
 * *ret (may be NULL when not wanted); otherwise prints the server's message
 * and returns the exit code 1.
 */
int cli_call(struct cli_context *ctx, const char *method, const char *path, const char *body,
	     size_t len, const char *content_type, json_t **ret);

/* Prints a value as -o json or -o yaml. */
int cli_print(json_t *v, const char *format);

/* "5s", "3m", "2h", "4d" since an RFC 3339 time. */
const char *cli_age(const char *rfc3339, char *buf, size_t len);

/* Checks a namespace or name given on the command line. */
bool cli_name_ok(const char *what, const char *name);

#endif

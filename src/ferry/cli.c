/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/fs.h"
#include "ferry/pod.h"

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

bool cli_name_ok(const char *what, const char *name)
{
	if (name_is_dns_label(name))
		return true;
	cli_fail("invalid %s '%s': must be a DNS-1123 label (lowercase alphanumerics and '-')",
		 what, name ? name : "");
	return false;
}

struct client *cli_client(struct cli_context *ctx)
{
	struct client *c = NULL;
	struct error err = { 0 };

	if (!ctx->node) {
		cli_fail("no node given: use --node https://ADDR:PORT, FERRY_NODE, or 'node' in "
			 "the config file");
		return NULL;
	}
	if (client_new(ctx->node, ctx->ca, &c, &err) < 0) {
		cli_fail("%s", err.msg);
		return NULL;
	}
	return c;
}

int cli_call(struct cli_context *ctx, const char *method, const char *path, const char *body,
	     size_t len, const char *content_type, json_t **ret)
{
	struct client *c = cli_client(ctx);
	struct client_reply reply;
	struct error err = { 0 };

	if (!c)
		return 1;
	int r = client_request(c, method, path, body, len, content_type, &reply, &err);
	client_free(c);
	if (r < 0)
		return cli_fail("%s", err.msg);
	if (reply.status < 200 || reply.status >= 300) {
		cleanup_free char *msg = client_error_message(&reply);
		client_reply_done(&reply);
		return cli_fail("%s", msg ? msg : "request failed");
	}
	if (ret) {
		json_error_t jerr;
		*ret = json_loadb(reply.body ? reply.body : "", reply.len, 0, &jerr);
		if (!*ret) {
			client_reply_done(&reply);
			return cli_fail("the node answered with something that is not JSON: %s",
					jerr.text);
		}
	}
	client_reply_done(&reply);
	return 0;
}

int cli_print(json_t *v, const char *format)
{
	if (strcmp(format, "json") == 0) {
		json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		return 0;
	}
	if (strcmp(format, "yaml") == 0)
		return json_to_yaml(v, stdout) < 0 ? cli_fail("cannot write YAML") : 0;
	return cli_fail("unknown output format '%s'", format);
}

const char *cli_age(const char *rfc3339, char *buf, size_t len)
{
	struct tm tm = { 0 };

	if (!rfc3339 || !strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "<unknown>");
		return buf;
	}
	long long s = (long long)(time(NULL) - timegm(&tm));
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 48 * 3600)
		snprintf(buf, len, "%lldh", s / 3600);
	else
		snprintf(buf, len, "%lldd", s / 86400);
	return buf;
}

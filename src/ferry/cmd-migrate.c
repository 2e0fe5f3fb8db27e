/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferry --node SOURCE migrate NS/POD --to DEST [--timeout S] [--keep-source-checkpoint]
 * ferry get migrations (in cmd-get.c)
 *
 * The CLI only starts the migration: it gives the destination the pod with a
 * spec.clonePod naming the source pod, then follows the destination's
 * migration record (a progress bar while the images stream) and, at the end,
 * checks that the pod runs on the destination and is gone from the source.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/fs.h"

static json_t *get(struct client *c, const char *path, long *status)
{
	struct client_reply rep;
	struct error err = { 0 };
	json_t *j = NULL;
	*status = 0;
	if (client_request(c, "GET", path, NULL, 0, NULL, &rep, &err) < 0)
		return NULL;
	*status = rep.status;
	if (rep.status == 200)
		j = json_loads(rep.body ? rep.body : "", 0, NULL);
	client_reply_done(&rep);
	return j;
}

static json_t *find_record(json_t *list, const char *id)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(list, "items"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "id")) ?: "", id) == 0)
			return v;
	return NULL;
}

static void bar(const char *phase, unsigned long long done, unsigned long long total, double secs)
{
	char a[32], b[32];
	int pct = total ? (int)(done * 100 / total) : 0;
	if (pct > 100)
		pct = 100;
	fprintf(stderr, "\r%-13s [%-30.*s] %3d%% %s / %s %.1fs   ", phase, pct * 30 / 100,
		"##############################", pct, format_bytes(done, a, sizeof(a)),
		format_bytes(total, b, sizeof(b)), secs);
}

int cmd_migrate(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "to", required_argument, NULL, 't' },
					      { "timeout", required_argument, NULL, 'T' },
					      { "keep-source-checkpoint", no_argument, NULL, 'k' },
					      { "namespace", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *dest_url = NULL, *ns = "default";
	long timeout = 120;
	bool keep = false;
	int c;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': dest_url = optarg; break;
		case 'T': {
			char *end;
			timeout = strtol(optarg, &end, 10);
			if (*end || timeout < 1 || timeout > 3600)
				return cli_fail("migrate: --timeout: '%s' is not 1-3600 seconds", optarg);
			break;
		}
		case 'k': keep = true; break;
		case 'n': ns = optarg; break;
		case 'h':
			printf("Usage: ferry --node https://SOURCE:PORT migrate [NS/]POD --to "
			       "https://DEST:PORT\n"
			       "                     [--timeout S] [--keep-source-checkpoint]\n\n"
			       "Live-migrate a pod: the source freezes and checkpoints it, the images "
			       "stream to\nthe destination, which restores the pod; only then does the "
			       "source let go.\nOn any failure the pod runs on where it was. Exits 0 "
			       "only when the pod runs\non the destination and is gone from the "
			       "source.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 1 != argc || !dest_url)
		return cli_fail("migrate: usage: ferry migrate [NS/]POD --to https://DEST:PORT");
	char nsbuf[64], name[64];
	const char *arg = argv[optind], *slash = strchr(arg, '/');
	if (slash) {
		snprintf(nsbuf, sizeof(nsbuf), "%.*s", (int)(slash - arg), arg);
		ns = nsbuf;
		snprintf(name, sizeof(name), "%s", slash + 1);
	} else {
		snprintf(name, sizeof(name), "%s", arg);
	}
	if (!cli_name_ok("namespace", ns) || !cli_name_ok("pod name", name))
		return 1;

	struct error err = { 0 };
	struct client *src = cli_client(ctx), *dst = NULL;
	if (!src)
		return 1;
	if (client_new(dest_url, ctx->ca, &dst, &err) < 0) {
		client_free(src);
		return cli_fail("migrate: --to: %s", err.msg);
	}
	int rc = 1;
	char path[512];
	long status;
	unsigned long long t0 = now_ns();
	json_t *pod = NULL, *created = NULL, *list = NULL;
	cleanup_free char *body = NULL;

	/* The pod as the source runs it, with clonePod naming it. */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	pod = get(src, path, &status);
	if (!pod) {
		cli_fail("migrate: pod %s/%s: %s", ns, name,
			 status == 404 ? "not found on the source" : "cannot read it from the source");
		goto out;
	}
	json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
	json_object_del(spec, "nodeName");
	json_object_set_new(spec, "clonePod",
			    json_pack("{s:s, s:s, s:s, s:I, s:b}", "node", ctx->node, "namespace", ns,
				      "name", name, "timeoutSeconds", (json_int_t)timeout,
				      "keepSourceCheckpoint", keep));
	json_t *clone = json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:O}, s:O}", "apiVersion", "v1",
				  "kind", "Pod", "metadata", "name", name, "namespace", ns, "labels",
				  json_object_get(meta, "labels"), "annotations",
				  json_object_get(meta, "annotations"), "spec", spec);
	body = json_dumps(clone, JSON_COMPACT);
	json_decref(clone);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	struct client_reply rep;
	if (client_request(dst, "POST", path, body, strlen(body), "application/json", &rep, &err) < 0) {
		cli_fail("migrate: %s", err.msg);
		goto out;
	}
	if (rep.status != 201) {
		cleanup_free char *msg = client_error_message(&rep);
		client_reply_done(&rep);
		cli_fail("migrate: the destination refused the pod: %s", msg);
		goto out;
	}
	created = json_loads(rep.body, 0, NULL);
	client_reply_done(&rep);
	const char *id = json_string_value(
		json_object_get(json_object_get(json_object_get(created, "status"), "migration"), "id"));
	if (!id) {
		cli_fail("migrate: the destination did not start a migration");
		goto out;
	}
	fprintf(stderr, "migrating %s/%s from %s to %s (migration %s)\n", ns, name, ctx->node,
		dest_url, id);

	/* Follow the destination's record. */
	json_t *rec = NULL;
	const char *ph = "Pending";
	bool tty = isatty(STDERR_FILENO);
	unsigned long long deadline = now_ns() + (unsigned long long)(timeout + 120) * 1000000000ULL;
	for (;;) {
		json_decref(list);
		list = get(dst, "/migrations", &status);
		rec = list ? find_record(list, id) : NULL;
		if (rec) {
			ph = json_string_value(json_object_get(rec, "phase")) ?: "?";
			if (tty)
				bar(ph, (unsigned long long)json_integer_value(json_object_get(rec, "bytes")),
				    (unsigned long long)json_integer_value(json_object_get(rec, "totalBytes")),
				    (double)(now_ns() - t0) / 1e9);
			if (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed") || !strcmp(ph, "RolledBack"))
				break;
		}
		if (now_ns() > deadline) {
			if (tty)
				fputc('\n', stderr);
			cli_fail("migrate: no end after %lds (last phase %s)", timeout + 120, ph);
			goto out;
		}
		usleep(100 * 1000);
	}
	if (tty)
		fputc('\n', stderr);
	if (strcmp(ph, "Succeeded") != 0) {
		cli_fail("migrate: %s: %s", ph,
			 json_string_value(json_object_get(rec, "error")) ?: "no reason given");
		if (!strcmp(ph, "RolledBack"))
			fprintf(stderr, "ferry: the pod runs on at %s\n", ctx->node);
		goto out;
	}

	/* Success means: running there, gone from here. */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	bool gone = false, running = false;
	unsigned long long until = now_ns() + 60ULL * 1000000000ULL;
	while (now_ns() < until && !gone) {
		json_t *p = get(src, path, &status);
		gone = status == 404;
		json_decref(p);
		if (!gone)
			usleep(100 * 1000);
	}
	json_t *dp = get(dst, path, &status);
	running = dp && strcmp(json_string_value(json_object_get(json_object_get(dp, "status"), "phase")) ?: "",
			       "Running") == 0;
	json_decref(dp);
	if (!gone || !running) {
		cli_fail("migrate: the migration succeeded but the pod is %s", !running ? "not running on the destination" : "still on the source");
		goto out;
	}
	char sent[32], raw[32];
	unsigned long long bytes = (unsigned long long)json_integer_value(json_object_get(rec, "bytes"));
	unsigned long long total = (unsigned long long)json_integer_value(json_object_get(rec, "totalBytes"));
	printf("pod/%s migrated to %s\n", name, dest_url);
	printf("  total %.2fs, downtime %.2fs (frozen on the source until it ran on the destination)\n",
	       (double)(now_ns() - t0) / 1e9,
	       json_number_value(json_object_get(rec, "downtimeSeconds")));
	printf("  sent %s of %s (compression %s, ratio %.2f)\n", format_bytes(bytes, sent, sizeof(sent)),
	       format_bytes(total, raw, sizeof(raw)),
	       json_string_value(json_object_get(rec, "compression")) ?: "none",
	       bytes ? (double)total / (double)bytes : 1.0);
	rc = 0;
out:
	json_decref(list);
	json_decref(pod);
	json_decref(created);
	client_free(src);
	client_free(dst);
	return rc;
}

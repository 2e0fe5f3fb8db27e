/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferry checkpoint POD [-c C] [--leave-running] [-o FILE] [--compress zstd|gzip|none]
 * ferry checkpoint inspect FILE
 * ferry restore FILE [--name N] [-n NS]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/ckpt.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/fs.h"

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static void print_stats(json_t *st)
{
	char a[32], b[32];
	printf("  frozen %.2fs (freeze %.2fs, dump %.2fs)", num(st, "frozenSeconds"),
	       num(st, "freezeSeconds"), num(st, "dumpSeconds"));
	if (json_object_get(st, "writeSeconds"))
		printf(", write %.2fs", num(st, "writeSeconds"));
	printf("\n  memory pages %s, rootfs changes %s\n",
	       format_bytes((unsigned long long)num(st, "pagesBytes"), a, sizeof(a)),
	       format_bytes((unsigned long long)num(st, "rootfsDiffBytes"), b, sizeof(b)));
}

static int inspect(int argc, char **argv)
{
	struct error err = { 0 };
	json_t *m = NULL;
	struct stat st;
	char sz[32];

	if (argc != 3)
		return cli_fail("checkpoint inspect: usage: ferry checkpoint inspect FILE");
	if (stat(argv[2], &st) < 0)
		return cli_fail("checkpoint inspect: cannot read '%s': %m", argv[2]);
	if (ckpt_read_manifest(argv[2], &m, &err) < 0)
		return cli_fail("checkpoint inspect: %s", err.msg);
	json_t *meta = json_object_get(json_object_get(m, "pod"), "metadata");
	json_t *opts = json_object_get(m, "options");
	printf("Checkpoint:  %s (%s)\n", argv[2],
	       format_bytes((unsigned long long)st.st_size, sz, sizeof(sz)));
	printf("Format:      %s version %lld\n", json_string_value(json_object_get(m, "format")),
	       (long long)json_integer_value(json_object_get(m, "version")));
	printf("Pod:         %s/%s\n", json_string_value(json_object_get(meta, "namespace")),
	       json_string_value(json_object_get(meta, "name")));
	printf("Node:        %s\nCreated:     %s\nCRIU:        %s\n",
	       json_string_value(json_object_get(m, "node")),
	       json_string_value(json_object_get(m, "created")),
	       json_string_value(json_object_get(m, "criuVersion")) ?: "unknown");
	printf("Options:     leaveRunning=%s tcpEstablished=%s fileLocks=%s\n",
	       json_is_true(json_object_get(opts, "leaveRunning")) ? "true" : "false",
	       json_is_true(json_object_get(opts, "tcpEstablished")) ? "true" : "false",
	       json_is_true(json_object_get(opts, "fileLocks")) ? "true" : "false");
	printf("Containers:\n  %-16s %-20s %-20s %-12s %s\n", "NAME", "IMAGE", "IMAGE DIGEST",
	       "PAGES", "ROOTFS DIFF");
	size_t i;
	json_t *c, *cs;
	json_array_foreach(json_object_get(m, "containers"), i, c)
	{
		char pb[32] = "", db[32] = "";
		size_t k;
		json_array_foreach(json_object_get(json_object_get(m, "stats"), "containers"), k, cs)
		{
			if (strcmp(json_string_value(json_object_get(cs, "name")) ?: "",
				   json_string_value(json_object_get(c, "name")) ?: "") == 0) {
				format_bytes((unsigned long long)num(cs, "pagesBytes"), pb, sizeof(pb));
				format_bytes((unsigned long long)num(cs, "rootfsDiffBytes"), db, sizeof(db));
			}
		}
		printf("  %-16s %-20s %-20.19s %-12s %s\n", json_string_value(json_object_get(c, "name")),
		       json_string_value(json_object_get(c, "image")),
		       json_string_value(json_object_get(c, "imageDigest")) ?: "", pb, db);
	}
	printf("Statistics:\n");
	print_stats(json_object_get(m, "stats"));
	printf("Files:       %zu\n", json_object_size(json_object_get(m, "files")));
	json_decref(m);
	return 0;
}

int cmd_checkpoint(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "container", required_argument, NULL, 'c' },
					      { "leave-running", no_argument, NULL, 'L' },
					      { "output", required_argument, NULL, 'o' },
					      { "compress", required_argument, NULL, 'z' },
					      { "tcp-established", required_argument, NULL, 'T' },
					      { "file-locks", required_argument, NULL, 'F' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *ns = "default", *container = NULL, *out = NULL, *compress = "zstd";
	const char *tcp = NULL, *locks = NULL;
	bool leave = false;
	int c;

	if (argc >= 2 && strcmp(argv[1], "inspect") == 0)
		return inspect(argc, argv);
	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "n:c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ns = optarg; break;
		case 'c': container = optarg; break;
		case 'L': leave = true; break;
		case 'o': out = optarg; break;
		case 'z': compress = optarg; break;
		case 'T': tcp = optarg; break;
		case 'F': locks = optarg; break;
		case 'h':
			printf("Usage: ferry checkpoint POD [-c CONTAINER] [--leave-running] [-o FILE]\n"
			       "                        [--compress zstd|gzip|none] [-n NS]\n"
			       "                        [--tcp-established=true|false] "
			       "[--file-locks=true|false]\n"
			       "       ferry checkpoint inspect FILE\n\n"
			       "Checkpoint a pod (every container frozen together) or one container "
			       "into an\narchive on the node; -o also downloads it. Without "
			       "--leave-running the pod\nis stopped and deleted: 'ferry restore' "
			       "brings it back.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_fail("checkpoint: usage: ferry checkpoint POD [options]");
	const char *name = argv[optind];
	if (!cli_name_ok("namespace", ns) || !cli_name_ok("pod name", name) ||
	    (container && !cli_name_ok("container name", container)))
		return 1;
	if (strcmp(compress, "zstd") != 0 && strcmp(compress, "gzip") != 0 &&
	    strcmp(compress, "none") != 0)
		return cli_fail("checkpoint: --compress: '%s' is not zstd, gzip or none", compress);

	if ((tcp && strcmp(tcp, "true") != 0 && strcmp(tcp, "false") != 0) ||
	    (locks && strcmp(locks, "true") != 0 && strcmp(locks, "false") != 0))
		return cli_fail("checkpoint: --tcp-established and --file-locks take true or false");
	char path[512];
	int n = snprintf(path, sizeof(path),
			 "/api/v1/namespaces/%s/pods/%s/checkpoint?leaveRunning=%s&compress=%s", ns,
			 name, leave ? "true" : "false", compress);
	if (container)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&container=%s", container);
	if (tcp)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&tcpEstablished=%s", tcp);
	if (locks)
		snprintf(path + n, sizeof(path) - (size_t)n, "&fileLocks=%s", locks);
	if (ctx->tty)
		fprintf(stderr, "checkpointing %s/%s...\n", ns, name);
	json_t *res = NULL;
	int r = cli_call(ctx, "POST", path, "", 0, NULL, &res);
	if (r)
		return r;
	char sz[32];
	const char *archive = json_string_value(json_object_get(res, "archive"));
	printf("%s/%s checkpointed: %s (%s)\n", container ? "container" : "pod",
	       container ? container : name, archive,
	       format_bytes((unsigned long long)num(res, "size"), sz, sizeof(sz)));
	print_stats(json_object_get(res, "stats"));
	printf("  %s\n", json_is_true(json_object_get(res, "leftRunning"))
				 ? "left running"
				 : "stopped; the pod is deleted (ferry restore brings it back)");
	if (out) {
		struct client *cl = cli_client(ctx);
		struct error err = { 0 };
		unsigned long long bytes = 0, t0 = now_ns();
		snprintf(path, sizeof(path), "/api/v1/checkpoints/%s", archive);
		r = cl ? client_download(cl, path, out, isatty(STDERR_FILENO), &bytes, &err) : -1;
		client_free(cl);
		if (r < 0) {
			json_decref(res);
			return cl ? cli_fail("checkpoint: download: %s", err.msg) : 1;
		}
		printf("  saved to %s (%s in %.1fs, digest verified)\n", out,
		       format_bytes(bytes, sz, sizeof(sz)), (double)(now_ns() - t0) / 1e9);
	}
	json_decref(res);
	return 0;
}

int cmd_restore(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "name", required_argument, NULL, 'N' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *ns = "default", *name = NULL;
	int c;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ns = optarg; break;
		case 'N': name = optarg; break;
		case 'h':
			printf("Usage: ferry restore FILE [--name NAME] [-n NS]\n\n"
			       "Upload a checkpoint archive to the node and restore it as a pod, "
			       "under its\nown name or NAME. The node verifies the archive before "
			       "it uses it.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_fail("restore: usage: ferry restore FILE [--name NAME] [-n NS]");
	const char *file = argv[optind];
	if (!cli_name_ok("namespace", ns) || (name && !cli_name_ok("pod name", name)))
		return 1;
	if (access(file, R_OK) < 0)
		return cli_fail("restore: cannot read '%s': %m", file);
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	if (!name_is_safe_filename(base))
		return cli_fail("restore: '%s' is not a usable archive name ([A-Za-z0-9_.:-])", base);

	struct client *cl = cli_client(ctx);
	if (!cl)
		return 1;
	struct client_reply reply;
	struct error err = { 0 };
	char path[1024];
	unsigned long long t0 = now_ns();
	snprintf(path, sizeof(path), "/api/v1/checkpoints?name=%s", base);
	int r = client_upload(cl, path, file, isatty(STDERR_FILENO), &reply, &err);
	client_free(cl);
	if (r < 0)
		return cli_fail("restore: upload: %s", err.msg);
	if (reply.status != 201) {
		cleanup_free char *msg = client_error_message(&reply);
		client_reply_done(&reply);
		return cli_fail("restore: upload: %s", msg);
	}
	client_reply_done(&reply);
	double upload_s = (double)(now_ns() - t0) / 1e9;

	int n = snprintf(path, sizeof(path), "/api/v1/namespaces/%s/restore?checkpoint=%s", ns, base);
	if (name)
		snprintf(path + n, sizeof(path) - (size_t)n, "&name=%s", name);
	json_t *pod = NULL;
	r = cli_call(ctx, "POST", path, "", 0, NULL, &pod);
	if (r) {
		/* The node refused it: take back the copy we uploaded. */
		snprintf(path, sizeof(path), "/api/v1/checkpoints/%s", base);
		struct client *c2 = cli_client(ctx);
		struct client_reply rep;
		if (c2 && client_request(c2, "DELETE", path, NULL, 0, NULL, &rep, &err) == 0)
			client_reply_done(&rep);
		client_free(c2);
		return r;
	}
	printf("pod/%s restored from %s (upload %.1fs, restore %.1fs)\n",
	       json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")), base,
	       upload_s, (double)(now_ns() - t0) / 1e9 - upload_s);
	json_decref(pod);
	return 0;
}

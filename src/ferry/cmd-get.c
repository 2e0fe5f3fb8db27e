/* SPDX-License-Identifier: Apache-2.0 */
/* ferry get pods|pod NAME: the kubectl table, or the objects as JSON or YAML. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/fs.h"

/* kubectl's STATUS column: a waiting or terminated reason beats the phase. */
static const char *pod_status(json_t *pod)
{
	json_t *st = json_object_get(pod, "status"), *cs;
	size_t i;

	if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
		return "Terminating";
	json_array_foreach(json_object_get(st, "containerStatuses"), i, cs)
	{
		json_t *state = json_object_get(cs, "state");
		const char *w = json_string_value(
			json_object_get(json_object_get(state, "waiting"), "reason"));
		if (w && strcmp(w, "ContainerCreating") != 0)
			return w;
		const char *t = json_string_value(
			json_object_get(json_object_get(state, "terminated"), "reason"));
		if (t && strcmp(json_string_value(json_object_get(st, "phase")) ?: "", "Running") == 0)
			return t;
	}
	return json_string_value(json_object_get(st, "phase")) ?: "Unknown";
}

static void row(json_t *pod, bool all_ns, bool wide)
{
	json_t *meta = json_object_get(pod, "metadata"), *st = json_object_get(pod, "status"), *cs;
	size_t i, ready = 0, total = 0;
	long long restarts = 0;
	char age[32], rd[16];

	json_array_foreach(json_object_get(st, "containerStatuses"), i, cs)
	{
		total++;
		ready += json_is_true(json_object_get(cs, "ready"));
		restarts += json_integer_value(json_object_get(cs, "restartCount"));
	}
	snprintf(rd, sizeof(rd), "%zu/%zu", ready, total);
	if (all_ns)
		printf("%-16s ", json_string_value(json_object_get(meta, "namespace")));
	printf("%-24s %-7s %-18s %-9lld %-6s", json_string_value(json_object_get(meta, "name")), rd,
	       pod_status(pod), restarts,
	       cli_age(json_string_value(json_object_get(meta, "creationTimestamp")), age,
		       sizeof(age)));
	if (wide)
		printf(" %-15s %s", json_string_value(json_object_get(st, "hostIP")) ?: "",
		       json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName")) ?: "");
	putchar('\n');
}

static int get_migrations(struct cli_context *ctx, const char *output)
{
	json_t *list = NULL;
	int r = cli_call(ctx, "GET", "/migrations", NULL, 0, NULL, &list);
	if (r)
		return r;
	if (output && strcmp(output, "wide") != 0) {
		r = cli_print(list, output);
		json_decref(list);
		return r;
	}
	printf("%-22s %-12s %-24s %-12s %-10s %-9s %s\n", "ID", "ROLE", "POD", "PHASE", "BYTES",
	       "DOWNTIME", "ERROR");
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(list, "items"), i, m)
	{
		char pod[160], sz[32], down[32] = "";
		snprintf(pod, sizeof(pod), "%s/%s", json_string_value(json_object_get(m, "namespace")),
			 json_string_value(json_object_get(m, "pod")));
		if (json_object_get(m, "downtimeSeconds"))
			snprintf(down, sizeof(down), "%.2fs",
				 json_number_value(json_object_get(m, "downtimeSeconds")));
		printf("%-22s %-12s %-24s %-12s %-10s %-9s %s\n",
		       json_string_value(json_object_get(m, "id")),
		       json_string_value(json_object_get(m, "role")), pod,
		       json_string_value(json_object_get(m, "phase")),
		       format_bytes((unsigned long long)json_integer_value(json_object_get(m, "bytes")),
				    sz, sizeof(sz)),
		       down, json_string_value(json_object_get(m, "error")) ?: "");
	}
	json_decref(list);
	return 0;
}

int cmd_get(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "all-namespaces", no_argument, NULL, 'A' },
					      { "output", required_argument, NULL, 'o' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *ns = "default", *output = NULL;
	bool all = false;
	int c;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "n:Ao:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ns = optarg; break;
		case 'A': all = true; break;
		case 'o': output = optarg; break;
		case 'h':
			printf("Usage: ferry get pods [-n NS | -A] [-o wide|json|yaml]\n"
			       "       ferry get pod NAME [-n NS] [-o json|yaml]\n"
			       "       ferry get migrations [-o json|yaml]\n");
			return 0;
		default: return 2;
		}
	}
	if (optind >= argc)
		return cli_fail("get: what? 'pods' or 'pod NAME'");
	const char *what = argv[optind];
	const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
	bool wide = output && strcmp(output, "wide") == 0;
	if (output && !wide && strcmp(output, "json") != 0 && strcmp(output, "yaml") != 0)
		return cli_fail("get: unknown output format '%s' (wide, json, yaml)", output);
	if (strcmp(what, "migrations") == 0 || strcmp(what, "migration") == 0)
		return get_migrations(ctx, output);
	if (strcmp(what, "pods") != 0 && strcmp(what, "pod") != 0 && strcmp(what, "po") != 0)
		return cli_fail("get: unknown resource type '%s' (pods, migrations)", what);
	if (!all && !cli_name_ok("namespace", ns))
		return 1;

	char path[512];
	json_t *v = NULL;
	if (name) {
		if (!cli_name_ok("pod name", name))
			return 1;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	} else if (all) {
		snprintf(path, sizeof(path), "/api/v1/pods");
	} else {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	}
	int r = cli_call(ctx, "GET", path, NULL, 0, NULL, &v);
	if (r)
		return r;
	if (output && !wide) {
		r = cli_print(v, output);
		json_decref(v);
		return r;
	}
	json_t *items = name ? NULL : json_object_get(v, "items");
	if (!name && json_array_size(items) == 0) {
		fprintf(stderr, all ? "No resources found\n" : "No resources found in %s namespace.\n",
			ns);
		json_decref(v);
		return 0;
	}
	if (all)
		printf("%-16s ", "NAMESPACE");
	printf("%-24s %-7s %-18s %-9s %-6s%s\n", "NAME", "READY", "STATUS", "RESTARTS", "AGE",
	       wide ? " IP              NODE" : "");
	if (name) {
		row(v, false, wide);
	} else {
		size_t i;
		json_t *p;
		json_array_foreach(items, i, p) row(p, all, wide);
	}
	json_decref(v);
	return 0;
}

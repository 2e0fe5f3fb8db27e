/* SPDX-License-Identifier: Apache-2.0 */
/* ferry describe pod NAME: status, containers, conditions and events, for people. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferry.h"

static const char *s(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static void state(const char *title, json_t *st)
{
	const char *kind;
	json_t *v;
	json_object_foreach(st, kind, v)
	{
		printf("    %-15s %c%s\n", title, kind[0] - 32, kind + 1);
		if (*s(v, "reason"))
			printf("      Reason:       %s\n", s(v, "reason"));
		if (*s(v, "message"))
			printf("      Message:      %s\n", s(v, "message"));
		if (json_object_get(v, "exitCode"))
			printf("      Exit Code:    %lld\n",
			       (long long)json_integer_value(json_object_get(v, "exitCode")));
		if (*s(v, "startedAt"))
			printf("      Started:      %s\n", s(v, "startedAt"));
		if (*s(v, "finishedAt"))
			printf("      Finished:     %s\n", s(v, "finishedAt"));
	}
}

int cmd_describe(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *ns = "default";
	int c;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ns = optarg; break;
		case 'h': printf("Usage: ferry describe pod NAME [-n NS]\n"); return 0;
		default: return 2;
		}
	}
	if (optind + 2 != argc || (strcmp(argv[optind], "pod") != 0 && strcmp(argv[optind], "pods") != 0))
		return cli_fail("describe: usage: ferry describe pod NAME");
	const char *name = argv[optind + 1];
	if (!cli_name_ok("namespace", ns) || !cli_name_ok("pod name", name))
		return 1;

	char path[512];
	json_t *pod = NULL, *events = NULL;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	int r = cli_call(ctx, "GET", path, NULL, 0, NULL, &pod);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/events", ns, name);
	(void)cli_call(ctx, "GET", path, NULL, 0, NULL, &events);

	json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
	json_t *st = json_object_get(pod, "status"), *v;
	const char *k;
	size_t i;
	printf("Name:         %s\nNamespace:    %s\nNode:         %s/%s\nStart Time:   %s\n",
	       s(meta, "name"), s(meta, "namespace"), s(spec, "nodeName"), s(st, "hostIP"),
	       s(st, "startTime"));
	printf("Labels:       ");
	bool first = true;
	json_object_foreach(json_object_get(meta, "labels"), k, v)
	{
		printf("%s%s=%s\n", first ? "" : "              ", k, json_string_value(v));
		first = false;
	}
	if (first)
		printf("<none>\n");
	printf("UID:          %s\nStatus:       %s\n", s(meta, "uid"),
	       json_object_get(meta, "deletionTimestamp") ? "Terminating" : s(st, "phase"));
	if (json_object_get(meta, "deletionTimestamp"))
		printf("Terminating since: %s\n", s(meta, "deletionTimestamp"));
	printf("Restart Policy: %s\nContainers:\n", s(spec, "restartPolicy"));
	json_t *cs;
	json_array_foreach(json_object_get(st, "containerStatuses"), i, cs)
	{
		json_t *cspec = json_array_get(json_object_get(spec, "containers"), i);
		printf("  %s:\n    Container ID:   %s\n    Image:          %s\n    Image ID:       %s\n",
		       s(cs, "name"), s(cs, "containerID"), s(cs, "image"), s(cs, "imageID"));
		printf("    Command:       ");
		json_t *a;
		size_t j;
		json_array_foreach(json_object_get(cspec, "command"), j, a) printf(" %s",
										    json_string_value(a));
		json_array_foreach(json_object_get(cspec, "args"), j, a) printf(" %s", json_string_value(a));
		putchar('\n');
		state("State:", json_object_get(cs, "state"));
		if (json_object_size(json_object_get(cs, "lastState")))
			state("Last State:", json_object_get(cs, "lastState"));
		printf("    Ready:          %s\n    Restart Count:  %lld\n",
		       json_is_true(json_object_get(cs, "ready")) ? "True" : "False",
		       (long long)json_integer_value(json_object_get(cs, "restartCount")));
		json_t *hook = json_object_get(json_object_get(json_object_get(cspec, "lifecycle"),
							       "postStart"),
					       "exec");
		if (hook) {
			printf("    PostStart:     ");
			json_array_foreach(json_object_get(hook, "command"), j, a) printf(
				" %s", json_string_value(a));
			putchar('\n');
		}
	}
	printf("Conditions:\n  %-16s %s\n", "Type", "Status");
	json_array_foreach(json_object_get(st, "conditions"), i, v)
		printf("  %-16s %s\n", s(v, "type"), s(v, "status"));
	printf("Events:\n");
	json_t *items = json_object_get(events, "items");
	if (json_array_size(items) == 0)
		printf("  <none>\n");
	else
		printf("  %-8s %-20s %-6s %s\n", "Type", "Reason", "Age", "Message");
	json_array_foreach(items, i, v)
	{
		char age[32];
		printf("  %-8s %-20s %-6s %s\n", s(v, "type"), s(v, "reason"),
		       cli_age(s(v, "lastTimestamp"), age, sizeof(age)), s(v, "message"));
	}
	json_decref(pod);
	json_decref(events);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* ferry apply -f FILE: creates the pod a YAML or JSON file describes. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/pod.h"

int cmd_apply(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "filename", required_argument, NULL, 'f' },
					      { "namespace", required_argument, NULL, 'n' },
					      { "output", required_argument, NULL, 'o' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *file = NULL, *ns = NULL, *output = NULL;
	cleanup_free char *body = NULL;
	struct error err = { 0 };
	size_t len = 0;
	int c;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "f:n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'n': ns = optarg; break;
		case 'o': output = optarg; break;
		case 'h':
			printf("Usage: ferry apply -f FILE [-n NAMESPACE] [-o json|yaml]\n\n"
			       "Create the pod that FILE (YAML or JSON, '-' for standard input) "
			       "describes.\nThe namespace is -n, else metadata.namespace, else "
			       "'default'.\n");
			return 0;
		default: return 2;
		}
	}
	if (!file)
		return cli_fail("apply: -f FILE is required");
	if (strcmp(file, "-") == 0)
		file = "/dev/stdin";
	if (read_file(file, 4u << 20, &body, &len, &err) < 0)
		return cli_fail("apply: %s", err.msg);

	/* The namespace: -n, or the file's own; checked here, and again by the node. */
	json_t *pod = NULL;
	const char *file_ns = NULL;
	if (pod_body_parse(body, len, &pod, &err) == 0)
		file_ns = json_string_value(json_object_get(json_object_get(pod, "metadata"),
							    "namespace"));
	if (!ns)
		ns = file_ns ? file_ns : "default";
	if (!cli_name_ok("namespace", ns)) {
		json_decref(pod);
		return 1;
	}
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	json_decref(pod);
	json_t *created = NULL;
	int r = cli_call(ctx, "POST", path, body, len,
			 body[strspn(body, " \t\r\n")] == '{' ? "application/json" : "application/yaml",
			 &created);
	if (r)
		return r;
	if (output)
		r = cli_print(created, output);
	else
		printf("pod/%s created\n",
		       json_string_value(json_object_get(json_object_get(created, "metadata"), "name")));
	json_decref(created);
	return r;
}

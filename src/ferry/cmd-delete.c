/* SPDX-License-Identifier: Apache-2.0 */
/* ferry delete pod NAME: a graceful deletion, waited for (as kubectl does). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/fs.h"

int cmd_delete(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
					      { "wait", required_argument, NULL, 'w' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *ns = "default";
	bool wait = true;
	int c;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ns = optarg; break;
		case 'w': wait = strcmp(optarg, "false") != 0; break;
		case 'h':
			printf("Usage: ferry delete pod NAME [-n NS] [--wait=false]\n\n"
			       "SIGTERM, the pod's grace period, then SIGKILL; waits until the pod "
			       "is gone\nunless --wait=false.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind + 2 != argc || (strcmp(argv[optind], "pod") != 0 && strcmp(argv[optind], "pods") != 0))
		return cli_fail("delete: usage: ferry delete pod NAME");
	const char *name = argv[optind + 1];
	if (!cli_name_ok("namespace", ns) || !cli_name_ok("pod name", name))
		return 1;
	char path[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	json_t *pod = NULL;
	int r = cli_call(ctx, "DELETE", path, NULL, 0, NULL, &pod);
	if (r)
		return r;
	long long grace = json_integer_value(
		json_object_get(json_object_get(pod, "spec"), "terminationGracePeriodSeconds"));
	json_decref(pod);
	if (wait) {
		struct client *cl = cli_client(ctx);
		unsigned long long deadline = now_ns() + (unsigned long long)(grace + 60) * 1000000000ULL;
		bool gone = false;
		while (cl && now_ns() < deadline) {
			struct client_reply reply;
			struct error err = { 0 };
			if (client_request(cl, "GET", path, NULL, 0, NULL, &reply, &err) == 0) {
				gone = reply.status == 404;
				client_reply_done(&reply);
				if (gone)
					break;
			}
			usleep(200 * 1000);
		}
		client_free(cl);
		if (!gone)
			return cli_fail("pod '%s' is still being deleted", name);
	}
	printf("pod \"%s\" deleted\n", name);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* ferry image import NAME FILE.tar | ls | rm NAME: the node's image store. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/fs.h"

static int usage(int code)
{
	fprintf(code ? stderr : stdout,
		"Usage: ferry image import NAME FILE.tar   upload a root file system tarball\n"
		"       ferry image ls [-o json]           list the node's images\n"
		"       ferry image rm NAME                remove one\n");
	return code;
}

int cmd_image(struct cli_context *ctx, int argc, char **argv)
{
	if (argc < 2)
		return usage(2);
	const char *verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0)
		return usage(0);

	if (strcmp(verb, "import") == 0) {
		if (argc != 4)
			return cli_fail("image import: usage: ferry image import NAME FILE.tar");
		const char *name = argv[2], *file = argv[3];
		if (!name_is_valid(name))
			return cli_fail("invalid image name '%s': use 1-128 of [A-Za-z0-9_.:-], no "
					"'/' or '..'",
					name);
		if (access(file, R_OK) < 0)
			return cli_fail("image import: cannot read '%s': %m", file);
		struct client *cl = cli_client(ctx);
		if (!cl)
			return 1;
		char path[256];
		struct client_reply reply;
		struct error err = { 0 };
		unsigned long long t0 = now_ns();
		snprintf(path, sizeof(path), "/api/v1/images?name=%s", name);
		int r = client_upload(cl, path, file, isatty(STDERR_FILENO), &reply, &err);
		client_free(cl);
		if (r < 0)
			return cli_fail("%s", err.msg);
		if (reply.status != 201) {
			cleanup_free char *msg = client_error_message(&reply);
			client_reply_done(&reply);
			return cli_fail("%s", msg);
		}
		json_t *img = json_loads(reply.body, 0, NULL);
		char sz[32];
		printf("image/%s imported: %s, %s in %.1fs\n", name,
		       json_string_value(json_object_get(img, "digest")),
		       format_bytes((unsigned long long)json_integer_value(json_object_get(img, "size")),
				    sz, sizeof(sz)),
		       (double)(now_ns() - t0) / 1e9);
		json_decref(img);
		client_reply_done(&reply);
		return 0;
	}
	if (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0) {
		json_t *list = NULL;
		int r = cli_call(ctx, "GET", "/api/v1/images", NULL, 0, NULL, &list);
		if (r)
			return r;
		if (argc == 4 && strcmp(argv[2], "-o") == 0) {
			r = cli_print(list, argv[3]);
			json_decref(list);
			return r;
		}
		printf("%-24s %-20s %-10s %s\n", "NAME", "DIGEST", "SIZE", "CREATED");
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(list, "items"), i, v)
		{
			char sz[32], age[32];
			const char *d = json_string_value(json_object_get(v, "digest"));
			printf("%-24s %-20.19s %-10s %s\n", json_string_value(json_object_get(v, "name")),
			       d ? d : "",
			       format_bytes((unsigned long long)json_integer_value(json_object_get(v, "size")),
					    sz, sizeof(sz)),
			       cli_age(json_string_value(json_object_get(v, "created")), age,
				       sizeof(age)));
		}
		json_decref(list);
		return 0;
	}
	if (strcmp(verb, "rm") == 0 || strcmp(verb, "remove") == 0) {
		if (argc != 3)
			return cli_fail("image rm: usage: ferry image rm NAME");
		if (!name_is_valid(argv[2]))
			return cli_fail("invalid image name '%s'", argv[2]);
		char path[256];
		snprintf(path, sizeof(path), "/api/v1/images/%s", argv[2]);
		int r = cli_call(ctx, "DELETE", path, NULL, 0, NULL, NULL);
		if (!r)
			printf("image/%s removed\n", argv[2]);
		return r;
	}
	cli_fail("image: unknown command '%s'", verb);
	return usage(1);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An HTTPS client for the agent's API (libcurl with GnuTLS): the CLI's, and
 * later the agents' among themselves. The server is always verified against
 * the given CA; there is no option to skip that.
 */
#ifndef FERRY_CLIENT_H
#define FERRY_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ferry/error.h"

struct client;

/* base_url: "https://127.0.0.2:10250"; ca_file: PEM bundle to trust. */
int client_new(const char *base_url, const char *ca_file, struct client **ret,
	       struct error *err);
struct client *client_free(struct client *c);

/* The longest a request may take, in seconds (default 300). */
void client_set_timeout(struct client *c, long seconds);

struct client_reply {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
};

void client_reply_done(struct client_reply *r);

/*
 * One request. body may be NULL. Returns 0 when an HTTP answer came (any
 * status, see reply->status), -errno when none did (unreachable, TLS failure),
 * with curl's message in err.
 */
int client_request(struct client *c, const char *method, const char *path, const char *body,
		   size_t len, const char *content_type, struct client_reply *reply,
		   struct error *err);

/* POSTs a file as the body, showing progress on stderr when progress is true. */
int client_upload(struct client *c, const char *path, const char *file, bool progress,
		  struct client_reply *reply, struct error *err);

/*
 * GETs path into file (written as file.part, renamed when complete), showing
 * progress on stderr when progress is true. When the server sends
 * X-Content-Digest, the file's sha256 must match it. ret_bytes may be NULL.
 */
int client_download(struct client *c, const char *path, const char *file, bool progress,
		    unsigned long long *ret_bytes, struct error *err);

/*
 * GETs (or POSTs, method) path and writes the body to fd as it arrives (a
 * followed log, a migration's stream). counter, when not NULL, is increased by
 * the bytes written, as they are.
 */
int client_stream(struct client *c, const char *path, int fd, long *ret_status,
		  struct error *err);
int client_stream_counted(struct client *c, const char *path, int fd,
			  unsigned long long *counter, long *ret_status, struct error *err);

/*
 * The message of an error reply: a Kubernetes Status's "message", or the body.
 * Allocated.
 */
char *client_error_message(const struct client_reply *reply);

#endif

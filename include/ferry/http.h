/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTPS server: libmicrohttpd with GnuTLS, a route table with {param}
 * segments, JSON helpers, and streaming responses. One thread per connection,
 * so a handler may block (a followed log).
 *
 * Every request passes through one place, http_authorize(), where its caller
 * is identified and allowed or refused: today every TLS client is "anonymous"
 * and allowed; mutual TLS and roles slot in there.
 *
 * Bodies are read in full before the handler runs, up to the route's limit
 * (413 beyond it); a route may ask for its body in a temporary file instead
 * of memory (image uploads).
 */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ferry/error.h"

struct metrics;
struct http_server;

#define HTTP_MAX_PARAMS 6
#define HTTP_DEFAULT_MAX_BODY (1u << 20)

struct http_request {
	const char *method;
	const char *path;
	const char *route; /* the pattern that matched, for metrics */
	const char *param_names[HTTP_MAX_PARAMS];
	char *param_values[HTTP_MAX_PARAMS];
	size_t n_params;
	const char *body; /* NUL-terminated; NULL when spooled */
	size_t body_len;
	const char *body_file; /* the spooled body, when the route asked for it */
	const char *caller;    /* who is asking (see http_authorize) */
	void *conn;	       /* struct MHD_Connection */
};

/* A streaming body: fill buf (up to max) and return the count, 0 to wait, -1 at the end. */
typedef ssize_t (*http_stream_fn)(void *cls, char *buf, size_t max);

struct http_response {
	int status;
	const char *content_type;
	char *body; /* owned, freed by the server */
	size_t len;
	http_stream_fn stream;
	void *stream_cls;
	void (*stream_free)(void *cls);
	char header_name[64], header_value[256]; /* one extra header, optional */
	bool from_file; /* the body is file_fd (owned, closed by the server), file_size bytes */
	int file_fd;
	unsigned long long file_size;
};

typedef void (*http_handler_fn)(struct http_request *req, struct http_response *res,
				void *userdata);

struct http_route {
	const char *method;
	const char *pattern; /* "/api/v1/namespaces/{ns}/pods/{name}" */
	http_handler_fn fn;
	size_t max_body; /* 0: HTTP_DEFAULT_MAX_BODY */
	bool spool;	 /* the body goes to a temporary file */
};

struct http_server_config {
	const char *host; /* an IPv4 address */
	unsigned port;
	const char *cert_pem, *key_pem; /* the serving certificate and key (PEM text) */
	const struct http_route *routes;
	size_t n_routes;
	const char *spool_dir;	 /* for spooled bodies */
	struct metrics *metrics; /* request counts and latencies; may be NULL */
	void *userdata;		 /* passed to every handler */
};

int http_server_start(const struct http_server_config *cfg, struct http_server **ret,
		      struct error *err);
/* Stops accepting, waits for running requests, frees. NULL-safe. */
struct http_server *http_server_stop(struct http_server *s);

/* The value of a route parameter, or NULL. */
const char *http_param(const struct http_request *req, const char *name);
/* A query argument, or NULL. */
const char *http_query(const struct http_request *req, const char *name);

/* Responds with a JSON value (stolen). */
void http_reply_json(struct http_response *res, int status, json_t *body);
/*
 * Responds with a Kubernetes Status object: {"kind":"Status","status":
 * "Failure","message":...,"reason":...,"code":...}. reason NULL: from status.
 */
void http_reply_error(struct http_response *res, int status, const char *reason,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Maps -errno to an HTTP status: ENOENT 404, EEXIST 409, EINVAL 422, ... */
int http_status_from_errno(int r);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "http"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/http.h"
#include "ferry/log.h"
#include "ferry/metrics.h"

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_config cfg;
	char *cert, *key, *spool_dir;
	struct metric *requests, *duration;
};

/* One per request, across MHD's calls for it. */
struct pending {
	const struct http_route *route;
	struct http_request req;
	char *body;
	size_t len, cap, max;
	int spool_fd;
	char *spool_path;
	bool too_large, spool_failed;
	unsigned long long start_ns;
};

/* ---------------------------------------------------------------- helpers */

int http_status_from_errno(int r)
{
	switch (r < 0 ? -r : r) {
	case ENOENT: return 404;
	case EEXIST: return 409;
	case EBUSY: return 409;
	case EINVAL: return 422;
	case EBADMSG: return 400;
	case EPERM:
	case EACCES: return 403;
	case EFBIG: return 413;
	case ETIMEDOUT: return 504;
	default: return 500;
	}
}

static const char *reason_for(int status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "AlreadyExists";
	case 413: return "RequestEntityTooLarge";
	case 422: return "Invalid";
	case 504: return "Timeout";
	default: return "InternalError";
	}
}

void http_reply_json(struct http_response *res, int status, json_t *body)
{
	res->status = status;
	res->content_type = "application/json";
	free(res->body);
	res->body = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	res->len = res->body ? strlen(res->body) : 0;
	if (res->body && res->len) {
		/* a trailing newline, as kubectl's output has */
		char *nb = realloc(res->body, res->len + 2);
		if (nb) {
			res->body = nb;
			res->body[res->len++] = '\n';
			res->body[res->len] = '\0';
		}
	}
	json_decref(body);
}

void http_reply_error(struct http_response *res, int status, const char *reason,
		      const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_reply_json(res, status,
			json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
				  "apiVersion", "v1", "metadata", "status", "Failure", "message", msg,
				  "reason", reason ? reason : reason_for(status), "code", status));
}

const char *http_param(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_params; i++)
		if (strcmp(req->param_names[i], name) == 0)
			return req->param_values[i];
	return NULL;
}

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/*
 * The one place where a request's caller is identified and authorized. Today:
 * every TLS client is "anonymous" and may do everything; the security work
 * puts the client certificate's subject and a role check here.
 */
static bool http_authorize(struct http_request *req)
{
	req->caller = "anonymous";
	return true;
}

/* Matches path against pattern; fills req's params. Segment by segment. */
static bool route_match(const char *pattern, const char *path, struct http_request *req)
{
	const char *p = pattern, *u = path;

	req->n_params = 0;
	while (*p && *u) {
		if (*p != '/' || *u != '/')
			return false;
		p++;
		u++;
		const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
		if (*p == '{') {
			if (ue == u || req->n_params >= HTTP_MAX_PARAMS)
				return false;
			static _Thread_local char names[HTTP_MAX_PARAMS][32];
			size_t nl = (size_t)(pe - p - 2);
			if (nl >= sizeof(names[0]))
				return false;
			memcpy(names[req->n_params], p + 1, nl);
			names[req->n_params][nl] = '\0';
			req->param_names[req->n_params] = names[req->n_params];
			req->param_values[req->n_params] = strndup(u, (size_t)(ue - u));
			req->n_params++;
		} else if ((size_t)(pe - p) != (size_t)(ue - u) || strncmp(p, u, (size_t)(pe - p)) != 0) {
			return false;
		}
		p = pe;
		u = ue;
	}
	return *p == '\0' && *u == '\0';
}

/* "/a/../b", "/a/./b": never a name, whatever route it might match. */
static bool has_dot_segment(const char *path)
{
	for (const char *p = path; (p = strchr(p, '/')); p++) {
		const char *e = strchrnul(p + 1, '/');
		size_t n = (size_t)(e - p - 1);
		if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			return true;
	}
	return false;
}

static void clear_params(struct http_request *req)
{
	for (size_t i = 0; i < req->n_params; i++)
		free(req->param_values[i]);
	req->n_params = 0;
}

/* ---------------------------------------------------------------- MHD glue */

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_response *res = cls;
	(void)pos;
	for (;;) {
		ssize_t n = res->stream(res->stream_cls, buf, max);
		if (n != 0)
			return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
		/* nothing yet: a followed log. One thread per connection, so wait here. */
		usleep(100 * 1000);
	}
}

static void stream_done(void *cls)
{
	struct http_response *res = cls;
	if (res->stream_free)
		res->stream_free(res->stream_cls);
	free(res);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct http_response *res)
{
	struct MHD_Response *r;
	int status = res->status ? res->status : 200;

	if (res->from_file) {
		r = MHD_create_response_from_fd64(res->file_size, res->file_fd);
		res->from_file = false; /* the response owns the fd now */
	} else if (res->stream) {
		struct http_response *copy = malloc(sizeof(*copy));
		if (!copy)
			return MHD_NO;
		*copy = *res;
		res->stream_free = NULL;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_reader,
						      copy, stream_done);
	} else {
		r = MHD_create_response_from_buffer(res->len, res->body ? res->body : (char *)"",
						    res->body ? MHD_RESPMEM_MUST_FREE
							      : MHD_RESPMEM_PERSISTENT);
		res->body = NULL;
	}
	if (!r)
		return MHD_NO;
	if (res->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
	if (res->header_name[0])
		MHD_add_response_header(r, res->header_name, res->header_value);
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static void observe(struct http_server *s, struct pending *pd, int status)
{
	char code[8];
	snprintf(code, sizeof(code), "%d", status);
	const char *route = pd->route ? pd->route->pattern : "unmatched";
	const char *const l1[] = { route, pd->req.method, code };
	const char *const l2[] = { route, pd->req.method };
	metric_add(s->requests, l1, 1);
	metric_observe(s->duration, l2, (double)(now_ns() - pd->start_ns) / 1e9);
	log_debug("%s %s -> %d (%.3fs)", pd->req.method, pd->req.path, status,
		  (double)(now_ns() - pd->start_ns) / 1e9);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct pending *pd = *con_cls;
	struct http_response res = { 0 };
	(void)version;

	if (!pd) {
		/* First call: headers only. Find the route, check the declared size. */
		pd = calloc(1, sizeof(*pd));
		if (!pd)
			return MHD_NO;
		pd->spool_fd = -1;
		pd->start_ns = now_ns();
		pd->req.method = method;
		pd->req.path = url;
		pd->req.conn = conn;
		bool path_known = false;
		for (size_t i = 0; i < s->cfg.n_routes; i++) {
			if (!route_match(s->cfg.routes[i].pattern, url, &pd->req)) {
				clear_params(&pd->req);
				continue;
			}
			path_known = true;
			if (strcmp(s->cfg.routes[i].method, method) == 0) {
				pd->route = &s->cfg.routes[i];
				break;
			}
			clear_params(&pd->req);
		}
		pd->max = pd->route && pd->route->max_body ? pd->route->max_body
							   : HTTP_DEFAULT_MAX_BODY;
		if (!pd->route)
			pd->too_large = false, pd->max = path_known ? 0 : 0;
		pd->req.route = pd->route ? pd->route->pattern : NULL;
		if (!pd->route && path_known)
			pd->req.route = "405";
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > pd->max)
			pd->too_large = true;
		if (pd->route && pd->route->spool && !pd->too_large) {
			if (asprintf(&pd->spool_path, "%s/upload-XXXXXX", s->spool_dir) < 0 ||
			    (pd->spool_fd = mkostemp(pd->spool_path, O_CLOEXEC)) < 0)
				pd->spool_failed = true;
		}
		*con_cls = pd;
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (pd->too_large || pd->len + n > pd->max) {
			pd->too_large = true;
			return MHD_YES; /* read and drop the rest, then answer 413 */
		}
		if (pd->spool_fd >= 0) {
			if (write(pd->spool_fd, upload_data, n) != (ssize_t)n)
				pd->spool_failed = true;
			pd->len += n;
			return MHD_YES;
		}
		if (pd->len + n + 1 > pd->cap) {
			size_t cap = pd->cap ? pd->cap : 8192;
			while (cap < pd->len + n + 1)
				cap *= 2;
			char *nb = realloc(pd->body, cap);
			if (!nb)
				return MHD_NO;
			pd->body = nb;
			pd->cap = cap;
		}
		memcpy(pd->body + pd->len, upload_data, n);
		pd->len += n;
		pd->body[pd->len] = '\0';
		return MHD_YES;
	}

	/* The whole request is in: answer it. */
	int status;
	if (has_dot_segment(url)) {
		http_reply_error(&res, 400, NULL,
				 "invalid path '%s': '.' and '..' segments are not allowed", url);
	} else if (!pd->route) {
		bool known = pd->req.route && strcmp(pd->req.route, "405") == 0;
		http_reply_error(&res, known ? 405 : 404, NULL, "%s %s: %s", method, url,
				 known ? "method not allowed" : "no such path");
	} else if (pd->too_large) {
		http_reply_error(&res, 413, NULL, "request body too large: at most %zu bytes",
				 pd->max);
	} else if (pd->spool_failed) {
		http_reply_error(&res, 500, NULL, "cannot store the request body in '%s'",
				 s->spool_dir);
	} else if (!http_authorize(&pd->req)) {
		http_reply_error(&res, 403, NULL, "%s %s: forbidden for %s", method, url,
				 pd->req.caller);
	} else {
		pd->req.body = pd->body ? pd->body : "";
		pd->req.body_len = pd->len;
		if (pd->spool_fd >= 0) {
			pd->req.body = NULL;
			pd->req.body_file = pd->spool_path;
		}
		pd->route->fn(&pd->req, &res, s->cfg.userdata);
	}
	status = res.status ? res.status : 200;
	observe(s, pd, status);
	enum MHD_Result ret = send_response(conn, &res);
	free(res.body);
	if (res.stream_free)
		res.stream_free(res.stream_cls);
	if (res.from_file)
		close(res.file_fd);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct pending *pd = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (!pd)
		return;
	clear_params(&pd->req);
	if (pd->spool_fd >= 0)
		close(pd->spool_fd);
	if (pd->spool_path) {
		(void)unlink(pd->spool_path);
		free(pd->spool_path);
	}
	free(pd->body);
	free(pd);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("libmicrohttpd: %s", msg);
}

int http_server_start(const struct http_server_config *cfg, struct http_server **ret,
		      struct error *err)
{
	static const char *const req_labels[] = { "route", "method", "code", NULL };
	static const char *const dur_labels[] = { "route", "method", NULL };
	static const double buckets[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port) };
	struct http_server *s;

	if (inet_pton(AF_INET, cfg->host, &sa.sin_addr) != 1)
		return error_setx(err, EINVAL, "listen address '%s' is not an IPv4 address",
				  cfg->host);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->cert = strdup(cfg->cert_pem)) || !(s->key = strdup(cfg->key_pem)) ||
	    !(s->spool_dir = strdup(cfg->spool_dir))) {
		http_server_stop(s);
		return error_set(err, ENOMEM, "http server");
	}
	s->cfg = *cfg;
	if (cfg->metrics) {
		s->requests = metrics_register(cfg->metrics, METRIC_COUNTER, "ferry_http_requests_total",
					       "HTTP requests by route, method and status code.",
					       req_labels, NULL, 0);
		s->duration = metrics_register(cfg->metrics, METRIC_HISTOGRAM,
					       "ferry_http_request_duration_seconds",
					       "HTTP request latency by route and method.", dur_labels,
					       buckets, ELEMENTSOF(buckets));
	}
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
					MHD_USE_TLS | MHD_USE_ERROR_LOG,
				0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_HTTPS_MEM_CERT, s->cert, MHD_OPTION_HTTPS_MEM_KEY, s->key,
				MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (!s->d) {
		int e = errno ? errno : EADDRINUSE;
		http_server_stop(s);
		return error_set(err, e, "cannot listen on https://%s:%u", cfg->host, cfg->port);
	}
	*ret = s;
	return 0;
}

struct http_server *http_server_stop(struct http_server *s)
{
	if (!s)
		return NULL;
	if (s->d)
		MHD_stop_daemon(s->d);
	free(s->cert);
	free(s->key);
	free(s->spool_dir);
	free(s);
	return NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "api"
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/agent.h"
#include "ferry/api.h"
#include "ferry/cleanup.h"
#include "ferry/digest.h"
#include "ferry/fs.h"
#include "ferry/http.h"
#include "ferry/image.h"
#include "ferry/log.h"
#include "ferry/metrics.h"
#include "ferry/pod.h"

static void reply_err(struct http_response *res, int r, const struct error *err)
{
	int status = http_status_from_errno(r);
	http_reply_error(res, status, NULL, "%s", err->msg[0] ? err->msg : strerror(-r));
}

/* The {ns} and {name} of a request, checked before anything else is done. */
static bool names_ok(struct http_request *req, struct http_response *res, const char **ns,
		     const char **name)
{
	*ns = http_param(req, "ns");
	if (*ns && !name_is_dns_label(*ns)) {
		http_reply_error(res, 400, "BadRequest",
				 "invalid namespace '%s': must be a DNS-1123 label (lowercase "
				 "alphanumerics and '-')",
				 *ns);
		return false;
	}
	if (name) {
		*name = http_param(req, "name");
		if (!name_is_dns_label(*name)) {
			http_reply_error(res, 400, "BadRequest",
					 "invalid pod name '%s': must be a DNS-1123 label "
					 "(lowercase alphanumerics and '-')",
					 *name ? *name : "");
			return false;
		}
	}
	return true;
}

static void healthz(struct http_request *req, struct http_response *res, void *u)
{
	res->content_type = "text/plain";
	res->body = strdup("ok\n");
	res->len = 3;
}

static void metrics_text(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	size_t len = 0;
	FILE *f;

	agent_update_metrics(api->agent);
	f = open_memstream(&res->body, &len);
	if (!f) {
		http_reply_error(res, 500, NULL, "out of memory");
		return;
	}
	(void)metrics_render(api->metrics, f);
	fclose(f);
	res->len = len;
	res->content_type = "text/plain; version=0.0.4";
}

static void pods_list(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	const char *ns;
	json_t *list;

	if (!names_ok(req, res, &ns, NULL))
		return;
	int r = agent_pod_list(api->agent, ns, &list, &err);
	if (r < 0)
		reply_err(res, r, &err);
	else
		http_reply_json(res, 200, list);
}

static void pods_create(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	const char *ns;
	json_t *body = NULL, *pod = NULL;

	if (!names_ok(req, res, &ns, NULL))
		return;
	int r = pod_body_parse(req->body, req->body_len, &body, &err);
	if (r < 0) {
		http_reply_error(res, 400, "BadRequest", "%s", err.msg);
		return;
	}
	r = agent_pod_create(api->agent, ns, body, &pod, &err);
	json_decref(body);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	http_reply_json(res, 201, pod);
}

typedef int (*pod_op_fn)(struct agent *a, const char *ns, const char *name, json_t **ret,
			 struct error *err);

/* GET, DELETE and events of one pod: the same shape, a different agent call. */
static void pod_op(struct http_request *req, struct http_response *res, struct api *api,
		   pod_op_fn op)
{
	struct error err = { 0 };
	const char *ns, *name;
	json_t *v;

	if (!names_ok(req, res, &ns, &name))
		return;
	int r = op(api->agent, ns, name, &v, &err);
	if (r < 0)
		reply_err(res, r, &err);
	else
		http_reply_json(res, 200, v);
}

static void pod_get(struct http_request *req, struct http_response *res, void *u)
{
	pod_op(req, res, u, agent_pod_get);
}

static void pod_delete(struct http_request *req, struct http_response *res, void *u)
{
	pod_op(req, res, u, agent_pod_delete);
}

static void pod_events(struct http_request *req, struct http_response *res, void *u)
{
	pod_op(req, res, u, agent_pod_events);
}

/* ------------------------------------------------------------------ logs */

/*
 * A CRI log line, "<time> <stream> <P|F> <text>", rendered as the text the
 * container wrote (a newline after F records). Returns bytes written to out.
 */
static size_t render_line(const char *line, size_t len, char *out)
{
	const char *p = line, *end = line + len;
	for (int field = 0; field < 3; field++) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp)
			return 0;
		if (field == 2) {
			bool full = p[0] == 'F';
			size_t n = (size_t)(end - sp - 1);
			memcpy(out, sp + 1, n);
			if (full)
				out[n++] = '\n';
			return n;
		}
		p = sp + 1;
	}
	return 0;
}

struct log_stream {
	struct api *api;
	char *ns, *name, *container, *path;
	int fd;
	char *pending; /* rendered, not yet sent */
	size_t pending_len, pending_off;
	char partial[32 * 1024]; /* an incomplete line read from the file */
	size_t partial_len;
	bool follow, ending;
};

static void log_stream_free(void *cls)
{
	struct log_stream *ls = cls;
	if (ls->fd >= 0)
		close(ls->fd);
	free(ls->ns);
	free(ls->name);
	free(ls->container);
	free(ls->path);
	free(ls->pending);
	free(ls);
}

/* Reads what the file has; renders whole lines into ls->pending. Returns bytes read. */
static ssize_t log_read_more(struct log_stream *ls)
{
	char buf[64 * 1024];
	ssize_t n = read(ls->fd, buf, sizeof(buf));
	if (n <= 0)
		return n;
	char *out = malloc((size_t)n + ls->partial_len + 64);
	size_t o = 0;
	if (!out)
		return -1;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (ls->partial_len < sizeof(ls->partial))
				ls->partial[ls->partial_len++] = buf[i];
			continue;
		}
		o += render_line(ls->partial, ls->partial_len, out + o);
		ls->partial_len = 0;
	}
	free(ls->pending);
	ls->pending = out;
	ls->pending_len = o;
	ls->pending_off = 0;
	return n;
}

static ssize_t log_stream_read(void *cls, char *buf, size_t max)
{
	struct log_stream *ls = cls;
	for (;;) {
		if (ls->pending_off < ls->pending_len) {
			size_t n = ls->pending_len - ls->pending_off;
			if (n > max)
				n = max;
			memcpy(buf, ls->pending + ls->pending_off, n);
			ls->pending_off += n;
			return (ssize_t)n;
		}
		ssize_t n = log_read_more(ls);
		if (n > 0)
			continue;
		if (n < 0 || !ls->follow || ls->ending)
			return -1;
		/* At the end: stop once the container is no longer running (read once more). */
		if (!agent_container_running(ls->api->agent, ls->ns, ls->name, ls->container))
			ls->ending = true;
		else
			return 0;
	}
}

static void pod_log(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	const char *ns, *name;
	const char *container = http_query(req, "container");
	const char *follow = http_query(req, "follow");
	const char *tail = http_query(req, "tailLines");
	char *path = NULL;
	long tail_n = -1;

	if (!names_ok(req, res, &ns, &name))
		return;
	if (tail) {
		char *end;
		tail_n = strtol(tail, &end, 10);
		if (*end || tail_n < 0) {
			http_reply_error(res, 400, "BadRequest", "tailLines: '%s' is not a count",
					 tail);
			return;
		}
	}
	int r = agent_container_log(api->agent, ns, name, container, &path, &err);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	struct log_stream *ls = calloc(1, sizeof(*ls));
	ls->api = api;
	ls->ns = strdup(ns);
	ls->name = strdup(name);
	ls->container = container ? strdup(container) : NULL;
	ls->path = path;
	ls->follow = follow && (strcmp(follow, "true") == 0 || strcmp(follow, "1") == 0);
	ls->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ls->fd < 0 && errno != ENOENT) {
		http_reply_error(res, 500, NULL, "cannot open the log: %s", strerror(errno));
		log_stream_free(ls);
		return;
	}
	if (ls->fd < 0)
		ls->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* What is there now, cut to the last tailLines lines. */
	cleanup_free char *all = NULL;
	size_t all_len = 0;
	FILE *f = open_memstream(&all, &all_len);
	while (log_read_more(ls) > 0)
		fwrite(ls->pending, 1, ls->pending_len, f);
	fclose(f);
	size_t start = 0;
	if (tail_n >= 0) {
		long lines = 0;
		start = all_len;
		while (start > 0) {
			if (all[start - 1] == '\n' && start != all_len && ++lines >= tail_n)
				break;
			start--;
		}
		if (tail_n == 0)
			start = all_len;
	}
	free(ls->pending);
	ls->pending = malloc(all_len - start + 1);
	memcpy(ls->pending, all + start, all_len - start);
	ls->pending_len = all_len - start;
	ls->pending_off = 0;

	res->status = 200;
	res->content_type = "text/plain";
	if (!ls->follow) {
		res->body = TAKE_PTR(ls->pending);
		res->len = ls->pending_len;
		log_stream_free(ls);
		return;
	}
	res->stream = log_stream_read;
	res->stream_cls = ls;
	res->stream_free = log_stream_free;
}

/* ------------------------------------------------------------------ exec */

static void pod_exec(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	const char *ns, *name;
	json_t *body;
	json_error_t jerr;

	if (!names_ok(req, res, &ns, &name))
		return;
	body = json_loadb(req->body, req->body_len, 0, &jerr);
	json_t *cmd = json_object_get(body, "command");
	if (!body || !json_is_array(cmd) || json_array_size(cmd) == 0 ||
	    json_array_size(cmd) > 32) {
		http_reply_error(res, 400, "BadRequest",
				 "the body must be {\"command\": [\"program\", \"arg\", ...], "
				 "\"container\": \"name\"}%s%s",
				 body ? "" : ": ", body ? "" : jerr.text);
		json_decref(body);
		return;
	}
	const char *argv[33];
	size_t i;
	json_t *v;
	json_array_foreach(cmd, i, v)
	{
		if (!json_is_string(v)) {
			http_reply_error(res, 400, "BadRequest", "command[%zu] must be a string", i);
			json_decref(body);
			return;
		}
		argv[i] = json_string_value(v);
	}
	argv[json_array_size(cmd)] = NULL;
	const char *container = json_string_value(json_object_get(body, "container"));
	int code = -1;
	cleanup_free char *out = NULL;
	int r = agent_container_exec(api->agent, ns, name, container, argv, &code, &out, &err);
	json_decref(body);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	http_reply_json(res, 200, json_pack("{s:i, s:s}", "exitCode", code, "output", out ? out : ""));
}

/* ------------------------------------------------------------------ images */

static json_t *image_json(const struct image_info *i)
{
	return json_pack("{s:s, s:s, s:I, s:s}", "name", i->name, "digest", i->digest, "size",
			 (json_int_t)i->size, "created", i->created);
}

static void images_list(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	struct image_info *v;
	size_t n;

	int r = image_store_list(api->images, &v, &n, &err);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, image_json(&v[i]));
	free(v);
	http_reply_json(res, 200, json_pack("{s:s, s:o}", "kind", "ImageList", "items", items));
}

static void image_import(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	struct image_info info;
	const char *name = http_query(req, "name");

	if (!name || !name_is_valid(name)) {
		http_reply_error(res, 400, "BadRequest",
				 "invalid image name '%s': use 1-128 of [A-Za-z0-9_.:-], no '/' or "
				 "'..'",
				 name ? name : "");
		return;
	}
	cleanup_close int fd = open(req->body_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		http_reply_error(res, 500, NULL, "cannot read the upload: %s", strerror(errno));
		return;
	}
	int r = image_store_import(api->images, name, fd, &info, &err);
	if (r < 0) {
		/* a bad tarball is the client's fault */
		http_reply_error(res, r == -ENOMEM || r == -ENOSPC || r == -EIO ? 500 : 400, NULL, "%s",
				 err.msg);
		return;
	}
	log_info("image='%s' imported %s (%llu bytes)", name, info.digest,
		 (unsigned long long)info.size);
	http_reply_json(res, 201, image_json(&info));
}

static void image_remove(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	const char *name = http_param(req, "name");

	if (!name_is_valid(name)) {
		http_reply_error(res, 400, "BadRequest", "invalid image name '%s'", name ? name : "");
		return;
	}
	int r = image_store_remove(api->images, name, &err);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	http_reply_json(res, 200, json_pack("{s:s, s:s}", "kind", "Status", "status", "Success"));
}

/* ------------------------------------------------------------------ checkpoints */

static bool flag(struct http_request *req, const char *name, int *ret)
{
	const char *v = http_query(req, name);
	if (!v)
		return true;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*ret = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*ret = 0;
	else
		return false;
	return true;
}

static void reply_checkpoint(struct http_response *res, int r, const struct error *err, json_t *v)
{
	if (r < 0)
		reply_err(res, r, err);
	else
		http_reply_json(res, 201, v);
}

/* ferry's own: POST /api/v1/namespaces/{ns}/pods/{name}/checkpoint */
static void pod_checkpoint(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	struct agent_checkpoint_opts o = { .tcp_established = -1, .file_locks = -1 };
	const char *ns, *name;
	int leave = 0;
	json_t *v = NULL;

	if (!names_ok(req, res, &ns, &name))
		return;
	o.container = http_query(req, "container");
	o.compress = http_query(req, "compress");
	if (!flag(req, "leaveRunning", &leave) || !flag(req, "tcpEstablished", &o.tcp_established) ||
	    !flag(req, "fileLocks", &o.file_locks)) {
		http_reply_error(res, 400, "BadRequest",
				 "leaveRunning, tcpEstablished and fileLocks take true or false");
		return;
	}
	o.leave_running = leave;
	int r = agent_pod_checkpoint(api->agent, ns, name, &o, &v, &err);
	reply_checkpoint(res, r, &err, v);
}

/*
 * The kubelet's: POST /checkpoint/{namespace}/{pod}/{container}?timeout=S,
 * answering {"items":["<archive path>"]}. Like the kubelet's, it leaves the
 * container running and writes an uncompressed tar.
 */
static void kubelet_checkpoint(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	struct agent_checkpoint_opts o = { .tcp_established = -1, .file_locks = -1,
					   .leave_running = true, .compress = "none" };
	const char *ns = http_param(req, "namespace"), *pod = http_param(req, "pod");
	const char *timeout = http_query(req, "timeout");
	json_t *v = NULL;

	o.container = http_param(req, "container");
	if (!name_is_dns_label(ns) || !name_is_dns_label(pod) || !name_is_dns_label(o.container)) {
		http_reply_error(res, 400, "BadRequest",
				 "namespace, pod and container must be DNS-1123 labels");
		return;
	}
	if (timeout) {
		char *end;
		long t = strtol(timeout, &end, 10);
		if (*end || t <= 0 || t > 3600) {
			http_reply_error(res, 400, "BadRequest", "timeout: '%s' is not a number of "
					 "seconds (1-3600)", timeout);
			return;
		}
		o.timeout_ms = (unsigned)t * 1000;
	}
	int r = agent_pod_checkpoint(api->agent, ns, pod, &o, &v, &err);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	http_reply_json(res, 200, json_pack("{s:[O]}", "items", json_object_get(v, "path")));
	json_decref(v);
}

/* A file as the body, streamed, with its Content-Length and its digest header. */
static void reply_file(struct http_response *res, int fd, unsigned long long size,
		       const char *digest)
{
	res->status = 200;
	res->content_type = "application/x-tar";
	res->from_file = true;
	res->file_fd = fd;
	res->file_size = size;
	snprintf(res->header_name, sizeof(res->header_name), "X-Content-Digest");
	snprintf(res->header_value, sizeof(res->header_value), "%s", digest);
}

static char *archive_path(struct api *api, const char *name)
{
	return path_join(agent_checkpoints_dir(api->agent), name);
}

static void checkpoints_list(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	const char *dir = agent_checkpoints_dir(api->agent);
	json_t *items = json_array();
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		struct stat st;
		if (!name_is_safe_filename(de->d_name))
			continue;
		cleanup_free char *p = path_join(dir, de->d_name);
		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode))
			json_array_append_new(items, json_pack("{s:s, s:I, s:I}", "name", de->d_name,
							       "size", (json_int_t)st.st_size,
							       "modified", (json_int_t)st.st_mtime));
	}
	if (d)
		closedir(d);
	http_reply_json(res, 200, json_pack("{s:s, s:o}", "kind", "CheckpointList", "items", items));
}

static bool archive_name_ok(struct http_request *req, struct http_response *res, const char *name)
{
	if (name_is_safe_filename(name))
		return true;
	http_reply_error(res, 400, "BadRequest",
			 "invalid checkpoint name '%s': use [A-Za-z0-9_.:-], no '/' or '..'",
			 name ? name : "");
	return false;
}

/* Streamed, with its Content-Length and its digest in X-Content-Digest. */
static void checkpoint_download(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	const char *name = http_param(req, "archive");
	struct error err = { 0 };
	char digest[DIGEST_STR_LEN + 1];
	struct stat st;

	if (!archive_name_ok(req, res, name))
		return;
	cleanup_free char *path = archive_path(api, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		http_reply_error(res, 404, NULL, "checkpoint '%s' not found", name);
		return;
	}
	if (digest_file(path, digest, &err) < 0) {
		close(fd);
		http_reply_error(res, 500, NULL, "%s", err.msg);
		return;
	}
	reply_file(res, fd, (unsigned long long)st.st_size, digest);
}

static void checkpoint_upload(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	const char *name = http_query(req, "name");
	struct error err = { 0 };

	if (!archive_name_ok(req, res, name))
		return;
	cleanup_free char *path = archive_path(api, name);
	if (path_exists(path)) {
		http_reply_error(res, 409, NULL, "checkpoint '%s' exists already on this node", name);
		return;
	}
	/* Same file system: the spooled upload moves into place. */
	if (rename(req->body_file, path) < 0 && copy_tree(req->body_file, path, &err) < 0) {
		http_reply_error(res, 500, NULL, "cannot store the checkpoint: %s", err.msg);
		return;
	}
	char digest[DIGEST_STR_LEN + 1] = "";
	struct stat st = { 0 };
	(void)digest_file(path, digest, NULL);
	(void)stat(path, &st);
	http_reply_json(res, 201, json_pack("{s:s, s:I, s:s}", "name", name, "size",
					    (json_int_t)st.st_size, "digest", digest));
}

static void checkpoint_delete(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	const char *name = http_param(req, "archive");
	if (!archive_name_ok(req, res, name))
		return;
	cleanup_free char *path = archive_path(api, name);
	if (unlink(path) < 0) {
		http_reply_error(res, errno == ENOENT ? 404 : 500, NULL, "checkpoint '%s': %s", name,
				 strerror(errno));
		return;
	}
	http_reply_json(res, 200, json_pack("{s:s, s:s}", "kind", "Status", "status", "Success"));
}

/* POST /api/v1/namespaces/{ns}/restore?checkpoint=ARCHIVE[&name=NEW] */
static void pod_restore(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	const char *ns, *archive = http_query(req, "checkpoint"), *name = http_query(req, "name");
	json_t *pod = NULL;

	if (!names_ok(req, res, &ns, NULL) || !archive_name_ok(req, res, archive))
		return;
	if (name && !name_is_dns_label(name)) {
		http_reply_error(res, 400, "BadRequest", "invalid pod name '%s'", name);
		return;
	}
	cleanup_free char *path = archive_path(api, archive);
	if (!path_exists(path)) {
		http_reply_error(res, 404, NULL, "checkpoint '%s' not found on this node", archive);
		return;
	}
	int r = agent_pod_restore(api->agent, ns, name, path, &pod, &err);
	if (r == -EBADMSG) {
		http_reply_error(res, 422, "Invalid", "%s", err.msg);
		return;
	}
	reply_checkpoint(res, r, &err, pod);
}

/* ------------------------------------------------------------------ migration */

/* POST /migrate/{ns}/{pod}[/{container}]?timeout=S&keepCheckpoint= (the source's half) */
static void migrate(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	const char *ns = http_param(req, "ns"), *pod = http_param(req, "pod");
	const char *container = http_param(req, "container");
	const char *timeout = http_query(req, "timeout");
	int keep = 0;
	unsigned long t = 0;
	json_t *rec = NULL;

	if (!name_is_dns_label(ns) || !name_is_dns_label(pod) ||
	    (container && !name_is_dns_label(container))) {
		http_reply_error(res, 400, "BadRequest", "namespace, pod and container must be "
				 "DNS-1123 labels");
		return;
	}
	if (timeout) {
		char *end;
		t = strtoul(timeout, &end, 10);
		if (*end || t == 0 || t > 3600) {
			http_reply_error(res, 400, "BadRequest", "timeout: '%s' is not 1-3600 seconds",
					 timeout);
			return;
		}
	}
	if (!flag(req, "keepCheckpoint", &keep)) {
		http_reply_error(res, 400, "BadRequest", "keepCheckpoint takes true or false");
		return;
	}
	int r = agent_migrate_begin(api->agent, ns, pod, container, (unsigned)t, keep, req->caller,
				    &rec, &err);
	if (r < 0)
		reply_err(res, r, &err);
	else
		http_reply_json(res, 200, rec);
}

static void migration_archive(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	struct migrate_stream *s = NULL;

	int r = agent_migrate_stream_open(api->agent, http_param(req, "id"), &s, &err);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	res->status = 200;
	res->content_type = "application/x-tar";
	res->stream = agent_migrate_stream_read;
	res->stream_cls = s;
	res->stream_free = agent_migrate_stream_free;
}

static void migration_commit(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	int r = agent_migrate_commit(api->agent, http_param(req, "id"), &err);
	if (r < 0)
		reply_err(res, r, &err);
	else
		http_reply_json(res, 200, json_pack("{s:s, s:s}", "id", http_param(req, "id"), "phase",
						    "Succeeded"));
}

static void migration_abort(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	int r = agent_migrate_abort(api->agent, http_param(req, "id"), http_query(req, "reason"),
				    &err);
	if (r < 0)
		reply_err(res, r, &err);
	else
		http_reply_json(res, 200, json_pack("{s:s, s:s}", "id", http_param(req, "id"), "phase",
						    "RolledBack"));
}

static void migrations_list(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	json_t *list = NULL;
	const char *ns = http_query(req, "namespace"), *pod = http_query(req, "pod");
	agent_migrations_list(api->agent, &list);
	if (ns || pod) {
		json_t *items = json_object_get(list, "items"), *keep = json_array(), *v;
		size_t i;
		json_array_foreach(items, i, v)
		{
			if ((!ns || strcmp(json_string_value(json_object_get(v, "namespace")) ?: "", ns) == 0) &&
			    (!pod || strcmp(json_string_value(json_object_get(v, "pod")) ?: "", pod) == 0))
				json_array_append(keep, v);
		}
		json_object_set_new(list, "items", keep);
	}
	http_reply_json(res, 200, list);
}

/* GET /api/v1/images/{name}/tarball: for a destination that lacks the image. */
static void image_tarball(struct http_request *req, struct http_response *res, void *u)
{
	struct api *api = u;
	struct error err = { 0 };
	struct image_info img;
	struct stat st;
	const char *name = http_param(req, "name");

	if (!name_is_valid(name)) {
		http_reply_error(res, 400, "BadRequest", "invalid image name '%s'", name ? name : "");
		return;
	}
	int r = image_store_get(api->images, name, &img, &err);
	if (r < 0) {
		reply_err(res, r, &err);
		return;
	}
	cleanup_free char *blob = image_store_blob(api->images, &img);
	int fd = blob ? open(blob, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		http_reply_error(res, 500, NULL, "cannot read image '%s'", name);
		return;
	}
	reply_file(res, fd, (unsigned long long)st.st_size, img.digest);
}

const struct http_route api_routes[] = {
	{ "GET", "/healthz", healthz, 0, false },
	{ "GET", "/metrics", metrics_text, 0, false },
	{ "GET", "/api/v1/pods", pods_list, 0, false },
	{ "GET", "/api/v1/namespaces/{ns}/pods", pods_list, 0, false },
	{ "POST", "/api/v1/namespaces/{ns}/pods", pods_create, API_MAX_SPEC_BODY, false },
	{ "GET", "/api/v1/namespaces/{ns}/pods/{name}", pod_get, 0, false },
	{ "DELETE", "/api/v1/namespaces/{ns}/pods/{name}", pod_delete, 0, false },
	{ "GET", "/api/v1/namespaces/{ns}/pods/{name}/log", pod_log, 0, false },
	{ "GET", "/api/v1/namespaces/{ns}/pods/{name}/events", pod_events, 0, false },
	{ "POST", "/api/v1/namespaces/{ns}/pods/{name}/exec", pod_exec, 64 * 1024, false },
	{ "GET", "/api/v1/images", images_list, 0, false },
	{ "POST", "/api/v1/images", image_import, API_MAX_IMAGE_BODY, true },
	{ "DELETE", "/api/v1/images/{name}", image_remove, 0, false },
	{ "POST", "/checkpoint/{namespace}/{pod}/{container}", kubelet_checkpoint, 0, false },
	{ "POST", "/api/v1/namespaces/{ns}/pods/{name}/checkpoint", pod_checkpoint, 0, false },
	{ "POST", "/api/v1/namespaces/{ns}/restore", pod_restore, 0, false },
	{ "GET", "/api/v1/checkpoints", checkpoints_list, 0, false },
	{ "GET", "/api/v1/checkpoints/{archive}", checkpoint_download, 0, false },
	{ "POST", "/api/v1/checkpoints", checkpoint_upload, API_MAX_IMAGE_BODY * 4, true },
	{ "DELETE", "/api/v1/checkpoints/{archive}", checkpoint_delete, 0, false },
	{ "GET", "/api/v1/images/{name}/tarball", image_tarball, 0, false },
	{ "POST", "/migrate/{ns}/{pod}", migrate, 0, false },
	{ "POST", "/migrate/{ns}/{pod}/{container}", migrate, 0, false },
	{ "GET", "/migrations", migrations_list, 0, false },
	{ "GET", "/migrations/{id}/archive", migration_archive, 0, false },
	{ "POST", "/migrations/{id}/commit", migration_commit, 0, false },
	{ "POST", "/migrations/{id}/abort", migration_abort, 0, false },
};
const size_t api_n_routes = ELEMENTSOF(api_routes);

/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/digest.h"
#include "ferry/client.h"
#include "ferry/fs.h"

struct client {
	char *base;
	char *ca;
	long timeout_s;
	char curl_err[CURL_ERROR_SIZE];
};

int client_new(const char *base_url, const char *ca_file, struct client **ret,
	       struct error *err)
{
	static bool global_init;
	struct client *c;

	if (!base_url || strncmp(base_url, "https://", 8) != 0)
		return error_setx(err, EINVAL, "node '%s': must be an https:// URL",
				  base_url ? base_url : "");
	if (!ca_file)
		return error_setx(err, EINVAL,
				  "no CA certificate to verify the node with (--ca FILE or FERRY_CA; "
				  "the agent prints where its CA certificate is)");
	if (access(ca_file, R_OK) < 0)
		return error_set(err, errno, "CA certificate '%s'", ca_file);
	if (!global_init) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_init = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->base = strdup(base_url)) || !(c->ca = strdup(ca_file))) {
		client_free(c);
		return error_set(err, ENOMEM, "client");
	}
	size_t n = strlen(c->base);
	while (n > 8 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	*ret = c;
	return 0;
}

void client_set_timeout(struct client *c, long seconds)
{
	c->timeout_s = seconds;
}

struct client *client_free(struct client *c)
{
	if (!c)
		return NULL;
	free(c->base);
	free(c->ca);
	free(c);
	return NULL;
}

void client_reply_done(struct client_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
	struct client_reply *r = userdata;
	size_t add = size * n;
	char *nb = realloc(r->body, r->len + add + 1);
	if (!nb)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, data, add);
	r->len += add;
	r->body[r->len] = '\0';
	return add;
}

static CURL *prepare(struct client *c, const char *method, const char *path)
{
	CURL *h = curl_easy_init();
	char url[4096];

	if (!h)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c->curl_err[0] = '\0';
	return h;
}

static int fail(struct client *c, CURLcode rc, struct error *err)
{
	int code = rc == CURLE_COULDNT_CONNECT ? ECONNREFUSED
		   : rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
		   : rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ? EPERM
											   : EIO;
	return error_setx(err, code, "cannot reach %s: %s", c->base,
			  c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
}

int client_request(struct client *c, const char *method, const char *path, const char *body,
		   size_t len, const char *content_type, struct client_reply *reply,
		   struct error *err)
{
	struct curl_slist *hdr = NULL;
	CURL *h = prepare(c, method, path);
	CURLcode rc;
	char ct[128];

	memset(reply, 0, sizeof(*reply));
	if (!h)
		return error_set(err, ENOMEM, "curl");
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
		hdr = curl_slist_append(hdr, ct);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s ? c->timeout_s : 300L);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
	int r = rc == CURLE_OK ? 0 : fail(c, rc, err);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (r < 0)
		client_reply_done(reply);
	return r;
}

struct progress {
	const char *what;
	curl_off_t last_shown;
	unsigned long long start;
	bool down;
};

static int show_progress(void *p_, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			 curl_off_t ulnow)
{
	struct progress *p = p_;
	char a[32], b[32];
	if (p->down) {
		ultotal = dltotal;
		ulnow = dlnow;
	}
	if (ultotal <= 0 || ulnow == p->last_shown)
		return 0;
	p->last_shown = ulnow;
	int pct = (int)(ulnow * 100 / ultotal);
	double secs = (double)(now_ns() - p->start) / 1e9;
	fprintf(stderr, "\r%s [%-30.*s] %3d%% %s / %s %.1fs", p->what, pct * 30 / 100,
		"##############################", pct, format_bytes((unsigned long long)ulnow, a, sizeof(a)),
		format_bytes((unsigned long long)ultotal, b, sizeof(b)), secs);
	if (ulnow == ultotal)
		fputc('\n', stderr);
	return 0;
}

int client_upload(struct client *c, const char *path, const char *file, bool progress,
		  struct client_reply *reply, struct error *err)
{
	struct curl_slist *hdr = NULL;
	struct stat st;
	FILE *f;
	CURLcode rc;

	memset(reply, 0, sizeof(*reply));
	f = fopen(file, "re");
	if (!f || fstat(fileno(f), &st) < 0) {
		int e = errno;
		if (f)
			fclose(f);
		return error_set(err, e, "cannot open '%s'", file);
	}
	CURL *h = prepare(c, "POST", path);
	if (!h) {
		fclose(f);
		return error_set(err, ENOMEM, "curl");
	}
	struct progress p = { .what = "uploading", .last_shown = -1, .start = now_ns() };
	hdr = curl_slist_append(hdr, "Content-Type: application/x-tar");
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
	curl_easy_setopt(h, CURLOPT_READDATA, f);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	if (progress) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, show_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &p);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
	int r = rc == CURLE_OK ? 0 : fail(c, rc, err);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	fclose(f);
	if (r < 0)
		client_reply_done(reply);
	return r;
}

struct download {
	FILE *f;
	struct digest_ctx d;
	unsigned long long bytes;
	long status;
	CURL *h;
	char digest_header[DIGEST_STR_LEN + 1];
	struct client_reply err_body;
};

static size_t download_write(char *data, size_t size, size_t n, void *userdata)
{
	struct download *dl = userdata;
	size_t len = size * n;
	if (!dl->status)
		curl_easy_getinfo(dl->h, CURLINFO_RESPONSE_CODE, &dl->status);
	if (dl->status != 200)
		return collect(data, size, n, &dl->err_body);
	if (fwrite(data, 1, len, dl->f) != len)
		return 0;
	digest_update(&dl->d, data, len);
	dl->bytes += len;
	return len;
}

static size_t download_header(char *data, size_t size, size_t n, void *userdata)
{
	struct download *dl = userdata;
	size_t len = size * n;
	static const char name[] = "x-content-digest:";
	if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		const char *v = data + sizeof(name) - 1;
		while (*v == ' ')
			v++;
		snprintf(dl->digest_header, sizeof(dl->digest_header), "%.*s",
			 (int)strcspn(v, "\r\n"), v);
	}
	return len;
}

int client_download(struct client *c, const char *path, const char *file, bool progress,
		    unsigned long long *ret_bytes, struct error *err)
{
	cleanup_free char *part = NULL;
	struct download dl = { 0 };
	char got[DIGEST_STR_LEN + 1];
	int r = 0;

	if (asprintf(&part, "%s.part", file) < 0)
		return error_set(err, ENOMEM, "download");
	dl.f = fopen(part, "we");
	if (!dl.f)
		return error_set(err, errno, "cannot create '%s'", part);
	CURL *h = prepare(c, "GET", path);
	if (!h || digest_init(&dl.d) < 0) {
		fclose(dl.f);
		(void)unlink(part);
		return error_set(err, ENOMEM, "curl");
	}
	dl.h = h;
	struct progress p = { .what = "downloading", .last_shown = -1, .start = now_ns(), .down = true };
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, download_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &dl);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, download_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &dl);
	if (progress) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, show_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &p);
	}
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &dl.status);
	digest_final(&dl.d, got);
	if (fclose(dl.f) != 0 && rc == CURLE_OK)
		r = error_set(err, errno, "cannot write '%s'", part);
	if (r == 0 && rc != CURLE_OK)
		r = fail(c, rc, err);
	if (r == 0 && dl.status != 200) {
		cleanup_free char *msg = client_error_message(&dl.err_body);
		r = error_setx(err, dl.status == 404 ? ENOENT : EIO, "%s", msg ? msg : "download failed");
	}
	if (r == 0 && dl.digest_header[0] && strcmp(dl.digest_header, got) != 0)
		r = error_setx(err, EBADMSG, "the download does not match the node's digest: got %s, "
			       "expected %s", got, dl.digest_header);
	if (r == 0 && rename(part, file) < 0)
		r = error_set(err, errno, "cannot rename '%s'", part);
	if (r < 0)
		(void)unlink(part);
	else if (ret_bytes)
		*ret_bytes = dl.bytes;
	client_reply_done(&dl.err_body);
	curl_easy_cleanup(h);
	return r;
}

struct sink {
	int fd;
	unsigned long long *counter;
	long status;
	CURL *h;
	struct client_reply err_body;
};

static size_t to_fd(char *data, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;
	size_t len = size * n;
	if (!s->status)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		return collect(data, size, n, &s->err_body);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(s->fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		off += (size_t)w;
		if (s->counter)
			__atomic_add_fetch(s->counter, (unsigned long long)w, __ATOMIC_RELAXED);
	}
	return len;
}

int client_stream(struct client *c, const char *path, int fd, long *ret_status,
		  struct error *err)
{
	return client_stream_counted(c, path, fd, NULL, ret_status, err);
}

int client_stream_counted(struct client *c, const char *path, int fd,
			  unsigned long long *counter, long *ret_status, struct error *err)
{
	CURL *h = prepare(c, "GET", path);
	struct sink s = { .fd = fd, .h = h, .counter = counter };
	CURLcode rc;

	if (!h)
		return error_set(err, ENOMEM, "curl");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_fd);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s.status);
	int r = rc == CURLE_OK ? 0 : fail(c, rc, err);
	if (r >= 0 && s.status != 200) {
		cleanup_free char *msg = client_error_message(&s.err_body);
		r = error_setx(err, EIO, "%s", msg ? msg : "request failed");
	}
	client_reply_done(&s.err_body);
	curl_easy_cleanup(h);
	*ret_status = s.status;
	return r;
}

char *client_error_message(const struct client_reply *reply)
{
	json_t *j = reply->body ? json_loads(reply->body, 0, NULL) : NULL;
	const char *m = json_string_value(json_object_get(j, "message"));
	char *out;
	if (m)
		out = strdup(m);
	else if (reply->body && *reply->body)
		out = strndup(reply->body, 1000);
	else if (asprintf(&out, "HTTP %ld", reply->status) < 0)
		out = NULL;
	json_decref(j);
	return out;
}

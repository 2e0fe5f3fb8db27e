/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTPS server and client together: real TLS on loopback, a certificate
 * from a real CA, the route table, body limits, streaming.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/http.h"
#include "ferry/metrics.h"
#include "ferry/tls.h"

static void echo(struct http_request *req, struct http_response *res, void *u)
{
	const char *q = http_query(req, "q");
	http_reply_json(res, 200,
			json_pack("{s:s, s:s?, s:s?, s:I, s:s?, s:s}", "method", req->method, "name",
				  http_param(req, "name"), "q", q, "len", (json_int_t)req->body_len,
				  "body", req->body, "caller", req->caller));
}

static void spooled(struct http_request *req, struct http_response *res, void *u)
{
	cleanup_free char *data = NULL;
	size_t len = 0;
	assert_non_null(req->body_file);
	assert_int_equal(read_file(req->body_file, 1 << 20, &data, &len, NULL), 0);
	http_reply_json(res, 201, json_pack("{s:I}", "len", (json_int_t)len));
}

struct counter {
	int n;
};

static ssize_t count_to_three(void *cls, char *buf, size_t max)
{
	struct counter *c = cls;
	if (c->n >= 3)
		return -1;
	c->n++;
	return snprintf(buf, max, "line %d\n", c->n);
}

static void stream(struct http_request *req, struct http_response *res, void *u)
{
	res->status = 200;
	res->content_type = "text/plain";
	res->stream = count_to_three;
	res->stream_cls = calloc(1, sizeof(struct counter));
	res->stream_free = free;
}

static const struct http_route routes[] = {
	{ "GET", "/things/{name}", echo, 0, false },
	{ "POST", "/things/{name}", echo, 64, false },
	{ "POST", "/upload", spooled, 1 << 20, true },
	{ "GET", "/stream", stream, 0, false },
};

struct fixture {
	char *dir, *ca_crt, *url;
	struct http_server *srv;
	struct metrics *m;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error err = { 0 };
	cleanup_free char *ca = NULL, *crt = NULL, *key = NULL, *crt_pem = NULL, *key_pem = NULL;
	unsigned port = 20000 + (unsigned)getpid() % 20000;

	f->dir = tmpdir_new("http");
	ca = path_join(f->dir, "ca");
	crt = path_join(f->dir, "s.crt");
	key = path_join(f->dir, "s.key");
	f->ca_crt = path_join(ca, "ca.crt");
	const char *ips[] = { "127.0.0.1", NULL };
	if (tls_ca_init(ca, "test", &err) < 0 || tls_issue(ca, "srv", NULL, ips, crt, key, &err) < 0 ||
	    read_file(crt, 1 << 20, &crt_pem, NULL, &err) < 0 ||
	    read_file(key, 1 << 20, &key_pem, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(metrics_new(&f->m), 0);
	struct http_server_config cfg = { .host = "127.0.0.1", .port = port, .cert_pem = crt_pem,
					  .key_pem = key_pem, .routes = routes,
					  .n_routes = ELEMENTSOF(routes), .spool_dir = f->dir,
					  .metrics = f->m };
	if (http_server_start(&cfg, &f->srv, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(asprintf(&f->url, "https://127.0.0.1:%u", port) > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	http_server_stop(f->srv);
	metrics_free(f->m);
	tmpdir_done(f->dir);
	free(f->ca_crt);
	free(f->url);
	free(f);
	return 0;
}

static long call(struct fixture *f, const char *method, const char *path, const char *body,
		 char **ret_body)
{
	struct client *c = NULL;
	struct client_reply r;
	struct error err = { 0 };
	if (client_new(f->url, f->ca_crt, &c, &err) < 0 ||
	    client_request(c, method, path, body, body ? strlen(body) : 0, NULL, &r, &err) < 0)
		fail_msg("%s", err.msg);
	client_free(c);
	if (ret_body)
		*ret_body = r.body ? strdup(r.body) : strdup("");
	client_reply_done(&r);
	return r.status;
}

static void test_routes_params_and_errors(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL, *b5 = NULL, *b6 = NULL;

	assert_int_equal(call(f, "GET", "/things/abc?q=1", NULL, &b1), 200);
	assert_contains(b1, "\"name\": \"abc\"");
	assert_contains(b1, "\"q\": \"1\"");
	assert_contains(b1, "\"caller\": \"anonymous\"");
	assert_int_equal(call(f, "POST", "/things/x", "{\"small\":1}", &b2), 200);
	assert_contains(b2, "\"body\": \"{\\\"small\\\":1}\"");
	assert_int_equal(call(f, "POST", "/things/x",
			      "0123456789012345678901234567890123456789012345678901234567890123456789",
			      &b3),
			 413);
	assert_contains(b3, "request body too large: at most 64 bytes");
	assert_int_equal(call(f, "GET", "/nothing", NULL, &b4), 404);
	assert_contains(b4, "\"kind\": \"Status\"");
	assert_int_equal(call(f, "DELETE", "/things/x", NULL, &b5), 405);
	assert_int_equal(call(f, "GET", "/things/%2E%2E", NULL, &b6), 400);
	assert_contains(b6, "'..' segments are not allowed");
}

static void test_spool_and_stream(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *b1 = NULL, *b2 = NULL;
	char big[100000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(call(f, "POST", "/upload", big, &b1), 201);
	assert_contains(b1, "\"len\": 99999");
	assert_int_equal(call(f, "GET", "/stream", NULL, &b2), 200);
	assert_string_equal(b2, "line 1\nline 2\nline 3\n");
	/* the spooled body is gone once answered */
	cleanup_free char *left = NULL;
	assert_true(asprintf(&left, "ls %s | grep -c upload- | grep -q '^0$'", f->dir) > 0);
	assert_int_equal(system(left), 0);
}

static void test_client_verifies_the_server(void **state)
{
	struct fixture *f = *state;
	struct client *c = NULL;
	struct client_reply r;
	struct error err = { 0 };
	cleanup_free char *other = path_join(f->dir, "other");
	cleanup_free char *other_crt = path_join(other, "ca.crt");

	assert_int_equal(tls_ca_init(other, "other", &err), 0);
	assert_int_equal(client_new(f->url, other_crt, &c, &err), 0);
	assert_true(client_request(c, "GET", "/things/a", NULL, 0, NULL, &r, &err) < 0);
	assert_contains(err.msg, "cannot reach");
	client_free(c);
	assert_int_equal(client_new("http://127.0.0.1:1", f->ca_crt, &c, &err), -EINVAL);
	assert_contains(err.msg, "must be an https:// URL");
	assert_int_equal(client_new(f->url, NULL, &c, &err), -EINVAL);
	assert_contains(err.msg, "no CA certificate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routes_params_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_and_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_verifies_the_server, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

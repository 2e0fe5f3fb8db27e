/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/store.h"

static int collect_pod(const struct store_pod *p, void *u)
{
	char **out = u;
	char *next;
	if (asprintf(&next, "%s%s/%s=%s;", *out, p->namespace_, p->name, p->state) < 0)
		return -ENOMEM;
	free(*out);
	*out = next;
	return 0;
}

static int collect_event(const struct store_event *e, void *u)
{
	char **out = u;
	char *next;
	if (asprintf(&next, "%s%s:%s:%s;", *out, e->type, e->reason, e->message) < 0)
		return -ENOMEM;
	free(*out);
	*out = next;
	return 0;
}

static char *pods(struct store *s)
{
	char *out = strdup("");
	struct error err = { 0 };
	assert_int_equal(store_pod_foreach(s, collect_pod, &out, &err), 0);
	return out;
}

static void test_pods_and_events_survive_reopen(void **state)
{
	char *dir = tmpdir_new("store");
	cleanup_free char *db = path_join(dir, "ferry.db");
	struct store *s = NULL;
	struct error err = { 0 };

	assert_int_equal(store_open(db, &s, &err), 0);
	struct store_pod a = { "u1", "default", "web", "{}", "{\"v\":1}", "2026-01-01T00:00:00Z" };
	struct store_pod b = { "u2", "default", "api", "{}", "{\"v\":2}", "2026-01-01T00:00:00Z" };
	struct store_pod dup = { "u3", "default", "web", "{}", "{}", "x" };
	assert_int_equal(store_pod_insert(s, &a, &err), 0);
	assert_int_equal(store_pod_insert(s, &b, &err), 0);
	assert_int_equal(store_pod_insert(s, &dup, &err), -EEXIST);
	assert_contains(err.msg, "pod 'default/web' already exists");
	assert_int_equal(store_pod_set_state(s, "u1", "{\"v\":3}", &err), 0);
	assert_int_equal(store_pod_set_state(s, "nope", "{}", &err), -ENOENT);
	assert_int_equal(store_event_add(s, "u1", "Normal", "Started", "it's 'quoted'", &err), 0);
	assert_int_equal(store_event_add(s, "u1", "Warning", "BackOff", "again", &err), 0);
	store_free(s);

	/* a new process finds everything as it was */
	assert_int_equal(store_open(db, &s, &err), 0);
	cleanup_free char *all = pods(s);
	assert_string_equal(all, "default/api={\"v\":2};default/web={\"v\":3};");
	cleanup_free char *ev = strdup("");
	assert_int_equal(store_event_foreach(s, "u1", collect_event, &ev, &err), 0);
	assert_string_equal(ev, "Normal:Started:it's 'quoted';Warning:BackOff:again;");

	assert_int_equal(store_pod_delete(s, "u1", &err), 0);
	cleanup_free char *left = pods(s);
	assert_string_equal(left, "default/api={\"v\":2};");
	cleanup_free char *ev2 = strdup("");
	assert_int_equal(store_event_foreach(s, "u1", collect_event, &ev2, &err), 0);
	assert_string_equal(ev2, "");
	store_free(s);

	assert_true(store_open("/nonexistent/dir/ferry.db", &s, &err) < 0);
	assert_contains(err.msg, "/nonexistent/dir/ferry.db");
	tmpdir_done(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pods_and_events_survive_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

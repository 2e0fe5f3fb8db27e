/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/runtime.h"

struct fixture {
	char *dir;
	struct runtime *rt;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error err = { 0 };
	f->dir = tmpdir_new("spec");
	cleanup_free char *root = path_join(f->dir, "runc");
	struct runtime_config cfg = { .root = root, .cgroup_parent = "ferry-node1" };
	if (runtime_new(&cfg, &f->rt, &err) < 0)
		fail_msg("%s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	runtime_free(f->rt);
	tmpdir_done(f->dir);
	free(f);
	return 0;
}

static json_t *load_config(const char *dir)
{
	cleanup_free char *p = path_join(dir, "config.json");
	json_error_t jerr;
	json_t *j = json_load_file(p, 0, &jerr);
	if (!j)
		fail_msg("config.json: %s", jerr.text);
	return j;
}

static const char *ns_path(json_t *spec, const char *type, bool *present)
{
	size_t i;
	json_t *n;
	*present = false;
	json_array_foreach(json_object_get(json_object_get(spec, "linux"), "namespaces"), i, n)
	{
		if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0) {
			*present = true;
			return json_string_value(json_object_get(n, "path"));
		}
	}
	return NULL;
}

static void test_full_config(void **state)
{
	struct fixture *f = *state;
	struct error err = { 0 };
	const char *const args[] = { "/usr/bin/statekeeper", "-m", "8", NULL };
	const char *const env[] = { "A=1", "PATH=/bin", NULL };
	struct container_config c = {
		.args = args,
		.env = env,
		.cwd = "/data",
		.memory_limit = 256ULL << 20,
		.cpu_millis = 500,
		.ns = { .network = "/run/netns/pod-a", .ipc = "/run/ipcns/pod-a" },
	};

	if (runtime_bundle_write(f->rt, "c1", &c, f->dir, &err) < 0)
		fail_msg("%s", err.msg);
	json_t *spec = load_config(f->dir);
	json_t *proc = json_object_get(spec, "process");
	assert_string_equal(json_string_value(json_array_get(json_object_get(proc, "args"), 0)),
			    "/usr/bin/statekeeper");
	assert_int_equal(json_array_size(json_object_get(proc, "args")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(proc, "env"), 1)),
			    "PATH=/bin");
	assert_string_equal(json_string_value(json_object_get(proc, "cwd")), "/data");
	assert_false(json_is_true(json_object_get(proc, "terminal")));

	cleanup_free char *rootfs = path_join(f->dir, "rootfs");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(spec, "root"), "path")), rootfs);

	json_t *lin = json_object_get(spec, "linux");
	assert_string_equal(json_string_value(json_object_get(lin, "cgroupsPath")),
			    "/ferry-node1/c1");
	json_t *res = json_object_get(lin, "resources");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
			 256LL << 20);
	json_t *cpu = json_object_get(res, "cpu");
	assert_int_equal(json_integer_value(json_object_get(cpu, "quota")), 50000);
	assert_int_equal(json_integer_value(json_object_get(cpu, "period")), 100000);

	bool present;
	assert_string_equal(ns_path(spec, "network", &present), "/run/netns/pod-a");
	assert_string_equal(ns_path(spec, "ipc", &present), "/run/ipcns/pod-a");
	assert_null(ns_path(spec, "pid", &present));
	assert_true(present); /* a pid namespace of its own */
	assert_null(ns_path(spec, "mount", &present));
	assert_true(present);
	assert_null(ns_path(spec, "uts", &present));
	assert_true(present);
	assert_string_equal(json_string_value(json_object_get(spec, "hostname")), "c1");
	json_decref(spec);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct error err = { 0 };
	const char *const args[] = { "sleep", "1", NULL };
	struct container_config c = { .args = args };

	assert_int_equal(runtime_bundle_write(f->rt, "c2", &c, f->dir, &err), 0);
	json_t *spec = load_config(f->dir);
	json_t *proc = json_object_get(spec, "process");
	assert_string_equal(json_string_value(json_object_get(proc, "cwd")), "/");
	assert_contains(json_string_value(json_array_get(json_object_get(proc, "env"), 0)), "PATH=");
	json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
	assert_null(json_object_get(res, "memory"));
	assert_null(json_object_get(res, "cpu"));
	bool present;
	assert_null(ns_path(spec, "network", &present));
	assert_true(present); /* a network namespace of its own when none is given */
	json_decref(spec);
}

static void test_bad_configs_write_nothing(void **state)
{
	struct fixture *f = *state;
	struct error err = { 0 };
	const char *const args[] = { "sleep", "1", NULL };
	const char *const no_args[] = { NULL };
	const char *const bad_env[] = { "NOEQUALS", NULL };
	cleanup_free char *config = path_join(f->dir, "config.json");
	struct {
		const char *id;
		struct container_config c;
		const char *why;
	} cases[] = {
		{ "../escape", { .args = args }, "invalid container id" },
		{ "a/b", { .args = args }, "invalid container id" },
		{ "ok", { .args = no_args }, "a command is required" },
		{ "ok", { .args = NULL }, "a command is required" },
		{ "ok", { .args = args, .cwd = "relative" }, "must be an absolute path" },
		{ "ok", { .args = args, .env = bad_env }, "is not NAME=VALUE" },
		{ "ok", { .args = args, .memory_limit = 1000 }, "below 256 KiB" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		error_clear(&err);
		assert_int_equal(runtime_bundle_write(f->rt, cases[i].id, &cases[i].c, f->dir, &err),
				 -EINVAL);
		assert_contains(err.msg, cases[i].why);
		assert_false(path_exists(config));
	}
	/* a bundle directory that does not exist */
	assert_true(runtime_bundle_write(f->rt, "ok", &(struct container_config){ .args = args },
					 "/nonexistent/bundle", &err) < 0);
	assert_contains(err.msg, "/nonexistent/bundle");
}

static void test_runtime_config(void **state)
{
	struct runtime *rt = NULL;
	struct error err = { 0 };
	struct runtime_config rel = { .root = "relative", .cgroup_parent = "x" };
	struct runtime_config dots = { .root = "/tmp/x", .cgroup_parent = "../x" };

	assert_int_equal(runtime_new(&rel, &rt, &err), -EINVAL);
	assert_contains(err.msg, "absolute");
	assert_int_equal(runtime_new(&dots, &rt, &err), -EINVAL);
	assert_contains(err.msg, "cgroup parent");

	assert_int_equal(container_status_from_string("running"), CONTAINER_RUNNING);
	assert_int_equal(container_status_from_string("bogus"), _CONTAINER_STATUS_INVALID);
	assert_string_equal(container_status_to_string(CONTAINER_PAUSED), "paused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_configs_write_nothing, setup, teardown),
		cmocka_unit_test(test_runtime_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/pod.h"

static json_t *parse(const char *text)
{
	struct error err = { 0 };
	json_t *j = NULL;
	if (pod_body_parse(text, strlen(text), &j, &err) < 0)
		fail_msg("%s", err.msg);
	return j;
}

static void test_yaml_and_json_agree(void **state)
{
	json_t *y = parse("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: x, n: '1'}\n"
			  "spec:\n  terminationGracePeriodSeconds: 5\n  containers:\n"
			  "  - name: c\n    image: test\n    command: [sleep, \"1\"]\n"
			  "    env: [{name: A, value: 'true'}]\n");
	json_t *j = parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\","
			  "\"labels\":{\"app\":\"x\",\"n\":\"1\"}},\"spec\":{"
			  "\"terminationGracePeriodSeconds\":5,\"containers\":[{\"name\":\"c\","
			  "\"image\":\"test\",\"command\":[\"sleep\",\"1\"],\"env\":[{\"name\":\"A\","
			  "\"value\":\"true\"}]}]}}");
	if (!json_equal(y, j)) {
		cleanup_free char *a = json_dumps(y, JSON_COMPACT | JSON_SORT_KEYS);
		cleanup_free char *b = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("YAML %s != JSON %s", a, b);
	}
	/* and back: YAML out reads in as the same value */
	cleanup_free char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_int_equal(json_to_yaml(y, f), 0);
	fclose(f);
	json_t *again = parse(out);
	assert_true(json_equal(again, y));
	assert_contains(out, "value: \"true\""); /* a string that looks like a bool stays quoted */
	json_decref(again);
	json_decref(y);
	json_decref(j);
}

static void test_malformed(void **state)
{
	struct error err = { 0 };
	json_t *j;
	const char *const bad[][2] = {
		{ "metadata:\n  name: [unclosed\n", "invalid YAML at line" },
		{ "{\"a\": 1,", "invalid JSON at line 1" },
		{ "{\"a\": 1, \"a\": 2}", "invalid JSON" }, /* duplicate keys */
		{ "", "empty" },
		{ "a: &x 1\nb: *x\n", "anchors are not supported" },
		{ "a: 1\n---\nb: 2\n", "more than one document" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		error_clear(&err);
		assert_int_equal(pod_body_parse(bad[i][0], strlen(bad[i][0]), &j, &err), -EBADMSG);
		assert_contains(err.msg, bad[i][1]);
	}
}

static void test_valid_pod(void **state)
{
	struct error err = { 0 };
	struct pod_spec *p = NULL;
	json_t *j = parse("metadata: {name: web, namespace: prod}\nspec:\n  restartPolicy: OnFailure\n"
			  "  containers:\n  - name: a\n    image: img:1\n    command: [sh]\n"
			  "    args: [-c, 'echo hi']\n    workingDir: /data\n"
			  "    resources: {limits: {memory: 128Mi, cpu: 500m}}\n"
			  "    lifecycle: {postStart: {exec: {command: [touch, /x]}}}\n"
			  "  - {name: b, image: img, args: ['true']}\n  clonePod: {node: x}\n");
	if (pod_spec_from_json(j, "prod", true, &p, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(p->name, "web");
	assert_string_equal(p->namespace_, "prod");
	assert_int_equal(p->n_containers, 2);
	assert_int_equal(p->restart_policy, RESTART_ON_FAILURE);
	assert_int_equal(p->grace_period_s, 30);
	assert_int_equal(p->containers[0].memory_limit, 128ULL << 20);
	assert_int_equal(p->containers[0].cpu_millis, 500);
	assert_string_equal(p->containers[0].post_start[1], "/x");
	assert_non_null(p->clone_pod);
	char **argv = container_spec_argv(&p->containers[0]);
	assert_string_equal(argv[0], "sh");
	assert_string_equal(argv[2], "echo hi");
	assert_null(argv[3]);
	strv_free(argv);
	pod_spec_free(p);
	json_decref(j);
}

static void test_invalid_fields_are_named(void **state)
{
	const char *const cases[][2] = {
		{ "{\"metadata\":{\"name\":\"A_B\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"]}]}}",
		  "metadata.name: Invalid value: \"A_B\"" },
		{ "{\"metadata\":{\"name\":\"../x\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"]}]}}",
		  "metadata.name: Invalid value: \"../x\"" },
		{ "{\"metadata\":{\"name\":\"ok\"}}", "spec: Required value" },
		{ "{\"spec\":{}}", "metadata: Required value" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[]}}", "spec.containers: Required value" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}]}}",
		  "spec.containers[0].image: Required value" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"../i\",\"command\":[\"x\"]}]}}",
		  "spec.containers[0].image: Invalid value" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
		  "spec.containers[0].command: Required value" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"]},{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"]}]}}",
		  "spec.containers[1].name: Duplicate value: \"c\"" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"restartPolicy\":\"Sometimes\",\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"]}]}}",
		  "spec.restartPolicy: Unsupported value: \"Sometimes\"" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"terminationGracePeriodSeconds\":-1,\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"]}]}}",
		  "spec.terminationGracePeriodSeconds: Invalid value: -1" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"],\"resources\":{\"limits\":{\"memory\":\"lots\"}}}]}}",
		  "spec.containers[0].resources.limits.memory: Invalid value: \"lots\"" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"],\"workingDir\":\"rel\"}]}}",
		  "spec.containers[0].workingDir: Invalid value: \"rel\"" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"],\"env\":[{\"name\":\"A=B\"}]}]}}",
		  "spec.containers[0].env[0]: name: Invalid value: \"A=B\"" },
		{ "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[1]}]}}",
		  "spec.containers[0].command[0]: must be a string" },
		{ "{\"metadata\":{\"name\":\"ok\",\"namespace\":\"other\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"command\":[\"x\"]}]}}",
		  "metadata.namespace: Invalid value: \"other\": does not match" },
		{ "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"ok\"},\"spec\":{}}", "kind: Invalid value" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct error err = { 0 };
		struct pod_spec *p = NULL;
		json_t *j = parse(cases[i][0]);
		if (pod_spec_from_json(j, "default", true, &p, &err) != -EINVAL)
			fail_msg("case %zu accepted: %s", i, cases[i][0]);
		assert_contains(err.msg, cases[i][1]);
		assert_null(p);
		json_decref(j);
	}
}

static void test_quantities(void **state)
{
	uint64_t m;
	unsigned c;
	assert_int_equal(parse_memory_quantity("64Mi", &m), 0);
	assert_int_equal(m, 64ULL << 20);
	assert_int_equal(parse_memory_quantity("1G", &m), 0);
	assert_int_equal(m, 1000000000ULL);
	assert_int_equal(parse_memory_quantity("4096", &m), 0);
	assert_int_equal(m, 4096);
	assert_int_equal(parse_memory_quantity("1.5Gi", &m), -EINVAL);
	assert_int_equal(parse_memory_quantity("-1", &m), -EINVAL);
	assert_int_equal(parse_memory_quantity("99999999999999Ti", &m), -ERANGE);
	assert_int_equal(parse_cpu_quantity("250m", &c), 0);
	assert_int_equal(c, 250);
	assert_int_equal(parse_cpu_quantity("2", &c), 0);
	assert_int_equal(c, 2000);
	assert_int_equal(parse_cpu_quantity("0.5", &c), 0);
	assert_int_equal(c, 500);
	assert_int_equal(parse_cpu_quantity("x", &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_and_json_agree),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_valid_pod),
		cmocka_unit_test(test_invalid_fields_are_named),
		cmocka_unit_test(test_quantities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

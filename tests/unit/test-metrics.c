/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <string.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/metrics.h"

static char *render(struct metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(metrics_render(m, f), 0);
	fclose(f);
	return buf;
}

static void test_counter_and_gauge(void **state)
{
	struct metrics *m;
	const char *const labels[] = { "operation_type", NULL };

	assert_int_equal(metrics_new(&m), 0);
	struct metric *c = metrics_register(m, METRIC_COUNTER, "x_total", "Things.", labels, NULL, 0);
	struct metric *g = metrics_register(m, METRIC_GAUGE, "y", "A level.", NULL, NULL, 0);
	assert_non_null(c);
	assert_non_null(g);
	/* a name registers once */
	assert_null(metrics_register(m, METRIC_GAUGE, "x_total", "again", NULL, NULL, 0));

	metric_add(c, (const char *const[]){ "create" }, 1);
	metric_add(c, (const char *const[]){ "create" }, 2);
	metric_add(c, (const char *const[]){ "we\"ird\\" }, 1);
	metric_add(c, (const char *const[]){ "many" }, 1000);
	metric_set(g, NULL, 2.5);
	assert_true(metric_value(c, (const char *const[]){ "create" }) == 3);
	assert_true(metric_value(c, (const char *const[]){ "nothing" }) == 0);

	cleanup_free char *text = render(m);
	assert_string_equal(text, "# HELP x_total Things.\n"
				  "# TYPE x_total counter\n"
				  "x_total{operation_type=\"create\"} 3\n"
				  "x_total{operation_type=\"we\\\"ird\\\\\"} 1\n"
				  "x_total{operation_type=\"many\"} 1000\n"
				  "# HELP y A level.\n"
				  "# TYPE y gauge\n"
				  "y 2.5\n");
	metrics_free(m);
}

static void test_histogram(void **state)
{
	struct metrics *m;
	const char *const labels[] = { "op", NULL };
	const double buckets[] = { 0.1, 1 };

	assert_int_equal(metrics_new(&m), 0);
	struct metric *h = metrics_register(m, METRIC_HISTOGRAM, "d_seconds", "Durations.", labels,
					    buckets, 2);
	assert_non_null(h);
	const char *const v[] = { "restore" };
	metric_observe(h, v, 0.05);
	metric_observe(h, v, 0.1); /* le is inclusive */
	metric_observe(h, v, 0.5);
	metric_observe(h, v, 7);

	cleanup_free char *text = render(m);
	assert_string_equal(text, "# HELP d_seconds Durations.\n"
				  "# TYPE d_seconds histogram\n"
				  "d_seconds_bucket{op=\"restore\",le=\"0.1\"} 2\n"
				  "d_seconds_bucket{op=\"restore\",le=\"1\"} 3\n"
				  "d_seconds_bucket{op=\"restore\",le=\"+Inf\"} 4\n"
				  "d_seconds_sum{op=\"restore\"} 7.65\n"
				  "d_seconds_count{op=\"restore\"} 4\n");
	metrics_free(m);
}

static void test_runtime_buckets(void **state)
{
	/* The kubelet's: ExponentialBuckets(0.005, 2.5, 14) */
	double b = 0.005;
	for (size_t i = 0; i < ELEMENTSOF(metrics_runtime_buckets); i++, b *= 2.5)
		assert_float_equal(metrics_runtime_buckets[i], b, b * 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_and_gauge),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_runtime_buckets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4). Thread-safe: every
 * update and the rendering take the registry's lock.
 *
 * Families are created once, at start-up, and live as long as the registry;
 * series (one per set of label values) are created on first use.
 */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include <stdio.h>

#define METRIC_MAX_LABELS 4

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metrics;
struct metric;

int metrics_new(struct metrics **ret);
struct metrics *metrics_free(struct metrics *m);

/*
 * Registers a family. label_names is NULL-terminated (at most
 * METRIC_MAX_LABELS). For histograms, buckets holds n_buckets ascending upper
 * bounds (the +Inf bucket is implicit). Returns NULL on ENOMEM or on a name
 * already registered.
 */
struct metric *metrics_register(struct metrics *m, enum metric_type type, const char *name,
				const char *help, const char *const label_names[],
				const double *buckets, size_t n_buckets);

/* label_values matches the family's label_names, in order. */
void metric_add(struct metric *f, const char *const label_values[], double v);
void metric_set(struct metric *f, const char *const label_values[], double v);
void metric_observe(struct metric *f, const char *const label_values[], double v);

/* Current value of a counter or gauge series; 0 when the series does not exist. */
double metric_value(struct metric *f, const char *const label_values[]);

/* Writes every family in registration order. Returns 0 or -errno. */
int metrics_render(struct metrics *m, FILE *out);

/* The kubelet's runtime-operation buckets: 0.005 * 2.5^i, i = 0..13. */
extern const double metrics_runtime_buckets[14];

#endif

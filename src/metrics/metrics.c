/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/cleanup.h"
#include "ferry/metrics.h"

const double metrics_runtime_buckets[14] = {
	0.005,	     0.0125,	   0.03125,	 0.078125,     0.1953125,    0.48828125,  1.220703125,
	3.0517578125, 7.62939453125, 19.073486328125, 47.6837158203125, 119.20928955078125,
	298.0232238769531, 745.0580596923828,
};

struct series {
	struct series *next;
	char *values[METRIC_MAX_LABELS];
	double value; /* counter, gauge; sum for histograms */
	unsigned long long count;
	unsigned long long *bucket_counts; /* non-cumulative, n_buckets + 1 */
};

struct metric {
	struct metric *next;
	struct metrics *owner;
	enum metric_type type;
	char *name, *help;
	char *labels[METRIC_MAX_LABELS];
	size_t n_labels;
	double *buckets;
	size_t n_buckets;
	struct series *series, **series_tail;
};

struct metrics {
	pthread_mutex_t lock;
	struct metric *first, **tail;
};

int metrics_new(struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->tail = &m->first;
	*ret = m;
	return 0;
}

static void series_free(struct series *s, size_t n_labels)
{
	for (size_t i = 0; i < n_labels; i++)
		free(s->values[i]);
	free(s->bucket_counts);
	free(s);
}

static void family_free(struct metric *f)
{
	for (struct series *s = f->series, *n; s; s = n) {
		n = s->next;
		series_free(s, f->n_labels);
	}
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->labels[i]);
	free(f->buckets);
	free(f->name);
	free(f->help);
	free(f);
}

struct metrics *metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	for (struct metric *f = m->first, *n; f; f = n) {
		n = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

struct metric *metrics_register(struct metrics *m, enum metric_type type, const char *name,
				const char *help, const char *const label_names[],
				const double *buckets, size_t n_buckets)
{
	struct metric *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->owner = m;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help);
	f->series_tail = &f->series;
	bool ok = f->name && f->help;
	for (size_t i = 0; ok && label_names && label_names[i]; i++) {
		if (i >= METRIC_MAX_LABELS || !(f->labels[i] = strdup(label_names[i])))
			ok = false;
		else
			f->n_labels++;
	}
	if (ok && type == METRIC_HISTOGRAM) {
		f->buckets = calloc(n_buckets ? n_buckets : 1, sizeof(double));
		ok = f->buckets != NULL;
		if (ok) {
			memcpy(f->buckets, buckets, n_buckets * sizeof(double));
			f->n_buckets = n_buckets;
		}
	}

	pthread_mutex_lock(&m->lock);
	for (struct metric *g = m->first; ok && g; g = g->next)
		if (strcmp(g->name, name) == 0)
			ok = false;
	if (ok) {
		*m->tail = f;
		m->tail = &f->next;
	}
	pthread_mutex_unlock(&m->lock);
	if (!ok) {
		family_free(f);
		return NULL;
	}
	return f;
}

/* With the lock held. NULL on ENOMEM. */
static struct series *series_get(struct metric *f, const char *const values[])
{
	for (struct series *s = f->series; s; s = s->next) {
		bool same = true;
		for (size_t i = 0; same && i < f->n_labels; i++)
			same = strcmp(s->values[i], values[i]) == 0;
		if (same)
			return s;
	}

	struct series *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (size_t i = 0; i < f->n_labels; i++)
		if (!(s->values[i] = strdup(values[i]))) {
			series_free(s, f->n_labels);
			return NULL;
		}
	if (f->type == METRIC_HISTOGRAM &&
	    !(s->bucket_counts = calloc(f->n_buckets + 1, sizeof(*s->bucket_counts)))) {
		series_free(s, f->n_labels);
		return NULL;
	}
	*f->series_tail = s;
	f->series_tail = &s->next;
	return s;
}

static void update(struct metric *f, const char *const values[], double v, int how)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->owner->lock);
	struct series *s = series_get(f, values);
	if (s) {
		if (how == 0)
			s->value += v;
		else if (how == 1)
			s->value = v;
		else {
			size_t b = 0;
			while (b < f->n_buckets && v > f->buckets[b])
				b++;
			s->bucket_counts[b]++;
			s->count++;
			s->value += v;
		}
	}
	pthread_mutex_unlock(&f->owner->lock);
}

void metric_add(struct metric *f, const char *const label_values[], double v)
{
	update(f, label_values, v, 0);
}

void metric_set(struct metric *f, const char *const label_values[], double v)
{
	update(f, label_values, v, 1);
}

void metric_observe(struct metric *f, const char *const label_values[], double v)
{
	update(f, label_values, v, 2);
}

double metric_value(struct metric *f, const char *const label_values[])
{
	double v = 0;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->owner->lock);
	for (struct series *s = f->series; s; s = s->next) {
		bool same = true;
		for (size_t i = 0; same && i < f->n_labels; i++)
			same = strcmp(s->values[i], label_values[i]) == 0;
		if (same) {
			v = f->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
			break;
		}
	}
	pthread_mutex_unlock(&f->owner->lock);
	return v;
}

/* Label values escaped as the exposition format asks: \\, \" and \n. */
static void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n') {
			fputs("\\n", out);
			continue;
		}
		fputc(*s, out);
	}
}

static void put_labels(FILE *out, const struct metric *f, const struct series *s, const char *le)
{
	if (f->n_labels == 0 && !le)
		return;
	fputc('{', out);
	for (size_t i = 0; i < f->n_labels; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
		put_escaped(out, s->values[i]);
		fputc('"', out);
	}
	if (le)
		fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
	fputc('}', out);
}

/* The shortest text that reads back as v, as Go's client (and so the kubelet) writes. */
static void format_double(double v, char *buf, size_t len)
{
	if (isinf(v)) {
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (v == (double)(long long)v && fabs(v) < 1e15) {
		snprintf(buf, len, "%lld", (long long)v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void put_value(FILE *out, double v)
{
	char buf[64];
	format_double(v, buf, sizeof(buf));
	fputs(buf, out);
}

int metrics_render(struct metrics *m, FILE *out)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };

	pthread_mutex_lock(&m->lock);
	for (struct metric *f = m->first; f; f = f->next) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
			type_names[f->type]);
		for (struct series *s = f->series; s; s = s->next) {
			if (f->type != METRIC_HISTOGRAM) {
				fputs(f->name, out);
				put_labels(out, f, s, NULL);
				fputc(' ', out);
				put_value(out, s->value);
				fputc('\n', out);
				continue;
			}
			unsigned long long cum = 0;
			for (size_t b = 0; b <= f->n_buckets; b++) {
				char le[64];
				cum += s->bucket_counts[b];
				format_double(b < f->n_buckets ? f->buckets[b] : INFINITY, le,
					      sizeof(le));
				fprintf(out, "%s_bucket", f->name);
				put_labels(out, f, s, le);
				fprintf(out, " %llu\n", cum);
			}
			fprintf(out, "%s_sum", f->name);
			put_labels(out, f, s, NULL);
			fputc(' ', out);
			put_value(out, s->value);
			fprintf(out, "\n%s_count", f->name);
			put_labels(out, f, s, NULL);
			fprintf(out, " %llu\n", s->count);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return ferror(out) ? -EIO : 0;
}

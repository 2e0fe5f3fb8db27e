/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FERRY_AGENT_INTERNAL_H
#define FERRY_AGENT_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include "ferry/agent.h"
#include "ferry/pod.h"

struct store;
struct metric;

struct pod {
	struct pod *next;
	struct agent *agent;
	char uid[40];
	char dir[PATH_MAX];
	char netns[PATH_MAX + 16], ipcns[PATH_MAX + 16], utsns[PATH_MAX + 16];
	json_t *pod_json; /* metadata and spec as accepted (with uid, creationTimestamp) */
	struct pod_spec *spec;
	/*
	 * The agent's record, persisted as is: {"containers":[{name, id,
	 * restartCount, state, reason, message, exitCode, signal, startedAt,
	 * finishedAt, pid, monitorPid, imageID, hookFailed, lastState}],
	 * "startTime", "deletionTimestamp"}. Written by the worker only, always
	 * under lock; readers copy it under lock.
	 */
	json_t *state;
	json_t *containers; /* state's "containers" array, borrowed: never replaced */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;     /* the agent shuts down: leave the containers running */
	bool deleting; /* a graceful deletion was asked for */
	bool has_thread;
	pthread_t thread;
	unsigned long long backoff_until[POD_MAX_CONTAINERS];
	unsigned backoff_ms[POD_MAX_CONTAINERS];
};

struct agent {
	char *node_name, *host_ip, *state_dir, *monitor_path, *runc_path;
	unsigned backoff_base_ms, backoff_max_ms;
	struct runtime *rt;
	struct image_store *images;
	struct metrics *metrics;
	struct metric *pods_gauge, *events_total;
	struct store *store;
	pthread_mutex_t lock; /* the pod list */
	struct pod *pods;
};

/* worker.c */
void *pod_worker(void *arg);
void pod_event(struct pod *p, const char *type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void pod_persist(struct pod *p);
const char *pod_phase(struct pod *p); /* with p->lock held */

/* agent.c */
void pod_free(struct pod *p);
void agent_remove_pod(struct agent *a, struct pod *p);

/* Small JSON accessors for container records. */
static inline const char *cstr(json_t *c, const char *k)
{
	return json_string_value(json_object_get(c, k));
}
static inline long long cint(json_t *c, const char *k)
{
	return json_integer_value(json_object_get(c, k));
}

#endif

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

/* A checkpoint asked of a pod's worker; owned by the asking thread. */
struct ckpt_request {
	const char *container; /* NULL: the whole pod */
	bool leave_running, tcp_established, file_locks;
	int compress; /* enum tar_compression */
	const char *out_path;
	unsigned timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int r;
	struct error err;
	json_t *result;
};

struct monitor_restore {
	const char *images, *work;
	bool tcp_established, file_locks;
};

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
	struct ckpt_request *ckpt; /* asked for, not yet taken by the worker */
	unsigned long long backoff_until[POD_MAX_CONTAINERS];
	unsigned backoff_ms[POD_MAX_CONTAINERS];
};

struct agent {
	char *node_name, *host_ip, *state_dir, *monitor_path, *runc_path, *checkpoints_dir;
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

const char *pod_ns(struct pod *p);
void cset(struct pod *p, size_t i, ...);
json_t *container(struct pod *p, size_t i);
void container_id(struct pod *p, size_t i, long long restart, char *buf, size_t len);
void paths(struct pod *p, size_t i, long long restart, char *layer, char *log_dir, char *log,
	   char *exitf);
int spawn_monitor(struct pod *p, const char *id, const char *bundle, const char *log,
		  const char *exitf, const struct monitor_restore *restore, pid_t *ret_pid,
		  pid_t *ret_monitor, struct error *err);

/* checkpoint.c */
void pod_checkpoint_run(struct pod *p, struct ckpt_request *req);
/* A restored container runs: when all do, the pod's unpacked checkpoint goes. */
void pod_restore_done(struct pod *p);

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

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
	/*
	 * A migration's checkpoint: the images stay unpacked in staging_dir,
	 * nothing is packed, and the containers stay frozen (ids in frozen_ids)
	 * until the migration commits or aborts.
	 */
	const char *staging_dir;
	char (*frozen_ids)[160];
	size_t *n_frozen;
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

/* A migration in flight on this agent (source or destination). */
struct migration {
	struct migration *next;
	char id[40];
	bool source;
	json_t *record; /* persisted on every phase change; under agent->mig_lock */
	/* source */
	char ns[64], name[64];
	char staging[PATH_MAX];
	char ids[POD_MAX_CONTAINERS][160];
	size_t n_ids;
	unsigned long long deadline_ns, timeout_ns, frozen_at_ns;
	bool keep_checkpoint, streaming, abort_requested;
	/* both: bytes moved so far */
	unsigned long long bytes;
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
	pthread_mutex_t mig_lock; /* migrations and their records */
	struct migration *migrations;
	struct metric *mig_total, *mig_duration, *mig_frozen, *mig_bytes;
	pthread_t reaper;
	bool reaper_running, stopping;
	char *ca_path; /* whom agents trust: STATE/tls/ca.crt */
	/*
	 * Where a migration's checkpoint lives while it crosses: tmpfs
	 * (/dev/shm/ferry-NODE-HASH) when there is one, else STATE/scratch.
	 * CRIU dumps there, the stream is packed from and unpacked to there,
	 * and the restore reads from there: memory, not disk, on both sides.
	 */
	char *scratch_dir;
	bool loopback; /* this agent listens on 127/8: compression never pays */
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

/* migrate.c */
struct migration *migration_new(struct agent *a, bool source, const char *ns, const char *name,
				const char *peer);
int migration_agent_init(struct agent *a, struct error *err);
void migration_agent_done(struct agent *a);
/* The destination's half, on the new pod's worker. */
void pod_migrate_in(struct pod *p);
struct pod *agent_find_pod(struct agent *a, const char *ns, const char *name); /* a->lock held */
void start_container(struct pod *p, size_t i);

/* agent.c */
void pod_free(struct pod *p);
/* Asks for a graceful deletion (persisted, so that a restarted agent finishes it). */
void pod_mark_deleting(struct pod *p);
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

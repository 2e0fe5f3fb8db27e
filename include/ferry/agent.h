/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's pod manager: the kubelet's role. It keeps pods in the
 * store, runs one worker thread per pod (create, start, postStart hooks,
 * exits, restart policy with back-off, graceful deletion), and re-adopts what
 * is still running after the agent restarts, killing nothing.
 *
 * Pods are addressed by namespace and name from the API, but nothing on disk
 * is named after them: a pod's files live under pods/<uid>, the uid being the
 * agent's own.
 */
#ifndef FERRY_AGENT_H
#define FERRY_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ferry/error.h"

struct agent;
struct metrics;
struct runtime;
struct image_store;

struct agent_config {
	const char *node_name;
	const char *host_ip;	/* the address the agent listens on, reported as status.hostIP */
	const char *state_dir;
	const char *monitor_path; /* ferry-monitor */
	const char *runc_path;
	unsigned backoff_base_ms; /* restart back-off: base, doubled per restart, capped */
	unsigned backoff_max_ms;
	struct runtime *rt;
	struct image_store *images;
	struct metrics *metrics;
};

/* Opens the store, loads every pod and re-adopts its containers; starts the workers. */
int agent_new(const struct agent_config *cfg, struct agent **ret, struct error *err);
/* Stops the workers (containers keep running) and frees. NULL-safe. */
struct agent *agent_free(struct agent *a);

/*
 * Admits a pod (a parsed Pod object) into namespace ns: validated, checked
 * against the image store, stored, and handed to a worker. ret_pod gets the
 * Pod as the API returns it. -EINVAL (422), -EEXIST (409), with messages.
 */
int agent_pod_create(struct agent *a, const char *ns, json_t *pod, json_t **ret_pod,
		     struct error *err);
int agent_pod_get(struct agent *a, const char *ns, const char *name, json_t **ret_pod,
		  struct error *err);
/* A PodList of one namespace, or of all (ns NULL). */
int agent_pod_list(struct agent *a, const char *ns, json_t **ret_list, struct error *err);
/* Starts a graceful deletion; ret_pod: the Pod with its deletionTimestamp. */
int agent_pod_delete(struct agent *a, const char *ns, const char *name, json_t **ret_pod,
		     struct error *err);
/* An EventList of the pod's events. */
int agent_pod_events(struct agent *a, const char *ns, const char *name, json_t **ret_list,
		     struct error *err);

/*
 * The path of a container's current log file (CRI format) and whether the
 * container has finished (a follower stops at the end of the file then).
 * container NULL: the pod's only container (-EINVAL when it has several).
 */
int agent_container_log(struct agent *a, const char *ns, const char *name,
			const char *container, char **ret_path, struct error *err);
/* True while the container may still write to its current log. */
bool agent_container_running(struct agent *a, const char *ns, const char *name,
			     const char *container);

/* Runs argv in a running container; ret_exit and ret_output as runtime_exec. */
int agent_container_exec(struct agent *a, const char *ns, const char *name,
			 const char *container, const char *const argv[], int *ret_exit,
			 char **ret_output, struct error *err);

struct agent_checkpoint_opts {
	const char *container; /* NULL: the whole pod */
	bool leave_running;    /* a snapshot; otherwise the pod is stopped and deleted */
	int tcp_established;   /* 1, 0, or -1: the pod's annotation, default on */
	int file_locks;	       /* likewise */
	const char *compress;  /* "zstd" (default), "gzip", "none" */
	unsigned timeout_ms;   /* per CRIU dump; 0: the runtime's default */
};

/*
 * Checkpoints a pod (or one container) consistently into an archive in
 * STATE/checkpoints, named as the kubelet names its archives:
 * checkpoint-<pod>_<ns>[-<container>]-<RFC 3339 time>.tar[.gz|.zst].
 * ret: {archive, path, size, digest, leftRunning, stats}.
 * On failure the pod runs on as before. -EBUSY when a container is not running.
 */
int agent_pod_checkpoint(struct agent *a, const char *ns, const char *name,
			 const struct agent_checkpoint_opts *o, json_t **ret, struct error *err);

/*
 * Restores an archive as a pod named name (NULL: the name it had) in ns. The
 * archive is verified (format, version, every digest) before anything is done
 * with it; the images must be here with the same digests. ret_pod: the Pod.
 */
int agent_pod_restore(struct agent *a, const char *ns, const char *name, const char *archive,
		      json_t **ret_pod, struct error *err);

/* STATE/checkpoints, where archives live. */
const char *agent_checkpoints_dir(struct agent *a);

/* ---- migration, the source's half (the destination's runs on its pod's worker) */

/*
 * POST /migrate/{ns}/{pod}: freezes the pod, dumps every container and keeps
 * it frozen until a commit, an abort, or timeout_s without either (then it
 * thaws and runs on). -ENOENT unknown pod, -EBUSY not running or migrating.
 * ret: the migration record (id, containers, images, sizes).
 */
int agent_migrate_begin(struct agent *a, const char *ns, const char *name, const char *container,
			unsigned timeout_s, bool keep_checkpoint, const char *peer, json_t **ret,
			struct error *err);
struct migrate_stream;
int agent_migrate_stream_open(struct agent *a, const char *id, struct migrate_stream **ret,
			      struct error *err);
ssize_t agent_migrate_stream_read(void *cls, char *buf, size_t max);
void agent_migrate_stream_free(void *cls);
int agent_migrate_commit(struct agent *a, const char *id, struct error *err);
int agent_migrate_abort(struct agent *a, const char *id, const char *why, struct error *err);
/* Every migration record on this agent, newest first. */
int agent_migrations_list(struct agent *a, json_t **ret);

/* Updates the pod gauges in the metrics registry (before a scrape). */
void agent_update_metrics(struct agent *a);

#endif

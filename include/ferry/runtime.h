/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime service: OCI containers through runc, checkpoint and restore
 * through runc's CRIU support. It plays the role of the kubelet's instrumented
 * runtime service: every operation is counted, timed and its errors counted in
 * the metrics registry given at creation:
 *
 *	ferry_runtime_operations_total{operation_type="checkpoint"}
 *	ferry_runtime_operations_duration_seconds{operation_type="checkpoint"}
 *	ferry_runtime_operations_errors_total{operation_type="checkpoint"}
 *
 * One struct runtime is one node's view: its own runc state root and cgroup
 * parent, so that two agents on one machine never see each other's containers.
 *
 * Container stdio is never a host file: CRIU cannot dump an fd to a file
 * outside the container's mounts. Callers pass pipes whose other ends they
 * keep (see runtime_create()).
 *
 * Every call is bounded by a deadline (runtime_config.timeout_ms unless the
 * options say otherwise); a runc or CRIU that overstays is killed with its
 * whole process group, and the error says so.
 *
 * Errors carry runc's own message and, for checkpoint and restore, the path
 * of CRIU's log and its error lines.
 */
#ifndef FERRY_RUNTIME_H
#define FERRY_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ferry/error.h"

struct metrics;

/* Where /usr/local/libexec/ferry/criu lives: scripts/setup writes it. */
#define RUNTIME_DEFAULT_CRIU "/usr/local/libexec/ferry/criu"
#define RUNTIME_DEFAULT_TIMEOUT_MS (120 * 1000)

struct runtime_config {
	const char *runc_path;	   /* NULL: "runc" from PATH */
	const char *criu_path;	   /* NULL: RUNTIME_DEFAULT_CRIU */
	const char *root;	   /* runc --root; required */
	const char *cgroup_parent; /* cgroupfs path all containers go below; required */
	unsigned timeout_ms;	   /* per operation; 0: RUNTIME_DEFAULT_TIMEOUT_MS */
	struct metrics *metrics;   /* NULL: not instrumented */
};

struct runtime;

int runtime_new(const struct runtime_config *cfg, struct runtime **ret, struct error *err);
struct runtime *runtime_free(struct runtime *rt);

/* ------------------------------------------------------------ OCI bundles */

/* A namespace the container joins (path) or gets anew (path NULL). */
struct runtime_namespaces {
	const char *network; /* e.g. /var/run/netns/ferry-pod-x; NULL: new, with lo down */
	const char *ipc;
	const char *uts;
	/* pid and mount namespaces are always the container's own. */
};

struct container_config {
	const char *const *args; /* NULL-terminated; args[0] is the program */
	const char *const *env;	 /* NULL-terminated "K=V"; a default PATH is added unless set */
	const char *cwd;	 /* NULL: "/" */
	const char *hostname;	 /* NULL: the container id, in a new uts ns only */
	uint64_t memory_limit;	 /* bytes; 0: none */
	unsigned cpu_millis;	 /* CPU limit in thousandths of a CPU; 0: none */
	struct runtime_namespaces ns;
};

/*
 * Writes bundle_dir/config.json for container id, whose root file system is
 * mounted (or to be mounted) at bundle_dir/rootfs. The cgroup is
 * <cgroup_parent>/<id>. Returns 0 or -errno (EINVAL for a bad config, with the
 * field named in err).
 */
int runtime_bundle_write(const struct runtime *rt, const char *id,
			 const struct container_config *c, const char *bundle_dir,
			 struct error *err);

/* ------------------------------------------------------------ lifecycle */

enum container_status {
	CONTAINER_CREATING,
	CONTAINER_CREATED,
	CONTAINER_RUNNING,
	CONTAINER_PAUSED,
	CONTAINER_STOPPED,
	_CONTAINER_STATUS_MAX,
	_CONTAINER_STATUS_INVALID = -EINVAL,
};

const char *container_status_to_string(enum container_status s);
enum container_status container_status_from_string(const char *s);

struct container_state {
	enum container_status status;
	pid_t pid; /* init's pid in the host pid namespace; 0 when stopped */
	char bundle[4096];
};

/*
 * runc create: the container's init is set up and waits for runtime_start().
 * stdio are the fds that become the container's 0, 1 and 2: pipes (their other
 * ends stay with the caller) so that the container can be checkpointed. A host
 * file there would make every later checkpoint fail.
 */
int runtime_create(struct runtime *rt, const char *id, const char *bundle_dir,
		   const int stdio[3], pid_t *ret_pid, struct error *err);
int runtime_start(struct runtime *rt, const char *id, struct error *err);

/* runc state. -ENOENT, with a message, when runc does not know the container. */
int runtime_state(struct runtime *rt, const char *id, struct container_state *ret,
		  struct error *err);

/* runc kill. all: every process of the container (runc kill --all). */
int runtime_kill(struct runtime *rt, const char *id, int sig, bool all, struct error *err);
int runtime_pause(struct runtime *rt, const char *id, struct error *err);
int runtime_resume(struct runtime *rt, const char *id, struct error *err);

/*
 * Removes the container. With force, a running (or paused) container is
 * killed first: its init gets SIGKILL directly and is waited for, and only then
 * does runc delete run (`runc delete -f` on a busy cgroup retries for minutes).
 * Deleting an unknown container is success.
 */
int runtime_delete(struct runtime *rt, const char *id, bool force, struct error *err);

/*
 * runc exec: runs argv in the container and waits (up to timeout_ms, 0: the
 * runtime's default). ret_exit gets its exit status (128+N for a signal);
 * ret_out (may be NULL) what it wrote to stdout and stderr.
 */
int runtime_exec(struct runtime *rt, const char *id, const char *const argv[],
		 unsigned timeout_ms, int *ret_exit, char **ret_out, struct error *err);

/* ------------------------------------------------------------ checkpoint */

enum cgroups_mode {
	CGROUPS_MODE_DEFAULT, /* runc's default (soft) */
	CGROUPS_MODE_SOFT,
	CGROUPS_MODE_FULL,
	CGROUPS_MODE_STRICT,
	_CGROUPS_MODE_MAX,
	_CGROUPS_MODE_INVALID = -EINVAL,
};

/*
 * CRIU options, one field each: the ones later work needs (page server and
 * lazy pages for post-copy, pre-dump with a parent for pre-copy) are here from
 * the start. Zero-initialised means runc's defaults; status_fd -1 means none.
 */
struct checkpoint_opts {
	const char *image_dir;	 /* required; created if missing */
	const char *work_dir;	 /* logs (dump.log); NULL: image_dir */
	const char *parent_dir;	 /* previous pre-dump images, relative to image_dir or absolute */
	bool leave_running;	 /* a snapshot: the container runs on */
	bool tcp_established;	 /* dump established TCP connections */
	bool ext_unix_sk;	 /* allow external unix sockets */
	bool file_locks;	 /* dump held file locks */
	bool pre_dump;		 /* memory only, container keeps running */
	bool lazy_pages;	 /* leave memory to a page server (post-copy) */
	bool auto_dedup;
	enum cgroups_mode manage_cgroups;
	const char *page_server; /* "ADDRESS:PORT" */
	int status_fd;		 /* CRIU writes \0 here once lazy pages are ready; -1: none */
	unsigned timeout_ms;	 /* 0: the runtime's default */
};

#define CHECKPOINT_OPTS_INIT { .status_fd = -1 }

struct restore_opts {
	const char *image_dir;	/* required */
	const char *work_dir;	/* logs (restore.log); NULL: image_dir */
	const char *bundle_dir; /* required: config.json and rootfs of the new container */
	bool tcp_established;
	bool ext_unix_sk;
	bool file_locks;
	bool lazy_pages;
	enum cgroups_mode manage_cgroups;
	unsigned timeout_ms;
};

/* Timings of one operation, for statistics the caller reports. */
struct runtime_op_stats {
	unsigned long long elapsed_ns;
};

/*
 * runc checkpoint. Unless leave_running or pre_dump, the container is gone
 * afterwards: its processes are killed and runc destroys its state and
 * cgroups. CRIU then leaves the container's network namespace locked (an
 * iptables chain that drops every packet, so that TCP peers see no reset
 * before the restore): a namespace belongs to one pod, and a restore into it
 * unlocks it.
 *
 * A paused container can be checkpointed (with leave_running it stays paused):
 * how a caller takes the writable layer while the processes are frozen.
 *
 * On failure or timeout the container is left running: a container found
 * paused afterwards (whoever paused it) is resumed before this returns, and err says what CRIU said,
 * with its log's path and a hint when an option would have helped.
 */
int runtime_checkpoint(struct runtime *rt, const char *id, const struct checkpoint_opts *o,
		       struct runtime_op_stats *ret_stats, struct error *err);

/*
 * runc restore --detach: container id comes back from o->image_dir in
 * o->bundle_dir, with stdio re-attached to the given fds (runc maps the
 * container's former pipes to them with CRIU's inherit-fd). On failure or
 * timeout, whatever the attempt left (processes, the runc state, the cgroup) is
 * removed before this returns.
 */
int runtime_restore(struct runtime *rt, const char *id, const struct restore_opts *o,
		    const int stdio[3], pid_t *ret_pid, struct runtime_op_stats *ret_stats,
		    struct error *err);

/*
 * Removes the (empty) cgroup parent directories from every hierarchy: for a
 * node that goes away for good. -EBUSY while a container's cgroup is below.
 */
int runtime_remove_cgroup_parent(struct runtime *rt, struct error *err);

/*
 * Records an operation done on the runtime's behalf elsewhere (runc create,
 * run by the container's monitor process) in the runtime's metrics.
 */
void runtime_observe(struct runtime *rt, const char *op, unsigned long long start_ns, int r);

/* CRIU's version ("4.2.1"), asked of it once; "unknown" when it does not answer. */
void runtime_criu_version(struct runtime *rt, char *buf, size_t len);

/* The paths in use, for messages. */
const char *runtime_root(const struct runtime *rt);
const char *runtime_criu_path(const struct runtime *rt);

#endif

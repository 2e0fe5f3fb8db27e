/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint and restore through runc's CRIU support (runc --criu PATH).
 *
 * What CRIU does when things go wrong shapes this file (docs/criu.md):
 * - a failed or timed-out `runc checkpoint` can leave the container paused
 *   (cgroup freezer): we resume it, so that a failed checkpoint is harmless;
 * - `criu restore` from a bad image can spin for ever and ignores SIGTERM:
 *   the deadline kills runc's whole process group, then we remove what the
 *   attempt left behind;
 * - runc's own message rarely says why CRIU failed: we quote the error lines
 *   of CRIU's log and give its path.
 */
#define LOG_PREFIX "runtime"
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/log.h"
#include "ferry/runtime.h"
#include "ferry/spawn.h"
#include "runtime-internal.h"

#define MAX_ARGS 48
#define CRIU_QUOTE_MAX 1536 /* how much of CRIU's log an error message quotes */

static const char *const cgroups_mode_names[_CGROUPS_MODE_MAX] = {
	[CGROUPS_MODE_DEFAULT] = NULL,
	[CGROUPS_MODE_SOFT] = "soft",
	[CGROUPS_MODE_FULL] = "full",
	[CGROUPS_MODE_STRICT] = "strict",
};

/*
 * Appends "; CRIU log <path>: <its Error lines>" to err. CRIU writes errors as
 * "(00.123456) Error (criu/files.c:123): ..." at every verbosity.
 */
static void quote_criu_log(struct error *err, const char *log_path)
{
	cleanup_free char *data = NULL;
	char quote[CRIU_QUOTE_MAX] = "";
	size_t q = 0;

	if (!err)
		return;
	if (read_file(log_path, 256u << 20, &data, NULL, NULL) < 0) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, " (no CRIU log at %s)", log_path);
		return;
	}
	for (char *line = data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *e = strstr(line, "Error (");
		if (!e)
			continue;
		/*
		 * Not a cause: CRIU tries to raise its own RLIMIT_NOFILE, which
		 * root without CAP_SYS_RESOURCE may not, and carries on.
		 */
		if (strstr(e, "Can't setup RLIMIT_NOFILE for self"))
			continue;
		int w = snprintf(quote + q, sizeof(quote) - q, "%s%s", q ? " | " : "", e);
		if (w < 0 || (size_t)w >= sizeof(quote) - q) {
			/* keep the first errors: they are the cause, the rest follow from it */
			break;
		}
		q += (size_t)w;
	}
	size_t n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, "; CRIU log %s%s%s", log_path,
		 q ? ": " : "", quote);
}

/* A hint for the errors whose cure is a checkpoint option. */
static void hint(struct error *err, const struct checkpoint_opts *o)
{
	if (!err)
		return;
	size_t n = strlen(err->msg);
	const char *h = NULL;
	if (!o->tcp_established &&
	    (strstr(err->msg, "--tcp-established") || strstr(err->msg, "TCP connection")))
		h = "the container has established TCP connections: checkpoint with tcp_established";
	else if (!o->file_locks && (strstr(err->msg, "file lock") || strstr(err->msg, "flock")))
		h = "the container holds file locks: checkpoint with file_locks";
	else if (!o->ext_unix_sk && strstr(err->msg, "unix socket") && strstr(err->msg, "xternal"))
		h = "the container has a unix socket connected outside it: checkpoint with ext_unix_sk";
	if (h)
		snprintf(err->msg + n, sizeof(err->msg) - n, " (hint: %s)", h);
}

/*
 * What a killed runc or CRIU leaves mounted: runc's criu-root bind mount in its
 * state directory, CRIU's cgroup yard (.criu.cgyard.*) in the work directory.
 */
static void unmount_leftovers(struct runtime *rt, const char *id, const char *work)
{
	char state_dir[PATH_MAX];
	struct error e = { 0 };
	int n;

	snprintf(state_dir, sizeof(state_dir), "%s/%s", rt->root, id);
	n = unmount_below(state_dir, &e);
	if (n > 0)
		log_notice("container='%s' unmounted %d leftover mount(s) below %s", id, n,
			   state_dir);
	n = work ? unmount_below(work, &e) : 0;
	if (n > 0)
		log_notice("container='%s' unmounted %d leftover mount(s) below %s", id, n, work);
	if (error_is_set(&e))
		log_warning("container='%s' %s", id, e.msg);
}

/* runc's state, NULL-safe, for deciding what to clean up. */
static enum container_status status_of(struct runtime *rt, const char *id, pid_t *ret_pid)
{
	struct container_state st;

	if (runtime_state(rt, id, &st, NULL) < 0)
		return _CONTAINER_STATUS_INVALID;
	if (ret_pid)
		*ret_pid = st.pid;
	return st.status;
}

int runtime_checkpoint(struct runtime *rt, const char *id, const struct checkpoint_opts *o,
		       struct runtime_op_stats *ret_stats, struct error *err)
{
	unsigned long long start = now_ns();
	const char *args[MAX_ARGS];
	char status_fd[16];
	size_t n = 0;
	cleanup_free char *log_path = NULL;
	const char *work = o->work_dir ? o->work_dir : o->image_dir;
	int r;

	if (!name_is_valid(id))
		return error_setx(err, EINVAL, "invalid container id '%s'", id ? id : "");
	if (!o->image_dir || o->image_dir[0] != '/')
		return error_setx(err, EINVAL, "checkpoint '%s': image_dir must be absolute", id);
	if (o->manage_cgroups < 0 || o->manage_cgroups >= _CGROUPS_MODE_MAX)
		return error_setx(err, EINVAL, "checkpoint '%s': bad manage_cgroups mode", id);
	if (o->lazy_pages && !o->page_server && o->status_fd < 0)
		return error_setx(err, EINVAL,
				  "checkpoint '%s': lazy_pages needs a page_server or a status_fd",
				  id);
	r = mkdir_p(o->image_dir, 0700);
	if (r >= 0 && work != o->image_dir)
		r = mkdir_p(work, 0700);
	if (r < 0)
		return error_set(err, r, "checkpoint '%s': cannot create '%s'", id, o->image_dir);

	args[n++] = "checkpoint";
	args[n++] = "--image-path";
	args[n++] = o->image_dir;
	args[n++] = "--work-path";
	args[n++] = work;
	if (o->parent_dir) {
		args[n++] = "--parent-path";
		args[n++] = o->parent_dir;
	}
	if (o->leave_running)
		args[n++] = "--leave-running";
	if (o->tcp_established)
		args[n++] = "--tcp-established";
	if (o->ext_unix_sk)
		args[n++] = "--ext-unix-sk";
	if (o->file_locks)
		args[n++] = "--file-locks";
	if (o->pre_dump)
		args[n++] = "--pre-dump";
	if (o->lazy_pages)
		args[n++] = "--lazy-pages";
	if (o->auto_dedup)
		args[n++] = "--auto-dedup";
	if (o->manage_cgroups != CGROUPS_MODE_DEFAULT) {
		args[n++] = "--manage-cgroups-mode";
		args[n++] = cgroups_mode_names[o->manage_cgroups];
	}
	if (o->page_server) {
		args[n++] = "--page-server";
		args[n++] = o->page_server;
	}
	if (o->status_fd >= 0) {
		snprintf(status_fd, sizeof(status_fd), "%d", o->status_fd);
		args[n++] = "--status-fd";
		args[n++] = status_fd;
	}
	args[n++] = id;
	args[n] = NULL;

	struct runc_call call = {
		.op = o->pre_dump ? "pre-dump" : "checkpoint",
		.id = id,
		.timeout_ms = o->timeout_ms,
		.keep_fds = o->status_fd >= 0 ? &o->status_fd : NULL,
		.n_keep_fds = o->status_fd >= 0 ? 1 : 0,
	};
	log_path = path_join(work, o->pre_dump ? "pre-dump.log" : "dump.log");
	r = run_runc(rt, &call, args, err);
	free(call.out);
	if (r < 0) {
		if (log_path)
			quote_criu_log(err, log_path);
		hint(err, o);
		if (call.timed_out)
			unmount_leftovers(rt, id, work);
		/*
		 * A timed-out (or failed) checkpoint can leave the container
		 * frozen: runc pauses it through the freezer for CRIU and only
		 * thaws it on its own way out. Make sure it runs again.
		 */
		if (status_of(rt, id, NULL) == CONTAINER_PAUSED) {
			struct error e2 = { 0 };
			if (runtime_resume(rt, id, &e2) < 0)
				log_error("container='%s' left paused by a failed checkpoint and "
					  "cannot be resumed: %s",
					  id, e2.msg);
			else
				log_notice("container='%s' resumed after the failed checkpoint", id);
		}
	} else if (ret_stats) {
		ret_stats->elapsed_ns = call.elapsed_ns;
	}
	instrument_op(rt, call.op, start, r);
	return r;
}

int runtime_restore(struct runtime *rt, const char *id, const struct restore_opts *o,
		    const int stdio[3], pid_t *ret_pid, struct runtime_op_stats *ret_stats,
		    struct error *err)
{
	unsigned long long start = now_ns();
	const char *args[MAX_ARGS];
	size_t n = 0;
	cleanup_free char *log_path = NULL, *pid_file = NULL, *pid_text = NULL;
	const char *work = o->work_dir ? o->work_dir : o->image_dir;
	struct stat st;
	int r;

	if (!name_is_valid(id))
		return error_setx(err, EINVAL, "invalid container id '%s'", id ? id : "");
	if (!o->image_dir || !o->bundle_dir)
		return error_setx(err, EINVAL, "restore '%s': image_dir and bundle_dir are required",
				  id);
	if (o->manage_cgroups < 0 || o->manage_cgroups >= _CGROUPS_MODE_MAX)
		return error_setx(err, EINVAL, "restore '%s': bad manage_cgroups mode", id);
	if (stat(o->image_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return error_set(err, errno ? errno : ENOTDIR,
				 "restore '%s': checkpoint image directory '%s'", id, o->image_dir);
	if (status_of(rt, id, NULL) >= 0)
		return error_setx(err, EEXIST,
				  "restore '%s': a container with that id exists under runc root '%s'",
				  id, rt->root);
	if (work != o->image_dir && (r = mkdir_p(work, 0700)) < 0)
		return error_set(err, r, "restore '%s': cannot create '%s'", id, work);
	pid_file = path_join(o->bundle_dir, "init.pid");
	log_path = path_join(work, "restore.log");
	if (!pid_file || !log_path)
		return error_set(err, ENOMEM, "restore");
	(void)unlink(pid_file);

	args[n++] = "restore";
	args[n++] = "--detach";
	args[n++] = "--image-path";
	args[n++] = o->image_dir;
	args[n++] = "--work-path";
	args[n++] = work;
	args[n++] = "--bundle";
	args[n++] = o->bundle_dir;
	args[n++] = "--pid-file";
	args[n++] = pid_file;
	if (o->tcp_established)
		args[n++] = "--tcp-established";
	if (o->ext_unix_sk)
		args[n++] = "--ext-unix-sk";
	if (o->file_locks)
		args[n++] = "--file-locks";
	if (o->lazy_pages)
		args[n++] = "--lazy-pages";
	if (o->manage_cgroups != CGROUPS_MODE_DEFAULT) {
		args[n++] = "--manage-cgroups-mode";
		args[n++] = cgroups_mode_names[o->manage_cgroups];
	}
	args[n++] = id;
	args[n] = NULL;

	struct runc_call call = { .op = "restore", .id = id, .stdio = stdio,
				  .timeout_ms = o->timeout_ms };
	r = run_runc(rt, &call, args, err);
	free(call.out);
	if (r >= 0 && ret_pid) {
		r = read_file(pid_file, 64, &pid_text, NULL, err);
		if (r >= 0)
			*ret_pid = (pid_t)strtol(pid_text, NULL, 10);
	}
	if (r < 0) {
		quote_criu_log(err, log_path);
		/*
		 * Whatever the attempt left: half-restored tasks (the deadline
		 * killed runc and CRIU, not them), runc's state, the cgroup.
		 */
		struct error e2 = { 0 };
		unmount_leftovers(rt, id, work);
		if (runtime_delete(rt, id, true, &e2) < 0)
			log_error("container='%s' cleanup after the failed restore: %s", id,
				  e2.msg);
		/* runc never recorded the container if it was killed: its dir is ours to remove */
		char state_dir[PATH_MAX];
		snprintf(state_dir, sizeof(state_dir), "%s/%s", rt->root, id);
		if (status_of(rt, id, NULL) < 0 && rm_rf(state_dir, &e2) < 0)
			log_error("container='%s' cleanup after the failed restore: %s", id,
				  e2.msg);
	} else if (ret_stats) {
		ret_stats->elapsed_ns = call.elapsed_ns;
	}
	instrument_op(rt, "restore", start, r);
	return r;
}

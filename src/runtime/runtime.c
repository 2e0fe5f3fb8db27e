/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runc, driven as a program: every call goes through run_runc(), which bounds
 * it with a deadline, records runc's own error message (runc --log-format json
 * writes it to a log file we read back) and instruments it.
 */
#define LOG_PREFIX "runtime"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/log.h"
#include "ferry/metrics.h"
#include "ferry/runtime.h"
#include "ferry/spawn.h"
#include "runtime-internal.h"

#define MAX_ARGS 64

static const char *const status_names[_CONTAINER_STATUS_MAX] = {
	[CONTAINER_CREATING] = "creating", [CONTAINER_CREATED] = "created",
	[CONTAINER_RUNNING] = "running",   [CONTAINER_PAUSED] = "paused",
	[CONTAINER_STOPPED] = "stopped",
};

const char *container_status_to_string(enum container_status s)
{
	return s >= 0 && s < _CONTAINER_STATUS_MAX ? status_names[s] : NULL;
}

enum container_status container_status_from_string(const char *s)
{
	for (int i = 0; i < _CONTAINER_STATUS_MAX; i++)
		if (s && strcmp(s, status_names[i]) == 0)
			return i;
	return _CONTAINER_STATUS_INVALID;
}

int runtime_new(const struct runtime_config *cfg, struct runtime **ret, struct error *err)
{
	static const char *const op_label[] = { "operation_type", NULL };
	struct runtime *rt;
	int r;

	if (!cfg->root || cfg->root[0] != '/')
		return error_setx(err, EINVAL, "runtime: the runc root must be an absolute path");
	if (!cfg->cgroup_parent || !cfg->cgroup_parent[0] || strstr(cfg->cgroup_parent, ".."))
		return error_setx(err, EINVAL, "runtime: invalid cgroup parent '%s'",
				  cfg->cgroup_parent ? cfg->cgroup_parent : "");
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return error_set(err, ENOMEM, "runtime");
	rt->runc = strdup(cfg->runc_path ? cfg->runc_path : "runc");
	rt->criu = strdup(cfg->criu_path ? cfg->criu_path : RUNTIME_DEFAULT_CRIU);
	rt->root = strdup(cfg->root);
	/* runc's cgroupfs driver takes cgroupsPath relative to the hierarchy roots. */
	if (cfg->cgroup_parent[0] == '/')
		rt->cgroup_parent = strdup(cfg->cgroup_parent);
	else if (asprintf(&rt->cgroup_parent, "/%s", cfg->cgroup_parent) < 0)
		rt->cgroup_parent = NULL;
	rt->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : RUNTIME_DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&rt->lock, NULL);
	if (!rt->runc || !rt->criu || !rt->root || !rt->cgroup_parent) {
		runtime_free(rt);
		return error_set(err, ENOMEM, "runtime");
	}
	r = mkdir_p(rt->root, 0700);
	if (r < 0) {
		runtime_free(rt);
		return error_set(err, r, "cannot create runc root '%s'", cfg->root);
	}
	if (cfg->metrics) {
		rt->ops_total = metrics_register(cfg->metrics, METRIC_COUNTER,
						 "ferry_runtime_operations_total",
						 "Cumulative number of runtime operations by operation type.",
						 op_label, NULL, 0);
		rt->ops_errors = metrics_register(
			cfg->metrics, METRIC_COUNTER, "ferry_runtime_operations_errors_total",
			"Cumulative number of runtime operation errors by operation type.", op_label,
			NULL, 0);
		rt->ops_duration = metrics_register(
			cfg->metrics, METRIC_HISTOGRAM, "ferry_runtime_operations_duration_seconds",
			"Duration in seconds of runtime operations. Broken down by operation type.",
			op_label, metrics_runtime_buckets, ELEMENTSOF(metrics_runtime_buckets));
	}
	*ret = rt;
	return 0;
}

struct runtime *runtime_free(struct runtime *rt)
{
	if (!rt)
		return NULL;
	free(rt->runc);
	free(rt->criu);
	free(rt->root);
	free(rt->cgroup_parent);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
	return NULL;
}

const char *runtime_root(const struct runtime *rt)
{
	return rt->root;
}

const char *runtime_criu_path(const struct runtime *rt)
{
	return rt->criu;
}

void instrument_op(struct runtime *rt, const char *op, unsigned long long start_ns, int r)
{
	const char *const labels[] = { op };
	metric_add(rt->ops_total, labels, 1);
	metric_observe(rt->ops_duration, labels, (double)(now_ns() - start_ns) / 1e9);
	if (r < 0)
		metric_add(rt->ops_errors, labels, 1);
}

void runtime_criu_version(struct runtime *rt, char *buf, size_t len)
{
	pthread_mutex_lock(&rt->lock);
	if (!rt->criu_version[0]) {
		const char *argv[] = { rt->criu, "--version", NULL };
		struct spawn_opts o = SPAWN_OPTS_INIT;
		struct spawn_result res = SPAWN_RESULT_INIT;
		o.timeout_ms = 10000;
		snprintf(rt->criu_version, sizeof(rt->criu_version), "unknown");
		if (spawn_run(argv, &o, &res, NULL) == 0 && res.status == 0 && res.out) {
			const char *v = strstr(res.out, "Version: ");
			if (v) {
				snprintf(rt->criu_version, sizeof(rt->criu_version), "%s", v + 9);
				rt->criu_version[strcspn(rt->criu_version, "\n")] = '\0';
			}
		}
		spawn_result_done(&res);
	}
	snprintf(buf, len, "%s", rt->criu_version);
	pthread_mutex_unlock(&rt->lock);
}

void runtime_observe(struct runtime *rt, const char *op, unsigned long long start_ns, int r)
{
	instrument_op(rt, op, start_ns, r);
}

/*
 * The last error-level message in runc's JSON log, which is what runc would
 * have printed: {"level":"error","msg":"...","time":"..."}.
 */
static char *runc_log_error(const char *log_path)
{
	cleanup_free char *data = NULL;
	char *last = NULL;

	if (read_file(log_path, 4u << 20, &data, NULL, NULL) < 0)
		return NULL;
	for (char *line = data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		json_t *j = json_loads(line, 0, NULL);
		const char *level = json_string_value(json_object_get(j, "level"));
		const char *msg = json_string_value(json_object_get(j, "msg"));
		if (level && msg && (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0)) {
			free(last);
			last = strdup(msg);
		}
		json_decref(j);
	}
	return last;
}

int run_runc(struct runtime *rt, struct runc_call *call, const char *const args[],
		    struct error *err)
{
	const char *argv[MAX_ARGS];
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res = SPAWN_RESULT_INIT;
	char log_path[PATH_MAX];
	size_t n = 0;
	int r;

	snprintf(log_path, sizeof(log_path), "%s/%s-%s-%d-%llu.log", rt->root, call->op,
		 call->id, getpid(), now_ns());
	argv[n++] = rt->runc;
	argv[n++] = "--root";
	argv[n++] = rt->root;
	argv[n++] = "--criu";
	argv[n++] = rt->criu;
	argv[n++] = "--log";
	argv[n++] = log_path;
	argv[n++] = "--log-format";
	argv[n++] = "json";
	for (size_t i = 0; args[i] && n < MAX_ARGS - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	if (call->stdio)
		memcpy(o.stdio, call->stdio, sizeof(o.stdio));
	o.keep_fds = call->keep_fds;
	o.n_keep_fds = call->n_keep_fds;
	o.timeout_ms = call->timeout_ms ? call->timeout_ms : rt->timeout_ms;

	if (log_get_level() >= LOG_DEBUG) {
		cleanup_free char *line = spawn_argv_string(argv);
		log_debug("container='%s' exec %s", call->id, line ? line : argv[0]);
	}
	r = spawn_run(argv, &o, &res, err);
	if (r < 0) {
		(void)unlink(log_path);
		return error_wrap(err, "runc %s '%s'", call->op, call->id);
	}
	call->status = res.status;
	call->timed_out = res.timed_out;
	call->elapsed_ns = res.elapsed_ns;
	call->out = TAKE_PTR(res.out);
	log_debug("container='%s' runc %s exited %d after %.3fs%s", call->id, call->op, res.status,
		  (double)res.elapsed_ns / 1e9, res.timed_out ? " (killed at the deadline)" : "");

	if (res.timed_out) {
		r = error_setx(err, ETIMEDOUT, "runc %s '%s' timed out after %.1fs and was killed",
			       call->op, call->id, (double)o.timeout_ms / 1000);
	} else if (res.status != 0) {
		cleanup_free char *msg = runc_log_error(log_path);
		call->runc_error = msg != NULL;
		const char *why = msg ? msg : res.err && *res.err ? res.err : "(no message)";
		/* runc says "container does not exist" (1.1) for unknown ids. */
		int code = strstr(why, "does not exist") ? ENOENT : EIO;
		r = error_setx(err, code, "runc %s '%s' failed: %s", call->op, call->id, why);
	}
	spawn_result_done(&res);
	(void)unlink(log_path);
	return r;
}

int runtime_create(struct runtime *rt, const char *id, const char *bundle_dir,
		   const int stdio[3], pid_t *ret_pid, struct error *err)
{
	unsigned long long start = now_ns();
	cleanup_free char *pid_file = NULL, *pid_text = NULL;
	struct runc_call call = { .op = "create", .id = id, .stdio = stdio };
	int r;

	if (!name_is_valid(id))
		return error_setx(err, EINVAL, "invalid container id '%s'", id);
	pid_file = path_join(bundle_dir, "init.pid");
	if (!pid_file)
		return error_set(err, ENOMEM, "create");
	const char *const args[] = { "create", "--bundle", bundle_dir, "--pid-file", pid_file, id,
				     NULL };
	r = run_runc(rt, &call, args, err);
	free(call.out);
	if (r >= 0 && ret_pid) {
		r = read_file(pid_file, 64, &pid_text, NULL, err);
		if (r >= 0)
			*ret_pid = (pid_t)strtol(pid_text, NULL, 10);
	}
	instrument_op(rt, "create", start, r);
	return r;
}

/* The simple verbs: runc <verb> [flags] <id>, nothing captured but errors. */
static int simple(struct runtime *rt, const char *op, const char *const args[], const char *id,
		  struct error *err)
{
	unsigned long long start = now_ns();
	struct runc_call call = { .op = op, .id = id };

	if (!name_is_valid(id))
		return error_setx(err, EINVAL, "invalid container id '%s'", id ? id : "");
	int r = run_runc(rt, &call, args, err);
	free(call.out);
	instrument_op(rt, op, start, r);
	return r;
}

int runtime_start(struct runtime *rt, const char *id, struct error *err)
{
	return simple(rt, "start", (const char *const[]){ "start", id, NULL }, id, err);
}

int runtime_pause(struct runtime *rt, const char *id, struct error *err)
{
	return simple(rt, "pause", (const char *const[]){ "pause", id, NULL }, id, err);
}

int runtime_resume(struct runtime *rt, const char *id, struct error *err)
{
	return simple(rt, "resume", (const char *const[]){ "resume", id, NULL }, id, err);
}

int runtime_kill(struct runtime *rt, const char *id, int sig, bool all, struct error *err)
{
	char signum[16];

	snprintf(signum, sizeof(signum), "%d", sig);
	if (all)
		return simple(rt, "kill", (const char *const[]){ "kill", "--all", id, signum, NULL },
			      id, err);
	return simple(rt, "kill", (const char *const[]){ "kill", id, signum, NULL }, id, err);
}

int runtime_state(struct runtime *rt, const char *id, struct container_state *ret,
		  struct error *err)
{
	unsigned long long start = now_ns();
	struct runc_call call = { .op = "state", .id = id };
	json_error_t jerr;
	json_t *j = NULL;
	int r;

	if (!name_is_valid(id))
		return error_setx(err, EINVAL, "invalid container id '%s'", id ? id : "");
	r = run_runc(rt, &call, (const char *const[]){ "state", id, NULL }, err);
	if (r >= 0) {
		j = json_loads(call.out ? call.out : "", 0, &jerr);
		const char *status = json_string_value(json_object_get(j, "status"));
		const char *bundle = json_string_value(json_object_get(j, "bundle"));
		enum container_status s = container_status_from_string(status);
		if (!j || s < 0) {
			r = error_setx(err, EPROTO, "runc state '%s': unexpected output: %s", id,
				       j ? "no known status" : jerr.text);
		} else {
			ret->status = s;
			ret->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
			snprintf(ret->bundle, sizeof(ret->bundle), "%s", bundle ? bundle : "");
		}
		json_decref(j);
	}
	free(call.out);
	instrument_op(rt, "state", start, r);
	return r;
}

/* Waits up to timeout_ms for a process that is not our child to go away. */
static int wait_pid_gone(pid_t pid, unsigned timeout_ms)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0)
		return errno == ESRCH ? 0 : -errno;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int n = poll(&p, 1, (int)timeout_ms);
	return n > 0 ? 0 : -ETIMEDOUT;
}

int runtime_delete(struct runtime *rt, const char *id, bool force, struct error *err)
{
	unsigned long long start = now_ns();
	struct container_state st;
	struct error e2 = { 0 };
	int r;

	if (!name_is_valid(id))
		return error_setx(err, EINVAL, "invalid container id '%s'", id ? id : "");
	r = runtime_state(rt, id, &st, &e2);
	if (r == -ENOENT)
		return force ? cgroup_purge(rt, id, err) : 0;
	if (r >= 0 && force && st.status != CONTAINER_STOPPED && st.pid > 0) {
		/*
		 * `runc delete -f` on a container whose cgroup still has tasks
		 * retries the cgroup removal for minutes. Kill init ourselves (a
		 * frozen task dies only when thawed, hence the resume) and wait for
		 * it; the pid namespace takes every other process with it.
		 */
		if (st.status == CONTAINER_PAUSED)
			(void)runtime_resume(rt, id, NULL);
		(void)kill(st.pid, SIGKILL);
		if (wait_pid_gone(st.pid, 10000) < 0)
			log_warning("container='%s' init %d still there 10s after SIGKILL", id,
				    (int)st.pid);
	}
	struct runc_call call = { .op = "delete", .id = id };
	if (force)
		r = run_runc(rt, &call, (const char *const[]){ "delete", "--force", id, NULL }, err);
	else
		r = run_runc(rt, &call, (const char *const[]){ "delete", id, NULL }, err);
	free(call.out);
	if (r == -ENOENT)
		r = 0;
	/* What runc could not remove, or never knew of (a killed restore). */
	if (r >= 0 && force)
		r = cgroup_purge(rt, id, err);
	instrument_op(rt, "delete", start, r);
	return r;
}

int runtime_exec(struct runtime *rt, const char *id, const char *const argv[],
		 unsigned timeout_ms, int *ret_exit, char **ret_out, struct error *err)
{
	unsigned long long start = now_ns();
	const char *args[MAX_ARGS];
	size_t n = 0;
	int stdio[3] = { SPAWN_DEVNULL, SPAWN_CAPTURE, SPAWN_CAPTURE };
	struct runc_call call = { .op = "exec", .id = id, .stdio = stdio, .timeout_ms = timeout_ms };
	int r;

	if (!name_is_valid(id))
		return error_setx(err, EINVAL, "invalid container id '%s'", id ? id : "");
	if (!argv || !argv[0])
		return error_setx(err, EINVAL, "exec in '%s': no command given", id);
	args[n++] = "exec";
	args[n++] = id;
	for (size_t i = 0; argv[i]; i++) {
		if (n >= MAX_ARGS - 10)
			return error_setx(err, E2BIG, "exec in '%s': too many arguments", id);
		args[n++] = argv[i];
	}
	args[n] = NULL;
	r = run_runc(rt, &call, args, err);
	/*
	 * A non-zero status from the command itself is not a runtime failure:
	 * runc exec exits with the command's status. Only "runc failed before
	 * the command ran" (an error in runc's log) is.
	 */
	if (r == -EIO && !call.runc_error) {
		error_clear(err);
		r = 0;
	}
	if (r >= 0) {
		*ret_exit = call.status;
		if (ret_out)
			*ret_out = TAKE_PTR(call.out);
	}
	free(call.out);
	instrument_op(rt, "exec", start, r);
	return r;
}

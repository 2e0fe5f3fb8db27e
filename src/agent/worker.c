/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod worker: one thread per pod, the kubelet's pod worker. It alone
 * changes the pod's record; every change is persisted before the worker goes
 * on, so an agent killed at any moment restarts from a true record.
 */
#define LOG_PREFIX "pod"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-internal.h"
#include "ferry/ckpt.h"
#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/image.h"
#include "ferry/log.h"
#include "ferry/metrics.h"
#include "ferry/netns.h"
#include "ferry/runtime.h"
#include "ferry/store.h"

#define TICK_MS 200
#define HOOK_TIMEOUT_MS 30000
#define MONITOR_SYNC_TIMEOUT_MS (RUNTIME_DEFAULT_TIMEOUT_MS + 10000)

const char *pod_ns(struct pod *p)
{
	return p->spec->namespace_;
}

void pod_event(struct pod *p, const char *type, const char *reason, const char *fmt, ...)
{
	char msg[2048];
	struct error err = { 0 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_full_errno(strcmp(type, "Warning") == 0 ? LOG_WARNING : LOG_INFO, 0, "pod='%s/%s' %s: %s",
		       pod_ns(p), p->spec->name, reason, msg);
	if (store_event_add(p->agent->store, p->uid, type, reason, msg, &err) < 0)
		log_warning("pod='%s/%s' cannot record event, ignoring: %s", pod_ns(p),
			    p->spec->name, err.msg);
	const char *const labels[] = { reason };
	metric_add(p->agent->events_total, labels, 1);
}

void pod_persist(struct pod *p)
{
	struct error err = { 0 };

	pthread_mutex_lock(&p->lock);
	cleanup_free char *text = json_dumps(p->state, JSON_COMPACT);
	pthread_mutex_unlock(&p->lock);
	if (!text || store_pod_set_state(p->agent->store, p->uid, text, &err) < 0)
		log_error("pod='%s/%s' cannot persist its state: %s", pod_ns(p), p->spec->name,
			  text ? err.msg : "out of memory");
}

/* Sets fields of container i under the lock: key, json value pairs, NULL-terminated. */
void cset(struct pod *p, size_t i, ...)
{
	va_list ap;
	pthread_mutex_lock(&p->lock);
	json_t *c = json_array_get(p->containers, i);
	va_start(ap, i);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		json_t *v = va_arg(ap, json_t *);
		if (v)
			json_object_set_new(c, k, v);
		else
			json_object_del(c, k);
	}
	va_end(ap);
	pthread_mutex_unlock(&p->lock);
}

json_t *container(struct pod *p, size_t i)
{
	return json_array_get(p->containers, i);
}

void container_id(struct pod *p, size_t i, long long restart, char *buf, size_t len)
{
	snprintf(buf, len, "%.8s-%s-%lld", p->uid, p->spec->containers[i].name, restart);
}

void paths(struct pod *p, size_t i, long long restart, char *layer, char *log_dir,
		  char *log, char *exitf)
{
	const char *name = p->spec->containers[i].name;
	snprintf(layer, PATH_MAX, "%s/containers/%s-%lld", p->dir, name, restart);
	snprintf(log_dir, PATH_MAX, "%s/logs/%s", p->dir, name);
	snprintf(log, PATH_MAX, "%s/logs/%s/%lld.log", p->dir, name, restart);
	snprintf(exitf, PATH_MAX, "%s/exit/%s-%lld.json", p->dir, name, restart);
}

/* A process that exists and is not a zombie. */
static bool pid_alive(pid_t pid)
{
	char path[64];
	cleanup_free char *stat = NULL;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, 4096, &stat, NULL, NULL) < 0)
		return false;
	const char *rp = strrchr(stat, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/*
 * Starts ferry-monitor for one container, double-forked so that it belongs to
 * no one (the agent may restart; the monitor must not die with it), and waits
 * for its report: the container's init pid, or why runc create failed.
 */
int spawn_monitor(struct pod *p, const char *id, const char *bundle, const char *log,
		  const char *exitf, const struct monitor_restore *restore, pid_t *ret_pid,
		  pid_t *ret_monitor, struct error *err)
{
	struct agent *a = p->agent;
	char fdarg[16];
	int sp[2];

	if (pipe2(sp, O_CLOEXEC) < 0)
		return error_set(err, errno, "pipe");
	snprintf(fdarg, sizeof(fdarg), "%d", sp[1]);
	const char *argv[24] = { a->monitor_path, "--root", runtime_root(a->rt), "--id", id,
				 "--bundle", bundle, "--log", log, "--exit-file", exitf,
				 "--sync-fd", fdarg, "--runc", a->runc_path, NULL };
	if (restore) {
		size_t n = 15;
		argv[n++] = "--restore";
		argv[n++] = restore->images;
		argv[n++] = "--work";
		argv[n++] = restore->work;
		if (restore->tcp_established)
			argv[n++] = "--tcp-established";
		if (restore->file_locks)
			argv[n++] = "--file-locks";
		argv[n] = NULL;
	}
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(sp[0]);
		close(sp[1]);
		return error_set(err, e, "fork");
	}
	if (child == 0) {
		/* async-signal-safe only, between fork and exec */
		pid_t m = fork();
		if (m == 0) {
			int devnull = open("/dev/null", O_RDWR);
			if (devnull >= 0) {
				dup2(devnull, 0);
				dup2(devnull, 1);
			}
			/* nothing of the agent's but the sync pipe: the monitor outlives it */
			(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
			(void)fcntl(sp[1], F_SETFD, 0);
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		_exit(m < 0 ? 1 : 0);
	}
	close(sp[1]);
	int st;
	(void)waitpid(child, &st, 0);

	char buf[8192];
	size_t len = 0;
	unsigned long long deadline = now_ns() + MONITOR_SYNC_TIMEOUT_MS * 1000000ULL;
	for (;;) {
		unsigned long long now = now_ns();
		if (now >= deadline) {
			close(sp[0]);
			return error_setx(err, ETIMEDOUT, "ferry-monitor did not report in time");
		}
		struct pollfd pf = { .fd = sp[0], .events = POLLIN };
		if (poll(&pf, 1, (int)((deadline - now) / 1000000ULL) + 1) <= 0)
			continue;
		ssize_t n = read(sp[0], buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	close(sp[0]);
	buf[len] = '\0';
	json_t *j = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	int r = 0;
	if (!j)
		r = error_setx(err, EIO, "ferry-monitor '%s' failed to start (%s)", a->monitor_path,
			       len ? buf : "no report");
	else if (e)
		r = error_setx(err, EIO, "%s", e);
	else {
		*ret_pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
		*ret_monitor = (pid_t)json_integer_value(json_object_get(j, "monitorPid"));
	}
	json_decref(j);
	return r;
}

static void mark_terminated(struct pod *p, size_t i, int code, int sig, const char *reason,
			    const char *message, const char *finished)
{
	char now[48];
	cset(p, i, "state", json_string("terminated"), "reason", json_string(reason), "message",
	     message ? json_string(message) : NULL, "exitCode", json_integer(code), "signal",
	     json_integer(sig), "finishedAt",
	     json_string(finished ? finished : rfc3339_now(now, sizeof(now))), "pid", NULL,
	     NULL);
}

void start_container(struct pod *p, size_t i)
{
	struct agent *a = p->agent;
	const struct container_spec *cs = &p->spec->containers[i];
	char id[128], layer[PATH_MAX], log_dir[PATH_MAX], log[PATH_MAX], exitf[PATH_MAX];
	char exit_dir[PATH_MAX + 8], now[48];
	struct image_info img;
	struct error err = { 0 };
	pid_t pid = 0, monitor = 0;
	int r;

	long long restart = cint(container(p, i), "restartCount");
	container_id(p, i, restart, id, sizeof(id));
	paths(p, i, restart, layer, log_dir, log, exitf);
	snprintf(exit_dir, sizeof(exit_dir), "%s/exit", p->dir);

	r = image_store_get(a->images, cs->image, &img, &err);
	if (r < 0) {
		cset(p, i, "state", json_string("waiting"), "reason", json_string("ImageNotPresent"),
		     "message", json_string(err.msg), NULL);
		pod_event(p, "Warning", "Failed", "container '%s': %s", cs->name, err.msg);
		p->backoff_until[i] = now_ns() + (unsigned long long)a->backoff_max_ms * 1000000ULL;
		pod_persist(p);
		return;
	}

	cleanup_free char *lower = image_store_rootfs(a->images, &img);
	cleanup_strv char **argv = container_spec_argv(cs);
	/* HOSTNAME first, as Kubernetes sets it; the container's own env may override. */
	size_t n_env = 0;
	for (char **e = cs->env; e && *e; e++)
		n_env++;
	cleanup_strv char **env = calloc(n_env + 2, sizeof(char *));
	if (!env || asprintf(&env[0], "HOSTNAME=%s", p->spec->name) < 0)
		return;
	for (size_t k = 0; k < n_env; k++)
		env[k + 1] = strdup(cs->env[k]);
	struct container_config cc = {
		.args = (const char *const *)argv,
		.env = (const char *const *)env,
		.cwd = cs->working_dir,
		.memory_limit = cs->memory_limit,
		.cpu_millis = cs->cpu_millis,
		.ns = { .network = p->netns, .ipc = p->ipcns, .uts = p->utsns },
	};
	(void)layer_destroy(layer, NULL);
	(void)unlink(exitf);
	if ((r = mkdir_p(log_dir, 0700)) < 0 || (r = mkdir_p(exit_dir, 0700)) < 0)
		error_set(&err, r, "cannot create the pod's directories");
	/* A container that comes back from a checkpoint: its images, its rootfs changes. */
	const char *from = cstr(container(p, i), "restoreFrom");
	cleanup_free char *restore_from = from ? strdup(from) : NULL;
	char images[PATH_MAX + 16], work[PATH_MAX + 16], rootfs[PATH_MAX + 16];
	struct monitor_restore mr = { .images = images, .work = work,
				      .tcp_established = json_is_true(json_object_get(
					      container(p, i), "restoreTcpEstablished")),
				      .file_locks = json_is_true(json_object_get(
					      container(p, i), "restoreFileLocks")) };
	if (restore_from) {
		snprintf(images, sizeof(images), "%s/checkpoint", restore_from);
		snprintf(work, sizeof(work), "%s/work", restore_from);
		snprintf(rootfs, sizeof(rootfs), "%s/rootfs", layer);
	}
	if (r >= 0)
		r = layer_create(lower, layer, NULL, NULL, &err);
	if (r >= 0 && restore_from)
		r = ckpt_rootfs_apply(restore_from, rootfs, &err);
	if (r >= 0)
		r = runtime_bundle_write(a->rt, id, &cc, layer, &err);
	if (r >= 0) {
		unsigned long long t0 = now_ns();
		r = spawn_monitor(p, id, layer, log, exitf, restore_from ? &mr : NULL, &pid, &monitor,
				  &err);
		runtime_observe(a->rt, restore_from ? "restore" : "create", t0, r);
	}
	if (r >= 0) {
		cset(p, i, "id", json_string(id), "imageID", json_string(img.digest), "pid",
		     json_integer(pid), "monitorPid", json_integer(monitor), NULL);
		if (restore_from)
			pod_event(p, "Normal", "Restored", "Restored container '%s' (%s) from its "
				  "checkpoint", cs->name, id);
		else
			pod_event(p, "Normal", "Created", "Created container '%s' (%s)", cs->name, id);
		if (!restore_from)
			r = runtime_start(a->rt, id, &err);
	}
	if (r < 0 && restore_from) {
		/* Nothing to retry from scratch: the pod's state is in the checkpoint, kept. */
		mark_terminated(p, i, 128, 0, "RestoreError", err.msg, NULL);
		cset(p, i, "id", json_string(id), NULL);
		pod_event(p, "Warning", "Failed", "Error restoring container '%s': %s", cs->name,
			  err.msg);
		(void)runtime_delete(a->rt, id, true, NULL);
		pod_persist(p);
		return;
	}
	if (r < 0) {
		mark_terminated(p, i, 128, 0, "StartError", err.msg, NULL);
		cset(p, i, "id", json_string(id), NULL);
		pod_event(p, "Warning", "Failed", "Error starting container '%s': %s", cs->name,
			  err.msg);
		(void)runtime_delete(a->rt, id, true, NULL);
		pod_persist(p);
		return;
	}
	cset(p, i, "state", json_string("running"), "reason", NULL, "message", NULL, "exitCode",
	     NULL, "signal", NULL, "finishedAt", NULL, "startedAt",
	     json_string(rfc3339_now(now, sizeof(now))), "hookFailed", NULL, "restoreFrom", NULL,
	     NULL);
	if (!restore_from)
		pod_event(p, "Normal", "Started", "Started container '%s'", cs->name);
	pod_persist(p);
	if (restore_from)
		pod_restore_done(p);

	if (cs->post_start) {
		int code = -1;
		cleanup_free char *out = NULL;
		r = runtime_exec(a->rt, id, (const char *const *)cs->post_start, HOOK_TIMEOUT_MS,
				 &code, &out, &err);
		if (r < 0 || code != 0) {
			char why[1024];
			if (r < 0)
				snprintf(why, sizeof(why), "%s", err.msg);
			else
				snprintf(why, sizeof(why), "exited with %d: %.900s", code,
					 out && *out ? out : "(no output)");
			/* trailing newline of the output */
			size_t n = strlen(why);
			while (n && why[n - 1] == '\n')
				why[--n] = '\0';
			cset(p, i, "hookFailed", json_true(), NULL);
			pod_event(p, "Warning", "FailedPostStartHook",
				  "PostStartHook of container '%s' failed: %s", cs->name, why);
			pod_event(p, "Normal", "Killing",
				  "Killing container '%s': its PostStartHook failed", cs->name);
			(void)runtime_kill(a->rt, id, SIGKILL, true, NULL);
			pod_persist(p);
		}
	}
}

/* A running container: has it exited? */
static void check_running(struct pod *p, size_t i)
{
	struct agent *a = p->agent;
	char layer[PATH_MAX], log_dir[PATH_MAX], log[PATH_MAX], exitf[PATH_MAX];
	json_t *c = container(p, i);
	const char *name = p->spec->containers[i].name;
	long long restart = cint(c, "restartCount");
	cleanup_free char *id = strdup(cstr(c, "id") ?: "");
	cleanup_free char *text = NULL;

	paths(p, i, restart, layer, log_dir, log, exitf);
	if (read_file(exitf, 4096, &text, NULL, NULL) == 0) {
		json_t *ex = json_loads(text, 0, NULL);
		int code = (int)json_integer_value(json_object_get(ex, "exitCode"));
		int sig = (int)json_integer_value(json_object_get(ex, "signal"));
		bool hook = json_is_true(json_object_get(c, "hookFailed"));
		const char *reason = hook ? "PostStartHookError" : code == 0 ? "Completed" : "Error";
		mark_terminated(p, i, code, sig, reason, NULL,
				json_string_value(json_object_get(ex, "finishedAt")));
		json_decref(ex);
		log_info("pod='%s/%s' container='%s' exited with %d", pod_ns(p), p->spec->name, name,
			 code);
		(void)runtime_delete(a->rt, id, true, NULL);
		pod_persist(p);
		return;
	}
	if (pid_alive((pid_t)cint(c, "monitorPid")))
		return;
	/* No monitor and no exit file: ask runc (an agent that was down, a killed monitor). */
	struct container_state st;
	if (runtime_state(a->rt, id, &st, NULL) == 0 && st.status == CONTAINER_RUNNING)
		return;
	mark_terminated(p, i, 137, 0, "Unknown",
			"the container's monitor is gone and runc no longer runs it", NULL);
	(void)runtime_delete(a->rt, id, true, NULL);
	pod_persist(p);
}

static bool wants_restart(struct pod *p, json_t *c)
{
	if (strcmp(cstr(c, "reason") ?: "", "RestoreError") == 0)
		return false;
	switch (p->spec->restart_policy) {
	case RESTART_ALWAYS: return true;
	case RESTART_ON_FAILURE: return cint(c, "exitCode") != 0;
	default: return false;
	}
}

/* A terminated container that the policy restarts: back off, then start anew. */
static void maybe_restart(struct pod *p, size_t i)
{
	struct agent *a = p->agent;
	json_t *c = container(p, i);
	const char *name = p->spec->containers[i].name;

	if (!wants_restart(p, c))
		return;
	unsigned long long now = now_ns();
	if (!p->backoff_until[i]) {
		unsigned b = p->backoff_ms[i] ? p->backoff_ms[i] * 2 : a->backoff_base_ms;
		if (b > a->backoff_max_ms)
			b = a->backoff_max_ms;
		p->backoff_ms[i] = b;
		p->backoff_until[i] = now + (unsigned long long)b * 1000000ULL;
		pod_event(p, "Warning", "BackOff",
			  "Back-off %.1fs restarting container '%s' (exit code %lld)", b / 1000.0,
			  name, cint(c, "exitCode"));
		return;
	}
	if (now < p->backoff_until[i])
		return;
	p->backoff_until[i] = 0;

	/* The old container's writable layer goes; the new one starts from the image. */
	char layer[PATH_MAX], log_dir[PATH_MAX], log[PATH_MAX], exitf[PATH_MAX];
	long long restart = cint(c, "restartCount");
	paths(p, i, restart, layer, log_dir, log, exitf);
	(void)layer_destroy(layer, NULL);
	pthread_mutex_lock(&p->lock);
	json_t *last = json_pack("{s:{s:O?, s:O?, s:O?, s:O?, s:O?}}", "terminated", "exitCode",
				 json_object_get(c, "exitCode"), "reason", json_object_get(c, "reason"),
				 "startedAt", json_object_get(c, "startedAt"), "finishedAt",
				 json_object_get(c, "finishedAt"), "signal", json_object_get(c, "signal"));
	json_object_set_new(c, "lastState", last);
	json_object_set_new(c, "restartCount", json_integer(restart + 1));
	json_object_set_new(c, "state", json_string("waiting"));
	json_object_set_new(c, "reason", json_string("ContainerCreating"));
	pthread_mutex_unlock(&p->lock);
	start_container(p, i);
}

/* Graceful deletion: SIGTERM, the grace period, SIGKILL; then everything goes. */
static void terminate(struct pod *p)
{
	struct agent *a = p->agent;
	struct error err = { 0 };
	size_t n = p->spec->n_containers;

	for (size_t i = 0; i < n; i++) {
		json_t *c = container(p, i);
		if (!cstr(c, "state") || strcmp(cstr(c, "state"), "running") != 0)
			continue;
		pod_event(p, "Normal", "Killing", "Stopping container '%s' (grace period %llds)",
			  p->spec->containers[i].name, (long long)p->spec->grace_period_s);
		if (runtime_kill(a->rt, cstr(c, "id"), SIGTERM, false, &err) < 0)
			log_debug("pod='%s/%s' SIGTERM: %s", pod_ns(p), p->spec->name, err.msg);
	}
	unsigned long long deadline =
		now_ns() + (unsigned long long)p->spec->grace_period_s * 1000000000ULL;
	for (;;) {
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			json_t *c = container(p, i);
			if (cstr(c, "state") && strcmp(cstr(c, "state"), "running") == 0) {
				check_running(p, i);
				any = any || strcmp(cstr(container(p, i), "state"), "running") == 0;
			}
		}
		if (!any)
			break;
		if (now_ns() >= deadline) {
			for (size_t i = 0; i < n; i++) {
				json_t *c = container(p, i);
				if (strcmp(cstr(c, "state"), "running") != 0)
					continue;
				pod_event(p, "Normal", "Killing",
					  "Container '%s' outlived its grace period: SIGKILL",
					  p->spec->containers[i].name);
				(void)runtime_kill(a->rt, cstr(c, "id"), SIGKILL, true, NULL);
			}
			deadline = now_ns() + 10ULL * 1000000000ULL;
			/* wait for the exit files; then delete --force does the rest */
			while (now_ns() < deadline) {
				bool still = false;
				for (size_t i = 0; i < n; i++) {
					if (strcmp(cstr(container(p, i), "state"), "running") == 0) {
						check_running(p, i);
						still = still || strcmp(cstr(container(p, i), "state"),
									"running") == 0;
					}
				}
				if (!still)
					break;
				usleep(TICK_MS * 1000);
			}
			break;
		}
		usleep(TICK_MS * 1000);
	}

	for (size_t i = 0; i < n; i++) {
		json_t *c = container(p, i);
		if (cstr(c, "id") && runtime_delete(a->rt, cstr(c, "id"), true, &err) < 0)
			log_error("pod='%s/%s' delete container: %s", pod_ns(p), p->spec->name,
				  err.msg);
	}
	cleanup_free char *containers = path_join(p->dir, "containers");
	DIR *d = containers ? opendir(containers) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		cleanup_free char *l = path_join(containers, de->d_name);
		if (l && layer_destroy(l, &err) < 0)
			log_error("pod='%s/%s' %s", pod_ns(p), p->spec->name, err.msg);
	}
	if (d)
		closedir(d);
	(void)netns_remove(p->netns, NULL);
	(void)netns_remove(p->ipcns, NULL);
	(void)netns_remove(p->utsns, NULL);
	if (rm_rf(p->dir, &err) < 0)
		log_error("pod='%s/%s' %s", pod_ns(p), p->spec->name, err.msg);
	if (store_pod_delete(a->store, p->uid, &err) < 0)
		log_error("pod='%s/%s' %s", pod_ns(p), p->spec->name, err.msg);
	log_info("pod='%s/%s' deleted", pod_ns(p), p->spec->name);
}

const char *pod_phase(struct pod *p)
{
	size_t n = p->spec->n_containers, running = 0, done = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *c = container(p, i);
		const char *s = cstr(c, "state");
		if (s && strcmp(s, "running") == 0)
			running++;
		else if (s && strcmp(s, "terminated") == 0 && !wants_restart(p, c)) {
			done++;
			if (cint(c, "exitCode") != 0)
				failed++;
		}
	}
	if (running)
		return "Running";
	if (done == n)
		return failed ? "Failed" : "Succeeded";
	return "Pending";
}

void *pod_worker(void *arg)
{
	struct pod *p = arg;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		bool stop = p->stop, deleting = p->deleting;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
		struct ckpt_request *req = NULL;
		pthread_mutex_lock(&p->lock);
		req = p->ckpt;
		p->ckpt = NULL;
		pthread_mutex_unlock(&p->lock);
		if (req)
			pod_checkpoint_run(p, req);
		pthread_mutex_lock(&p->lock);
		deleting = p->deleting;
		pthread_mutex_unlock(&p->lock);
		if (deleting) {
			terminate(p);
			agent_remove_pod(p->agent, p);
			return NULL;
		}
		pthread_mutex_lock(&p->lock);
		const char *mph = json_string_value(
			json_object_get(json_object_get(p->state, "migration"), "phase"));
		bool migrate_in = mph && strcmp(mph, "Pending") == 0;
		pthread_mutex_unlock(&p->lock);
		if (migrate_in) {
			pod_migrate_in(p);
			continue;
		}
		for (size_t i = 0; i < p->spec->n_containers; i++) {
			json_t *c = container(p, i);
			const char *s = cstr(c, "state");
			if (!s || strcmp(s, "waiting") == 0) {
				if (now_ns() >= p->backoff_until[i]) {
					p->backoff_until[i] = 0;
					start_container(p, i);
				}
			} else if (strcmp(s, "running") == 0) {
				check_running(p, i);
			} else if (strcmp(s, "terminated") == 0) {
				maybe_restart(p, i);
			}
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&p->lock);
		if (!p->stop && !p->deleting)
			if (!p->ckpt)
			pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		pthread_mutex_unlock(&p->lock);
	}
}

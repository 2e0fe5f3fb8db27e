/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "monitor"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/log.h"
#include "ferry/monitor.h"
#include "ferry/runtime.h"
#include "ferry/store.h"

#define LOG_LINE_MAX (16 * 1024) /* longer lines are split into P records, as the CRI does */

struct stream {
	const char *name;
	int fd;
	char buf[LOG_LINE_MAX];
	size_t len;
};

size_t cri_log_format(char *out, const char *stream, const char *text, size_t len, int partial)
{
	char now[48];
	int n = snprintf(out, 64, "%s %s %c ", rfc3339_now(now, sizeof(now)), stream,
			 partial ? 'P' : 'F');
	memcpy(out + n, text, len);
	out[n + len] = '\n';
	return (size_t)n + len + 1;
}

static void emit(int log_fd, struct stream *s, const char *text, size_t len, int partial)
{
	static char rec[LOG_LINE_MAX + 128];
	size_t n = cri_log_format(rec, s->name, text, len, partial);
	if (write(log_fd, rec, n) < 0) {
		/* a full disk must not stop the container: drop the line */
	}
}

/* Reads what is there; writes each whole line; returns false at EOF. */
static bool pump(int log_fd, struct stream *s)
{
	ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		if (s->len)
			emit(log_fd, s, s->buf, s->len, 1);
		s->len = 0;
		return false;
	}
	s->len += (size_t)n;
	char *start = s->buf, *nl;
	while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
		emit(log_fd, s, start, (size_t)(nl - start), 0);
		start = nl + 1;
	}
	s->len -= (size_t)(start - s->buf);
	memmove(s->buf, start, s->len);
	if (s->len == sizeof(s->buf)) { /* an overlong line: a partial record */
		emit(log_fd, s, s->buf, s->len, 1);
		s->len = 0;
	}
	return true;
}

static void sync_reply(int fd, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	if (text) {
		dprintf(fd, "%s\n", text);
		free(text);
	}
	json_decref(j);
	close(fd);
}

int monitor_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },   { "id", required_argument, NULL, 'i' },
		{ "bundle", required_argument, NULL, 'b' }, { "log", required_argument, NULL, 'l' },
		{ "exit-file", required_argument, NULL, 'e' },
		{ "sync-fd", required_argument, NULL, 's' },
		{ "runc", required_argument, NULL, 'R' },  { "cgroup-parent", required_argument, NULL, 'c' },
		{ "restore", required_argument, NULL, 'x' }, { "work", required_argument, NULL, 'w' },
		{ "tcp-established", no_argument, NULL, 't' }, { "file-locks", no_argument, NULL, 'k' },
		{ 0 },
	};
	const char *root = NULL, *id = NULL, *bundle = NULL, *log_path = NULL, *exit_path = NULL;
	const char *runc = NULL, *cgroup_parent = "ferry", *restore = NULL, *work = NULL;
	bool tcp = false, locks = false;
	int sync_fd = -1, c;
	struct error err = { 0 };

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'i': id = optarg; break;
		case 'b': bundle = optarg; break;
		case 'l': log_path = optarg; break;
		case 'e': exit_path = optarg; break;
		case 's': sync_fd = atoi(optarg); break;
		case 'R': runc = optarg; break;
		case 'c': cgroup_parent = optarg; break;
		case 'x': restore = optarg; break;
		case 'w': work = optarg; break;
		case 't': tcp = true; break;
		case 'k': locks = true; break;
		default: return 2;
		}
	}
	if (!root || !id || !bundle || !log_path || !exit_path || sync_fd < 0) {
		fprintf(stderr, "ferry-monitor: --root, --id, --bundle, --log, --exit-file and "
				"--sync-fd are required\n");
		return 2;
	}
	(void)fcntl(sync_fd, F_SETFD, FD_CLOEXEC);

	/* Our own session: the agent's death or its terminal's signals do not reach us. */
	(void)setsid();
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (log_fd < 0 || sfd < 0) {
		error_set(&err, errno, "cannot open log '%s'", log_path);
		sync_reply(sync_fd, json_pack("{s:s}", "error", err.msg));
		return 1;
	}

	int in[2], out[2], errp[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		error_set(&err, errno, "pipe");
		sync_reply(sync_fd, json_pack("{s:s}", "error", err.msg));
		return 1;
	}
	struct runtime *rt = NULL;
	struct runtime_config cfg = { .runc_path = runc, .root = root, .cgroup_parent = cgroup_parent };
	pid_t pid = 0;
	int stdio[3] = { in[0], out[1], errp[1] };
	int r = runtime_new(&cfg, &rt, &err);
	if (r >= 0 && restore) {
		/* The restored init becomes our child like a created one: we are its subreaper. */
		struct restore_opts ro = { .image_dir = restore, .work_dir = work, .bundle_dir = bundle,
					   .tcp_established = tcp, .file_locks = locks };
		r = runtime_restore(rt, id, &ro, stdio, &pid, NULL, &err);
	} else if (r >= 0) {
		r = runtime_create(rt, id, bundle, stdio, &pid, &err);
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	close(in[1]); /* the container's stdin reads end of file */
	if (r < 0) {
		sync_reply(sync_fd, json_pack("{s:s}", "error", err.msg));
		runtime_free(rt);
		return 1;
	}
	sync_reply(sync_fd, json_pack("{s:i, s:i}", "pid", (int)pid, "monitorPid", (int)getpid()));
	runtime_free(rt);

	struct stream streams[2] = { { .name = "stdout", .fd = out[0] },
				     { .name = "stderr", .fd = errp[0] } };
	int status = -1;
	bool exited = false;
	for (;;) {
		struct pollfd p[3] = { { .fd = sfd, .events = POLLIN },
				       { .fd = streams[0].fd, .events = POLLIN },
				       { .fd = streams[1].fd, .events = POLLIN } };
		if (exited && streams[0].fd < 0 && streams[1].fd < 0)
			break;
		/* After init exits, drain what is left, but do not wait for ever. */
		int n = poll(p, 3, exited ? 1000 : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && exited)
			break;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			int st;
			pid_t w;
			while ((w = waitpid(-1, &st, WNOHANG)) > 0)
				if (w == pid) {
					status = st;
					exited = true;
				}
		}
		for (int i = 0; i < 2; i++)
			if (streams[i].fd >= 0 && p[i + 1].revents && !pump(log_fd, &streams[i])) {
				close(streams[i].fd);
				streams[i].fd = -1;
			}
	}

	char now[48];
	json_t *ex = json_pack("{s:i, s:i, s:s}", "exitCode",
			       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			       "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0, "finishedAt",
			       rfc3339_now(now, sizeof(now)));
	char *text = json_dumps(ex, JSON_COMPACT);
	json_decref(ex);
	if (text) {
		(void)write_file_atomic(exit_path, text, strlen(text), 0644, NULL);
		free(text);
	}
	close(log_fd);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/spawn.h"

/* After a kill at the deadline, how long to wait for the group to go away. */
#define REAP_GRACE_MS 5000

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

struct sink {
	int fd;
	char *buf;
	size_t len, cap;
};

static void sink_read(struct sink *s)
{
	char tmp[16384];

	for (;;) {
		ssize_t n = read(s->fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(s->fd);
			s->fd = -1;
			return;
		}
		size_t room = SPAWN_CAPTURE_MAX > s->len ? SPAWN_CAPTURE_MAX - s->len : 0;
		size_t take = (size_t)n < room ? (size_t)n : room;
		if (take == 0)
			continue;
		if (s->len + take + 1 > s->cap) {
			size_t cap = s->cap ? s->cap : 4096;
			while (cap < s->len + take + 1)
				cap *= 2;
			char *nb = realloc(s->buf, cap);
			if (!nb)
				continue; /* drop output rather than fail the run */
			s->buf = nb;
			s->cap = cap;
		}
		memcpy(s->buf + s->len, tmp, take);
		s->len += take;
		s->buf[s->len] = '\0';
	}
}

static void chomp(char *s)
{
	size_t n = s ? strlen(s) : 0;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

char *spawn_argv_string(const char *const argv[])
{
	size_t n = 1;
	for (size_t i = 0; argv[i]; i++)
		n += strlen(argv[i]) + 3;
	char *s = malloc(n), *p = s;
	if (!s)
		return NULL;
	for (size_t i = 0; argv[i]; i++) {
		bool quote = argv[i][0] == '\0' || strpbrk(argv[i], " \t'\"");
		p += sprintf(p, "%s%s%s%s", i ? " " : "", quote ? "'" : "", argv[i], quote ? "'" : "");
	}
	*p = '\0';
	return s;
}

/* In the child, between fork() and exec(): async-signal-safe calls only. */
static void __attribute__((noreturn))
child(const char *const argv[], const struct spawn_opts *o, const int fds[3])
{
	int moved[3];

	(void)setpgid(0, 0);
	sigset_t all;
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		(void)signal(s, SIG_DFL);

	/* Move the sources out of 0..2 first, so that dup2() cannot clobber one. */
	for (int i = 0; i < 3; i++) {
		moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (moved[i] < 0)
			_exit(127);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(moved[i], i) < 0)
			_exit(127);
	/* Everything else closes on exec, but the fds the caller asked to pass. */
	for (int fd = 3; fd < 1024; fd++) {
		bool keep = false;
		for (size_t k = 0; k < o->n_keep_fds; k++)
			keep = keep || o->keep_fds[k] == fd;
		if (keep)
			(void)fcntl(fd, F_SETFD, 0);
		else
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (o->cwd && chdir(o->cwd) < 0)
		_exit(127);
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

int spawn_run(const char *const argv[], const struct spawn_opts *o, struct spawn_result *res,
	      struct error *err)
{
	struct sink sinks[3] = { { .fd = -1 }, { .fd = -1 }, { .fd = -1 } };
	cleanup_close int devnull = -EBADF, pidfd = -EBADF;
	int fds[3], child_ends[3] = { -1, -1, -1 };
	int r = 0;

	*res = (struct spawn_result)SPAWN_RESULT_INIT;
	for (int i = 0; i < 3; i++) {
		if (o->stdio[i] == SPAWN_DEVNULL) {
			if (devnull < 0)
				devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (devnull < 0) {
				r = error_set(err, errno, "cannot open /dev/null");
				goto out;
			}
			fds[i] = devnull;
		} else if (o->stdio[i] == SPAWN_CAPTURE && i > 0) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0) {
				r = error_set(err, errno, "cannot create a pipe");
				goto out;
			}
			sinks[i].fd = p[0];
			child_ends[i] = p[1];
			fds[i] = p[1];
		} else if (o->stdio[i] >= 0) {
			fds[i] = o->stdio[i];
		} else {
			r = error_set(err, EINVAL, "spawn: bad stdio %d for fd %d", o->stdio[i], i);
			goto out;
		}
	}

	unsigned long long start = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		r = error_set(err, errno, "cannot fork for '%s'", argv[0]);
		goto out;
	}
	if (pid == 0)
		child(argv, o, fds);

	/* Also from the parent: the child may not have run setpgid() yet when we kill. */
	(void)setpgid(pid, pid);
	for (int i = 0; i < 3; i++)
		if (child_ends[i] >= 0) {
			close(child_ends[i]);
			child_ends[i] = -1;
		}
	for (int i = 1; i < 3; i++)
		if (sinks[i].fd >= 0)
			(void)fcntl(sinks[i].fd, F_SETFL, O_NONBLOCK);

	pidfd = pidfd_open_(pid);
	if (pidfd < 0) {
		r = error_set(err, errno, "pidfd_open");
		(void)kill(-pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		goto out;
	}

	unsigned long long deadline =
		o->timeout_ms ? start + (unsigned long long)o->timeout_ms * 1000000ULL : 0;
	bool exited = false;
	while (!exited) {
		struct pollfd pfd[3];
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		for (int i = 1; i < 3; i++)
			if (sinks[i].fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = sinks[i].fd, .events = POLLIN };

		int wait_ms = -1;
		if (deadline) {
			unsigned long long now = now_ns();
			if (now >= deadline) {
				if (!res->timed_out) {
					res->timed_out = true;
					(void)kill(-pid, SIGKILL);
					(void)kill(pid, SIGKILL);
					deadline = now + REAP_GRACE_MS * 1000000ULL;
					continue;
				}
				break; /* the group will not die: give up waiting, reap below */
			}
			wait_ms = (int)((deadline - now) / 1000000ULL) + 1;
		}
		if (poll(pfd, n, wait_ms) < 0 && errno != EINTR) {
			r = error_set(err, errno, "poll");
			break;
		}
		if (pfd[0].revents)
			exited = true;
		for (int i = 1; i < 3; i++)
			if (sinks[i].fd >= 0)
				sink_read(&sinks[i]);
	}

	/*
	 * A daemonized grandchild may hold the capture pipe open: read what is
	 * there now and stop, rather than wait for an EOF that may never come.
	 */
	for (int i = 1; i < 3; i++)
		if (sinks[i].fd >= 0)
			sink_read(&sinks[i]);

	int status = 0;
	pid_t w;
	do
		w = waitpid(pid, &status, exited ? 0 : WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == pid)
		res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	else
		res->status = 128 + SIGKILL;
	res->elapsed_ns = now_ns() - start;
	if (res->status == 127 && !res->timed_out && !sinks[2].len && r == 0)
		r = error_set(err, ENOENT, "cannot run '%s'", argv[0]);
out:
	for (int i = 0; i < 3; i++)
		if (child_ends[i] >= 0)
			close(child_ends[i]);
	for (int i = 1; i < 3; i++)
		if (sinks[i].fd >= 0)
			close(sinks[i].fd);
	res->out = sinks[1].buf;
	res->err = sinks[2].buf;
	chomp(res->err);
	if (r < 0)
		spawn_result_done(res);
	return r;
}

void spawn_result_done(struct spawn_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

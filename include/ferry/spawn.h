/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running a helper program (runc, criu, cp) with a hard deadline.
 *
 * The child runs in a process group of its own. When the deadline passes, the
 * whole group gets SIGKILL: CRIU ignores SIGTERM and a stuck `criu restore`
 * would otherwise spin for ever (see docs/criu.md). Container processes are not
 * in that group: runc's init calls setsid(), and restored tasks get back their
 * own session.
 *
 * Safe to call from several threads: the child does only async-signal-safe
 * work between fork() and exec().
 */
#ifndef FERRY_SPAWN_H
#define FERRY_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ferry/error.h"

#define SPAWN_DEVNULL (-1) /* connect this stdio fd to /dev/null */
#define SPAWN_CAPTURE (-2) /* collect it into spawn_result.out / .err */

/* The most captured per stream; the rest is read and dropped. */
#define SPAWN_CAPTURE_MAX (1u << 20)

struct spawn_opts {
	int stdio[3];	     /* an fd, SPAWN_DEVNULL or SPAWN_CAPTURE */
	const int *keep_fds; /* passed to the child under the same numbers */
	size_t n_keep_fds;
	unsigned timeout_ms; /* 0: no deadline */
	const char *cwd;     /* NULL: inherit */
};

#define SPAWN_OPTS_INIT                                                                            \
	{                                                                                          \
		.stdio = { SPAWN_DEVNULL, SPAWN_CAPTURE, SPAWN_CAPTURE }                           \
	}

struct spawn_result {
	int status;	 /* exit code; 128+N when killed by signal N */
	bool timed_out;	 /* the deadline passed and the group was killed */
	char *out;	 /* captured stdout (NUL-terminated) or NULL */
	char *err;	 /* captured stderr, trailing newlines removed, or NULL */
	unsigned long long elapsed_ns;
};

#define SPAWN_RESULT_INIT { 0 }

/*
 * Runs argv[0] (searched in PATH) and waits for it to exit or for the deadline.
 * Returns 0 when the program ran (whatever its exit status: see res->status and
 * res->timed_out), -errno when it could not be started.
 */
int spawn_run(const char *const argv[], const struct spawn_opts *o, struct spawn_result *res,
	      struct error *err);

/* Frees what spawn_run() captured. */
void spawn_result_done(struct spawn_result *res);

/* "runc --root /x state c1": argv joined for log lines (allocated). */
char *spawn_argv_string(const char *const argv[]);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FERRY_RUNTIME_INTERNAL_H
#define FERRY_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "ferry/error.h"
#include "ferry/metrics.h"

struct runtime {
	char *runc;
	char *criu;
	char *root;
	char *cgroup_parent;
	unsigned timeout_ms;
	char criu_version[32];
	pthread_mutex_t lock; /* criu_version */
	struct metric *ops_total, *ops_errors, *ops_duration;
};

struct runc_call {
	const char *op;	     /* operation type, for metrics and messages */
	const char *id;	     /* the container */
	const int *stdio;    /* NULL: /dev/null in, captured out and err */
	const int *keep_fds; /* passed through (status-fd) */
	size_t n_keep_fds;
	unsigned timeout_ms; /* 0: the runtime's default */
	char *out;	     /* captured stdout, when stdio is NULL */
	int status;	     /* runc's exit status */
	bool timed_out;
	bool runc_error;     /* runc itself logged an error */
	unsigned long long elapsed_ns;
};

/*
 * Runs `runc --root R --criu C --log L --log-format json <args...>`: returns 0
 * when runc exited 0, otherwise -errno with runc's own message in err. The exit
 * status and captured stdout are left in call (the caller frees call->out).
 */
int run_runc(struct runtime *rt, struct runc_call *call, const char *const args[],
	     struct error *err);

/* Counts, times and (when r < 0) counts the error of one operation. */
void instrument_op(struct runtime *rt, const char *op, unsigned long long start_ns, int r);

/*
 * Kills every task left in the container's cgroups (all hierarchies, thawing
 * a frozen freezer first) and removes the cgroups. For what a killed restore
 * or a lost runc state leaves behind. Missing cgroups are success.
 */
int cgroup_purge(struct runtime *rt, const char *id, struct error *err);

#endif

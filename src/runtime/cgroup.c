/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Last-resort cgroup cleanup. runc removes a container's cgroups on delete,
 * but a restore killed at its deadline never wrote runc state, and its
 * half-restored tasks sit in the cgroups CRIU made. This finds them in every
 * mounted hierarchy (v1 controllers and the unified one), kills the tasks and
 * removes the directories.
 */
#define LOG_PREFIX "runtime"
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/log.h"
#include "ferry/runtime.h"
#include "runtime-internal.h"

static int kill_procs(const char *dir)
{
	char path[PATH_MAX];
	cleanup_fclose FILE *f = NULL;
	int pid, n = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 0 && kill(pid, SIGKILL) == 0)
			n++;
	return n;
}

static void thaw(const char *dir)
{
	char path[PATH_MAX];
	cleanup_fclose FILE *f = NULL;

	/* cgroup v1 freezer: a frozen task does not die until thawed. */
	snprintf(path, sizeof(path), "%s/freezer.state", dir);
	f = fopen(path, "we");
	if (f)
		fputs("THAWED", f);
	else {
		snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
		f = fopen(path, "we");
		if (f)
			fputs("0", f);
	}
}

/* rmdir with retries: the cgroup is busy until the killed tasks are reaped. */
static int remove_cgroup(const char *dir)
{
	for (int i = 0; i < 100; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		(void)kill_procs(dir);
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}
	return -EBUSY;
}

/* Calls fn(dir) for <hierarchy mount>/<cgroup_parent>/<sub> in every cgroup hierarchy. */
static int for_each_hierarchy(struct runtime *rt, const char *sub,
			      int (*fn)(const char *dir, const char *id, struct error *err),
			      const char *id, struct error *err)
{
	cleanup_fclose FILE *mi = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int r = 0;

	if (!mi)
		return error_set(err, errno, "cannot read /proc/self/mountinfo");
	while (fgets(line, sizeof(line), mi)) {
		char mnt[PATH_MAX], fstype[64], dir[PATH_MAX];
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s%s%s%s", mnt, rt->cgroup_parent, sub ? "/" : "",
			 sub ? sub : "");
		if (!path_exists(dir))
			continue;
		int q = fn(dir, id, err);
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

static int purge_one(const char *dir, const char *id, struct error *err)
{
	thaw(dir);
	int killed = kill_procs(dir);
	if (killed)
		log_notice("container='%s' killed %d leftover task(s) in %s", id, killed, dir);
	int r = remove_cgroup(dir);
	if (r < 0)
		return error_set(err, r, "cannot remove cgroup '%s'", dir);
	return 0;
}

int cgroup_purge(struct runtime *rt, const char *id, struct error *err)
{
	return for_each_hierarchy(rt, id, purge_one, id, err);
}

static int remove_parent(const char *dir, const char *id, struct error *err)
{
	(void)id;
	if (rmdir(dir) < 0 && errno != ENOENT)
		return error_set(err, errno, "cannot remove cgroup '%s'", dir);
	return 0;
}

int runtime_remove_cgroup_parent(struct runtime *rt, struct error *err)
{
	return for_each_hierarchy(rt, NULL, remove_parent, NULL, err);
}

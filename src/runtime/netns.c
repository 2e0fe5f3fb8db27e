/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "netns"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/netns.h"

/* In the forked child: a new netns, lo up, bind-mounted on path. */
static int __attribute__((noreturn)) child(const char *path, int report)
{
	int e = 0;
	struct ifreq ifr;
	int s = -1;

	if (unshare(CLONE_NEWNET) < 0) {
		e = errno;
		goto out;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		e = errno;
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		e = errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		e = errno;
		goto out;
	}
	if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
		e = errno;
out:
	(void)!write(report, &e, sizeof(e));
	_exit(e ? 1 : 0);
}

int netns_create(const char *path, struct error *err)
{
	cleanup_close int fd = -EBADF;
	int p[2], e = 0, status;

	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return error_set(err, errno, "cannot create netns file '%s'", path);
	if (pipe2(p, O_CLOEXEC) < 0) {
		(void)unlink(path);
		return error_set(err, errno, "pipe");
	}
	pid_t pid = fork();
	if (pid < 0) {
		e = errno;
		close(p[0]);
		close(p[1]);
		(void)unlink(path);
		return error_set(err, e, "fork");
	}
	if (pid == 0)
		child(path, p[1]);
	close(p[1]);
	if (read(p[0], &e, sizeof(e)) != sizeof(e))
		e = EIO;
	close(p[0]);
	(void)waitpid(pid, &status, 0);
	if (e) {
		(void)unlink(path);
		return error_set(err, e, "cannot make a network namespace at '%s'", path);
	}
	return 0;
}

int netns_remove(const char *path, struct error *err)
{
	if (!path_exists(path))
		return 0;
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL)
		return error_set(err, errno, "cannot unmount netns '%s'", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return error_set(err, errno, "cannot remove '%s'", path);
	return 0;
}

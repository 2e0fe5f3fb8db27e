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

/* In the forked child: a new namespace, set up, bind-mounted on path. */
static int __attribute__((noreturn)) child(const char *path, int type, const char *hostname,
					   int report)
{
	int e = 0;
	struct ifreq ifr;
	int s = -1;
	const char *self = type == CLONE_NEWNET ? "/proc/self/ns/net"
			 : type == CLONE_NEWIPC ? "/proc/self/ns/ipc"
						: "/proc/self/ns/uts";

	if (unshare(type) < 0) {
		e = errno;
		goto out;
	}
	if (type == CLONE_NEWUTS) {
		if (hostname && sethostname(hostname, strlen(hostname)) < 0)
			e = errno;
		goto mount;
	}
	if (type != CLONE_NEWNET)
		goto mount;
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
mount:
	if (!e && mount(self, path, NULL, MS_BIND, NULL) < 0)
		e = errno;
out:
	(void)!write(report, &e, sizeof(e));
	_exit(e ? 1 : 0);
}

int netns_create(const char *path, struct error *err)
{
	return ns_create(path, CLONE_NEWNET, NULL, err);
}

int ns_create(const char *path, int type, const char *hostname, struct error *err)
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
		child(path, type, hostname, p[1]);
	close(p[1]);
	if (read(p[0], &e, sizeof(e)) != sizeof(e))
		e = EIO;
	close(p[0]);
	(void)waitpid(pid, &status, 0);
	if (e) {
		(void)unlink(path);
		return error_set(err, e, "cannot make a namespace at '%s'", path);
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

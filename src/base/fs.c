/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/spawn.h"

char *path_join(const char *a, const char *b)
{
	char *p;
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (asprintf(&p, "%.*s%s%s", (int)la, a, la > 0 && a[la - 1] == '/' ? "" : "/", b) < 0)
		return NULL;
	return p;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct error *err)
{
	cleanup_free char *tmp = NULL;
	cleanup_close int fd = -EBADF;
	const char *p = data;

	if (asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0)
		return error_set(err, ENOMEM, "write '%s'", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return error_set(err, errno, "cannot create '%s'", tmp);
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			(void)unlink(tmp);
			return error_set(err, e, "cannot write '%s'", tmp);
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		(void)unlink(tmp);
		return error_set(err, e, "cannot replace '%s'", path);
	}
	return 0;
}

int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return error_set(err, errno, "cannot open '%s'", path);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				return error_set(err, ENOMEM, "read '%s'", path);
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, errno, "cannot read '%s'", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return error_set(err, EFBIG, "'%s' is larger than %zu bytes", path, max);
	}
	if (!buf && !(buf = malloc(1)))
		return error_set(err, ENOMEM, "read '%s'", path);
	buf[len] = '\0';
	*ret_data = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int rm_rf_at(int dfd, const char *name, dev_t dev, struct error *err, const char *top)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : error_set(err, errno, "cannot stat '%s' in '%s'", name, top);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return error_set(err, errno, "cannot remove '%s' in '%s'", name, top);
		return 0;
	}
	if (st.st_dev != dev)
		return error_set(err, EBUSY, "'%s' in '%s' is a mount point, not removing through it",
				 name, top);

	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "cannot open '%s' in '%s'", name, top);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return error_set(err, e, "cannot read '%s' in '%s'", name, top);
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = rm_rf_at(dirfd(d), de->d_name, dev, err, top);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		return r;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return error_set(err, errno, "cannot remove directory '%s' in '%s'", name, top);
	return 0;
}

int rm_rf(const char *path, struct error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : error_set(err, errno, "cannot stat '%s'", path);
	return rm_rf_at(AT_FDCWD, path, st.st_dev, err, path);
}

bool path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

bool name_is_dns_label(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

static bool safe_name(const char *name, size_t max)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > max || strstr(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.:-", c)))
			return false;
	}
	return true;
}

bool name_is_valid(const char *name)
{
	return safe_name(name, 128);
}

bool name_is_safe_filename(const char *name)
{
	return safe_name(name, 255);
}

unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int copy_tree(const char *src, const char *dst, struct error *err)
{
	const char *argv[] = { "cp", "-a", "--", src, dst, NULL };
	struct spawn_result res = SPAWN_RESULT_INIT;
	struct spawn_opts o = SPAWN_OPTS_INIT;
	int r;

	o.stdio[2] = SPAWN_CAPTURE;
	o.timeout_ms = 10 * 60 * 1000;
	r = spawn_run(argv, &o, &res, err);
	if (r >= 0 && res.status != 0)
		r = error_setx(err, EIO, "cp -a '%s' '%s' failed: %s", src, dst,
			       res.err && *res.err ? res.err : "(no message)");
	spawn_result_done(&res);
	return r;
}

/* nftw() has no user pointer: the running total lives per thread. */
static _Thread_local unsigned long long size_total;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		size_total += (unsigned long long)st->st_size;
	return 0;
}

int dir_size(const char *path, unsigned long long *ret, struct error *err)
{
	size_total = 0;
	if (nftw(path, add_size, 32, FTW_PHYS | FTW_MOUNT) < 0)
		return error_set(err, errno, "cannot walk '%s'", path);
	*ret = size_total;
	return 0;
}

char *format_bytes(unsigned long long n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u < ELEMENTSOF(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int unmount_below(const char *dir, struct error *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], mnt[PATH_MAX];
	char **found = NULL;
	size_t n = 0, dlen = strlen(dir);
	int r = 0, count = 0;

	if (!f)
		return error_set(err, errno, "cannot read /proc/self/mountinfo");
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		unescape_octal(mnt);
		if (strncmp(mnt, dir, dlen) != 0 || (mnt[dlen] != '/' && mnt[dlen] != '\0'))
			continue;
		char **nf = realloc(found, (n + 1) * sizeof(*found));
		if (!nf || !(nf[n] = strdup(mnt))) {
			found = nf ? nf : found;
			r = error_set(err, ENOMEM, "unmount below '%s'", dir);
			break;
		}
		found = nf;
		n++;
	}
	/* mountinfo lists parents before children: undo in reverse. */
	for (size_t i = n; i-- > 0;) {
		if (r >= 0) {
			if (umount2(found[i], MNT_DETACH) == 0)
				count++;
			else if (errno != EINVAL && errno != ENOENT)
				r = error_set(err, errno, "cannot unmount '%s'", found[i]);
		}
		free(found[i]);
	}
	free(found);
	return r < 0 ? r : count;
}

char *path_next_to_self(const char *name, const char *fallback_dir)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char *p = path_join(exe, name);
			if (p && access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	if (fallback_dir) {
		char *p = path_join(fallback_dir, name);
		if (p && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File system helpers: paths, atomic writes, recursive removal, and the name
 * checks that run before any user-supplied name reaches a path.
 */
#ifndef FERRY_FS_H
#define FERRY_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ferry/error.h"

/* Returns a newly allocated "a/b" (one slash between), or NULL on ENOMEM. */
char *path_join(const char *a, const char *b);

/* mkdir -p with the given mode for the directories it creates. 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/*
 * Writes len bytes to path atomically: a temporary file in the same directory,
 * fsync, rename. Readers see the old content or the new, never a mix.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct error *err);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer. */
int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct error *err);

/*
 * Removes path and everything below it. Does not follow symlinks and does not
 * descend into other mounts (it fails with EBUSY instead): a mount left behind
 * must be unmounted, never emptied through. Missing path is success.
 */
int rm_rf(const char *path, struct error *err);

/*
 * Unmounts (lazily) every mount at or below dir, deepest first: what a killed
 * CRIU or runc left mounted (runc's criu-root, CRIU's cgroup yard). Returns
 * how many it unmounted, or -errno.
 */
int unmount_below(const char *dir, struct error *err);

/* True if path exists (lstat). */
bool path_exists(const char *path);

/*
 * A name that may become one path component and an identifier: 1 to 63 of
 * [a-z0-9-], starting and ending alphanumeric (a DNS-1123 label, as Kubernetes
 * names pods and namespaces). Rejects '/', '..', empty and overlong names.
 */
bool name_is_dns_label(const char *name);

/*
 * A container or image name: 1 to 128 of [A-Za-z0-9_.:-], starting
 * alphanumeric, with no ".." anywhere. Never contains '/'.
 */
bool name_is_valid(const char *name);

/*
 * A file name from elsewhere (an archive's): 1 to 255 of [A-Za-z0-9_.:-],
 * starting alphanumeric, no "..". Never contains '/'.
 */
bool name_is_safe_filename(const char *name);

/*
 * The program name beside the running binary (/proc/self/exe's directory) if
 * it is executable there, else dir/name if given and executable there, else
 * NULL. Allocated.
 */
char *path_next_to_self(const char *name, const char *fallback_dir);

/* Monotonic clock in nanoseconds. */
unsigned long long now_ns(void);

/* Total size in bytes of the regular files below path (not following links). */
int dir_size(const char *path, unsigned long long *ret, struct error *err);

/* "1.5 MiB": n bytes for people, into buf. Returns buf. */
char *format_bytes(unsigned long long n, char *buf, size_t len);

/* Copies a directory tree with `cp -a` (ownership, modes, xattrs, holes). */
int copy_tree(const char *src, const char *dst, struct error *err);

#endif

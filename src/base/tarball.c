/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/tarball.h"

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

/*
 * Refuses what must never land in a root file system from a tarball: absolute
 * paths, "..", device nodes. libarchive's SECURE flags then refuse writing
 * through symlinks and hard links that leave the tree.
 */
static int check_member(struct archive_entry *e, unsigned flags, struct error *err)
{
	const char *path = archive_entry_pathname(e);
	const char *hl = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);

	if (!path || path[0] == '/')
		return error_setx(err, EPERM, "member '%s' has an absolute path", path ? path : "");
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return error_setx(err, EPERM, "member '%s' leaves the tree ('..')", path);
	if (hl && (hl[0] == '/' || strstr(hl, "..")))
		return error_setx(err, EPERM, "member '%s' is a hard link to '%s', outside the tree",
				  path, hl);
	if (type == AE_IFCHR || type == AE_IFBLK)
		return error_setx(err, EPERM, "member '%s' is a device node", path);
	if ((flags & TAR_NO_LINKS) && (hl || type == AE_IFLNK))
		return error_setx(err, EPERM, "member '%s' is a link, and links are not allowed here",
				  path);
	if ((flags & TAR_NO_LINKS) && type != AE_IFREG && type != AE_IFDIR)
		return error_setx(err, EPERM, "member '%s' is not a regular file or directory", path);
	return 0;
}

int tar_extract(const char *tarball, const char *dest, unsigned flags, struct error *err)
{
	cleanup_(archive_freep) struct archive *a = archive_read_new();
	cleanup_(archive_write_freep) struct archive *w = archive_write_disk_new();
	struct archive_entry *e;
	int r;

	if (!a || !w)
		return error_set(err, ENOMEM, "libarchive");
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	/*
	 * Members are written under dest by absolute path (a daemon's threads
	 * share one cwd), so absolute paths in the archive are refused by
	 * check_member() rather than by libarchive.
	 */
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						  ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						  ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
						  ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR);
	if (archive_read_open_filename(a, tarball, 1 << 16) != ARCHIVE_OK)
		return error_setx(err, EINVAL, "not a readable archive: %s", archive_error_string(a));

	size_t members = 0;
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return error_setx(err, EINVAL, "not a valid tar archive%s: %s",
					  members ? " (truncated?)" : "", archive_error_string(a));
		members++;
		r = check_member(e, flags, err);
		if (r < 0)
			return r;

		char full[PATH_MAX], member[PATH_MAX];
		snprintf(member, sizeof(member), "%s", archive_entry_pathname(e));
		snprintf(full, sizeof(full), "%s/%s", dest, member);
		archive_entry_set_pathname(e, full);
		const char *hl = archive_entry_hardlink(e);
		if (hl) {
			char full_hl[PATH_MAX];
			snprintf(full_hl, sizeof(full_hl), "%s/%s", dest, hl);
			archive_entry_set_hardlink(e, full_hl);
		}
		r = archive_write_header(w, e);
		if (r < ARCHIVE_WARN)
			return error_setx(err, EPERM, "cannot extract '%s': %s",
					  member, archive_error_string(w));
		const void *buf;
		size_t len;
		la_int64_t off;
		while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(w, buf, len, off) < ARCHIVE_WARN)
				return error_setx(err, EIO, "cannot write '%s': %s",
						  member,
						  archive_error_string(w));
		if (r != ARCHIVE_EOF)
			return error_setx(err, EINVAL, "tar archive is truncated or corrupt: %s",
					  archive_error_string(a));
		if (archive_write_finish_entry(w) < ARCHIVE_WARN)
			return error_setx(err, EIO, "cannot finish '%s': %s",
					  member, archive_error_string(w));
	}
	if (members == 0)
		return error_setx(err, EINVAL, "the archive is empty");
	if (archive_write_close(w) != ARCHIVE_OK)
		return error_setx(err, EIO, "extraction: %s", archive_error_string(w));
	return 0;
}


static const char *const compression_names[_TAR_COMPRESS_MAX] = {
	[TAR_COMPRESS_NONE] = "none",
	[TAR_COMPRESS_GZIP] = "gzip",
	[TAR_COMPRESS_ZSTD] = "zstd",
};

enum tar_compression tar_compression_from_string(const char *s)
{
	for (int i = 0; i < _TAR_COMPRESS_MAX; i++)
		if (s && strcmp(s, compression_names[i]) == 0)
			return i;
	return _TAR_COMPRESS_INVALID;
}

const char *tar_compression_to_string(enum tar_compression c)
{
	return c >= 0 && c < _TAR_COMPRESS_MAX ? compression_names[c] : NULL;
}

struct writer {
	struct archive *a;
	const char *root;
	bool (*skip)(const char *rel, const struct stat *st, void *userdata);
	void *userdata;
	struct error *err;
};

static int add_file(struct writer *w, const char *rel)
{
	char full[PATH_MAX];
	struct stat st;
	snprintf(full, sizeof(full), "%s/%s", w->root, rel);
	if (lstat(full, &st) < 0)
		return error_set(w->err, errno, "cannot stat '%s'", full);
	if (w->skip && w->skip(rel, &st, w->userdata))
		return 0;
	struct archive_entry *e = archive_entry_new();
	archive_entry_copy_stat(e, &st);
	archive_entry_set_pathname(e, rel);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(full, target, sizeof(target) - 1);
		if (n < 0) {
			archive_entry_free(e);
			return error_set(w->err, errno, "cannot read link '%s'", full);
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (!S_ISREG(st.st_mode))
		archive_entry_set_size(e, 0);
	int r = 0;
	if (archive_write_header(w->a, e) < ARCHIVE_WARN) {
		r = error_setx(w->err, EIO, "cannot add '%s' to the archive: %s", rel,
			       archive_error_string(w->a));
	} else if (S_ISREG(st.st_mode)) {
		cleanup_close int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		char buf[1 << 16];
		ssize_t n;
		if (fd < 0)
			r = error_set(w->err, errno, "cannot open '%s'", full);
		while (r == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			if (archive_write_data(w->a, buf, (size_t)n) != n)
				r = error_setx(w->err, EIO, "cannot write '%s' to the archive: %s", rel,
					       archive_error_string(w->a));
	}
	archive_entry_free(e);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_tree(struct writer *w, const char *rel, const char *const *first)
{
	char full[PATH_MAX];
	snprintf(full, sizeof(full), "%s%s%s", w->root, *rel ? "/" : "", rel);
	DIR *d = opendir(full);
	if (!d)
		return error_set(w->err, errno, "cannot read '%s'", full);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		bool is_first = false;
		for (size_t i = 0; !*rel && first && first[i]; i++)
			is_first = is_first || strcmp(first[i], de->d_name) == 0;
		if (is_first)
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		char child[PATH_MAX];
		struct stat st;
		snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", names[i]);
		if (r == 0)
			r = add_file(w, child);
		snprintf(full, sizeof(full), "%s/%s", w->root, child);
		if (r == 0 && lstat(full, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !(w->skip && w->skip(child, &st, w->userdata)))
			r = add_tree(w, child, NULL);
		free(names[i]);
	}
	free(names);
	return r;
}

int tar_create(const char *dir, const char *const *first, enum tar_compression c,
	       bool (*skip)(const char *rel, const struct stat *st, void *userdata),
	       void *userdata, const char *out_path, struct error *err)
{
	cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	struct writer w = { .a = a, .root = dir, .skip = skip, .userdata = userdata, .err = err };
	int r = 0;

	if (!a)
		return error_set(err, ENOMEM, "libarchive");
	archive_write_set_format_pax_restricted(a);
	if (c == TAR_COMPRESS_GZIP)
		r = archive_write_add_filter_gzip(a);
	else if (c == TAR_COMPRESS_ZSTD)
		r = archive_write_add_filter_zstd(a);
	if (r != ARCHIVE_OK)
		return error_setx(err, ENOTSUP, "compression %s: %s", tar_compression_to_string(c),
				  archive_error_string(a));
	if (archive_write_open_filename(a, out_path) != ARCHIVE_OK)
		return error_setx(err, EIO, "cannot create '%s': %s", out_path, archive_error_string(a));
	for (size_t i = 0; first && first[i] && r == 0; i++)
		r = add_file(&w, first[i]);
	if (r == 0)
		r = add_tree(&w, "", first);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = error_setx(err, EIO, "cannot finish '%s': %s", out_path, archive_error_string(a));
	if (r < 0)
		(void)unlink(out_path);
	return r;
}

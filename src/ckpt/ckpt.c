/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ferry/ckpt.h"
#include "ferry/cleanup.h"
#include "ferry/digest.h"
#include "ferry/fs.h"

/* ------------------------------------------------------------ rootfs diff */

/* An overlayfs whiteout: a character device 0:0 in the upper dir. */
static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool skip_whiteouts(const char *rel, const struct stat *st, void *userdata)
{
	json_t *deleted = userdata;
	if (!is_whiteout(st))
		return false;
	char *p;
	if (asprintf(&p, "/%s", rel) >= 0) {
		json_array_append_new(deleted, json_string(p));
		free(p);
	}
	return true;
}

int ckpt_rootfs_diff(const char *changes_dir, const char *out_dir, unsigned long long *ret_size,
		     struct error *err)
{
	cleanup_free char *tar = path_join(out_dir, "rootfs-diff.tar");
	cleanup_free char *del = path_join(out_dir, "deleted.files");
	json_t *deleted = json_array();
	struct stat st;
	int r;

	if (!tar || !del || !deleted)
		return error_set(err, ENOMEM, "rootfs diff");
	r = tar_create(changes_dir, NULL, TAR_COMPRESS_NONE, skip_whiteouts, deleted, tar, err);
	if (r >= 0) {
		cleanup_free char *text = json_dumps(deleted, JSON_INDENT(1));
		r = text ? write_file_atomic(del, text, strlen(text), 0600, err)
			 : error_set(err, ENOMEM, "deleted.files");
	}
	json_decref(deleted);
	if (r >= 0 && ret_size)
		*ret_size = stat(tar, &st) == 0 ? (unsigned long long)st.st_size : 0;
	return r;
}

int ckpt_rootfs_apply(const char *in_dir, const char *rootfs, struct error *err)
{
	cleanup_free char *tar = path_join(in_dir, "rootfs-diff.tar");
	cleanup_free char *del = path_join(in_dir, "deleted.files");
	cleanup_free char *text = NULL;
	json_error_t jerr;
	size_t i;
	json_t *v;
	int r;

	r = tar_extract(tar, rootfs, 0, err);
	if (r < 0 && strstr(err->msg, "the archive is empty")) {
		error_clear(err);
		r = 0; /* nothing was written: an empty diff */
	}
	if (r < 0)
		return error_wrap(err, "apply rootfs-diff.tar");
	r = read_file(del, 16u << 20, &text, NULL, err);
	if (r < 0)
		return r;
	json_t *list = json_loads(text, 0, &jerr);
	if (!json_is_array(list)) {
		json_decref(list);
		return error_setx(err, EBADMSG, "deleted.files is not a list of paths");
	}
	json_array_foreach(list, i, v)
	{
		const char *p = json_string_value(v);
		if (!p || p[0] != '/' || strstr(p, "/../") ||
		    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0)) {
			int r2 = error_setx(err, EBADMSG,
					    "deleted.files: '%s' is not a path in the container",
					    p ? p : "?");
			json_decref(list); /* p lives in it */
			return r2;
		}
		cleanup_free char *full = path_join(rootfs, p);
		if (full && rm_rf(full, err) < 0) {
			json_decref(list);
			return error_wrap(err, "apply deleted.files");
		}
	}
	json_decref(list);
	return 0;
}

/* ------------------------------------------------------------ manifest */

static _Thread_local json_t *walk_files;
static _Thread_local const char *walk_root;
static _Thread_local int walk_error;

static int add_digest(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	const char *rel = path + strlen(walk_root) + 1;
	if (strcmp(rel, CKPT_MANIFEST) == 0)
		return 0;
	char d[DIGEST_STR_LEN + 1];
	if (digest_file(path, d, NULL) < 0) {
		walk_error = -EIO;
		return 1;
	}
	json_object_set_new(walk_files, rel, json_string(d));
	return 0;
}

/* {relative path: digest} of every regular file below dir but the manifest. */
static int digests(const char *dir, json_t **ret, struct error *err)
{
	walk_files = json_object();
	walk_root = dir;
	walk_error = 0;
	if (nftw(dir, add_digest, 32, FTW_PHYS) != 0 || walk_error) {
		json_decref(walk_files);
		return error_set(err, walk_error ? walk_error : errno, "cannot hash the files of '%s'",
				 dir);
	}
	*ret = walk_files;
	return 0;
}

int ckpt_seal(const char *dir, json_t *manifest, struct error *err)
{
	cleanup_free char *path = path_join(dir, CKPT_MANIFEST);
	json_t *files;
	int r = digests(dir, &files, err);
	if (r < 0)
		return r;
	json_object_set_new(manifest, "format", json_string(CKPT_FORMAT));
	json_object_set_new(manifest, "version", json_integer(CKPT_VERSION));
	json_object_set_new(manifest, "files", files);
	cleanup_free char *text = json_dumps(manifest, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return error_set(err, ENOMEM, "manifest");
	return write_file_atomic(path, text, strlen(text), 0600, err);
}

int ckpt_pack(const char *dir, enum tar_compression c, const char *out_path, struct error *err)
{
	const char *const first[] = { CKPT_MANIFEST, NULL };
	return tar_create(dir, first, c, NULL, NULL, out_path, err);
}

static int check_manifest(json_t *m, struct error *err)
{
	const char *format = json_string_value(json_object_get(m, "format"));
	json_t *version = json_object_get(m, "version");

	if (!format || strcmp(format, CKPT_FORMAT) != 0)
		return error_setx(err, EBADMSG, "not a ferry checkpoint (format '%s')",
				  format ? format : "none");
	if (!json_is_integer(version) || json_integer_value(version) != CKPT_VERSION)
		return error_setx(err, EBADMSG,
				  "checkpoint format version %lld is not the one this ferry reads (%d)",
				  json_is_integer(version) ? (long long)json_integer_value(version) : -1,
				  CKPT_VERSION);
	if (!json_is_object(json_object_get(m, "files")) || !json_is_object(json_object_get(m, "pod")))
		return error_setx(err, EBADMSG, "the checkpoint's manifest lacks files or pod");
	return 0;
}

int ckpt_unpack(const char *archive, const char *dest, json_t **ret_manifest, struct error *err)
{
	cleanup_free char *mpath = path_join(dest, CKPT_MANIFEST);
	cleanup_free char *text = NULL;
	json_t *m = NULL, *have = NULL;
	json_error_t jerr;
	int r;

	if (path_exists(dest))
		return error_setx(err, EEXIST, "'%s' exists already", dest);
	r = mkdir_p(dest, 0700);
	if (r < 0)
		return error_set(err, r, "cannot create '%s'", dest);
	r = tar_extract(archive, dest, TAR_NO_LINKS, err);
	if (r < 0) {
		error_wrap(err, "checkpoint archive '%s' refused", archive);
		err->code = EBADMSG;
		r = -EBADMSG;
		goto fail;
	}
	r = read_file(mpath, 64u << 20, &text, NULL, err);
	if (r < 0) {
		r = error_setx(err, EBADMSG, "checkpoint archive '%s' has no manifest.json", archive);
		goto fail;
	}
	m = json_loads(text, 0, &jerr);
	if (!m) {
		r = error_setx(err, EBADMSG, "checkpoint manifest is not JSON: %s", jerr.text);
		goto fail;
	}
	if ((r = check_manifest(m, err)) < 0)
		goto fail;
	if ((r = digests(dest, &have, err)) < 0)
		goto fail;
	json_t *want = json_object_get(m, "files"), *v;
	const char *k;
	json_object_foreach(want, k, v)
	{
		const char *got = json_string_value(json_object_get(have, k));
		if (!got) {
			r = error_setx(err, EBADMSG, "checkpoint is missing '%s' (truncated?)", k);
			goto fail;
		}
		if (!json_is_string(v) || strcmp(got, json_string_value(v)) != 0) {
			r = error_setx(err, EBADMSG,
				       "checkpoint file '%s' does not match its digest (tampered or "
				       "damaged): %s, manifest says %s",
				       k, got, json_string_value(v) ?: "?");
			goto fail;
		}
	}
	json_object_foreach(have, k, v)
	{
		if (!json_object_get(want, k)) {
			r = error_setx(err, EBADMSG, "checkpoint has a file the manifest does not list: "
				       "'%s'", k);
			goto fail;
		}
	}
	json_decref(have);
	*ret_manifest = m;
	return 0;
fail:
	json_decref(have);
	json_decref(m);
	(void)rm_rf(dest, NULL);
	return r;
}

int ckpt_read_manifest(const char *archive, json_t **ret_manifest, struct error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	json_t *m = NULL;
	int r;

	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, archive, 1 << 16) != ARCHIVE_OK) {
		r = error_setx(err, EBADMSG, "cannot read '%s': %s", archive, archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	r = archive_read_next_header(a, &e);
	if (r != ARCHIVE_OK || strcmp(archive_entry_pathname(e), CKPT_MANIFEST) != 0) {
		r = error_setx(err, EBADMSG, "'%s' is not a ferry checkpoint: %s", archive,
			       r == ARCHIVE_OK ? "manifest.json is not its first member"
					       : archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	la_int64_t size = archive_entry_size(e);
	if (size <= 0 || size > (64 << 20)) {
		archive_read_free(a);
		return error_setx(err, EBADMSG, "'%s': its manifest has a bad size", archive);
	}
	char *buf = malloc((size_t)size + 1);
	la_ssize_t n = buf ? archive_read_data(a, buf, (size_t)size) : -1;
	archive_read_free(a);
	if (n != size) {
		free(buf);
		return error_setx(err, EBADMSG, "'%s': cannot read its manifest", archive);
	}
	buf[size] = '\0';
	json_error_t jerr;
	m = json_loads(buf, 0, &jerr);
	free(buf);
	if (!m)
		return error_setx(err, EBADMSG, "checkpoint manifest is not JSON: %s", jerr.text);
	r = check_manifest(m, err);
	if (r < 0) {
		json_decref(m);
		return r;
	}
	*ret_manifest = m;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tar archives, read and written with libarchive, with the checks an archive
 * from elsewhere needs: no absolute paths, no "..", no device nodes, no link
 * or symlink that leads out of the tree (TAR_NO_LINKS: no links at all).
 */
#ifndef FERRY_TARBALL_H
#define FERRY_TARBALL_H

#include <stdbool.h>

#include "ferry/error.h"

#define TAR_NO_LINKS (1u << 0) /* regular files and directories only */

/*
 * Extracts tarball (plain or compressed in any format libarchive reads) into
 * the existing directory dest. A refused or broken member stops the
 * extraction with a message naming it; the caller removes dest.
 */
int tar_extract(const char *tarball, const char *dest, unsigned flags, struct error *err);

enum tar_compression {
	TAR_COMPRESS_NONE,
	TAR_COMPRESS_GZIP,
	TAR_COMPRESS_ZSTD,
	_TAR_COMPRESS_MAX,
	_TAR_COMPRESS_INVALID = -22,
};

enum tar_compression tar_compression_from_string(const char *s);
const char *tar_compression_to_string(enum tar_compression c);

/*
 * Writes a tar of the tree below dir (its members relative to dir, in the
 * order of `first` then a sorted walk), compressed as asked, to out_path.
 * first: NULL-terminated names to put first (a manifest), may be NULL.
 * skip(path, st) returns true for entries to leave out (may be NULL).
 */
struct stat;
int tar_create(const char *dir, const char *const *first, enum tar_compression c,
	       bool (*skip)(const char *rel, const struct stat *st, void *userdata),
	       void *userdata, const char *out_path, struct error *err);

#endif

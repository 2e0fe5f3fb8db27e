/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint archives. The layout follows what Podman's `container checkpoint
 * --export`, CRI-O and checkpointctl use, one tree per container of the pod,
 * and ferry's manifest first:
 *
 *	manifest.json                     format, version, the pod, digests of all
 *	containers/<name>/checkpoint/     CRIU's images
 *	containers/<name>/config.dump     the container as ferry ran it
 *	containers/<name>/spec.dump       its OCI config.json
 *	containers/<name>/rootfs-diff.tar what it wrote to its root file system
 *	containers/<name>/deleted.files   what it deleted from it (JSON list)
 *	containers/<name>/stats-dump      freeze, dump and write times, sizes
 *
 * A restore unpacks into a fresh directory (refusing absolute paths, "..",
 * links and device nodes), then checks the manifest's format and version and
 * the sha256 of every file, and that no file is missing or extra, before
 * anything else is done with it.
 */
#ifndef FERRY_CKPT_H
#define FERRY_CKPT_H

#include <jansson.h>

#include "ferry/error.h"
#include "ferry/tarball.h"

#define CKPT_FORMAT "ferry-checkpoint"
#define CKPT_VERSION 1
#define CKPT_MANIFEST "manifest.json"

/*
 * From a layer's changes (overlayfs upper dir): out_dir/rootfs-diff.tar with
 * what was written, out_dir/deleted.files with what was deleted (overlayfs
 * whiteouts). Returns the bytes of the tar in *ret_size (may be NULL).
 */
int ckpt_rootfs_diff(const char *changes_dir, const char *out_dir, unsigned long long *ret_size,
		     struct error *err);

/* Applies in_dir/rootfs-diff.tar and in_dir/deleted.files over rootfs. */
int ckpt_rootfs_apply(const char *in_dir, const char *rootfs, struct error *err);

/*
 * Completes manifest with "files": {relative path: "sha256:..."} for every
 * regular file below dir, and writes it as dir/manifest.json.
 */
int ckpt_seal(const char *dir, json_t *manifest, struct error *err);

/* Writes dir as an archive at out_path, manifest first. */
int ckpt_pack(const char *dir, enum tar_compression c, const char *out_path, struct error *err);

/*
 * Unpacks archive into dest (created; removed again on failure) and verifies
 * it. ret_manifest: the manifest. -EBADMSG for a broken, truncated, tampered or
 * foreign archive, with what is wrong in err.
 */
int ckpt_unpack(const char *archive, const char *dest, json_t **ret_manifest, struct error *err);

/* Reads the manifest of an archive without unpacking the rest (inspect). */
int ckpt_read_manifest(const char *archive, json_t **ret_manifest, struct error *err);

#endif

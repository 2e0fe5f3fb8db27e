/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local image store, and the writable layer each container gets on top
 * of an image.
 *
 * An image is a root file system tarball, stored content-addressed by the
 * sha256 digest of the tarball's bytes, under one or more names. Layout:
 *
 *	<dir>/blobs/sha256/<hex>   the tarball as imported
 *	<dir>/rootfs/<hex>/        its extracted tree (the read-only lower layer)
 *	<dir>/index.json           names -> digests, replaced atomically
 *
 * Several processes may use one store: changes to the index take an flock.
 */
#ifndef FERRY_IMAGE_H
#define FERRY_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry/digest.h"
#include "ferry/error.h"

struct image_store;

struct image_info {
	char name[129];
	char digest[DIGEST_STR_LEN + 1];
	uint64_t size; /* bytes of the tarball */
	char created[32];
};

int image_store_open(const char *dir, struct image_store **ret, struct error *err);
struct image_store *image_store_free(struct image_store *s);

/*
 * Reads a tar stream from fd (plain, or compressed in any format libarchive
 * reads) and stores it under name, replacing what the name pointed to before.
 * Members with absolute paths or "..", links that leave the tree, and device
 * nodes are refused, and a refused import leaves the store as it was.
 */
int image_store_import(struct image_store *s, const char *name, int fd,
		       struct image_info *ret, struct error *err);

/* Looks up a name, or a digest ("sha256:..."). -ENOENT with a message if missing. */
int image_store_get(struct image_store *s, const char *ref, struct image_info *ret,
		    struct error *err);

/* All names, sorted. *ret is freed by the caller. */
int image_store_list(struct image_store *s, struct image_info **ret, size_t *ret_n,
		     struct error *err);

/*
 * Removes a name; the image's data goes too when no other name points at it.
 * Refused with -EBUSY while a mounted layer uses the image.
 */
int image_store_remove(struct image_store *s, const char *name, struct error *err);

/* The tarball of an image as imported (allocated). */
char *image_store_blob(struct image_store *s, const struct image_info *img);

/* The extracted tree of an image (allocated). */
char *image_store_rootfs(struct image_store *s, const struct image_info *img);

/* --------------------------------------------------------------- layers */

enum layer_mode {
	LAYER_OVERLAY, /* overlayfs: lower = image, upper = the container's writes */
	LAYER_COPY,    /* no overlayfs: a full copy of the image */
};

/*
 * Makes dir/rootfs, the container's root file system: the image's tree
 * (lower) below a writable layer dir/upper, with overlayfs where the kernel
 * has it and a copy otherwise. With seed_upper (another layer's dir), that
 * layer's changes are copied in first: how a container's writes follow its
 * checkpoint. Returns the mode used.
 */
int layer_create(const char *lower, const char *dir, const char *seed_upper,
		 enum layer_mode *ret_mode, struct error *err);

/* Mounts an existing layer again (after a reboot or an agent restart). */
int layer_mount(const char *lower, const char *dir, struct error *err);

/* Unmounts dir/rootfs (lazily if busy) and removes dir. Missing dir is success. */
int layer_destroy(const char *dir, struct error *err);

/* The directory holding what the container changed: dir/upper, or dir/rootfs in copy mode. */
char *layer_changes_dir(const char *dir);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's root file system: the image below a writable layer, so that
 * what the container wrote can be told apart from its image (and later be
 * shipped with its checkpoint as rootfs-diff.tar).
 *
 *	<dir>/upper   what the container wrote (overlay mode)
 *	<dir>/work    overlayfs's work directory
 *	<dir>/rootfs  the mount point, which the OCI bundle names as root.path
 *	<dir>/mode    "overlay" or "copy"
 */
#define LOG_PREFIX "layer"
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/image.h"
#include "ferry/log.h"

static int mount_overlay(const char *lower, const char *dir)
{
	char opts[3 * PATH_MAX + 64], target[PATH_MAX];

	snprintf(target, sizeof(target), "%s/rootfs", dir);
	/* index=off: the upper layer may be copied to another lower of equal content. */
	int n = snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work,index=off",
			 lower, dir, dir);
	if (n < 0 || (size_t)n >= sizeof(opts))
		return -ENAMETOOLONG;
	if (mount("overlay", target, "overlay", 0, opts) < 0)
		return -errno;
	return 0;
}

static int read_mode(const char *dir, enum layer_mode *ret)
{
	cleanup_free char *p = path_join(dir, "mode"), *text = NULL;

	if (!p || read_file(p, 64, &text, NULL, NULL) < 0)
		return -ENOENT;
	*ret = strncmp(text, "copy", 4) == 0 ? LAYER_COPY : LAYER_OVERLAY;
	return 0;
}

int layer_create(const char *lower, const char *dir, const char *seed_upper,
		 enum layer_mode *ret_mode, struct error *err)
{
	const char *const sub[] = { "upper", "work", "rootfs" };
	enum layer_mode mode = LAYER_OVERLAY;
	char path[PATH_MAX];
	int r;

	if (path_exists(dir))
		return error_setx(err, EEXIST, "layer directory '%s' exists already", dir);
	for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		r = mkdir_p(path, 0755);
		if (r < 0) {
			(void)rm_rf(dir, NULL);
			return error_set(err, r, "cannot create '%s'", path);
		}
	}
	if (seed_upper) {
		/* cp -a SRC/. DST copies the content, whiteouts and opaque xattrs included. */
		char src[PATH_MAX];
		snprintf(src, sizeof(src), "%s/.", seed_upper);
		snprintf(path, sizeof(path), "%s/upper", dir);
		r = copy_tree(src, path, err);
		if (r < 0) {
			(void)rm_rf(dir, NULL);
			return error_wrap(err, "seed layer '%s'", dir);
		}
	}

	r = mount_overlay(lower, dir);
	if (r == -ENODEV || r == -EINVAL || r == -EPERM) {
		/* No overlayfs here: a full copy, changes no longer told apart. */
		log_notice("no overlayfs for '%s' (%s): copying the image", dir, strerror(-r));
		mode = LAYER_COPY;
		char src[PATH_MAX];
		snprintf(src, sizeof(src), "%s/.", lower);
		snprintf(path, sizeof(path), "%s/rootfs", dir);
		r = copy_tree(src, path, err);
		if (r >= 0 && seed_upper) {
			snprintf(src, sizeof(src), "%s/upper/.", dir);
			r = copy_tree(src, path, err);
		}
	} else if (r < 0) {
		r = error_set(err, r, "cannot mount overlay on '%s/rootfs'", dir);
	}
	if (r < 0) {
		(void)rm_rf(dir, NULL);
		return error_wrap(err, "create layer over '%s'", lower);
	}
	snprintf(path, sizeof(path), "%s/mode", dir);
	const char *m = mode == LAYER_COPY ? "copy\n" : "overlay\n";
	r = write_file_atomic(path, m, strlen(m), 0644, err);
	if (r < 0) {
		(void)layer_destroy(dir, NULL);
		return r;
	}
	if (ret_mode)
		*ret_mode = mode;
	return 0;
}

int layer_mount(const char *lower, const char *dir, struct error *err)
{
	enum layer_mode mode;

	if (read_mode(dir, &mode) < 0)
		return error_setx(err, ENOENT, "'%s' is not a layer", dir);
	if (mode == LAYER_COPY)
		return 0;
	int r = mount_overlay(lower, dir);
	if (r == -EBUSY)
		return 0;
	if (r < 0)
		return error_set(err, r, "cannot mount overlay on '%s/rootfs'", dir);
	return 0;
}

int layer_destroy(const char *dir, struct error *err)
{
	char target[PATH_MAX];

	if (!path_exists(dir))
		return 0;
	snprintf(target, sizeof(target), "%s/rootfs", dir);
	/* Unmount every stacked mount; MNT_DETACH when a process still holds it. */
	for (int i = 0; i < 16; i++) {
		if (umount2(target, 0) == 0)
			continue;
		if (errno == EBUSY && umount2(target, MNT_DETACH) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			break; /* not a mount point (any more) */
		return error_set(err, errno, "cannot unmount '%s'", target);
	}
	return rm_rf(dir, err);
}

char *layer_changes_dir(const char *dir)
{
	enum layer_mode mode = LAYER_OVERLAY;

	(void)read_mode(dir, &mode);
	return path_join(dir, mode == LAYER_COPY ? "rootfs" : "upper");
}

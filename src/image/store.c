/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "image"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/digest.h"
#include "ferry/fs.h"
#include "ferry/image.h"
#include "ferry/log.h"
#include "ferry/tarball.h"

#define INDEX_MAX (16u << 20)

struct image_store {
	char *dir;
	char *index_path;
	char *lock_path;
};

int image_store_open(const char *dir, struct image_store **ret, struct error *err)
{
	struct image_store *s;
	const char *const sub[] = { "blobs/sha256", "rootfs", "tmp" };
	int r;

	for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
		cleanup_free char *p = path_join(dir, sub[i]);
		if (!p)
			return error_set(err, ENOMEM, "image store");
		r = mkdir_p(p, 0700);
		if (r < 0)
			return error_set(err, r, "cannot create image store directory '%s'", p);
	}
	/* Resolved once: extraction refuses to write through any symlink. */
	s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = realpath(dir, NULL)) || !(s->index_path = path_join(dir, "index.json")) ||
	    !(s->lock_path = path_join(dir, ".lock"))) {
		image_store_free(s);
		return error_set(err, ENOMEM, "image store");
	}
	*ret = s;
	return 0;
}

struct image_store *image_store_free(struct image_store *s)
{
	if (!s)
		return NULL;
	free(s->dir);
	free(s->index_path);
	free(s->lock_path);
	free(s);
	return NULL;
}

static int lock_store(struct image_store *s, struct error *err)
{
	int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, errno, "cannot open '%s'", s->lock_path);
	if (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		close(fd);
		return error_set(err, e, "cannot lock '%s'", s->lock_path);
	}
	return fd;
}

static int index_load(struct image_store *s, json_t **ret, struct error *err)
{
	cleanup_free char *text = NULL;
	json_error_t jerr;
	json_t *j;

	if (!path_exists(s->index_path)) {
		*ret = json_pack("{s:[]}", "images");
		return *ret ? 0 : error_set(err, ENOMEM, "image index");
	}
	int r = read_file(s->index_path, INDEX_MAX, &text, NULL, err);
	if (r < 0)
		return r;
	j = json_loads(text, 0, &jerr);
	if (!j || !json_is_array(json_object_get(j, "images"))) {
		json_decref(j);
		return error_setx(err, EBADMSG, "image index '%s' is corrupt: %s", s->index_path,
				  j ? "no images array" : jerr.text);
	}
	*ret = j;
	return 0;
}

static int index_save(struct image_store *s, json_t *j, struct error *err)
{
	cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return error_set(err, ENOMEM, "image index");
	return write_file_atomic(s->index_path, text, strlen(text), 0600, err);
}

static int info_from_json(json_t *e, struct image_info *ret)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *digest = json_string_value(json_object_get(e, "digest"));
	const char *created = json_string_value(json_object_get(e, "created"));

	if (!name || !digest_is_valid(digest) || !name_is_valid(name))
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	snprintf(ret->digest, sizeof(ret->digest), "%s", digest);
	snprintf(ret->created, sizeof(ret->created), "%s", created ? created : "");
	ret->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
	return 0;
}

static char *blob_path(struct image_store *s, const char *digest)
{
	char *p;
	if (asprintf(&p, "%s/blobs/sha256/%s", s->dir, digest + 7) < 0)
		return NULL;
	return p;
}

char *image_store_blob(struct image_store *s, const struct image_info *img)
{
	return blob_path(s, img->digest);
}

char *image_store_rootfs(struct image_store *s, const struct image_info *img)
{
	char *p;
	if (asprintf(&p, "%s/rootfs/%s", s->dir, img->digest + 7) < 0)
		return NULL;
	return p;
}

/* Copies fd into a new file under tmp/ while hashing it. */
static int receive(struct image_store *s, int fd, char **ret_path, char digest[DIGEST_STR_LEN + 1],
		   uint64_t *ret_size, struct error *err)
{
	cleanup_free char *path = NULL;
	cleanup_close int out = -EBADF;
	struct digest_ctx d;
	uint64_t size = 0;
	char buf[1 << 16];

	if (asprintf(&path, "%s/tmp/import-XXXXXX", s->dir) < 0)
		return error_set(err, ENOMEM, "import");
	out = mkostemp(path, O_CLOEXEC);
	if (out < 0)
		return error_set(err, errno, "cannot create '%s'", path);
	if (digest_init(&d) < 0) {
		(void)unlink(path);
		return error_set(err, ENOMEM, "sha256");
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && write(out, buf, (size_t)n) != n)) {
			int e = errno;
			digest_final(&d, digest);
			(void)unlink(path);
			return error_set(err, e, "cannot copy the image into the store");
		}
		if (n == 0)
			break;
		digest_update(&d, buf, (size_t)n);
		size += (uint64_t)n;
	}
	digest_final(&d, digest);
	*ret_path = TAKE_PTR(path);
	*ret_size = size;
	return 0;
}

int image_store_import(struct image_store *s, const char *name, int fd,
		       struct image_info *ret, struct error *err)
{
	cleanup_free char *tmp = NULL, *blob = NULL, *rootfs = NULL, *staging = NULL;
	cleanup_close int lock = -EBADF;
	cleanup_(json_decrefp) json_t *index = NULL;
	char digest[DIGEST_STR_LEN + 1], created[32];
	struct image_info info = { 0 };
	uint64_t size;
	int r;

	if (!name_is_valid(name))
		return error_setx(err, EINVAL,
				  "invalid image name '%s': use 1-128 of [A-Za-z0-9_.:-], starting "
				  "alphanumeric, no '/' or '..'",
				  name ? name : "");
	r = receive(s, fd, &tmp, digest, &size, err);
	if (r < 0)
		return error_wrap(err, "import image '%s'", name);
	if (size == 0) {
		(void)unlink(tmp);
		return error_setx(err, EINVAL, "import image '%s': the tarball is empty", name);
	}

	snprintf(info.name, sizeof(info.name), "%s", name);
	snprintf(info.digest, sizeof(info.digest), "%s", digest);
	info.size = size;
	blob = blob_path(s, digest);
	rootfs = image_store_rootfs(s, &info);
	if (!blob || !rootfs || asprintf(&staging, "%s.staging-%d", rootfs, getpid()) < 0) {
		(void)unlink(tmp);
		return error_set(err, ENOMEM, "import");
	}

	lock = lock_store(s, err);
	if (lock < 0) {
		(void)unlink(tmp);
		return lock;
	}
	if (!path_exists(rootfs)) {
		(void)rm_rf(staging, NULL);
		r = mkdir_p(staging, 0755);
		if (r >= 0)
			r = tar_extract(tmp, staging, 0, err);
		else
			r = error_set(err, r, "cannot create '%s'", staging);
		if (r < 0) {
			(void)rm_rf(staging, NULL);
			(void)unlink(tmp);
			return error_wrap(err, "import image '%s'", name);
		}
		if (rename(staging, rootfs) < 0) {
			r = error_set(err, errno, "import image '%s': cannot rename '%s'", name,
				      staging);
			(void)rm_rf(staging, NULL);
			(void)unlink(tmp);
			return r;
		}
	}
	if (rename(tmp, blob) < 0) {
		r = error_set(err, errno, "import image '%s': cannot store '%s'", name, blob);
		(void)unlink(tmp);
		return r;
	}

	r = index_load(s, &index, err);
	if (r < 0)
		return error_wrap(err, "import image '%s'", name);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(info.created, sizeof(info.created), "%s", created);

	json_t *images = json_object_get(index, "images");
	size_t i;
	json_t *e;
	json_array_foreach(images, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "name")) ?: "", name) == 0) {
			json_array_remove(images, i);
			break;
		}
	}
	json_array_append_new(images, json_pack("{s:s, s:s, s:I, s:s}", "name", name, "digest",
						digest, "size", (json_int_t)size, "created",
						created));
	r = index_save(s, index, err);
	if (r < 0)
		return error_wrap(err, "import image '%s'", name);
	log_debug("image='%s' imported %s (%llu bytes)", name, digest, (unsigned long long)size);
	if (ret)
		*ret = info;
	return 0;
}

int image_store_get(struct image_store *s, const char *ref, struct image_info *ret,
		    struct error *err)
{
	cleanup_(json_decrefp) json_t *index = NULL;
	size_t i;
	json_t *e;
	int r;

	if (!ref || (!name_is_valid(ref) && !digest_is_valid(ref)))
		return error_setx(err, EINVAL, "invalid image reference '%s'", ref ? ref : "");
	r = index_load(s, &index, err);
	if (r < 0)
		return r;
	json_array_foreach(json_object_get(index, "images"), i, e)
	{
		struct image_info info;
		if (info_from_json(e, &info) < 0)
			continue;
		if (strcmp(info.name, ref) == 0 || strcmp(info.digest, ref) == 0) {
			*ret = info;
			return 0;
		}
	}
	return error_setx(err, ENOENT, "image '%s' not found in the store '%s'", ref, s->dir);
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct image_info *)a)->name, ((const struct image_info *)b)->name);
}

int image_store_list(struct image_store *s, struct image_info **ret, size_t *ret_n,
		     struct error *err)
{
	cleanup_(json_decrefp) json_t *index = NULL;
	json_t *images;
	size_t i, n = 0;
	json_t *e;
	int r;

	r = index_load(s, &index, err);
	if (r < 0)
		return r;
	images = json_object_get(index, "images");
	struct image_info *v = calloc(json_array_size(images) + 1, sizeof(*v));
	if (!v)
		return error_set(err, ENOMEM, "image list");
	json_array_foreach(images, i, e)
	{
		if (info_from_json(e, &v[n]) == 0)
			n++;
	}
	qsort(v, n, sizeof(*v), cmp_info);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Is path the lowerdir of a mounted overlay (a container still uses it)? */
static bool rootfs_in_use(const char *path)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], needle[PATH_MAX + 16];

	if (!f)
		return false;
	snprintf(needle, sizeof(needle), "lowerdir=%s", path);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, needle);
		if (p && (p[strlen(needle)] == ',' || p[strlen(needle)] == ':' ||
			  p[strlen(needle)] == '\n' || p[strlen(needle)] == '\0'))
			return true;
	}
	return false;
}

int image_store_remove(struct image_store *s, const char *name, struct error *err)
{
	cleanup_(json_decrefp) json_t *index = NULL;
	cleanup_close int lock = -EBADF;
	struct image_info victim;
	bool found = false, shared = false;
	json_t *images, *e;
	size_t i, at = 0;
	int r;

	if (!name_is_valid(name))
		return error_setx(err, EINVAL, "invalid image name '%s'", name ? name : "");
	lock = lock_store(s, err);
	if (lock < 0)
		return lock;
	r = index_load(s, &index, err);
	if (r < 0)
		return r;
	images = json_object_get(index, "images");
	json_array_foreach(images, i, e)
	{
		struct image_info info;
		if (info_from_json(e, &info) < 0)
			continue;
		if (strcmp(info.name, name) == 0) {
			victim = info;
			found = true;
			at = i;
		}
	}
	if (!found)
		return error_setx(err, ENOENT, "image '%s' not found", name);
	json_array_foreach(images, i, e)
	{
		if (i != at && strcmp(json_string_value(json_object_get(e, "digest")) ?: "",
				      victim.digest) == 0)
			shared = true;
	}

	cleanup_free char *rootfs = image_store_rootfs(s, &victim);
	cleanup_free char *blob = blob_path(s, victim.digest);
	if (!rootfs || !blob)
		return error_set(err, ENOMEM, "remove image");
	if (!shared && rootfs_in_use(rootfs))
		return error_setx(err, EBUSY, "image '%s' is in use by a container", name);

	json_array_remove(images, at);
	r = index_save(s, index, err);
	if (r < 0)
		return r;
	if (!shared) {
		(void)unlink(blob);
		r = rm_rf(rootfs, err);
		if (r < 0)
			return error_wrap(err, "remove image '%s'", name);
	}
	return 0;
}

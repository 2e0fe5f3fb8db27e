/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/image.h"

struct member {
	const char *path;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR */
	const char *data_or_target;
	const char *hardlink;
};

/* Writes a tar file with the given members (a crafted one, for the bad cases). */
static void make_tar(const char *path, const struct member *m, size_t n)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, m[i].path);
		archive_entry_set_filetype(e, m[i].type);
		archive_entry_set_perm(e, m[i].type == AE_IFDIR ? 0755 : 0644);
		size_t len = 0;
		if (m[i].hardlink)
			archive_entry_set_hardlink(e, m[i].hardlink);
		else if (m[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, m[i].data_or_target);
		else if (m[i].type == AE_IFREG && m[i].data_or_target)
			len = strlen(m[i].data_or_target);
		if (m[i].type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(1, 3));
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, m[i].data_or_target, len), (ssize_t)len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

struct fixture {
	char *dir;
	char *store_dir;
	struct image_store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error err = { 0 };
	f->dir = tmpdir_new("image");
	f->store_dir = path_join(f->dir, "store");
	if (image_store_open(f->store_dir, &f->s, &err) < 0)
		fail_msg("%s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	image_store_free(f->s);
	free(f->store_dir);
	tmpdir_done(f->dir);
	free(f);
	return 0;
}

static int import_file(struct fixture *f, const char *name, const char *path, struct image_info *ret,
		       struct error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return image_store_import(f->s, name, fd, ret, err);
}

/* What the store holds, as "name=digest;..." for comparisons before and after. */
static char *snapshot(struct fixture *f)
{
	struct image_info *v = NULL;
	size_t n = 0;
	struct error err = { 0 };
	char *out = strdup("");
	assert_int_equal(image_store_list(f->s, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		char *next;
		assert_true(asprintf(&next, "%s%s=%s;", out, v[i].name, v[i].digest) > 0);
		free(out);
		out = next;
	}
	free(v);
	return out;
}

static void test_import_get_list_remove(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *tar = path_join(f->dir, "good.tar");
	struct image_info a, b, got;
	struct error err = { 0 };
	char want[DIGEST_STR_LEN + 1];

	const struct member m[] = {
		{ "bin", AE_IFDIR, NULL, NULL },
		{ "bin/hello", AE_IFREG, "#!/bin/sh\necho hi\n", NULL },
		{ "bin/sh", AE_IFLNK, "/bin/busybox", NULL }, /* absolute symlink: fine in a rootfs */
		{ "bin/hello2", AE_IFREG, NULL, "bin/hello" },
	};
	make_tar(tar, m, ELEMENTSOF(m));
	assert_int_equal(digest_file(tar, want, &err), 0);

	if (import_file(f, "hello", tar, &a, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(a.digest, want);
	assert_string_equal(a.name, "hello");
	struct stat st;
	assert_int_equal(stat(tar, &st), 0);
	assert_int_equal(a.size, (uint64_t)st.st_size);

	cleanup_free char *rootfs = image_store_rootfs(f->s, &a);
	cleanup_free char *hello = path_join(rootfs, "bin/hello");
	cleanup_free char *text = NULL;
	assert_int_equal(read_file(hello, 100, &text, NULL, &err), 0);
	assert_string_equal(text, "#!/bin/sh\necho hi\n");

	/* the same content under a second name shares the data */
	assert_int_equal(import_file(f, "hello-too", tar, &b, &err), 0);
	assert_string_equal(b.digest, a.digest);

	assert_int_equal(image_store_get(f->s, "hello", &got, &err), 0);
	assert_string_equal(got.digest, want);
	assert_int_equal(image_store_get(f->s, want, &got, &err), 0);
	assert_int_equal(image_store_get(f->s, "nope", &got, &err), -ENOENT);
	assert_contains(err.msg, "image 'nope' not found");

	cleanup_free char *snap = snapshot(f);
	cleanup_free char *expect = NULL;
	assert_true(asprintf(&expect, "hello=%s;hello-too=%s;", want, want) > 0);
	assert_string_equal(snap, expect);

	/* removing one name keeps the data the other still points at */
	assert_int_equal(image_store_remove(f->s, "hello", &err), 0);
	assert_true(path_exists(hello));
	assert_int_equal(image_store_remove(f->s, "hello", &err), -ENOENT);
	assert_int_equal(image_store_remove(f->s, "hello-too", &err), 0);
	assert_false(path_exists(rootfs));
	cleanup_free char *empty = snapshot(f);
	assert_string_equal(empty, "");
}

static void expect_refused(struct fixture *f, const char *tag, const struct member *m, size_t n,
			   const char *why)
{
	cleanup_free char *tar = NULL, *before = snapshot(f);
	struct error err = { 0 };
	struct image_info info;

	assert_true(asprintf(&tar, "%s/%s.tar", f->dir, tag) > 0);
	make_tar(tar, m, n);
	int r = import_file(f, "bad", tar, &info, &err);
	if (r >= 0)
		fail_msg("%s: a bad archive was accepted", tag);
	assert_contains(err.msg, why);
	assert_contains(err.msg, "import image 'bad'");
	/* nothing changed: no name, no rootfs, no staging or temporary files */
	cleanup_free char *after = snapshot(f);
	assert_string_equal(before, after);
	cleanup_free char *tmpd = path_join(f->store_dir, "tmp");
	cleanup_free char *rootd = path_join(f->store_dir, "rootfs");
	unsigned long long size = 1;
	assert_int_equal(dir_size(tmpd, &size, &err), 0);
	assert_int_equal(size, 0);
	assert_int_equal(dir_size(rootd, &size, &err), 0);
	assert_int_equal(size, 0);
}

static void test_refuses_bad_archives(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *escape = path_join(f->dir, "escaped");

	const struct member dotdot[] = { { "ok", AE_IFREG, "x", NULL },
					 { "../escaped", AE_IFREG, "pwned", NULL } };
	expect_refused(f, "dotdot", dotdot, 2, "leaves the tree");
	assert_false(path_exists(escape));

	const struct member absolute[] = { { "/etc/evil", AE_IFREG, "x", NULL } };
	expect_refused(f, "absolute", absolute, 1, "absolute path");

	const struct member device[] = { { "dev/null", AE_IFCHR, NULL, NULL } };
	expect_refused(f, "device", device, 1, "device node");

	const struct member hardlink[] = { { "h", AE_IFREG, NULL, "../../etc/passwd" } };
	expect_refused(f, "hardlink", hardlink, 1, "outside the tree");

	/* writing through a symlink that points out of the tree */
	char target[4096];
	snprintf(target, sizeof(target), "%s", f->dir);
	const struct member through[] = { { "link", AE_IFLNK, target, NULL },
					  { "link/escaped", AE_IFREG, "pwned", NULL } };
	expect_refused(f, "symlink", through, 2, "cannot extract 'link/escaped'");
	assert_false(path_exists(escape));
}

static void test_refuses_bad_input(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *junk = path_join(f->dir, "junk.tar");
	cleanup_free char *empty = path_join(f->dir, "empty.tar");
	cleanup_free char *trunc = path_join(f->dir, "trunc.tar");
	struct error err = { 0 };
	struct image_info info;

	const char *bad_names[] = { "../x", "a/b", "", ".." };
	for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
		assert_int_equal(image_store_import(f->s, bad_names[i], 0, &info, &err), -EINVAL);
		assert_contains(err.msg, "invalid image name");
	}

	assert_int_equal(write_file_atomic(junk, "this is not a tar archive, not at all\n", 38, 0644,
					   &err), 0);
	assert_true(import_file(f, "junk", junk, &info, &err) < 0);
	assert_contains(err.msg, "import image 'junk'");

	assert_int_equal(write_file_atomic(empty, "", 0, 0644, &err), 0);
	assert_int_equal(import_file(f, "empty", empty, &info, &err), -EINVAL);
	assert_contains(err.msg, "empty");

	/* a truncated archive: a member's data cut short */
	const char *image = getenv("FERRY_TEST_IMAGE");
	if (image && path_exists(image)) {
		cleanup_free char *data = NULL;
		size_t len;
		assert_int_equal(read_file(image, 64u << 20, &data, &len, &err), 0);
		assert_int_equal(write_file_atomic(trunc, data, len / 2 + 17, 0644, &err), 0);
		assert_true(import_file(f, "trunc", trunc, &info, &err) < 0);
		assert_contains(err.msg, "import image 'trunc'");
	}
	cleanup_free char *snap = snapshot(f);
	assert_string_equal(snap, "");
}

static void test_layer(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *tar = path_join(f->dir, "l.tar");
	cleanup_free char *layer = path_join(f->dir, "layer");
	cleanup_free char *layer2 = path_join(f->dir, "layer2");
	struct error err = { 0 };
	struct image_info img;
	enum layer_mode mode;

	if (geteuid() != 0)
		skip();
	const struct member m[] = { { "etc", AE_IFDIR, NULL, NULL },
				    { "etc/base", AE_IFREG, "from the image\n", NULL } };
	make_tar(tar, m, ELEMENTSOF(m));
	assert_int_equal(import_file(f, "base", tar, &img, &err), 0);
	cleanup_free char *lower = image_store_rootfs(f->s, &img);

	if (layer_create(lower, layer, NULL, &mode, &err) < 0)
		fail_msg("%s", err.msg);
	cleanup_free char *written = path_join(layer, "rootfs/etc/new");
	cleanup_free char *base = path_join(layer, "rootfs/etc/base");
	assert_true(path_exists(base));
	assert_int_equal(write_file_atomic(written, "mine\n", 5, 0644, &err), 0);
	assert_int_equal(unlink(base), 0);

	/* the writes are told apart from the image, which is untouched */
	cleanup_free char *changes = layer_changes_dir(layer);
	cleanup_free char *in_upper = path_join(changes, "etc/new");
	cleanup_free char *in_image = path_join(lower, "etc/base");
	if (mode == LAYER_OVERLAY)
		assert_true(path_exists(in_upper));
	assert_true(path_exists(in_image));

	/* an image in use by a layer cannot be removed */
	if (mode == LAYER_OVERLAY) {
		assert_int_equal(image_store_remove(f->s, "base", &err), -EBUSY);
		assert_contains(err.msg, "in use");
	}

	/* a second layer seeded with the first one's changes sees them, deletion included */
	assert_int_equal(layer_create(lower, layer2, changes, &mode, &err), 0);
	cleanup_free char *written2 = path_join(layer2, "rootfs/etc/new");
	cleanup_free char *base2 = path_join(layer2, "rootfs/etc/base");
	assert_true(path_exists(written2));
	assert_false(path_exists(base2));

	assert_int_equal(layer_create(lower, layer2, NULL, &mode, &err), -EEXIST);
	assert_int_equal(layer_destroy(layer, &err), 0);
	assert_int_equal(layer_destroy(layer2, &err), 0);
	assert_false(path_exists(layer));
	assert_int_equal(layer_destroy(layer, &err), 0);
	assert_int_equal(image_store_remove(f->s, "base", &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_get_list_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_archives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

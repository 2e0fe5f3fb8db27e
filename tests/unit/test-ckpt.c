/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoint archives: rootfs diffs from overlayfs whiteouts, sealing, packing, verified unpacking. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tests.h"
#include "ferry/ckpt.h"
#include "ferry/cleanup.h"

static void put(const char *dir, const char *rel, const char *text)
{
	cleanup_free char *p = path_join(dir, rel);
	cleanup_free char *d = strdup(p);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755), 0);
	assert_int_equal(write_file_atomic(p, text, strlen(text), 0644, NULL), 0);
}

/* A sealed checkpoint tree: what the agent builds before packing. */
static char *tree(const char *base)
{
	char *dir = path_join(base, "tree");
	put(dir, "containers/c/checkpoint/pages-1.img", "pages pages pages");
	put(dir, "containers/c/checkpoint/inventory.img", "inventory");
	put(dir, "containers/c/config.dump", "{}");
	json_t *m = json_pack("{s:{s:{s:s}}}", "pod", "metadata", "name", "web");
	struct error err = { 0 };
	if (ckpt_seal(dir, m, &err) < 0)
		fail_msg("%s", err.msg);
	json_decref(m);
	return dir;
}

static void test_pack_unpack_roundtrip(void **state)
{
	char *base = tmpdir_new("ckpt");
	cleanup_free char *dir = tree(base);
	struct error err = { 0 };
	json_t *m = NULL;
	const char *const kinds[] = { "none", "gzip", "zstd" };

	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		cleanup_free char *out = NULL, *dest = NULL;
		assert_true(asprintf(&out, "%s/a-%s.tar", base, kinds[i]) > 0);
		assert_true(asprintf(&dest, "%s/unpacked-%s", base, kinds[i]) > 0);
		assert_int_equal(ckpt_pack(dir, tar_compression_from_string(kinds[i]), out, &err), 0);
		/* the manifest comes first: inspect reads only it */
		assert_int_equal(ckpt_read_manifest(out, &m, &err), 0);
		assert_int_equal(json_integer_value(json_object_get(m, "version")), CKPT_VERSION);
		json_decref(m);
		if (ckpt_unpack(out, dest, &m, &err) < 0)
			fail_msg("%s: %s", kinds[i], err.msg);
		cleanup_free char *pages = path_join(dest, "containers/c/checkpoint/pages-1.img");
		cleanup_free char *text = NULL;
		assert_int_equal(read_file(pages, 100, &text, NULL, &err), 0);
		assert_string_equal(text, "pages pages pages");
		assert_int_equal(json_object_size(json_object_get(m, "files")), 3);
		json_decref(m);
	}
	tmpdir_done(base);
}

static void test_tampering_is_refused_and_leaves_nothing(void **state)
{
	char *base = tmpdir_new("ckpt-bad");
	cleanup_free char *dir = tree(base);
	cleanup_free char *out = path_join(base, "a.tar"), *dest = path_join(base, "dest");
	cleanup_free char *data = NULL;
	struct error err = { 0 };
	json_t *m = NULL;
	size_t len;

	assert_int_equal(ckpt_pack(dir, TAR_COMPRESS_NONE, out, &err), 0);
	assert_int_equal(read_file(out, 1 << 20, &data, &len, &err), 0);

	/* a byte flipped in a file's data: its digest says so */
	char *hit = memmem(data, len, "pages pages", 11);
	assert_non_null(hit);
	hit[0] = 'P';
	cleanup_free char *flipped = path_join(base, "flipped.tar");
	assert_int_equal(write_file_atomic(flipped, data, len, 0600, &err), 0);
	assert_int_equal(ckpt_unpack(flipped, dest, &m, &err), -EBADMSG);
	assert_contains(err.msg, "containers/c/checkpoint/pages-1.img' does not match its digest");
	assert_false(path_exists(dest));

	/* cut short */
	hit[0] = 'p';
	cleanup_free char *cut = path_join(base, "cut.tar");
	assert_int_equal(write_file_atomic(cut, data, len / 3, 0600, &err), 0);
	assert_int_equal(ckpt_unpack(cut, dest, &m, &err), -EBADMSG);
	assert_false(path_exists(dest));

	/* not a ferry checkpoint at all */
	cleanup_free char *other = path_join(base, "other");
	put(other, "manifest.json", "{\"format\": \"something-else\", \"version\": 1}");
	cleanup_free char *otar = path_join(base, "other.tar");
	assert_int_equal(tar_create(other, NULL, TAR_COMPRESS_NONE, NULL, NULL, otar, &err), 0);
	assert_int_equal(ckpt_unpack(otar, dest, &m, &err), -EBADMSG);
	assert_contains(err.msg, "not a ferry checkpoint");
	assert_false(path_exists(dest));
	tmpdir_done(base);
}

static void test_rootfs_diff_from_whiteouts(void **state)
{
	if (geteuid() != 0)
		skip(); /* whiteouts are character devices: mknod needs root */
	char *base = tmpdir_new("diff");
	cleanup_free char *upper = path_join(base, "upper"), *out = path_join(base, "out");
	cleanup_free char *rootfs = path_join(base, "rootfs");
	cleanup_free char *wh = path_join(upper, "etc/gone");
	struct error err = { 0 };

	put(upper, "etc/added", "new\n");
	assert_int_equal(mknod(wh, S_IFCHR | 0000, makedev(0, 0)), 0);
	put(rootfs, "etc/gone", "old\n");
	put(rootfs, "etc/kept", "kept\n");
	assert_int_equal(mkdir_p(out, 0700), 0);
	unsigned long long size = 0;
	assert_int_equal(ckpt_rootfs_diff(upper, out, &size, &err), 0);
	assert_true(size > 0);
	cleanup_free char *del = path_join(out, "deleted.files"), *text = NULL;
	assert_int_equal(read_file(del, 4096, &text, NULL, &err), 0);
	assert_contains(text, "/etc/gone");

	assert_int_equal(ckpt_rootfs_apply(out, rootfs, &err), 0);
	cleanup_free char *added = path_join(rootfs, "etc/added");
	cleanup_free char *gone = path_join(rootfs, "etc/gone");
	cleanup_free char *kept = path_join(rootfs, "etc/kept");
	assert_true(path_exists(added));
	assert_false(path_exists(gone));
	assert_true(path_exists(kept));

	/* a deleted.files that points out of the container is refused */
	assert_int_equal(write_file_atomic(del, "[\"/../../etc/passwd\"]", 21, 0600, &err), 0);
	assert_int_equal(ckpt_rootfs_apply(out, rootfs, &err), -EBADMSG);
	assert_contains(err.msg, "is not a path in the container");
	tmpdir_done(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pack_unpack_roundtrip),
		cmocka_unit_test(test_tampering_is_refused_and_leaves_nothing),
		cmocka_unit_test(test_rootfs_diff_from_whiteouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

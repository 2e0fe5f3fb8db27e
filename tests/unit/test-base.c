/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/digest.h"
#include "ferry/lines.h"
#include "ferry/spawn.h"

static void test_error_set_and_wrap(void **state)
{
	struct error err = { 0 };

	assert_int_equal(error_set(&err, ENOENT, "cannot open image '%s'", "x"), -ENOENT);
	assert_string_equal(err.msg, "cannot open image 'x': No such file or directory");
	assert_int_equal(error_wrap(&err, "create container '%s'", "c1"), -ENOENT);
	assert_string_equal(err.msg,
			    "create container 'c1': cannot open image 'x': No such file or directory");
	assert_int_equal(error_setx(&err, -EPERM, "runc said %d", 3), -EPERM);
	assert_string_equal(err.msg, "runc said 3");
	assert_int_equal(err.code, EPERM);
	error_clear(&err);
	assert_false(error_is_set(&err));
	/* NULL error: still the right return value */
	assert_int_equal(error_set(NULL, EIO, "x"), -EIO);
	assert_int_equal(error_set(&err, 0, "no code"), -EIO);
}

static void test_names(void **state)
{
	const char *good_labels[] = { "a", "pod-1", "x0", "abc-def-123" };
	const char *bad_labels[] = { "", "-a", "a-", "A", "a_b", "a/b", "..", "a.b",
				     "0123456789012345678901234567890123456789012345678901234567890123" };
	for (size_t i = 0; i < ELEMENTSOF(good_labels); i++)
		assert_true(name_is_dns_label(good_labels[i]));
	for (size_t i = 0; i < ELEMENTSOF(bad_labels); i++)
		if (name_is_dns_label(bad_labels[i]))
			fail_msg("'%s' accepted as a DNS label", bad_labels[i]);
	assert_false(name_is_dns_label(NULL));

	const char *good[] = { "busybox", "img:1.0", "a_b.c-d", "C1" };
	const char *bad[] = { "", ".", "..", "a/b", "/abs", "a..b", "-x", ".hidden", "x y", "a\n" };
	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		if (!name_is_valid(good[i]))
			fail_msg("'%s' refused as a name", good[i]);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (name_is_valid(bad[i]))
			fail_msg("'%s' accepted as a name", bad[i]);
}

static void test_path_join(void **state)
{
	cleanup_free char *a = path_join("/x/", "/y"), *b = path_join("/", "z"),
			  *c = path_join("rel", "f");
	assert_string_equal(a, "/x/y");
	assert_string_equal(b, "/z");
	assert_string_equal(c, "rel/f");
}

static void test_files(void **state)
{
	char *dir = tmpdir_new("files");
	cleanup_free char *f = path_join(dir, "a/b/c/file");
	cleanup_free char *sub = path_join(dir, "a/b/c");
	cleanup_free char *data = NULL;
	struct error err = { 0 };
	size_t len;

	assert_int_equal(mkdir_p(sub, 0755), 0);
	assert_int_equal(mkdir_p(sub, 0755), 0); /* idempotent */
	assert_int_equal(write_file_atomic(f, "hello", 5, 0600, &err), 0);
	assert_int_equal(read_file(f, 100, &data, &len, &err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(TAKE_PTR(data));

	/* too large for the limit: refused with a message */
	assert_int_equal(read_file(f, 3, &data, &len, &err), -EFBIG);
	assert_contains(err.msg, "larger than 3 bytes");
	assert_int_equal(read_file("/nonexistent/x", 3, &data, &len, &err), -ENOENT);
	assert_contains(err.msg, "/nonexistent/x");

	unsigned long long size = 0;
	assert_int_equal(dir_size(dir, &size, &err), 0);
	assert_int_equal(size, 5);

	/* rm_rf does not follow symlinks out of the tree */
	char *outside = tmpdir_new("outside");
	cleanup_free char *victim = path_join(outside, "keep");
	cleanup_free char *link = path_join(dir, "a/link");
	assert_int_equal(write_file_atomic(victim, "x", 1, 0600, &err), 0);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(rm_rf(dir, &err), 0);
	assert_false(path_exists(dir));
	assert_true(path_exists(victim));
	assert_int_equal(rm_rf(dir, &err), 0); /* missing is success */
	tmpdir_done(outside);
	free(dir);
}

static void test_rm_rf_stops_at_mounts(void **state)
{
	if (geteuid() != 0)
		skip();
	char *dir = tmpdir_new("mnt");
	cleanup_free char *m = path_join(dir, "m");
	cleanup_free char *inside = path_join(dir, "m/precious");
	struct error err = { 0 };

	assert_int_equal(mkdir_p(m, 0755), 0);
	assert_int_equal(mount("tmpfs", m, "tmpfs", 0, NULL), 0);
	assert_int_equal(write_file_atomic(inside, "x", 1, 0600, &err), 0);
	assert_int_equal(rm_rf(dir, &err), -EBUSY);
	assert_contains(err.msg, "mount point");
	assert_true(path_exists(inside));
	assert_int_equal(umount(m), 0);
	tmpdir_done(dir);
}

static void test_spawn_status_and_capture(void **state)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct error err = { 0 };
	const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };

	assert_int_equal(spawn_run(argv, &o, &res, &err), 0);
	assert_int_equal(res.status, 3);
	assert_false(res.timed_out);
	assert_string_equal(res.out, "out\n");
	assert_string_equal(res.err, "err");
	spawn_result_done(&res);

	const char *missing[] = { "/nonexistent/program", NULL };
	assert_true(spawn_run(missing, &o, &res, &err) < 0);
	assert_contains(err.msg, "/nonexistent/program");
}

static void test_spawn_deadline_kills_group(void **state)
{
	char *dir = tmpdir_new("spawn");
	cleanup_free char *pidf = path_join(dir, "pid");
	cleanup_free char *script = NULL;
	cleanup_free char *text = NULL;
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct error err = { 0 };

	/* A grandchild in the same group, as CRIU is under runc. */
	assert_true(asprintf(&script, "sleep 100 & echo $! > %s; wait", pidf) > 0);
	const char *argv[] = { "sh", "-c", script, NULL };
	o.timeout_ms = 300;
	unsigned long long t0 = now_ns();
	assert_int_equal(spawn_run(argv, &o, &res, &err), 0);
	assert_true(res.timed_out);
	assert_int_equal(res.status, 128 + SIGKILL);
	assert_true(now_ns() - t0 < 5000000000ULL);
	spawn_result_done(&res);

	assert_int_equal(read_file(pidf, 64, &text, NULL, &err), 0);
	pid_t gc = (pid_t)atoi(text);
	assert_true(gc > 0);
	/* The grandchild got SIGKILL too (it may linger as a zombie of init). */
	for (int i = 0; i < 100 && kill(gc, 0) == 0; i++) {
		char st[64];
		snprintf(st, sizeof(st), "/proc/%d/stat", gc);
		cleanup_free char *s = NULL;
		if (read_file(st, 4096, &s, NULL, NULL) < 0 || strstr(s, ") Z "))
			break;
		usleep(20000);
	}
	char st[64];
	snprintf(st, sizeof(st), "/proc/%d/stat", gc);
	cleanup_free char *s = NULL;
	if (read_file(st, 4096, &s, NULL, NULL) == 0 && !strstr(s, ") Z "))
		fail_msg("grandchild %d survived the deadline: %s", gc, s);
	tmpdir_done(dir);
}

static void test_spawn_keep_fds(void **state)
{
	int p[2];
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct error err = { 0 };
	char fdarg[64], buf[16] = "";

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(fdarg, sizeof(fdarg), "echo hi >&%d", p[1]);
	const char *argv[] = { "sh", "-c", fdarg, NULL };
	o.keep_fds = &p[1];
	o.n_keep_fds = 1;
	assert_int_equal(spawn_run(argv, &o, &res, &err), 0);
	assert_int_equal(res.status, 0);
	close(p[1]);
	assert_int_equal(read(p[0], buf, sizeof(buf) - 1), 3);
	assert_string_equal(buf, "hi\n");
	close(p[0]);
	spawn_result_done(&res);

	/* Without keep_fds, the same fd is closed in the child. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(fdarg, sizeof(fdarg), "echo hi >&%d", p[1]);
	o.n_keep_fds = 0;
	assert_int_equal(spawn_run(argv, &o, &res, &err), 0);
	assert_int_not_equal(res.status, 0);
	close(p[0]);
	close(p[1]);
	spawn_result_done(&res);
}

static void test_digest(void **state)
{
	char *dir = tmpdir_new("digest");
	cleanup_free char *f = path_join(dir, "abc");
	struct error err = { 0 };
	char d[DIGEST_STR_LEN + 1];

	assert_int_equal(write_file_atomic(f, "abc", 3, 0600, &err), 0);
	assert_int_equal(digest_file(f, d, &err), 0);
	assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(digest_is_valid(d));
	assert_false(digest_is_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	assert_false(digest_is_valid("sha256:ba78"));
	assert_false(digest_is_valid("md5:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(digest_is_valid(NULL));
	assert_int_equal(digest_file("/nonexistent", d, &err), -ENOENT);
	tmpdir_done(dir);
}

static void test_lines(void **state)
{
	int p[2];
	struct line_reader lr;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	line_reader_init(&lr, p[0]);
	assert_int_equal(write(p[1], "one\ntwo\nthr", 11), 11);
	assert_int_equal(line_reader_next(&lr, 100), 0);
	assert_string_equal(lr.line, "one");
	assert_int_equal(line_reader_next(&lr, 100), 0);
	assert_string_equal(lr.line, "two");
	assert_int_equal(line_reader_next(&lr, 50), -ETIMEDOUT);
	assert_int_equal(write(p[1], "ee\nready x\n", 11), 11);
	assert_int_equal(line_reader_expect(&lr, "ready", 100), 0);
	assert_string_equal(lr.line, "ready x");
	assert_int_equal(write(p[1], "last", 4), 4);
	close(p[1]);
	assert_int_equal(line_reader_next(&lr, 100), 0);
	assert_string_equal(lr.line, "last");
	assert_int_equal(line_reader_next(&lr, 100), -EPIPE);
	close(p[0]);
}

static void test_format_bytes(void **state)
{
	char b[32];
	assert_string_equal(format_bytes(512, b, sizeof(b)), "512 B");
	assert_string_equal(format_bytes(1536, b, sizeof(b)), "1.5 KiB");
	assert_string_equal(format_bytes(64ULL << 20, b, sizeof(b)), "64.0 MiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_set_and_wrap),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_rm_rf_stops_at_mounts),
		cmocka_unit_test(test_spawn_status_and_capture),
		cmocka_unit_test(test_spawn_deadline_kills_group),
		cmocka_unit_test(test_spawn_keep_fds),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_format_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

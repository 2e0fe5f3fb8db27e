/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End to end: the runtime service with real runc and real CRIU. Two "nodes"
 * on this machine (each its own runc root, cgroup parent, network namespace
 * and writable layers), the test image, and the statekeeper workload, which
 * checks its own state (memory, an appended file, a child over pipes, a
 * timer) when sent SIGUSR1, in the manner of CRIU's zdtm tests.
 *
 * Needs root, runc and the CRIU that scripts/setup installs; skips (77) and
 * says why otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/tests.h"
#include "ferry/cleanup.h"
#include "ferry/image.h"
#include "ferry/lines.h"
#include "ferry/metrics.h"
#include "ferry/netns.h"
#include "ferry/runtime.h"
#include "ferry/spawn.h"

struct node {
	char name[8];
	char dir[256], cgroup_parent[64];
	struct metrics *metrics;
	struct runtime *rt;
};

/*
 * A container, with a network namespace of its own as a pod would have: after
 * a checkpoint that stops it, CRIU leaves that namespace locked (an iptables
 * chain that drops everything, so that peers see no reset).
 */
struct ctr {
	struct node *node;
	char id[32];
	char layer[512];
	char netns[600];
	int out, in;		/* our ends of its stdout and stdin pipes */
	struct line_reader lr;
};

struct world {
	char *dir;
	struct image_store *images;
	struct image_info image;
	struct node a, b;
};

static struct world W;

static void node_init(struct node *n, const char *name)
{
	struct error err = { 0 };
	char root[512];

	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->dir, sizeof(n->dir), "%s/%s", W.dir, name);
	snprintf(n->cgroup_parent, sizeof(n->cgroup_parent), "ferry-e2e-%d-%s", (int)getpid(),
		 name);
	snprintf(root, sizeof(root), "%s/runc", n->dir);
	assert_int_equal(mkdir_p(n->dir, 0700), 0);
	assert_int_equal(metrics_new(&n->metrics), 0);
	struct runtime_config cfg = { .root = root, .cgroup_parent = n->cgroup_parent,
				      .metrics = n->metrics, .timeout_ms = 60000 };
	if (runtime_new(&cfg, &n->rt, &err) < 0)
		fail_msg("node %s: %s", name, err.msg);
}

static void node_done(struct node *n)
{
	struct error err = { 0 };
	if (runtime_remove_cgroup_parent(n->rt, &err) < 0)
		fprintf(stderr, "cleanup: %s\n", err.msg);
	runtime_free(n->rt);
	metrics_free(n->metrics);
}

static int group_setup(void **state)
{
	struct error err = { 0 };
	const char *image = getenv("FERRY_TEST_IMAGE");

	if (geteuid() != 0) {
		fprintf(stderr, "skip: the end-to-end tests need root\n");
		exit(77);
	}
	if (access(RUNTIME_DEFAULT_CRIU, X_OK) < 0) {
		fprintf(stderr, "skip: no CRIU at %s: run scripts/setup\n", RUNTIME_DEFAULT_CRIU);
		exit(77);
	}
	if (!image || !path_exists(image))
		fail_msg("FERRY_TEST_IMAGE is not set to the test image");

	W.dir = tmpdir_new("e2e");
	cleanup_free char *store = path_join(W.dir, "images");
	cleanup_close int fd = open(image, O_RDONLY | O_CLOEXEC);
	if (image_store_open(store, &W.images, &err) < 0 ||
	    image_store_import(W.images, "test", fd, &W.image, &err) < 0)
		fail_msg("%s", err.msg);
	node_init(&W.a, "a");
	node_init(&W.b, "b");
	return 0;
}

static int group_teardown(void **state)
{
	node_done(&W.a);
	node_done(&W.b);
	image_store_free(W.images);
	tmpdir_done(W.dir);
	return 0;
}

/* A bundle for id on node n, optionally seeded with another layer's changes. */
static void bundle(struct ctr *c, struct node *n, const char *id, const char *const args[],
		   const char *seed)
{
	struct error err = { 0 };
	cleanup_free char *lower = image_store_rootfs(W.images, &W.image);
	struct container_config cc = { .args = args, .ns = { .network = c->netns } };

	c->node = n;
	c->out = c->in = -1;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->layer, sizeof(c->layer), "%s/containers/%s", n->dir, id);
	snprintf(c->netns, sizeof(c->netns), "%s/netns-%s", n->dir, id);
	if (netns_create(c->netns, &err) < 0 || layer_create(lower, c->layer, seed, NULL, &err) < 0 ||
	    runtime_bundle_write(n->rt, id, &cc, c->layer, &err) < 0)
		fail_msg("bundle %s on %s: %s", id, n->name, err.msg);
}

/* New stdio pipes for c: fills stdio with the container's ends. */
static void pipes(struct ctr *c, int stdio[3])
{
	int in[2], out[2];
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	if (c->out >= 0)
		close(c->out);
	if (c->in >= 0)
		close(c->in);
	stdio[0] = in[0];
	stdio[1] = out[1];
	stdio[2] = out[1];
	c->in = in[1];
	c->out = out[0];
	line_reader_init(&c->lr, c->out);
}

static void given(int stdio[3])
{
	close(stdio[0]);
	close(stdio[1]);
}

static void start(struct ctr *c, struct node *n, const char *id, const char *const args[])
{
	struct error err = { 0 };
	int stdio[3];
	pid_t pid = 0;

	bundle(c, n, id, args, NULL);
	pipes(c, stdio);
	if (runtime_create(n->rt, id, c->layer, stdio, &pid, &err) < 0)
		fail_msg("%s", err.msg);
	given(stdio);
	assert_true(pid > 0);
	if (runtime_start(n->rt, id, &err) < 0)
		fail_msg("%s", err.msg);
}

static void ctr_done(struct ctr *c)
{
	struct error err = { 0 };
	if (runtime_delete(c->node->rt, c->id, true, &err) < 0)
		fail_msg("delete %s: %s", c->id, err.msg);
	if (layer_destroy(c->layer, &err) < 0 || netns_remove(c->netns, &err) < 0)
		fail_msg("%s", err.msg);
	if (c->out >= 0)
		close(c->out);
	if (c->in >= 0)
		close(c->in);
}

static long long last_count(struct ctr *c, int ms)
{
	unsigned long long end = now_ns() + (unsigned long long)ms * 1000000ULL;
	long long v = -1, x;
	while (now_ns() < end)
		if (line_reader_next(&c->lr, 100) == 0 && sscanf(c->lr.line, "count %lld", &x) == 1)
			v = x;
	return v;
}

/* Asks the workload to check itself; returns its count. */
static long long check_ok(struct ctr *c)
{
	struct error err = { 0 };
	long long count = -1;

	if (runtime_kill(c->node->rt, c->id, SIGUSR1, false, &err) < 0)
		fail_msg("%s", err.msg);
	if (line_reader_expect(&c->lr, "check", 15000) < 0)
		fail_msg("%s: no answer to the check", c->id);
	if (strncmp(c->lr.line, "check ok", 8) != 0)
		fail_msg("%s: %s", c->id, c->lr.line);
	assert_int_equal(sscanf(c->lr.line, "check ok count=%lld", &count), 1);
	return count;
}

static enum container_status status(struct node *n, const char *id)
{
	struct container_state st;
	struct error err = { 0 };
	if (runtime_state(n->rt, id, &st, &err) < 0)
		return _CONTAINER_STATUS_INVALID;
	return st.status;
}

static bool cgroup_exists(struct node *n, const char *id)
{
	char pattern[512];
	glob_t g;
	snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/*/%s/%s", n->cgroup_parent, id);
	bool found = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0;
	globfree(&g);
	if (!found) {
		snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/%s/%s", n->cgroup_parent, id);
		found = path_exists(pattern);
	}
	return found;
}

static double op_count(struct node *n, const char *family, const char *op)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	metrics_render(n->metrics, f);
	fclose(f);
	char needle[256];
	snprintf(needle, sizeof(needle), "%s{operation_type=\"%s\"} ", family, op);
	const char *p = strstr(text, needle);
	return p ? strtod(p + strlen(needle), NULL) : 0;
}

static const char *const statekeeper[] = { "/usr/bin/statekeeper", "-m", "32", "-i", "20", "-r",
					   "5", NULL };

/* ---------------------------------------------------------------- tests */

static void test_checkpoint_restore_on_other_root(void **state)
{
	struct ctr a, b;
	struct error err = { 0 };
	char images[512];
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	struct runtime_op_stats stats = { 0 };
	int stdio[3];
	pid_t pid = 0;

	start(&a, &W.a, "keeper", statekeeper);
	if (line_reader_expect(&a.lr, "ready", 10000) < 0)
		fail_msg("the workload did not start");
	long long before = last_count(&a, 1000);
	assert_true(before > 0);
	check_ok(&a);

	snprintf(images, sizeof(images), "%s/ckpt-keeper", W.a.dir);
	co.image_dir = images;
	if (runtime_checkpoint(W.a.rt, "keeper", &co, &stats, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(stats.elapsed_ns > 0);
	/* runc destroys a checkpointed container (unless --leave-running) */
	assert_int_equal(status(&W.a, "keeper"), _CONTAINER_STATUS_INVALID);
	assert_false(cgroup_exists(&W.a, "keeper"));
	cleanup_free char *inventory = path_join(images, "inventory.img");
	assert_true(path_exists(inventory));

	/* restore on node b, with node a's writes */
	cleanup_free char *changes = layer_changes_dir(a.layer);
	bundle(&b, &W.b, "keeper", statekeeper, changes);
	pipes(&b, stdio);
	struct restore_opts ro = { .image_dir = images, .bundle_dir = b.layer };
	if (runtime_restore(W.b.rt, "keeper", &ro, stdio, &pid, &stats, &err) < 0)
		fail_msg("%s", err.msg);
	given(stdio);
	assert_true(pid > 0);
	assert_int_equal(status(&W.b, "keeper"), CONTAINER_RUNNING);
	ctr_done(&a);

	long long after = check_ok(&b);
	if (after <= before)
		fail_msg("count went from %lld to %lld", before, after);

	/* the image's files and the container's writes are both there */
	int code = -1;
	cleanup_free char *out = NULL;
	const char *const cat[] = { "cat", "/etc/image-file", NULL };
	if (runtime_exec(W.b.rt, "keeper", cat, 10000, &code, &out, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(code, 0);
	assert_string_equal(out, "this file is part of the image\n");
	free(TAKE_PTR(out));
	const char *const t[] = { "test", "-s", "/data/ticks.log", NULL };
	assert_int_equal(runtime_exec(W.b.rt, "keeper", t, 10000, &code, NULL, &err), 0);
	assert_int_equal(code, 0);
	const char *const f[] = { "sh", "-c", "exit 7", NULL };
	assert_int_equal(runtime_exec(W.b.rt, "keeper", f, 10000, &code, NULL, &err), 0);
	assert_int_equal(code, 7);

	/* the metrics show what happened on each node */
	assert_true(op_count(&W.a, "ferry_runtime_operations_total", "checkpoint") == 1);
	assert_true(op_count(&W.a, "ferry_runtime_operations_total", "create") >= 1);
	assert_true(op_count(&W.b, "ferry_runtime_operations_total", "restore") == 1);
	assert_true(op_count(&W.b, "ferry_runtime_operations_errors_total", "restore") == 0);
	assert_true(op_count(&W.a, "ferry_runtime_operations_duration_seconds_count", "checkpoint") == 1);

	ctr_done(&b);
	assert_false(cgroup_exists(&W.b, "keeper"));
	assert_int_equal(status(&W.b, "keeper"), _CONTAINER_STATUS_INVALID);
	assert_int_equal(rm_rf(images, &err), 0);
}

static void test_leave_running_snapshot(void **state)
{
	struct ctr a, b;
	struct error err = { 0 };
	char images[512];
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	int stdio[3];
	pid_t pid;

	start(&a, &W.a, "snap", statekeeper);
	assert_int_equal(line_reader_expect(&a.lr, "ready", 10000), 0);
	(void)last_count(&a, 500);
	snprintf(images, sizeof(images), "%s/ckpt-snap", W.a.dir);
	co.image_dir = images;
	co.leave_running = true;
	/*
	 * A snapshot of a running container: its writable layer must be taken
	 * while it is frozen, or the copy holds appends the memory image does
	 * not know of. So: pause, dump, copy the layer, resume.
	 */
	if (runtime_pause(W.a.rt, "snap", &err) < 0 ||
	    runtime_checkpoint(W.a.rt, "snap", &co, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(status(&W.a, "snap"), CONTAINER_PAUSED);
	cleanup_free char *changes = layer_changes_dir(a.layer);
	bundle(&b, &W.b, "snap", statekeeper, changes);
	if (runtime_resume(W.a.rt, "snap", &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(status(&W.a, "snap"), CONTAINER_RUNNING);

	pipes(&b, stdio);
	struct restore_opts ro = { .image_dir = images, .bundle_dir = b.layer };
	if (runtime_restore(W.b.rt, "snap", &ro, stdio, &pid, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	given(stdio);

	/* both run on, each with intact state */
	check_ok(&a);
	check_ok(&b);
	ctr_done(&a);
	ctr_done(&b);
	assert_int_equal(rm_rf(images, &err), 0);
}

static void test_errors_are_clear(void **state)
{
	struct error err = { 0 };
	struct container_state st;
	struct image_info info;
	char empty[512];
	int stdio[3];
	pid_t pid;

	/* a missing image */
	assert_int_equal(image_store_get(W.images, "no-such-image", &info, &err), -ENOENT);
	assert_contains(err.msg, "image 'no-such-image' not found");

	/* an unknown container */
	assert_int_equal(runtime_state(W.a.rt, "ghost", &st, &err), -ENOENT);
	assert_contains(err.msg, "runc state 'ghost' failed");
	assert_contains(err.msg, "does not exist");
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	snprintf(empty, sizeof(empty), "%s/empty-images", W.a.dir);
	co.image_dir = empty;
	assert_true(runtime_checkpoint(W.a.rt, "ghost", &co, NULL, &err) < 0);
	assert_contains(err.msg, "runc checkpoint 'ghost' failed");
	assert_int_equal(runtime_delete(W.a.rt, "ghost", true, &err), 0);
	assert_int_equal(runtime_state(W.a.rt, "../x", &st, &err), -EINVAL);

	/* a command that is not in the image: runc's own message comes through */
	struct ctr c;
	const char *const nope[] = { "/usr/bin/no-such-program", NULL };
	bundle(&c, &W.a, "noprog", nope, NULL);
	pipes(&c, stdio);
	assert_true(runtime_create(W.a.rt, "noprog", c.layer, stdio, &pid, &err) < 0);
	given(stdio);
	assert_contains(err.msg, "runc create 'noprog' failed");
	assert_contains(err.msg, "no-such-program");
	ctr_done(&c);
	assert_false(cgroup_exists(&W.a, "noprog"));

	/* CRIU fails: restore from a directory with no images */
	struct ctr r;
	bundle(&r, &W.b, "fromnothing", statekeeper, NULL);
	pipes(&r, stdio);
	assert_int_equal(mkdir_p(empty, 0700), 0);
	struct restore_opts ro = { .image_dir = empty, .bundle_dir = r.layer };
	assert_true(runtime_restore(W.b.rt, "fromnothing", &ro, stdio, &pid, NULL, &err) < 0);
	given(stdio);
	assert_contains(err.msg, "runc restore 'fromnothing' failed");
	assert_contains(err.msg, "CRIU log");
	assert_contains(err.msg, "restore.log");
	assert_int_equal(status(&W.b, "fromnothing"), _CONTAINER_STATUS_INVALID);
	assert_false(cgroup_exists(&W.b, "fromnothing"));
	assert_true(op_count(&W.b, "ferry_runtime_operations_errors_total", "restore") >= 1);
	ctr_done(&r);

	/* restore from a directory that does not exist */
	ro.image_dir = "/nonexistent/images";
	assert_true(runtime_restore(W.b.rt, "fromnothing", &ro, stdio, &pid, NULL, &err) < 0);
	assert_contains(err.msg, "/nonexistent/images");
}

static void test_file_locks_need_the_option(void **state)
{
	struct ctr a;
	struct error err = { 0 };
	char images[512];
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	const char *const locker[] = { "/usr/bin/statekeeper", "-m", "1", "-l", "/data/lock",
				       "-r", "1", NULL };
	struct ctr b;
	int stdio[3];
	pid_t pid;

	start(&a, &W.a, "locker", locker);
	assert_int_equal(line_reader_expect(&a.lr, "ready", 10000), 0);
	check_ok(&a);
	snprintf(images, sizeof(images), "%s/ckpt-locker", W.a.dir);
	co.image_dir = images;
	assert_true(runtime_checkpoint(W.a.rt, "locker", &co, NULL, &err) < 0);
	assert_contains(err.msg, "runc checkpoint 'locker' failed");
	assert_contains(err.msg, "dump.log");
	assert_contains(err.msg, "file_locks");
	/* a refused dump is harmless: the container runs on, not paused */
	assert_int_equal(status(&W.a, "locker"), CONTAINER_RUNNING);

	check_ok(&a);

	/* with the option, at dump and restore, the lock travels */
	co.file_locks = true;
	assert_int_equal(rm_rf(images, &err), 0);
	if (runtime_checkpoint(W.a.rt, "locker", &co, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	cleanup_free char *changes = layer_changes_dir(a.layer);
	bundle(&b, &W.b, "locker", locker, changes);
	ctr_done(&a);
	pipes(&b, stdio);
	struct restore_opts ro = { .image_dir = images, .bundle_dir = b.layer, .file_locks = true };
	if (runtime_restore(W.b.rt, "locker", &ro, stdio, &pid, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	given(stdio);
	check_ok(&b);
	ctr_done(&b);
	assert_int_equal(rm_rf(images, &err), 0);
}

/*
 * An established TCP connection: refused without tcp_established (with a
 * hint), kept with it, and restored in node b's namespace (lo up there).
 */
static void test_tcp_established(void **state)
{
	struct ctr a, b;
	struct error err = { 0 };
	char images[512];
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	const char *const tcp[] = { "/usr/bin/statekeeper", "-m", "1", "-t", "-r", "1", NULL };
	int stdio[3];
	pid_t pid;

	start(&a, &W.a, "tcp", tcp);
	assert_int_equal(line_reader_expect(&a.lr, "ready", 10000), 0);
	snprintf(images, sizeof(images), "%s/ckpt-tcp", W.a.dir);
	co.image_dir = images;
	assert_true(runtime_checkpoint(W.a.rt, "tcp", &co, NULL, &err) < 0);
	assert_contains(err.msg, "tcp_established");
	assert_int_equal(status(&W.a, "tcp"), CONTAINER_RUNNING);
	check_ok(&a);

	co.tcp_established = true;
	assert_int_equal(rm_rf(images, &err), 0);
	if (runtime_checkpoint(W.a.rt, "tcp", &co, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	cleanup_free char *changes = layer_changes_dir(a.layer);
	bundle(&b, &W.b, "tcp", tcp, changes);
	ctr_done(&a);
	pipes(&b, stdio);
	struct restore_opts ro = { .image_dir = images, .bundle_dir = b.layer,
				   .tcp_established = true };
	if (runtime_restore(W.b.rt, "tcp", &ro, stdio, &pid, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	given(stdio);
	long long before = check_ok(&b);
	assert_true(last_count(&b, 300) > before);
	check_ok(&b);
	ctr_done(&b);
	assert_int_equal(rm_rf(images, &err), 0);
}

/*
 * A truncated pages image makes `criu restore` spin for ever (docs/criu.md):
 * the deadline must end it, and nothing of the attempt may be left.
 */
static void test_truncated_image_restore_is_bounded(void **state)
{
	struct ctr a, b;
	struct error err = { 0 };
	char images[512];
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	int stdio[3];
	pid_t pid;
	glob_t g;

	start(&a, &W.a, "trunc", statekeeper);
	assert_int_equal(line_reader_expect(&a.lr, "ready", 10000), 0);
	snprintf(images, sizeof(images), "%s/ckpt-trunc", W.a.dir);
	co.image_dir = images;
	if (runtime_checkpoint(W.a.rt, "trunc", &co, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	cleanup_free char *changes = layer_changes_dir(a.layer);

	char pattern[600];
	snprintf(pattern, sizeof(pattern), "%s/pages-*.img", images);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct stat st;
		assert_int_equal(stat(g.gl_pathv[i], &st), 0);
		assert_int_equal(truncate(g.gl_pathv[i], st.st_size / 2), 0);
	}
	globfree(&g);

	bundle(&b, &W.b, "trunc", statekeeper, changes);
	ctr_done(&a);
	pipes(&b, stdio);
	struct restore_opts ro = { .image_dir = images, .bundle_dir = b.layer, .timeout_ms = 15000 };
	unsigned long long t0 = now_ns();
	int r = runtime_restore(W.b.rt, "trunc", &ro, stdio, &pid, NULL, &err);
	given(stdio);
	if (r >= 0) {
		/* CRIU may also notice in time and the task die on its first fault */
		fail_msg("a restore from a truncated image succeeded");
	}
	assert_true(now_ns() - t0 < 40ULL * 1000000000ULL);
	assert_contains(err.msg, "runc restore 'trunc'");
	assert_int_equal(status(&W.b, "trunc"), _CONTAINER_STATUS_INVALID);
	assert_false(cgroup_exists(&W.b, "trunc"));
	ctr_done(&b);
	assert_int_equal(rm_rf(images, &err), 0);
}

/*
 * A stopped task makes `runc checkpoint` hang (docs/criu.md); killed at the
 * deadline, runc leaves the container frozen. The runtime must thaw it: after
 * a failed checkpoint the workload runs on with its state intact.
 */
static void test_failed_checkpoint_leaves_container_running(void **state)
{
	struct ctr a;
	struct error err = { 0 };
	struct container_state st;
	char images[512], procs[512];
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	int child = 0;

	start(&a, &W.a, "stopped", statekeeper);
	assert_int_equal(line_reader_expect(&a.lr, "ready", 10000), 0);
	assert_int_equal(runtime_state(W.a.rt, "stopped", &st, &err), 0);

	/* the workload's child: the task in the container's cgroup that is not init */
	snprintf(procs, sizeof(procs), "/sys/fs/cgroup/pids/%s/stopped/cgroup.procs",
		 W.a.cgroup_parent);
	FILE *f = fopen(procs, "re");
	if (!f) {
		snprintf(procs, sizeof(procs), "/sys/fs/cgroup/%s/stopped/cgroup.procs",
			 W.a.cgroup_parent);
		f = fopen(procs, "re");
	}
	assert_non_null(f);
	int pid;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid != st.pid)
			child = pid;
	fclose(f);
	assert_true(child > 0);
	assert_int_equal(kill(child, SIGSTOP), 0);

	snprintf(images, sizeof(images), "%s/ckpt-stopped", W.a.dir);
	co.image_dir = images;
	co.timeout_ms = 8000;
	int r = runtime_checkpoint(W.a.rt, "stopped", &co, NULL, &err);
	assert_int_equal(kill(child, SIGCONT), 0);
	if (r >= 0)
		fail_msg("a checkpoint with a stopped task succeeded (CRIU learned to handle it?)");
	assert_contains(err.msg, "runc checkpoint 'stopped'");
	assert_int_equal(status(&W.a, "stopped"), CONTAINER_RUNNING);
	check_ok(&a);
	ctr_done(&a);
	assert_int_equal(rm_rf(images, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checkpoint_restore_on_other_root),
		cmocka_unit_test(test_leave_running_snapshot),
		cmocka_unit_test(test_errors_are_clear),
		cmocka_unit_test(test_file_locks_need_the_option),
		cmocka_unit_test(test_tcp_established),
		cmocka_unit_test(test_truncated_image_restore_is_bounded),
		cmocka_unit_test(test_failed_checkpoint_leaves_container_running),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

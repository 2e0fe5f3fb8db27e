/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferry demo --local: the runtime service alone, no agent: a stateful container
 * is started on "node a", checkpointed, and restored on "node b" (a second
 * runc root, cgroup parent, network namespace and writable layer); the
 * workload then checks its own state and reports how long it was frozen. It is
 * the floor that bench/ compares migrations with. Everything lives in a
 * throw-away directory that is removed at the end, also after Ctrl-C.
 */
#define LOG_PREFIX "demo"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/image.h"
#include "ferry/lines.h"
#include "ferry/log.h"
#include "ferry/metrics.h"
#include "ferry/netns.h"
#include "ferry/runtime.h"
#include "ferry/spawn.h"

#define DEMO_ID "counter"

static volatile sig_atomic_t interrupted;

static void on_signal(int s)
{
	(void)s;
	interrupted = 1;
}

struct node {
	const char *name;
	char dir[PATH_MAX];	/* <work>/<name> */
	char netns[PATH_MAX];
	char layer[PATH_MAX];
	struct metrics *metrics;
	struct runtime *rt;
	int out[2], err[2], in[2]; /* the container's stdio pipes; we keep [0] of out/err */
	bool created;
};

struct demo {
	struct cli_context *ctx;
	char work[PATH_MAX];
	struct image_store *images;
	struct image_info image;
	struct node a, b;
	unsigned mem_mib;
	FILE *human;  /* the story: stdout, or stderr with -o json */
	json_t *json; /* the figures, with -o json */
};

const char *demo_image_default(char *buf, size_t len)
{
	const char *env = getenv("FERRY_DEMO_IMAGE");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return env;
	if (path_exists("/usr/local/share/ferry/test-image.tar"))
		return "/usr/local/share/ferry/test-image.tar";
	/* Run from the build tree: the image sits beside the binary. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/test-image.tar", exe);
			return buf;
		}
	}
	return "test-image.tar";
}

static void step(struct demo *d, int n, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void step(struct demo *d, int n, const char *what, const char *fmt, ...)
{
	va_list ap;
	fprintf(d->human, "[%d/5] %-11s", n, what);
	va_start(ap, fmt);
	vfprintf(d->human, fmt, ap);
	va_end(ap);
	fputc('\n', d->human);
	fflush(d->human);
}

static void close_pipes(struct node *n)
{
	for (int i = 0; i < 2; i++) {
		if (n->out[i] >= 0)
			close(n->out[i]);
		if (n->err[i] >= 0)
			close(n->err[i]);
		if (n->in[i] >= 0)
			close(n->in[i]);
		n->out[i] = n->err[i] = n->in[i] = -1;
	}
}

static int node_init(struct demo *d, struct node *n, const char *name, struct error *err)
{
	char root[PATH_MAX], cgroup[128];
	int r;

	n->name = name;
	n->out[0] = n->out[1] = n->err[0] = n->err[1] = n->in[0] = n->in[1] = -1;
	snprintf(n->dir, sizeof(n->dir), "%s/%s", d->work, name);
	snprintf(n->netns, sizeof(n->netns), "%s/netns", n->dir);
	snprintf(n->layer, sizeof(n->layer), "%s/containers/" DEMO_ID, n->dir);
	snprintf(root, sizeof(root), "%s/runc", n->dir);
	snprintf(cgroup, sizeof(cgroup), "ferry-demo-%d-%s", (int)getpid(), name);
	r = mkdir_p(n->dir, 0700);
	if (r < 0)
		return error_set(err, r, "cannot create '%s'", n->dir);
	r = metrics_new(&n->metrics);
	if (r < 0)
		return error_set(err, r, "metrics");
	struct runtime_config cfg = { .root = root, .cgroup_parent = cgroup,
				      .metrics = n->metrics, .timeout_ms = 60000 };
	r = runtime_new(&cfg, &n->rt, err);
	if (r < 0)
		return r;
	return netns_create(n->netns, err);
}

static void node_cleanup(struct node *n)
{
	struct error e = { 0 };

	if (n->rt && runtime_delete(n->rt, DEMO_ID, true, &e) < 0)
		fprintf(stderr, "ferry: cleanup on %s: %s\n", n->name, e.msg);
	if (n->layer[0] && layer_destroy(n->layer, &e) < 0)
		fprintf(stderr, "ferry: cleanup on %s: %s\n", n->name, e.msg);
	if (n->netns[0] && netns_remove(n->netns, &e) < 0)
		fprintf(stderr, "ferry: cleanup on %s: %s\n", n->name, e.msg);
	if (n->rt && runtime_remove_cgroup_parent(n->rt, &e) < 0)
		fprintf(stderr, "ferry: cleanup on %s: %s\n", n->name, e.msg);
	close_pipes(n);
	n->rt = runtime_free(n->rt);
	n->metrics = metrics_free(n->metrics);
}

/* The stdio pipes of a container on node n: ours are [0] of out/err, [1] of in. */
static int node_pipes(struct node *n, int ret_stdio[3], struct error *err)
{
	close_pipes(n);
	if (pipe2(n->in, O_CLOEXEC) < 0 || pipe2(n->out, O_CLOEXEC) < 0 ||
	    pipe2(n->err, O_CLOEXEC) < 0)
		return error_set(err, errno, "pipe");
	ret_stdio[0] = n->in[0];
	ret_stdio[1] = n->out[1];
	ret_stdio[2] = n->err[1];
	return 0;
}

/* After runc has handed the pipes to the container, drop our copies of its ends. */
static void node_pipes_given(struct node *n)
{
	close(n->in[0]);
	close(n->out[1]);
	close(n->err[1]);
	n->in[0] = n->out[1] = n->err[1] = -1;
}

static int bundle(struct demo *d, struct node *n, const char *seed, struct error *err)
{
	cleanup_free char *lower = image_store_rootfs(d->images, &d->image);
	char mem[16];
	enum layer_mode mode;
	int r;

	snprintf(mem, sizeof(mem), "%u", d->mem_mib);
	const char *const args[] = { "/usr/bin/statekeeper", "-m", mem, "-i", "50", "-r", "20",
				     NULL };
	struct container_config c = { .args = args, .ns = { .network = n->netns } };
	if (!lower)
		return error_set(err, ENOMEM, "demo");
	r = layer_create(lower, n->layer, seed, &mode, err);
	if (r < 0)
		return r;
	return runtime_bundle_write(n->rt, DEMO_ID, &c, n->layer, err);
}

/* Shows the workload's "count N" lines for about ms milliseconds; returns the last N. */
static long long watch(FILE *out, struct line_reader *lr, int ms)
{
	unsigned long long end = now_ns() + (unsigned long long)ms * 1000000ULL;
	long long last = -1;

	while (!interrupted && now_ns() < end) {
		if (line_reader_next(lr, 200) < 0)
			continue;
		long long v;
		if (sscanf(lr->line, "count %lld", &v) == 1) {
			last = v;
			fprintf(out, "              %s\n", lr->line);
			fflush(out);
		}
	}
	return last;
}

static int run(struct demo *d, struct error *err)
{
	char buf[64], image_path_buf[PATH_MAX];
	const char *image_path = d->image.name[0] ? NULL : demo_image_default(image_path_buf,
									 sizeof(image_path_buf));
	int stdio[3], r;
	pid_t pid;

	/* 1: the image */
	cleanup_close int fd = open(image_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "cannot open the demo image '%s' (run scripts/setup, or "
				 "pass --image)", image_path);
	r = image_store_import(d->images, "demo", fd, &d->image, err);
	if (r < 0)
		return r;
	step(d, 1, "image", "imported '%s' as 'demo', %s (%s)", image_path, d->image.digest,
	     format_bytes(d->image.size, buf, sizeof(buf)));

	/* 2: run on node a */
	r = bundle(d, &d->a, NULL, err);
	if (r < 0)
		return error_wrap(err, "node a");
	r = node_pipes(&d->a, stdio, err);
	if (r < 0)
		return r;
	r = runtime_create(d->a.rt, DEMO_ID, d->a.layer, stdio, &pid, err);
	if (r < 0)
		return r;
	node_pipes_given(&d->a);
	r = runtime_start(d->a.rt, DEMO_ID, err);
	if (r < 0)
		return r;
	struct line_reader lr;
	line_reader_init(&lr, d->a.out[0]);
	if (line_reader_expect(&lr, "ready", 10000) < 0)
		return error_setx(err, EIO, "the workload did not report ready");
	step(d, 2, "run", "container '%s' on node a (pid %d, %u MiB of memory, a file, a child, "
	     "a timer)", DEMO_ID, (int)pid, d->mem_mib);
	long long before = watch(d->human, &lr, 2500);
	if (interrupted)
		return -EINTR;

	/* 3: checkpoint on node a */
	char images[PATH_MAX], work[PATH_MAX];
	struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
	struct runtime_op_stats cs = { 0 }, rs = { 0 };
	unsigned long long size = 0, t0 = now_ns();
	snprintf(images, sizeof(images), "%s/checkpoint", d->a.dir);
	snprintf(work, sizeof(work), "%s/checkpoint-work", d->a.dir);
	co.image_dir = images;
	co.work_dir = work;
	r = runtime_checkpoint(d->a.rt, DEMO_ID, &co, &cs, err);
	if (r < 0)
		return r;
	(void)dir_size(images, &size, NULL);
	step(d, 3, "checkpoint", "%s of CRIU images in %.2f s (last count before: %lld)",
	     format_bytes(size, buf, sizeof(buf)), (double)cs.elapsed_ns / 1e9, before);

	/* 4: restore on node b, with the writes of node a's layer */
	cleanup_free char *changes = layer_changes_dir(d->a.layer);
	r = bundle(d, &d->b, changes, err);
	if (r < 0)
		return error_wrap(err, "node b");
	r = node_pipes(&d->b, stdio, err);
	if (r < 0)
		return r;
	struct restore_opts ro = { .image_dir = images, .bundle_dir = d->b.layer };
	snprintf(work, sizeof(work), "%s/restore-work", d->b.dir);
	ro.work_dir = work;
	r = runtime_restore(d->b.rt, DEMO_ID, &ro, stdio, &pid, &rs, err);
	if (r < 0)
		return r;
	node_pipes_given(&d->b);
	unsigned long long downtime = now_ns() - t0;
	step(d, 4, "restore", "on node b in %.2f s (pid %d); node a's container is gone",
	     (double)rs.elapsed_ns / 1e9, (int)pid);
	(void)runtime_delete(d->a.rt, DEMO_ID, true, NULL);

	/* 5: the workload checks itself */
	line_reader_init(&lr, d->b.out[0]);
	long long after = watch(d->human, &lr, 1500);
	if (interrupted)
		return -EINTR;
	r = runtime_kill(d->b.rt, DEMO_ID, SIGUSR1, false, err);
	if (r < 0)
		return r;
	if (line_reader_expect(&lr, "check", 10000) < 0)
		return error_setx(err, EIO, "the restored workload did not answer the check");
	if (strncmp(lr.line, "check ok", 8) != 0)
		return error_setx(err, EIO, "the restored workload lost state: %s", lr.line);
	if (after <= before)
		return error_setx(err, EIO, "the count did not continue: %lld before, %lld after",
				  before, after);
	long long gap = 0;
	const char *g = strstr(lr.line, "max_gap_ms=");
	if (g)
		gap = strtoll(g + 11, NULL, 10);
	step(d, 5, "verify", "count continued (%lld -> %lld); memory, file, child and timer "
	     "intact", before, after);
	fprintf(d->human, "\ndowntime %.2f s (checkpoint + restore); the workload saw a gap of "
		"%lld ms\n", (double)downtime / 1e9, gap);
	d->json = json_pack("{s:i, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I}", "mem_mib", (int)d->mem_mib,
			    "image_bytes", (json_int_t)d->image.size, "checkpoint_bytes",
			    (json_int_t)size, "checkpoint_seconds", (double)cs.elapsed_ns / 1e9,
			    "restore_seconds", (double)rs.elapsed_ns / 1e9, "downtime_seconds",
			    (double)downtime / 1e9, "workload_gap_ms", (json_int_t)gap,
			    "count_before", (json_int_t)before, "count_after", (json_int_t)after);
	return 0;
}

static void help(void)
{
	printf("Usage: ferry demo --local [--image FILE] [--mem MiB] [--keep] [-o json]\n\n"
	       "Start a stateful container, checkpoint it with CRIU, restore it under a second\n"
	       "runc root (a second node on this machine) and show that its state survived.\n\n"
	       "  --image FILE  the image tarball (default: /usr/local/share/ferry/test-image.tar)\n"
	       "  --mem MiB     memory the workload fills and checks (default 64)\n"
	       "  --keep        keep the work directory (for a look at the CRIU images)\n"
	       "  -o json       print the figures as JSON on stdout (the story goes to stderr)\n");
}

int demo_local(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "mem", required_argument, NULL, 'm' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "local", no_argument, NULL, 'l' },
		{ 0 },
	};
	struct demo d = { .ctx = ctx, .mem_mib = 64, .human = stdout };
	const char *image = NULL;
	struct error err = { 0 };
	bool keep = false;
	int c, r;

	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': image = optarg; break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 65536)
				return cli_fail("--mem: '%s' is not a size in MiB (1-65536)", optarg);
			d.mem_mib = (unsigned)v;
			break;
		}
		case 'k': keep = true; break;
		case 'l': break;
		case 'o':
			if (strcmp(optarg, "json") != 0)
				return cli_fail("demo: unknown output format '%s' (json)", optarg);
			d.human = stderr;
			break;
		case 'h': help(); return 0;
		default: return 2;
		}
	}
	if (optind < argc)
		return cli_fail("demo: unexpected argument '%s'", argv[optind]);
	if (geteuid() != 0)
		return cli_fail("demo: must run as root (runc and CRIU need it)");
	if (image)
		setenv("FERRY_DEMO_IMAGE", image, 1);

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	snprintf(d.work, sizeof(d.work), "/tmp/ferry-demo-XXXXXX");
	if (!mkdtemp(d.work))
		return cli_fail("demo: cannot create a work directory: %m");
	fprintf(d.human, "ferry demo: a stateful container checkpointed on node a, restored on "
		"node b\n  work dir   %s\n  criu       %s\n\n", d.work, RUNTIME_DEFAULT_CRIU);
	fflush(d.human);

	char store[PATH_MAX];
	snprintf(store, sizeof(store), "%s/images", d.work);
	r = image_store_open(store, &d.images, &err);
	if (r >= 0)
		r = node_init(&d, &d.a, "a", &err);
	if (r >= 0)
		r = node_init(&d, &d.b, "b", &err);
	if (r >= 0)
		r = run(&d, &err);

	node_cleanup(&d.b);
	node_cleanup(&d.a);
	d.images = image_store_free(d.images);
	if (!keep) {
		struct error e2 = { 0 };
		if (rm_rf(d.work, &e2) < 0)
			fprintf(stderr, "ferry: cleanup: %s\n", e2.msg);
	}
	if (interrupted)
		return cli_fail("demo: interrupted; cleaned up");
	if (r < 0) {
		json_decref(d.json);
		return cli_fail("demo: %s", err.msg);
	}
	fprintf(d.human, "demo: ok%s\n", keep ? "" : " (cleaned up)");
	if (d.human == stderr) {
		json_dumpf(d.json, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
	}
	json_decref(d.json);
	return 0;
}

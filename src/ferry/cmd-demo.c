/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferry demo: the README's main job. Two agents on loopback (127.0.0.2 and
 * 127.0.0.3) with throw-away state dirs and a cluster CA of their own; a
 * stateful pod (a counter that keeps memory, a file it appends to and a child
 * it talks to) started on the first, migrated to the second and back, its
 * count shown continuing across each hop, its own state check after each,
 * and each hop's downtime. Everything is removed at the end, also on Ctrl-C.
 *
 * With --local, the runtime service alone (demo-local.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ferry.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/fs.h"
#include "ferry/tls.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int s)
{
	(void)s;
	interrupted = 1;
}

struct agent_proc {
	const char *name, *addr;
	char url[64], dir[PATH_MAX];
	pid_t pid;
};

struct demo {
	char work[PATH_MAX], ca[PATH_MAX];
	unsigned port, mem;
	struct agent_proc nodes[2];
	struct cli_context ctx;
};

static int start_agent(struct demo *d, struct agent_proc *a, const char *ferryd)
{
	char listen[64], state[PATH_MAX + 16], log[PATH_MAX + 16], cg[64];
	snprintf(listen, sizeof(listen), "%s:%u", a->addr, d->port);
	snprintf(a->url, sizeof(a->url), "https://%s", listen);
	snprintf(a->dir, sizeof(a->dir), "%s/%s", d->work, a->name);
	snprintf(state, sizeof(state), "%s/state", a->dir);
	snprintf(log, sizeof(log), "%s/ferryd.log", a->dir);
	snprintf(cg, sizeof(cg), "ferry-demo-%d-%s", (int)getpid(), a->name);
	if (mkdir_p(a->dir, 0700) < 0)
		return cli_fail("demo: cannot create '%s': %m", a->dir);
	pid_t pid = fork();
	if (pid < 0)
		return cli_fail("demo: fork: %m");
	if (pid == 0) {
		/* its own process group: Ctrl-C is ours to handle, in order */
		setpgid(0, 0);
		FILE *f = freopen(log, "a", stderr);
		(void)f;
		execl(ferryd, ferryd, "--name", a->name, "--listen", listen, "--state-dir", state,
		      "--cluster-ca", d->ca, "--cgroup-parent", cg, (char *)NULL);
		_exit(127);
	}
	a->pid = pid;
	struct client *c = NULL;
	struct error err = { 0 };
	char ca_crt[PATH_MAX + 16];
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", d->ca);
	if (client_new(a->url, ca_crt, &c, &err) < 0)
		return cli_fail("demo: %s", err.msg);
	for (int i = 0; i < 100 && !interrupted; i++) {
		struct client_reply rep;
		if (client_request(c, "GET", "/healthz", NULL, 0, NULL, &rep, &err) == 0 &&
		    rep.status == 200) {
			client_reply_done(&rep);
			client_free(c);
			printf("  node %s  %s  (pid %d, state %s)\n", a->name, a->url, (int)pid, state);
			return 0;
		}
		usleep(100 * 1000);
	}
	client_free(c);
	return cli_fail("demo: agent %s did not start; see %s", a->name, log);
}

static void stop_agent(struct agent_proc *a)
{
	if (a->pid <= 0)
		return;
	kill(a->pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(a->pid, NULL, WNOHANG) == a->pid)
			return;
		usleep(100 * 1000);
	}
	kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
}

/* Runs a ferry subcommand in this process against node. Returns its exit code. */
static int ferry(struct demo *d, const char *node, const char *const *args)
{
	char *argv[16];
	int argc = 0;
	char ca_crt[PATH_MAX + 16];
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", d->ca);
	struct cli_context ctx = d->ctx;
	ctx.node = node;
	ctx.ca = ca_crt;
	for (; args[argc] && argc < 15; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	fflush(stdout);
	int (*fn)(struct cli_context *, int, char **) = NULL;
	if (strcmp(args[0], "apply") == 0)
		fn = cmd_apply;
	else if (strcmp(args[0], "migrate") == 0)
		fn = cmd_migrate;
	else if (strcmp(args[0], "image") == 0)
		fn = cmd_image;
	else if (strcmp(args[0], "delete") == 0)
		fn = cmd_delete;
	else if (strcmp(args[0], "exec") == 0)
		fn = cmd_exec;
	int r = fn ? fn(&ctx, argc, argv) : 2;
	fflush(stdout);
	return r;
}

/* The last "count N" the workload printed, through the node's log API. */
static long long last_count(struct demo *d, const char *node, char *last_check, size_t len)
{
	char ca_crt[PATH_MAX + 16];
	struct client *c = NULL;
	struct client_reply rep;
	struct error err = { 0 };
	long long v = -1, x;
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", d->ca);
	if (client_new(node, ca_crt, &c, &err) < 0)
		return -1;
	if (client_request(c, "GET", "/api/v1/namespaces/default/pods/counter/log?tailLines=40",
			   NULL, 0, NULL, &rep, &err) == 0 && rep.status == 200 && rep.body) {
		for (char *line = strtok(rep.body, "\n"); line; line = strtok(NULL, "\n")) {
			if (sscanf(line, "count %lld", &x) == 1)
				v = x;
			if (last_check && strncmp(line, "check ", 6) == 0)
				snprintf(last_check, len, "%s", line);
		}
	}
	client_reply_done(&rep);
	client_free(c);
	return v;
}

static int wait_running(struct demo *d, const char *node)
{
	for (int i = 0; i < 100 && !interrupted; i++) {
		if (last_count(d, node, NULL, 0) > 0)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

/* Asks the workload to check itself; prints what it said. */
static int check(struct demo *d, const char *node)
{
	const char *const kill_args[] = { "exec", "counter", "--", "kill", "-USR1", "1", NULL };
	char before[256] = "", after[256] = "";
	(void)last_count(d, node, before, sizeof(before));
	if (ferry(d, node, kill_args) != 0)
		return -1;
	for (int i = 0; i < 50 && !interrupted; i++) {
		usleep(100 * 1000);
		(void)last_count(d, node, after, sizeof(after));
		if (after[0] && strcmp(after, before) != 0)
			break;
	}
	printf("  the workload says: %s\n", after[0] ? after : "(nothing)");
	return strncmp(after, "check ok", 8) == 0 ? 0 : -1;
}

static int hop(struct demo *d, struct agent_proc *from, struct agent_proc *to, int n)
{
	long long before = last_count(d, from->url, NULL, 0);
	printf("\n[hop %d] %s -> %s (count %lld)\n", n, from->name, to->name, before);
	const char *const args[] = { "migrate", "default/counter", "--to", to->url, NULL };
	if (ferry(d, from->url, args) != 0)
		return -1;
	usleep(600 * 1000);
	long long after = last_count(d, to->url, NULL, 0);
	printf("  count on %s: %lld -> %lld, it continued\n", to->name, before, after);
	if (after <= before)
		return cli_fail("demo: the count did not continue (%lld -> %lld)", before, after);
	return check(d, to->url);
}

/* Deletes the demo pod on node, if it is there, and waits until it is gone. */
static void delete_quietly(struct demo *d, const char *node)
{
	char ca_crt[PATH_MAX + 16];
	struct client *c = NULL;
	struct client_reply rep;
	struct error err = { 0 };
	const char *path = "/api/v1/namespaces/default/pods/counter";

	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", d->ca);
	if (client_new(node, ca_crt, &c, &err) < 0)
		return;
	if (client_request(c, "DELETE", path, NULL, 0, NULL, &rep, &err) == 0) {
		bool existed = rep.status == 200;
		client_reply_done(&rep);
		for (int i = 0; existed && i < 150; i++) {
			if (client_request(c, "GET", path, NULL, 0, NULL, &rep, &err) < 0)
				break;
			bool gone = rep.status == 404;
			client_reply_done(&rep);
			if (gone)
				break;
			usleep(100 * 1000);
		}
	}
	client_free(c);
}

static void help(void)
{
	printf("Usage: ferry demo [--mem MiB] [--port PORT] [--image FILE] [--keep]\n"
	       "       ferry demo --local [--mem MiB] [-o json]\n\n"
	       "Start two agents on 127.0.0.2 and 127.0.0.3, run a stateful pod on the first,\n"
	       "live-migrate it to the second and back, and show that its state survived.\n"
	       "--local: checkpoint and restore one container with runc and CRIU alone.\n\n"
	       "  --mem MiB     memory the workload fills and checks (default 64)\n"
	       "  --port PORT   the agents' port (default 10251)\n"
	       "  --image FILE  the image tarball (default: /usr/local/share/ferry/test-image.tar)\n"
	       "  --keep        keep the work directory\n");
}

int cmd_demo(struct cli_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "mem", required_argument, NULL, 'm' },
					      { "port", required_argument, NULL, 'p' },
					      { "image", required_argument, NULL, 'i' },
					      { "keep", no_argument, NULL, 'k' },
					      { "local", no_argument, NULL, 'l' },
					      { "output", required_argument, NULL, 'o' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct demo d = { .port = 10251, .mem = 64, .ctx = *ctx };
	const char *image = NULL;
	bool keep = false;
	int c, rc = 1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--local") == 0)
			return demo_local(ctx, argc, argv);
	optind = 0; /* 0: glibc starts over, also for a second command in one process */
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 65536)
				return cli_fail("--mem: '%s' is not a size in MiB (1-65536)", optarg);
			d.mem = (unsigned)v;
			break;
		}
		case 'p': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 65535)
				return cli_fail("--port: '%s' is not a port", optarg);
			d.port = (unsigned)v;
			break;
		}
		case 'i': image = optarg; break;
		case 'k': keep = true; break;
		case 'o': return cli_fail("demo: -o is for --local");
		case 'h': help(); return 0;
		default: return 2;
		}
	}
	if (optind < argc)
		return cli_fail("demo: unexpected argument '%s'", argv[optind]);
	if (geteuid() != 0)
		return cli_fail("demo: must run as root (runc and CRIU need it)");
	cleanup_free char *ferryd = path_next_to_self("ferryd", "/usr/local/bin");
	if (!ferryd)
		return cli_fail("demo: cannot find ferryd next to ferry or in /usr/local/bin");
	char image_buf[PATH_MAX];
	if (!image)
		image = demo_image_default(image_buf, sizeof(image_buf));
	if (access(image, R_OK) < 0)
		return cli_fail("demo: cannot open the demo image '%s' (run scripts/setup, or pass "
				"--image)", image);

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	snprintf(d.work, sizeof(d.work), "/tmp/ferry-demo-XXXXXX");
	if (!mkdtemp(d.work))
		return cli_fail("demo: cannot create a work directory: %m");
	snprintf(d.ca, sizeof(d.ca), "%s/ca", d.work);
	d.nodes[0] = (struct agent_proc){ .name = "node-a", .addr = "127.0.0.2" };
	d.nodes[1] = (struct agent_proc){ .name = "node-b", .addr = "127.0.0.3" };

	printf("ferry demo: a stateful pod live-migrated between two nodes and back\n"
	       "  work dir %s\n", d.work);
	struct error err = { 0 };
	if (tls_ca_init(d.ca, "ferry demo CA", &err) < 0) {
		cli_fail("demo: %s", err.msg);
		goto out;
	}
	for (int i = 0; i < 2; i++)
		if (interrupted || start_agent(&d, &d.nodes[i], ferryd) != 0)
			goto out;

	const char *a = d.nodes[0].url;
	const char *const import[] = { "image", "import", "test", image, NULL };
	printf("\n[setup] image and pod on node-a\n");
	if (interrupted || ferry(&d, a, import) != 0)
		goto out;

	char pod[1024], podfile[PATH_MAX + 16];
	snprintf(pod, sizeof(pod),
		 "apiVersion: v1\nkind: Pod\nmetadata: {name: counter}\nspec:\n"
		 "  terminationGracePeriodSeconds: 5\n  containers:\n  - name: counter\n"
		 "    image: test\n    command: [/usr/bin/statekeeper, -m, \"%u\", -i, \"50\", -r, "
		 "\"10\"]\n",
		 d.mem);
	snprintf(podfile, sizeof(podfile), "%s/pod.yaml", d.work);
	if (write_file_atomic(podfile, pod, strlen(pod), 0644, &err) < 0)
		goto out;
	const char *const apply[] = { "apply", "-f", podfile, NULL };
	if (interrupted || ferry(&d, a, apply) != 0 || wait_running(&d, a) < 0)
		goto out;
	printf("  pod/counter running on node-a: %u MiB of patterned memory, a file it appends "
	       "to,\n  a child it talks to over pipes, a timer\n",
	       d.mem);
	sleep(1);
	if (interrupted || check(&d, a) < 0)
		goto out;

	for (int n = 1; n <= 2 && !interrupted; n++) {
		struct agent_proc *from = &d.nodes[(n - 1) % 2], *to = &d.nodes[n % 2];
		if (hop(&d, from, to, n) < 0)
			goto out;
	}
	if (!interrupted) {
		printf("\ndemo: ok — the pod moved node-a -> node-b -> node-a and kept its state\n");
		rc = 0;
	}
out:
	fflush(stdout);
	/* the pod, wherever it is; then the agents; then the files */
	for (int i = 0; i < 2; i++)
		if (d.nodes[i].pid > 0)
			delete_quietly(&d, d.nodes[i].url);
	for (int i = 0; i < 2; i++)
		stop_agent(&d.nodes[i]);
	for (int i = 0; i < 2; i++) {
		char cg[128];
		snprintf(cg, sizeof(cg), "ferry-demo-%d-%s", (int)getpid(), d.nodes[i].name);
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "for d in /sys/fs/cgroup/*/%s; do rmdir $d 2>/dev/null; done", cg);
		(void)!system(cmd);
	}
	if (!keep) {
		struct error e2 = { 0 };
		if (rm_rf(d.work, &e2) < 0)
			fprintf(stderr, "ferry: cleanup: %s\n", e2.msg);
	}
	if (interrupted)
		return cli_fail("demo: interrupted; cleaned up");
	if (rc == 0)
		printf("demo: cleaned up\n");
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferryd: the node agent. main() and wiring only: options, the context that
 * every callback gets (struct daemon), start-up and shutdown on a signal.
 */
#define LOG_PREFIX "ferryd"
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "ferry/agent.h"
#include "ferry/api.h"
#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/http.h"
#include "ferry/image.h"
#include "ferry/log.h"
#include "ferry/metrics.h"
#include "ferry/pod.h"
#include "ferry/runtime.h"
#include "ferry/tls.h"

struct options {
	char *name, *listen, *state_dir, *cluster_ca, *config, *runc, *criu, *cgroup_parent;
	char *monitor, *log_level;
	unsigned backoff_base_ms;
};

struct daemon {
	struct options opt;
	char host[64];
	unsigned port;
	struct metrics *metrics;
	struct runtime *rt;
	struct image_store *images;
	struct agent *agent;
	struct api api;
	struct http_server *http;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ferryd --name NODE [--listen ADDR:PORT] [--state-dir DIR] [--cluster-ca CADIR]\n"
		"              [--config FILE] [--runc PATH] [--criu PATH] [--cgroup-parent NAME]\n"
		"              [--log-level LEVEL]\n\n"
		"The ferry node agent: runs pods through runc, checkpoints and restores them with\n"
		"CRIU, serves the HTTPS API.\n\n"
		"  --name NODE          this node's name (a DNS-1123 label)\n"
		"  --listen ADDR:PORT   where to serve HTTPS (default 127.0.0.1:10250)\n"
		"  --state-dir DIR      state: database, pods, images, TLS (default /var/lib/ferry/NODE)\n"
		"  --cluster-ca CADIR   issue the serving certificate from this CA (ferry ca init);\n"
		"                       without it the agent makes a CA of its own\n"
		"  --config FILE        YAML or JSON with the same keys (name, listen, stateDir,\n"
		"                       clusterCA, runc, criu, cgroupParent, logLevel); flags win\n"
		"  --cgroup-parent NAME cgroup all containers go below (default ferry-NODE)\n"
		"  --log-level LEVEL    error, warning, notice, info (default), debug\n");
}

static void set(char **dst, const char *v)
{
	if (v && !*dst)
		*dst = strdup(v);
}

static int load_config(struct options *o, struct error *err)
{
	cleanup_free char *text = NULL;
	size_t len;
	json_t *j = NULL;

	if (!o->config)
		return 0;
	int r = read_file(o->config, 1 << 20, &text, &len, err);
	if (r < 0)
		return r;
	r = pod_body_parse(text, len, &j, err);
	if (r < 0)
		return error_wrap(err, "config '%s'", o->config);
	if (!json_is_object(j)) {
		json_decref(j);
		return error_setx(err, EINVAL, "config '%s': not a map of settings", o->config);
	}
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "name", offsetof(struct options, name) },
		{ "listen", offsetof(struct options, listen) },
		{ "stateDir", offsetof(struct options, state_dir) },
		{ "clusterCA", offsetof(struct options, cluster_ca) },
		{ "runc", offsetof(struct options, runc) },
		{ "criu", offsetof(struct options, criu) },
		{ "cgroupParent", offsetof(struct options, cgroup_parent) },
		{ "logLevel", offsetof(struct options, log_level) },
		{ "monitor", offsetof(struct options, monitor) },
	};
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v)
	{
		size_t i;
		for (i = 0; i < ELEMENTSOF(keys); i++)
			if (strcmp(k, keys[i].key) == 0)
				break;
		if (i == ELEMENTSOF(keys)) {
			r = error_setx(err, EINVAL, "config '%s': unknown setting '%s'", o->config, k);
			break;
		}
		if (!json_is_string(v)) {
			r = error_setx(err, EINVAL, "config '%s': '%s' must be a string", o->config, k);
			break;
		}
		set((char **)((char *)o + keys[i].off), json_string_value(v));
	}
	json_decref(j);
	return r;
}

/* ferry-monitor next to this binary, else on PATH. */
static char *find_monitor(void)
{
	char *beside = path_next_to_self("ferry-monitor", NULL);
	if (beside)
		return beside;
	const char *path = getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin";
	cleanup_free char *copy = strdup(path);
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = path_join(d, "ferry-monitor");
		if (p && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int parse_listen(struct daemon *d, struct error *err)
{
	const char *colon = strrchr(d->opt.listen, ':');
	char *end;
	if (!colon || (size_t)(colon - d->opt.listen) >= sizeof(d->host))
		return error_setx(err, EINVAL, "--listen '%s': expected ADDR:PORT", d->opt.listen);
	memcpy(d->host, d->opt.listen, (size_t)(colon - d->opt.listen));
	d->host[colon - d->opt.listen] = '\0';
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return error_setx(err, EINVAL, "--listen '%s': bad port", d->opt.listen);
	d->port = (unsigned)port;
	return 0;
}

static int run(struct daemon *d, struct error *err)
{
	cleanup_free char *crt = NULL, *key = NULL, *root = NULL, *store = NULL, *spool = NULL;
	cleanup_free char *crt_path = NULL, *key_path = NULL, *ca_path = NULL;
	int r;

	if (!name_is_dns_label(d->opt.name))
		return error_setx(err, EINVAL, "--name '%s': must be a DNS-1123 label",
				  d->opt.name ? d->opt.name : "");
	r = parse_listen(d, err);
	if (r < 0)
		return r;
	if (!d->opt.state_dir && asprintf(&d->opt.state_dir, "/var/lib/ferry/%s", d->opt.name) < 0)
		return -ENOMEM;
	if (!d->opt.cgroup_parent && asprintf(&d->opt.cgroup_parent, "ferry-%s", d->opt.name) < 0)
		return -ENOMEM;
	if (!d->opt.monitor && !(d->opt.monitor = find_monitor()))
		return error_setx(err, ENOENT, "cannot find ferry-monitor next to ferryd or on PATH");
	r = mkdir_p(d->opt.state_dir, 0700);
	if (r < 0)
		return error_set(err, r, "cannot create state dir '%s'", d->opt.state_dir);

	r = tls_node_ensure(d->opt.state_dir, d->opt.name, d->host, d->opt.cluster_ca, err);
	if (r < 0)
		return r;
	crt_path = path_join(d->opt.state_dir, "tls/server.crt");
	key_path = path_join(d->opt.state_dir, "tls/server.key");
	ca_path = path_join(d->opt.state_dir, "tls/ca.crt");
	if ((r = read_file(crt_path, 1 << 20, &crt, NULL, err)) < 0 ||
	    (r = read_file(key_path, 1 << 20, &key, NULL, err)) < 0)
		return r;

	root = path_join(d->opt.state_dir, "runc");
	store = path_join(d->opt.state_dir, "images");
	spool = path_join(d->opt.state_dir, "images/tmp");
	if ((r = metrics_new(&d->metrics)) < 0)
		return error_set(err, r, "metrics");
	struct runtime_config rc = { .runc_path = d->opt.runc, .criu_path = d->opt.criu,
				     .root = root, .cgroup_parent = d->opt.cgroup_parent,
				     .metrics = d->metrics };
	if ((r = runtime_new(&rc, &d->rt, err)) < 0 ||
	    (r = image_store_open(store, &d->images, err)) < 0)
		return r;
	struct agent_config ac = { .node_name = d->opt.name, .host_ip = d->host,
				   .state_dir = d->opt.state_dir, .monitor_path = d->opt.monitor,
				   .runc_path = d->opt.runc, .backoff_base_ms = d->opt.backoff_base_ms,
				   .rt = d->rt, .images = d->images, .metrics = d->metrics };
	if ((r = agent_new(&ac, &d->agent, err)) < 0)
		return r;
	d->api = (struct api){ d->agent, d->images, d->metrics, d->opt.name };
	struct http_server_config hc = { .host = d->host, .port = d->port, .cert_pem = crt,
					 .key_pem = key, .routes = api_routes,
					 .n_routes = api_n_routes, .spool_dir = spool,
					 .metrics = d->metrics, .userdata = &d->api };
	if ((r = http_server_start(&hc, &d->http, err)) < 0)
		return r;
	log_info("node='%s' serving https://%s:%u state='%s' CA certificate: %s", d->opt.name,
		 d->host, d->port, d->opt.state_dir, ca_path);
	(void)sd_notify(0, "READY=1");

	/* Signals are read from a signalfd, never handled with work inside a handler. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) < 0 && errno == EINTR)
		;
	log_info("node='%s' stopping on signal %d; containers keep running", d->opt.name,
		 (int)si.ssi_signo);
	(void)sd_notify(0, "STOPPING=1");
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "cluster-ca", required_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "runc", required_argument, NULL, 'r' },
		{ "criu", required_argument, NULL, 'R' },
		{ "cgroup-parent", required_argument, NULL, 'g' },
		{ "monitor", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "backoff-base-ms", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct daemon d = { 0 };
	struct error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': set(&d.opt.name, optarg); break;
		case 'l': set(&d.opt.listen, optarg); break;
		case 's': set(&d.opt.state_dir, optarg); break;
		case 'C': set(&d.opt.cluster_ca, optarg); break;
		case 'c': set(&d.opt.config, optarg); break;
		case 'r': set(&d.opt.runc, optarg); break;
		case 'R': set(&d.opt.criu, optarg); break;
		case 'g': set(&d.opt.cgroup_parent, optarg); break;
		case 'm': set(&d.opt.monitor, optarg); break;
		case 'L': set(&d.opt.log_level, optarg); break;
		case 'b': d.opt.backoff_base_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ferryd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	r = load_config(&d.opt, &err);
	set(&d.opt.listen, "127.0.0.1:10250");
	if (r >= 0 && d.opt.log_level) {
		int l = log_level_from_string(d.opt.log_level);
		if (l < 0)
			r = error_setx(&err, EINVAL, "unknown log level '%s'", d.opt.log_level);
		else
			log_set_level(l);
	}
	/* Block the signals before any thread starts, so that all of them inherit the mask. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (r >= 0)
		r = run(&d, &err);
	if (r < 0)
		log_error("%s", err.msg);
	d.http = http_server_stop(d.http);
	d.agent = agent_free(d.agent);
	d.images = image_store_free(d.images);
	d.rt = runtime_free(d.rt);
	d.metrics = metrics_free(d.metrics);
	free(d.opt.name);
	free(d.opt.listen);
	free(d.opt.state_dir);
	free(d.opt.cluster_ca);
	free(d.opt.config);
	free(d.opt.runc);
	free(d.opt.criu);
	free(d.opt.cgroup_parent);
	free(d.opt.monitor);
	free(d.opt.log_level);
	return r < 0 ? 1 : 0;
}

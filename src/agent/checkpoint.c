/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod checkpoints and restores.
 *
 * A pod checkpoint is consistent: every container is frozen (runc pause, the
 * cgroup freezer) before any is dumped, each is dumped while frozen (CRIU with
 * --leave-running keeps a paused container paused), and each writable layer is
 * captured while frozen too, since CRIU restores open files by size and a
 * layer copied later would hold writes the memory image never made. Then the
 * containers are thawed (a snapshot) or killed and the pod deleted. Any failure
 * thaws every container before it is reported: a failed checkpoint is harmless.
 *
 * It runs on the pod's worker thread, the only one that changes the pod.
 */
#define LOG_PREFIX "checkpoint"
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent-internal.h"
#include "ferry/ckpt.h"
#include "ferry/cleanup.h"
#include "ferry/digest.h"
#include "ferry/fs.h"
#include "ferry/image.h"
#include "ferry/log.h"
#include "ferry/runtime.h"
#include "ferry/store.h"

#define CKPT_WAIT_MS (10 * 60 * 1000)

static unsigned long long pages_bytes(const char *images)
{
	char pattern[PATH_MAX + 16];
	unsigned long long total = 0;
	glob_t g;
	struct stat st;

	snprintf(pattern, sizeof(pattern), "%s/pages-*.img", images);
	if (glob(pattern, 0, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (stat(g.gl_pathv[i], &st) == 0)
				total += (unsigned long long)st.st_size;
	globfree(&g);
	return total;
}

static void finish(struct ckpt_request *req, int r, json_t *result)
{
	pthread_mutex_lock(&req->lock);
	req->r = r;
	req->result = result;
	req->done = true;
	pthread_cond_signal(&req->cond);
	pthread_mutex_unlock(&req->lock);
}

void pod_checkpoint_run(struct pod *p, struct ckpt_request *req)
{
	struct agent *a = p->agent;
	size_t n = p->spec->n_containers, sel[POD_MAX_CONTAINERS], k = 0;
	bool paused[POD_MAX_CONTAINERS] = { false };
	char ids[POD_MAX_CONTAINERS][160];
	char staging[PATH_MAX], now[48];
	struct error *err = &req->err;
	int r = 0;

	/* Which containers, and are they all running? */
	for (size_t i = 0; i < n; i++) {
		if (req->container && strcmp(req->container, p->spec->containers[i].name) != 0)
			continue;
		json_t *c = container(p, i);
		if (strcmp(cstr(c, "state") ?: "", "running") != 0) {
			finish(req, error_setx(err, EBUSY,
					       "container '%s' of pod '%s' is not running: nothing to "
					       "checkpoint",
					       p->spec->containers[i].name, p->spec->name),
			       NULL);
			return;
		}
		snprintf(ids[k], sizeof(ids[k]), "%s", cstr(c, "id"));
		sel[k++] = i;
	}
	if (k == 0) {
		finish(req, error_setx(err, ENOENT, "container '%s' not found in pod '%s'",
				       req->container, p->spec->name),
		       NULL);
		return;
	}
	if (req->staging_dir)
		snprintf(staging, sizeof(staging), "%s", req->staging_dir);
	else
		snprintf(staging, sizeof(staging), "%s/checkpoint-staging", p->dir);
	(void)rm_rf(staging, NULL);
	pod_event(p, "Normal", "Checkpointing", "Checkpointing %s%s", req->container ? "container " : "pod",
		  req->container ? req->container : "");

	/* 1. Freeze every selected container before dumping any. */
	unsigned long long t0 = now_ns();
	for (size_t j = 0; j < k && r >= 0; j++) {
		r = runtime_pause(a->rt, ids[j], err);
		paused[j] = r >= 0;
	}
	unsigned long long t_frozen = now_ns();

	/* 2. Dump each, still frozen; capture its writable layer. */
	json_t *cstats = json_array(), *cmeta = json_array();
	unsigned long long pages_total = 0, diff_total = 0;
	for (size_t j = 0; j < k && r >= 0; j++) {
		size_t i = sel[j];
		const char *name = p->spec->containers[i].name;
		char dir[PATH_MAX + 64], images[PATH_MAX + 80], work[PATH_MAX + 80];
		snprintf(dir, sizeof(dir), "%s/containers/%s", staging, name);
		snprintf(images, sizeof(images), "%s/checkpoint", dir);
		snprintf(work, sizeof(work), "%s/../../work-%s", dir, name);
		struct checkpoint_opts co = CHECKPOINT_OPTS_INIT;
		struct runtime_op_stats st = { 0 };
		co.image_dir = images;
		co.work_dir = work;
		co.leave_running = true;
		co.tcp_established = req->tcp_established;
		co.file_locks = req->file_locks;
		co.timeout_ms = req->timeout_ms;
		r = runtime_checkpoint(a->rt, ids[j], &co, &st, err);
		if (r < 0) {
			error_wrap(err, "container '%s'", name);
			break;
		}
		/*
		 * runtime_checkpoint resumes a container it finds paused after a
		 * failure only; after success it stays frozen, as we need.
		 */
		char layer[PATH_MAX], log_dir[PATH_MAX], log[PATH_MAX], exitf[PATH_MAX];
		paths(p, i, cint(container(p, i), "restartCount"), layer, log_dir, log, exitf);
		cleanup_free char *changes = layer_changes_dir(layer);
		unsigned long long diff = 0;
		r = ckpt_rootfs_diff(changes, dir, &diff, err);
		if (r < 0) {
			error_wrap(err, "container '%s': rootfs changes", name);
			break;
		}
		/* spec.dump: the OCI config it ran with; config.dump: the container as ferry ran it. */
		cleanup_free char *config = path_join(layer, "config.json"), *text = NULL;
		cleanup_free char *spec_dump = path_join(dir, "spec.dump");
		cleanup_free char *config_dump = path_join(dir, "config.dump");
		size_t len = 0;
		r = read_file(config, 1 << 20, &text, &len, err);
		if (r >= 0)
			r = write_file_atomic(spec_dump, text, len, 0600, err);
		json_t *c = container(p, i);
		json_t *cd = json_pack("{s:s, s:s, s:s?, s:s, s:O?}", "name", name, "image",
				       p->spec->containers[i].image, "imageDigest", cstr(c, "imageID"),
				       "id", ids[j], "spec",
				       json_array_get(json_object_get(json_object_get(p->pod_json,
										       "spec"),
								      "containers"),
						      i));
		cleanup_free char *cd_text = json_dumps(cd, JSON_INDENT(2));
		if (r >= 0)
			r = write_file_atomic(config_dump, cd_text, strlen(cd_text), 0600, err);
		unsigned long long pb = pages_bytes(images);
		pages_total += pb;
		diff_total += diff;
		json_array_append_new(cstats, json_pack("{s:s, s:f, s:I, s:I}", "name", name,
							"dumpSeconds", (double)st.elapsed_ns / 1e9,
							"pagesBytes", (json_int_t)pb,
							"rootfsDiffBytes", (json_int_t)diff));
		json_array_append_new(cmeta, json_pack("{s:s, s:s, s:s?, s:s}", "name", name,
						       "image", p->spec->containers[i].image,
						       "imageDigest", cstr(c, "imageID"), "id", ids[j]));
		json_decref(cd);
	}
	unsigned long long t_dumped = now_ns();

	/* 3. Thaw (a snapshot, or a failure), or kill while frozen and thaw into death. */
	bool migrating = req->staging_dir && r >= 0; /* stays frozen until commit or abort */
	bool kill_them = r >= 0 && !req->leave_running && !migrating;
	for (size_t j = 0; j < k && !migrating; j++) {
		if (kill_them)
			(void)runtime_kill(a->rt, ids[j], SIGKILL, true, NULL);
		struct container_state cst;
		/* runtime_checkpoint already thawed a container whose dump failed */
		if (paused[j] && runtime_state(a->rt, ids[j], &cst, NULL) == 0 &&
		    cst.status == CONTAINER_PAUSED) {
			struct error e2 = { 0 };
			if (runtime_resume(a->rt, ids[j], &e2) < 0)
				log_error("pod='%s/%s' cannot thaw '%s': %s", pod_ns(p), p->spec->name,
					  ids[j], e2.msg);
		}
	}
	unsigned long long frozen_ns = now_ns() - t0;
	if (r < 0) {
		json_decref(cstats);
		json_decref(cmeta);
		(void)rm_rf(staging, NULL);
		pod_event(p, "Warning", "CheckpointFailed", "%s; the pod runs on", err->msg);
		finish(req, r, NULL);
		return;
	}

	/* 4. The archive: per-container stats, the manifest, the tar. */
	double freeze_s = (double)(t_frozen - t0) / 1e9, dump_s = (double)(t_dumped - t_frozen) / 1e9;
	size_t ci;
	json_t *cs;
	json_array_foreach(cstats, ci, cs)
	{
		char path[PATH_MAX + 128];
		snprintf(path, sizeof(path), "%s/containers/%s/stats-dump", staging,
			 json_string_value(json_object_get(cs, "name")));
		json_t *sd = json_pack("{s:f, s:f, s:O}", "freezeSeconds", freeze_s,
				       "frozenSeconds", (double)frozen_ns / 1e9, "container", cs);
		cleanup_free char *t = json_dumps(sd, JSON_INDENT(2));
		json_decref(sd);
		(void)write_file_atomic(path, t, strlen(t), 0600, NULL);
	}
	for (size_t j = 0; j < k; j++) {
		char work[PATH_MAX + 64];
		snprintf(work, sizeof(work), "%s/work-%s", staging, p->spec->containers[sel[j]].name);
		(void)rm_rf(work, NULL);
	}
	json_t *pod = json_deep_copy(p->pod_json);
	char criu[64];
	runtime_criu_version(a->rt, criu, sizeof(criu));
	json_t *manifest = json_pack(
		"{s:o, s:s, s:s, s:s, s:o, s:{s:b, s:b, s:b, s:s?}, s:{s:f, s:f, s:f, s:I, s:I, s:O}}",
		"pod", pod, "node", a->node_name, "created", rfc3339_now(now, sizeof(now)),
		"criuVersion", criu, "containers", cmeta, "options", "leaveRunning",
		req->leave_running, "tcpEstablished", req->tcp_established, "fileLocks",
		req->file_locks, "container", req->container, "stats", "freezeSeconds", freeze_s,
		"dumpSeconds", dump_s, "frozenSeconds", (double)frozen_ns / 1e9, "pagesBytes",
		(json_int_t)pages_total, "rootfsDiffBytes", (json_int_t)diff_total, "containers",
		cstats);
	unsigned long long t_write = now_ns();
	r = ckpt_seal(staging, manifest, err);
	if (migrating) {
		json_decref(manifest);
		if (r < 0) {
			for (size_t j = 0; j < k; j++)
				(void)runtime_resume(a->rt, ids[j], NULL);
			(void)rm_rf(staging, NULL);
			json_decref(cstats);
			finish(req, r, NULL);
			return;
		}
		for (size_t j = 0; j < k; j++)
			snprintf(req->frozen_ids[j], 160, "%s", ids[j]);
		*req->n_frozen = k;
		finish(req, 0,
		       json_pack("{s:f, s:f, s:I, s:I, s:o}", "freezeSeconds", freeze_s,
				 "dumpSeconds", dump_s, "pagesBytes", (json_int_t)pages_total,
				 "rootfsDiffBytes", (json_int_t)diff_total, "containers", cstats));
		return;
	}
	if (r >= 0)
		r = ckpt_pack(staging, req->compress, req->out_path, err);
	double write_s = (double)(now_ns() - t_write) / 1e9;
	(void)rm_rf(staging, NULL);
	json_decref(manifest);

	struct stat st;
	char digest[DIGEST_STR_LEN + 1] = "";
	if (r >= 0 && stat(req->out_path, &st) < 0)
		r = error_set(err, errno, "archive '%s'", req->out_path);
	if (r >= 0)
		r = digest_file(req->out_path, digest, err);
	if (r < 0) {
		json_decref(cstats);
		(void)unlink(req->out_path);
		if (kill_them)
			goto deleted; /* the containers are gone: the pod goes too */
		pod_event(p, "Warning", "CheckpointFailed", "%s; the pod runs on", err->msg);
		finish(req, r, NULL);
		return;
	}
	const char *base = strrchr(req->out_path, '/');
	json_t *result = json_pack(
		"{s:s, s:s, s:I, s:s, s:b, s:{s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:o}}", "archive",
		base ? base + 1 : req->out_path, "path", req->out_path, "size",
		(json_int_t)st.st_size, "digest", digest, "leftRunning", req->leave_running, "stats",
		"freezeSeconds", freeze_s, "dumpSeconds", dump_s, "frozenSeconds",
		(double)frozen_ns / 1e9, "writeSeconds", write_s, "pagesBytes", (json_int_t)pages_total,
		"rootfsDiffBytes", (json_int_t)diff_total, "archiveBytes", (json_int_t)st.st_size,
		"containers", cstats);
	char sz[32];
	pod_event(p, "Normal", "Checkpointed",
		  "Checkpointed to %s (%s, frozen %.2fs)%s", base ? base + 1 : req->out_path,
		  format_bytes((unsigned long long)st.st_size, sz, sizeof(sz)),
		  (double)frozen_ns / 1e9, req->leave_running ? "; left running" : "; stopped");
	finish(req, 0, result);
	if (!kill_them)
		return;
deleted:
	/* Stopped by the checkpoint: the pod is deleted (its state is in the archive). */
	pod_mark_deleting(p);
	if (r < 0) {
		pod_event(p, "Warning", "CheckpointFailed", "%s", err->msg);
		finish(req, r, NULL);
	}
}

void pod_restore_done(struct pod *p)
{
	for (size_t i = 0; i < p->spec->n_containers; i++)
		if (cstr(container(p, i), "restoreFrom"))
			return;
	cleanup_free char *dir = path_join(p->dir, "checkpoint");
	if (dir)
		(void)rm_rf(dir, NULL);
}

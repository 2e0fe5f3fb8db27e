/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "agent"
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "agent-internal.h"
#include "ferry/ckpt.h"
#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/image.h"
#include "ferry/log.h"
#include "ferry/metrics.h"
#include "ferry/netns.h"
#include "ferry/runtime.h"
#include "ferry/store.h"
#include "ferry/tarball.h"

static void uuid4(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static void timestamp(char now[48])
{
	rfc3339_now(now, 48);
	now[19] = 'Z'; /* Kubernetes timestamps have whole seconds */
	now[20] = '\0';
}

void pod_free(struct pod *p)
{
	if (!p)
		return;
	json_decref(p->pod_json);
	json_decref(p->state);
	pod_spec_free(p->spec);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}

static struct pod *pod_alloc(struct agent *a, const char *uid, json_t *pod_json,
			     struct pod_spec *spec, json_t *state)
{
	struct pod *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->agent = a;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	snprintf(p->dir, sizeof(p->dir), "%s/pods/%s", a->state_dir, uid);
	snprintf(p->netns, sizeof(p->netns), "%s/netns", p->dir);
	snprintf(p->ipcns, sizeof(p->ipcns), "%s/ipcns", p->dir);
	snprintf(p->utsns, sizeof(p->utsns), "%s/utsns", p->dir);
	p->pod_json = pod_json;
	p->spec = spec;
	p->state = state;
	p->containers = json_object_get(state, "containers");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	return p;
}

static int start_worker(struct pod *p, struct error *err)
{
	int r = pthread_create(&p->thread, NULL, pod_worker, p);
	if (r != 0)
		return error_set(err, r, "cannot start the worker of pod '%s'", p->spec->name);
	p->has_thread = true;
	return 0;
}

/* With a->lock held. */
static struct pod *find(struct agent *a, const char *ns, const char *name)
{
	for (struct pod *p = a->pods; p; p = p->next)
		if (strcmp(p->spec->namespace_, ns) == 0 && strcmp(p->spec->name, name) == 0)
			return p;
	return NULL;
}

void pod_mark_deleting(struct pod *p)
{
	char now[48];

	pthread_mutex_lock(&p->lock);
	if (!p->deleting) {
		p->deleting = true;
		timestamp(now);
		json_object_set_new(p->state, "deletionTimestamp", json_string(now));
	}
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pod_persist(p); /* a restarted agent finishes the deletion */
}

struct pod *agent_find_pod(struct agent *a, const char *ns, const char *name)
{
	return find(a, ns, name);
}

void agent_remove_pod(struct agent *a, struct pod *p)
{
	pthread_mutex_lock(&a->lock);
	for (struct pod **pp = &a->pods; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&a->lock);
	pthread_detach(p->thread);
	pod_free(p);
}

/* --------------------------------------------------------------- the API's view */

static json_t *container_status(struct pod *p, size_t i)
{
	json_t *c = json_array_get(p->containers, i);
	const struct container_spec *cs = &p->spec->containers[i];
	const char *s = cstr(c, "state") ?: "waiting";
	json_t *state;

	if (strcmp(s, "running") == 0)
		state = json_pack("{s:{s:O?}}", "running", "startedAt", json_object_get(c, "startedAt"));
	else if (strcmp(s, "terminated") == 0)
		state = json_pack("{s:{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}}", "terminated", "exitCode",
				  json_object_get(c, "exitCode"), "signal",
				  json_object_get(c, "signal"), "reason", json_object_get(c, "reason"),
				  "message", json_object_get(c, "message"), "startedAt",
				  json_object_get(c, "startedAt"), "finishedAt",
				  json_object_get(c, "finishedAt"));
	else
		state = json_pack("{s:{s:s, s:O?}}", "waiting", "reason",
				  cstr(c, "reason") ?: "ContainerCreating", "message",
				  json_object_get(c, "message"));
	json_t *st = json_pack("{s:s, s:o, s:b, s:I, s:s, s:b}", "name", cs->name, "state", state,
			       "ready", strcmp(s, "running") == 0, "restartCount",
			       (json_int_t)cint(c, "restartCount"), "image", cs->image, "started",
			       strcmp(s, "running") == 0);
	if (json_object_get(c, "lastState"))
		json_object_set(st, "lastState", json_object_get(c, "lastState"));
	else
		json_object_set_new(st, "lastState", json_object());
	if (cstr(c, "imageID"))
		json_object_set(st, "imageID", json_object_get(c, "imageID"));
	if (cstr(c, "id")) {
		char cid[160];
		snprintf(cid, sizeof(cid), "runc://%s", cstr(c, "id"));
		json_object_set_new(st, "containerID", json_string(cid));
	}
	return st;
}

/* The Pod as the API returns it. With p->lock held. */
static json_t *pod_view(struct pod *p)
{
	struct agent *a = p->agent;
	json_t *pod = json_deep_copy(p->pod_json);
	json_t *statuses = json_array();
	bool all_ready = true;

	for (size_t i = 0; i < p->spec->n_containers; i++) {
		json_t *cs = container_status(p, i);
		all_ready = all_ready && json_is_true(json_object_get(cs, "ready"));
		json_array_append_new(statuses, cs);
	}
	json_t *ts = json_object_get(json_object_get(p->pod_json, "metadata"), "creationTimestamp");
	const char *ready = all_ready ? "True" : "False";
	json_t *conditions = json_pack(
		"[{s:s, s:s, s:O}, {s:s, s:s, s:O}, {s:s, s:s, s:O}, {s:s, s:s, s:O}]", "type",
		"PodScheduled", "status", "True", "lastTransitionTime", ts, "type", "Initialized",
		"status", "True", "lastTransitionTime", ts, "type", "ContainersReady", "status", ready,
		"lastTransitionTime", ts, "type", "Ready", "status", ready, "lastTransitionTime", ts);
	json_t *status = json_pack("{s:s, s:o, s:s, s:o}", "phase", pod_phase(p), "conditions",
				   conditions, "hostIP", a->host_ip, "containerStatuses", statuses);
	if (json_object_get(p->state, "startTime"))
		json_object_set(status, "startTime", json_object_get(p->state, "startTime"));
	if (json_object_get(p->state, "migration"))
		json_object_set_new(status, "migration",
				    json_deep_copy(json_object_get(p->state, "migration")));
	json_object_set_new(pod, "status", status);
	json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string(a->node_name));
	if (json_object_get(p->state, "deletionTimestamp"))
		json_object_set(json_object_get(pod, "metadata"), "deletionTimestamp",
				json_object_get(p->state, "deletionTimestamp"));
	return pod;
}

/* --------------------------------------------------------------- lifecycle */

static int load_one(const struct store_pod *sp, void *userdata)
{
	struct agent *a = userdata;
	struct error err = { 0 };
	struct pod_spec *spec = NULL;
	json_t *pod_json = json_loads(sp->spec, 0, NULL);
	json_t *state = json_loads(sp->state, 0, NULL);

	if (!pod_json || !state || pod_spec_from_json(pod_json, sp->namespace_, true, &spec, &err) < 0) {
		log_error("pod='%s/%s' uid=%s cannot be loaded, leaving it alone: %s", sp->namespace_,
			  sp->name, sp->uid, err.msg[0] ? err.msg : "corrupt record");
		json_decref(pod_json);
		json_decref(state);
		return 0;
	}
	struct pod *p = pod_alloc(a, sp->uid, pod_json, spec, state);
	if (!p)
		return -ENOMEM;
	if (json_object_get(state, "deletionTimestamp"))
		p->deleting = true;
	json_t *mig = json_object_get(state, "migration");
	const char *mph = json_string_value(json_object_get(mig, "phase"));
	if (mig && mph && strcmp(mph, "Succeeded") != 0 && strcmp(mph, "Failed") != 0 &&
	    strcmp(mph, "RolledBack") != 0) {
		/* a copy half made when the agent stopped: the source has it, this goes */
		log_warning("pod='%s/%s' was migrating in (%s) when the agent stopped: removing the "
			    "copy", sp->namespace_, sp->name, mph);
		p->deleting = true;
		json_object_set_new(mig, "phase", json_string("Failed"));
	}
	size_t adopted = 0;
	for (size_t i = 0; i < spec->n_containers; i++) {
		json_t *c = json_array_get(json_object_get(state, "containers"), i);
		if (!cstr(c, "state") || strcmp(cstr(c, "state"), "running") != 0)
			continue;
		adopted++;
		/*
		 * An agent that died in the middle of a checkpoint left the pod
		 * frozen: thaw it (a migration's source pod is handled, and
		 * thawed, by its migration record).
		 */
		struct container_state st;
		if (cstr(c, "id") && runtime_state(a->rt, cstr(c, "id"), &st, NULL) == 0 &&
		    st.status == CONTAINER_PAUSED) {
			struct error e2 = { 0 };
			if (runtime_resume(a->rt, cstr(c, "id"), &e2) < 0)
				log_error("pod='%s/%s' cannot thaw '%s': %s", sp->namespace_, sp->name,
					  cstr(c, "id"), e2.msg);
			else
				log_notice("pod='%s/%s' container '%s' was left frozen: thawed",
					   sp->namespace_, sp->name, cstr(c, "id"));
		}
	}
	log_info("pod='%s/%s' re-adopted (%zu running container(s))", sp->namespace_, sp->name,
		 adopted);
	p->next = a->pods;
	a->pods = p;
	return 0;
}

int agent_new(const struct agent_config *cfg, struct agent **ret, struct error *err)
{
	static const char *const phase_label[] = { "phase", NULL };
	static const char *const reason_label[] = { "reason", NULL };
	struct agent *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return error_set(err, ENOMEM, "agent");
	pthread_mutex_init(&a->lock, NULL);
	a->node_name = strdup(cfg->node_name);
	a->host_ip = strdup(cfg->host_ip);
	a->state_dir = strdup(cfg->state_dir);
	a->monitor_path = strdup(cfg->monitor_path);
	a->runc_path = strdup(cfg->runc_path ? cfg->runc_path : "runc");
	a->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : 1000;
	a->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 60000;
	a->rt = cfg->rt;
	a->images = cfg->images;
	a->metrics = cfg->metrics;
	if (cfg->metrics) {
		a->pods_gauge = metrics_register(cfg->metrics, METRIC_GAUGE, "ferry_pods",
						 "Pods on this node by phase.", phase_label, NULL, 0);
		a->events_total = metrics_register(cfg->metrics, METRIC_COUNTER,
						   "ferry_pod_events_total",
						   "Pod events recorded, by reason.", reason_label,
						   NULL, 0);
	}
	cleanup_free char *db = path_join(cfg->state_dir, "ferry.db");
	cleanup_free char *pods = path_join(cfg->state_dir, "pods");
	a->checkpoints_dir = path_join(cfg->state_dir, "checkpoints");
	if (!a->node_name || !a->host_ip || !a->state_dir || !a->monitor_path || !a->runc_path ||
	    !db || !pods || !a->checkpoints_dir) {
		agent_free(a);
		return error_set(err, ENOMEM, "agent");
	}
	if ((r = mkdir_p(pods, 0700)) < 0 || (r = mkdir_p(a->checkpoints_dir, 0700)) < 0) {
		agent_free(a);
		return error_set(err, r, "cannot create directories in '%s'", cfg->state_dir);
	}
	a->ca_path = path_join(cfg->state_dir, "tls/ca.crt");
	{
		/* tmpfs for migrations in flight, one dir per agent (its state dir's inode keeps two apart) */
		struct stat st;
		struct statfs sf;
		if (stat(cfg->state_dir, &st) == 0 && statfs("/dev/shm", &sf) == 0 &&
		    sf.f_type == TMPFS_MAGIC)
			(void)!asprintf(&a->scratch_dir, "/dev/shm/ferry-%s-%llx", cfg->node_name,
					(unsigned long long)st.st_ino);
		else
			a->scratch_dir = path_join(cfg->state_dir, "scratch");
		if (a->scratch_dir) {
			(void)rm_rf(a->scratch_dir, NULL); /* what a stopped agent left in flight */
			(void)mkdir_p(a->scratch_dir, 0700);
		}
	}
	a->loopback = strncmp(a->host_ip, "127.", 4) == 0;
	r = store_open(db, &a->store, err);
	if (r >= 0)
		r = store_pod_foreach(a->store, load_one, a, err);
	if (r >= 0)
		r = migration_agent_init(a, err);
	for (struct pod *p = a->pods; r >= 0 && p; p = p->next)
		r = start_worker(p, err);
	if (r < 0) {
		agent_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

struct agent *agent_free(struct agent *a)
{
	if (!a)
		return NULL;
	/* Stop the workers; a deletion under way finishes first. Containers run on. */
	pthread_mutex_lock(&a->lock);
	for (struct pod *p = a->pods; p; p = p->next) {
		pthread_mutex_lock(&p->lock);
		p->stop = !p->deleting;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&a->lock);
	for (;;) {
		pthread_mutex_lock(&a->lock);
		struct pod *p = a->pods;
		while (p && (!p->has_thread || p->deleting))
			p = p->next;
		if (!p) {
			bool deleting = false;
			for (struct pod *q = a->pods; q; q = q->next)
				deleting = deleting || (q->has_thread && q->deleting);
			pthread_mutex_unlock(&a->lock);
			if (!deleting)
				break;
			usleep(100 * 1000); /* a deletion removes its pod itself */
			continue;
		}
		p->has_thread = false;
		pthread_t t = p->thread;
		pthread_mutex_unlock(&a->lock);
		pthread_join(t, NULL);
	}
	while (a->pods) {
		struct pod *p = a->pods;
		a->pods = p->next;
		pod_free(p);
	}
	if (a->store)
		migration_agent_done(a);
	free(a->ca_path);
	if (a->scratch_dir)
		(void)rm_rf(a->scratch_dir, NULL);
	free(a->scratch_dir);
	store_free(a->store);
	pthread_mutex_destroy(&a->lock);
	free(a->node_name);
	free(a->host_ip);
	free(a->state_dir);
	free(a->monitor_path);
	free(a->runc_path);
	free(a->checkpoints_dir);
	free(a);
	return NULL;
}

/*
 * Takes a validated pod in: the Pod as the API shows it, its record, its
 * sandbox, its row in the store, its worker. restore_dir: an unpacked
 * checkpoint to move into the pod's directory first (may be NULL).
 */
static int admit(struct agent *a, const char *uid, struct pod_spec *spec, json_t *spec_json,
		 json_t *state, const char *restore_dir, json_t **ret_pod, struct error *err)
{
	char now[48];
	int r;

	timestamp(now);
	json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "name", spec->name, "namespace",
				 spec->namespace_, "uid", uid, "creationTimestamp", now, "labels",
				 spec->labels, "annotations", spec->annotations);
	json_t *pod_json = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "Pod",
				     "metadata", meta, "spec", spec_json);
	json_object_set_new(spec_json, "restartPolicy",
			    json_string(restart_policy_to_string(spec->restart_policy)));
	json_object_set_new(spec_json, "terminationGracePeriodSeconds",
			    json_integer(spec->grace_period_s));
	json_object_set_new(state, "startTime", json_string(now));

	struct pod *p = pod_alloc(a, uid, pod_json, spec, state);
	if (!p) {
		json_decref(pod_json);
		json_decref(state);
		pod_spec_free(spec);
		return error_set(err, ENOMEM, "pod");
	}

	pthread_mutex_lock(&a->lock);
	if (find(a, spec->namespace_, spec->name)) {
		pthread_mutex_unlock(&a->lock);
		r = error_setx(err, EEXIST, "pods \"%s\" already exists in namespace '%s'", spec->name,
			       spec->namespace_);
		pod_free(p);
		return r;
	}
	cleanup_free char *ckpt_dir = path_join(p->dir, "checkpoint");
	/* The sandbox: the pod's network, IPC and UTS namespaces, owned by the agent. */
	if ((r = mkdir_p(p->dir, 0700)) < 0) {
		error_set(err, r, "cannot create '%s'", p->dir);
	} else if (restore_dir && rename(restore_dir, ckpt_dir) < 0) {
		r = error_set(err, errno, "cannot move the checkpoint into '%s'", p->dir);
	} else if ((r = ns_create(p->netns, CLONE_NEWNET, NULL, err)) >= 0 &&
		   (r = ns_create(p->ipcns, CLONE_NEWIPC, NULL, err)) >= 0 &&
		   (r = ns_create(p->utsns, CLONE_NEWUTS, spec->name, err)) >= 0) {
		cleanup_free char *spec_text = json_dumps(pod_json, JSON_COMPACT);
		cleanup_free char *state_text = json_dumps(state, JSON_COMPACT);
		struct store_pod sp = { uid, spec->namespace_, spec->name, spec_text, state_text, now };
		r = store_pod_insert(a->store, &sp, err);
		if (r >= 0)
			r = start_worker(p, err);
		if (r < 0)
			(void)store_pod_delete(a->store, uid, NULL);
	}
	if (r < 0) {
		pthread_mutex_unlock(&a->lock);
		(void)netns_remove(p->netns, NULL);
		(void)netns_remove(p->ipcns, NULL);
		(void)netns_remove(p->utsns, NULL);
		(void)rm_rf(p->dir, NULL);
		pod_free(p);
		return r;
	}
	p->next = a->pods;
	a->pods = p;
	pthread_mutex_lock(&p->lock);
	*ret_pod = pod_view(p);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&a->lock);
	pod_event(p, "Normal", "Scheduled", "Assigned %s/%s to %s", p->spec->namespace_,
		  p->spec->name, a->node_name);
	return 0;
}

static int check_images(struct agent *a, struct pod_spec *spec, struct error *err)
{
	struct image_info img;
	for (size_t i = 0; i < spec->n_containers; i++) {
		struct error e2 = { 0 };
		if (image_store_get(a->images, spec->containers[i].image, &img, &e2) < 0)
			return error_setx(err, EINVAL,
					  "spec.containers[%zu].image: Invalid value: \"%s\": no such "
					  "image on node '%s' (ferry image import)",
					  i, spec->containers[i].image, a->node_name);
	}
	return 0;
}

int agent_pod_create(struct agent *a, const char *ns, json_t *pod, json_t **ret_pod,
		     struct error *err)
{
	struct pod_spec *spec = NULL;
	char uid[37];
	int r;

	if (!name_is_dns_label(ns))
		return error_setx(err, EINVAL, "namespace '%s' is not a DNS-1123 label", ns);
	r = pod_spec_from_json(pod, ns, true, &spec, err);
	if (r < 0)
		return r;
	/* A clone pulls from its source the images this node lacks. */
	r = spec->clone_pod ? 0 : check_images(a, spec, err);
	if (r < 0) {
		pod_spec_free(spec);
		return r;
	}
	json_t *clone = spec->clone_pod;
	if (clone) {
		/* spec.clonePod: {node: "https://SOURCE:PORT", namespace, name, timeoutSeconds, keepSourceCheckpoint} */
		const char *node = json_string_value(json_object_get(clone, "node"));
		const char *cns = json_string_value(json_object_get(clone, "namespace"));
		const char *cname = json_string_value(json_object_get(clone, "name"));
		json_t *t = json_object_get(clone, "timeoutSeconds");
		const char *bad = !node || strncmp(node, "https://", 8) != 0 ? "node: must be an https:// URL"
				  : !name_is_dns_label(cns) ? "namespace: must be a DNS-1123 label"
				  : !name_is_dns_label(cname) ? "name: must be a DNS-1123 label"
				  : t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
					  json_integer_value(t) > 3600)
					  ? "timeoutSeconds: must be 1 to 3600"
					  : NULL;
		if (bad) {
			r = error_setx(err, EINVAL, "spec.clonePod.%s", bad);
			pod_spec_free(spec);
			return r;
		}
	}
	json_t *containers = json_array();
	for (size_t i = 0; i < spec->n_containers; i++)
		json_array_append_new(containers,
				      json_pack("{s:s, s:s, s:i, s:s}", "name", spec->containers[i].name,
						"state", "waiting", "restartCount", 0, "reason",
						clone ? "Migrating" : "ContainerCreating"));
	json_t *state = json_pack("{s:o}", "containers", containers);
	if (clone) {
		struct migration *m = migration_new(a, false, spec->namespace_, spec->name,
						    json_string_value(json_object_get(clone, "node")));
		if (!m) {
			json_decref(state);
			pod_spec_free(spec);
			return error_set(err, ENOMEM, "migration");
		}
		json_object_set_new(state, "migration",
				    json_pack("{s:s, s:s}", "id", m->id, "phase", "Pending"));
	}
	uuid4(uid);
	return admit(a, uid, spec, json_deep_copy(json_object_get(pod, "spec")), state, NULL, ret_pod,
		     err);
}

int agent_pod_restore(struct agent *a, const char *ns, const char *name, const char *archive,
		      json_t **ret_pod, struct error *err)
{
	cleanup_free char *tmp = NULL;
	struct pod_spec *spec = NULL;
	json_t *manifest = NULL;
	char uid[37];
	int r;

	if (!name_is_dns_label(ns))
		return error_setx(err, EINVAL, "namespace '%s' is not a DNS-1123 label", ns);
	if (name && !name_is_dns_label(name))
		return error_setx(err, EINVAL, "name '%s' is not a DNS-1123 label", name);
	uuid4(uid);
	if (asprintf(&tmp, "%s/images/tmp/restore-%s", a->state_dir, uid) < 0)
		return error_set(err, ENOMEM, "restore");
	/* Everything is verified before anything else is done with the archive. */
	r = ckpt_unpack(archive, tmp, &manifest, err);
	if (r < 0)
		return r;

	json_t *pod = json_deep_copy(json_object_get(manifest, "pod"));
	json_t *meta = json_object_get(pod, "metadata");
	if (!json_is_object(meta)) {
		r = error_setx(err, EBADMSG, "the checkpoint's pod has no metadata");
		goto out;
	}
	if (name)
		json_object_set_new(meta, "name", json_string(name));
	json_object_set_new(meta, "namespace", json_string(ns));
	r = pod_spec_from_json(pod, ns, true, &spec, err);
	if (r < 0) {
		error_wrap(err, "the checkpoint's pod");
		goto out;
	}
	r = check_images(a, spec, err);
	/* The rootfs changes apply over the very image they were made on. */
	json_t *mc, *opts = json_object_get(manifest, "options");
	size_t i;
	json_array_foreach(json_object_get(manifest, "containers"), i, mc)
	{
		struct image_info img;
		const char *want = json_string_value(json_object_get(mc, "imageDigest"));
		const char *image = json_string_value(json_object_get(mc, "image"));
		if (r >= 0 && image && image_store_get(a->images, image, &img, NULL) == 0 && want &&
		    strcmp(img.digest, want) != 0)
			r = error_setx(err, EINVAL,
				       "image '%s' on node '%s' is %s, the checkpoint was made on %s",
				       image, a->node_name, img.digest, want);
	}
	if (r < 0) {
		pod_spec_free(spec);
		goto out;
	}
	json_t *containers = json_array();
	for (size_t k = 0; k < spec->n_containers; k++) {
		const char *cname = spec->containers[k].name;
		char from[PATH_MAX];
		bool dumped = false;
		json_array_foreach(json_object_get(manifest, "containers"), i, mc)
			dumped = dumped || strcmp(json_string_value(json_object_get(mc, "name")) ?: "", cname) == 0;
		snprintf(from, sizeof(from), "%s/pods/%s/checkpoint/containers/%s", a->state_dir, uid,
			 cname);
		json_t *c = json_pack("{s:s, s:s, s:i, s:s}", "name", cname, "state", "waiting",
				      "restartCount", 0, "reason",
				      dumped ? "Restoring" : "ContainerCreating");
		if (dumped) {
			json_object_set_new(c, "restoreFrom", json_string(from));
			json_object_set(c, "restoreTcpEstablished", json_object_get(opts, "tcpEstablished"));
			json_object_set(c, "restoreFileLocks", json_object_get(opts, "fileLocks"));
		}
		json_array_append_new(containers, c);
	}
	r = admit(a, uid, spec, json_deep_copy(json_object_get(pod, "spec")),
		  json_pack("{s:o}", "containers", containers), tmp, ret_pod, err);
out:
	json_decref(pod);
	json_decref(manifest);
	(void)rm_rf(tmp, NULL);
	return r;
}

static int not_found(struct error *err, const char *ns, const char *name)
{
	return error_setx(err, ENOENT, "pods \"%s\" not found in namespace '%s'", name, ns);
}

int agent_pod_get(struct agent *a, const char *ns, const char *name, json_t **ret_pod,
		  struct error *err)
{
	pthread_mutex_lock(&a->lock);
	struct pod *p = find(a, ns, name);
	if (p) {
		pthread_mutex_lock(&p->lock);
		*ret_pod = pod_view(p);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return p ? 0 : not_found(err, ns, name);
}

static int cmp_pods(const void *x, const void *y)
{
	json_t *const *a = x, *const *b = y;
	json_t *ma = json_object_get(*a, "metadata"), *mb = json_object_get(*b, "metadata");
	int c = strcmp(json_string_value(json_object_get(ma, "namespace")),
		       json_string_value(json_object_get(mb, "namespace")));
	return c ? c : strcmp(json_string_value(json_object_get(ma, "name")),
			      json_string_value(json_object_get(mb, "name")));
}

int agent_pod_list(struct agent *a, const char *ns, json_t **ret_list, struct error *err)
{
	json_t *items[1024];
	size_t n = 0;

	pthread_mutex_lock(&a->lock);
	for (struct pod *p = a->pods; p && n < ELEMENTSOF(items); p = p->next) {
		if (ns && strcmp(p->spec->namespace_, ns) != 0)
			continue;
		pthread_mutex_lock(&p->lock);
		items[n++] = pod_view(p);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&a->lock);
	qsort(items, n, sizeof(items[0]), cmp_pods);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	*ret_list = json_pack("{s:s, s:s, s:{}, s:o}", "apiVersion", "v1", "kind", "PodList",
			      "metadata", "items", arr);
	return *ret_list ? 0 : error_set(err, ENOMEM, "pod list");
}

int agent_pod_delete(struct agent *a, const char *ns, const char *name, json_t **ret_pod,
		     struct error *err)
{
	pthread_mutex_lock(&a->lock);
	struct pod *p = find(a, ns, name);
	if (!p) {
		pthread_mutex_unlock(&a->lock);
		return not_found(err, ns, name);
	}
	pod_mark_deleting(p);
	pthread_mutex_lock(&p->lock);
	*ret_pod = pod_view(p);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

struct events_ctx {
	json_t *items;
	json_t *involved;
};

static int add_event(const struct store_event *e, void *userdata)
{
	struct events_ctx *c = userdata;
	json_array_append_new(c->items,
			      json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:s}", "apiVersion", "v1",
					"kind", "Event", "involvedObject", c->involved, "type", e->type,
					"reason", e->reason, "message", e->message, "lastTimestamp",
					e->time));
	return 0;
}

int agent_pod_events(struct agent *a, const char *ns, const char *name, json_t **ret_list,
		     struct error *err)
{
	char uid[40];
	pthread_mutex_lock(&a->lock);
	struct pod *p = find(a, ns, name);
	if (p)
		snprintf(uid, sizeof(uid), "%s", p->uid);
	pthread_mutex_unlock(&a->lock);
	if (!p)
		return not_found(err, ns, name);
	struct events_ctx c = { json_array(), json_pack("{s:s, s:s, s:s, s:s}", "kind", "Pod",
							 "namespace", ns, "name", name, "uid", uid) };
	int r = store_event_foreach(a->store, uid, add_event, &c, err);
	json_decref(c.involved);
	if (r < 0) {
		json_decref(c.items);
		return r;
	}
	*ret_list = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "EventList", "items",
			      c.items);
	return 0;
}

/* With a->lock held: the index of the named container (or the only one). */
static int container_index(struct pod *p, const char *container, struct error *err)
{
	if (!container) {
		if (p->spec->n_containers == 1)
			return 0;
		return error_setx(err, EINVAL,
				  "pod '%s' has %zu containers: choose one (-c NAME, or container=NAME)",
				  p->spec->name, p->spec->n_containers);
	}
	for (size_t i = 0; i < p->spec->n_containers; i++)
		if (strcmp(p->spec->containers[i].name, container) == 0)
			return (int)i;
	return error_setx(err, ENOENT, "container '%s' not found in pod '%s'", container,
			  p->spec->name);
}

int agent_container_log(struct agent *a, const char *ns, const char *name,
			const char *container, char **ret_path, struct error *err)
{
	int r;
	pthread_mutex_lock(&a->lock);
	struct pod *p = find(a, ns, name);
	if (!p)
		r = not_found(err, ns, name);
	else if ((r = container_index(p, container, err)) >= 0) {
		pthread_mutex_lock(&p->lock);
		json_t *c = json_array_get(p->containers, (size_t)r);
		long long restart = cint(c, "restartCount");
		/* a container waiting to restart shows the log of its last run */
		if (!cstr(c, "id") && restart == 0)
			r = error_setx(err, ENOENT, "container '%s' has not started yet",
				       p->spec->containers[r].name);
		else if (asprintf(ret_path, "%s/logs/%s/%lld.log", p->dir,
				  p->spec->containers[r].name,
				  strcmp(cstr(c, "state") ?: "", "waiting") == 0 && restart > 0
					  ? restart - 1
					  : restart) < 0)
			r = error_set(err, ENOMEM, "log");
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return r < 0 ? r : 0;
}

bool agent_container_running(struct agent *a, const char *ns, const char *name,
			     const char *container)
{
	bool running = false;
	pthread_mutex_lock(&a->lock);
	struct pod *p = find(a, ns, name);
	int i = p ? container_index(p, container, NULL) : -1;
	if (i >= 0) {
		pthread_mutex_lock(&p->lock);
		json_t *c = json_array_get(p->containers, (size_t)i);
		running = strcmp(cstr(c, "state") ?: "", "running") == 0;
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return running;
}

int agent_container_exec(struct agent *a, const char *ns, const char *name,
			 const char *container, const char *const argv[], int *ret_exit,
			 char **ret_output, struct error *err)
{
	char id[160] = "";
	int r;

	pthread_mutex_lock(&a->lock);
	struct pod *p = find(a, ns, name);
	if (!p)
		r = not_found(err, ns, name);
	else if ((r = container_index(p, container, err)) >= 0) {
		pthread_mutex_lock(&p->lock);
		json_t *c = json_array_get(p->containers, (size_t)r);
		if (strcmp(cstr(c, "state") ?: "", "running") != 0)
			r = error_setx(err, EBUSY, "container '%s' is not running",
				       p->spec->containers[r].name);
		else
			snprintf(id, sizeof(id), "%s", cstr(c, "id"));
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		return r;
	return runtime_exec(a->rt, id, argv, 0, ret_exit, ret_output, err);
}

const char *agent_checkpoints_dir(struct agent *a)
{
	return a->checkpoints_dir;
}

/* An annotation that turns a checkpoint option off ("false") or on; default on. */
static bool pod_option(struct pod *p, int given, const char *annotation)
{
	if (given >= 0)
		return given;
	const char *v = json_string_value(json_object_get(p->spec->annotations, annotation));
	return !v || strcmp(v, "false") != 0;
}

int agent_pod_checkpoint(struct agent *a, const char *ns, const char *name,
			 const struct agent_checkpoint_opts *o, json_t **ret, struct error *err)
{
	int c = tar_compression_from_string(o->compress ? o->compress : "zstd");
	char path[PATH_MAX], now[48];
	static const char *const ext[] = { ".tar", ".tar.gz", ".tar.zst" };

	if (c < 0)
		return error_setx(err, EINVAL, "compression '%s': use zstd, gzip or none", o->compress);
	if (o->container && !name_is_dns_label(o->container))
		return error_setx(err, EINVAL, "invalid container name '%s'", o->container);
	timestamp(now);
	/* The kubelet's name: checkpoint-<pod>_<namespace>-<container>-<RFC 3339 time>.tar */
	int n = snprintf(path, sizeof(path), "%s/checkpoint-%s_%s%s%s-%s", a->checkpoints_dir, name, ns,
			 o->container ? "-" : "", o->container ? o->container : "", now);
	for (int k = 2; k < 100; k++) {
		snprintf(path + n, sizeof(path) - (size_t)n, "%s", ext[c]);
		if (!path_exists(path))
			break;
		snprintf(path + n, sizeof(path) - (size_t)n, ".%d%s", k, ext[c]);
		if (!path_exists(path))
			break;
	}

	struct ckpt_request req = {
		.container = o->container, .leave_running = o->leave_running, .compress = c,
		.out_path = path, .timeout_ms = o->timeout_ms,
	};
	pthread_mutex_init(&req.lock, NULL);
	pthread_cond_init(&req.cond, NULL);

	pthread_mutex_lock(&a->lock);
	struct pod *p = find(a, ns, name);
	if (!p) {
		pthread_mutex_unlock(&a->lock);
		return not_found(err, ns, name);
	}
	pthread_mutex_lock(&p->lock);
	int r = 0;
	if (p->deleting)
		r = error_setx(err, EBUSY, "pod '%s' is being deleted", name);
	else if (p->ckpt)
		r = error_setx(err, EBUSY, "pod '%s' is being checkpointed already", name);
	else {
		req.tcp_established = pod_option(p, o->tcp_established, "ferry.io/tcp-established");
		req.file_locks = pod_option(p, o->file_locks, "ferry.io/file-locks");
		p->ckpt = &req;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		return r;

	/* The worker does it; the request is ours, so the pod may go meanwhile. */
	pthread_mutex_lock(&req.lock);
	while (!req.done)
		pthread_cond_wait(&req.cond, &req.lock);
	pthread_mutex_unlock(&req.lock);
	pthread_mutex_destroy(&req.lock);
	pthread_cond_destroy(&req.cond);
	if (req.r < 0) {
		if (err)
			*err = req.err;
		return req.r;
	}
	*ret = req.result;
	return 0;
}

void agent_update_metrics(struct agent *a)
{
	static const char *const phases[] = { "Pending", "Running", "Succeeded", "Failed" };
	double count[4] = { 0 };

	pthread_mutex_lock(&a->lock);
	for (struct pod *p = a->pods; p; p = p->next) {
		pthread_mutex_lock(&p->lock);
		const char *ph = pod_phase(p);
		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < 4; i++)
			if (strcmp(ph, phases[i]) == 0)
				count[i]++;
	}
	pthread_mutex_unlock(&a->lock);
	for (size_t i = 0; i < 4; i++) {
		const char *const l[] = { phases[i] };
		metric_set(a->pods_gauge, l, count[i]);
	}
}

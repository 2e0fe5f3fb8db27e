/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration, both halves, as a state machine with persisted phases.
 *
 * Destination (the new pod's worker, pod_migrate_in): a pod whose
 * spec.clonePod names a source pod. It makes sure it has the source's images
 * by digest (pulling them from the source when not), asks the source to
 * migrate (POST /migrate/{ns}/{pod}), streams the checkpoint
 * (GET /migrations/{id}/archive) and unpacks it as it arrives (every file's
 * digest verified), restores all containers in parallel, runs the postStart
 * hooks, and commits (POST /migrations/{id}/commit). Any failure before the
 * commit aborts (POST /migrations/{id}/abort) and removes the copy.
 *
 * Source: the migrate request freezes the pod and dumps every container,
 * keeping it frozen (not killed): an abort, or no word from the destination
 * before the deadline, just thaws it and it runs on exactly as before; a
 * commit kills the frozen containers and deletes the pod. The pod is never
 * running on both nodes (the source is frozen while the copy runs, and the
 * copy is removed if the commit fails) and never on neither.
 *
 * Phases: Pending, Checkpointing, Transferring, Restoring, Committing, then
 * Succeeded, Failed or RolledBack.
 */
#define LOG_PREFIX "migrate"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-internal.h"
#include "ferry/ckpt.h"
#include "ferry/cleanup.h"
#include "ferry/client.h"
#include "ferry/fs.h"
#include "ferry/image.h"
#include "ferry/log.h"
#include "ferry/metrics.h"
#include "ferry/runtime.h"
#include "ferry/store.h"

#define REAPER_TICK_US (200 * 1000)
#define DEFAULT_TIMEOUT_S 120

/*
 * A named fault point, for the tests of every failure path (FERRY_FAULT=name
 * in the agent's environment): migrate-slow-source, migrate-corrupt-image,
 * migrate-exit-mid-transfer.
 */
static bool fault(const char *name)
{
	const char *f = getenv("FERRY_FAULT");
	return f && strcmp(f, name) == 0;
}

static bool final(const char *phase)
{
	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0 ||
			 strcmp(phase, "RolledBack") == 0);
}

static void new_id(char out[40])
{
	unsigned char b[8];
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		memset(b, 0, sizeof(b));
	snprintf(out, 40, "mig-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		 b[6], b[7]);
}

/* With a->mig_lock held. */
static void persist(struct agent *a, struct migration *m)
{
	struct error err = { 0 };
	json_object_set_new(m->record, "bytes", json_integer((json_int_t)m->bytes));
	cleanup_free char *text = json_dumps(m->record, JSON_COMPACT);
	if (!text || store_migration_put(a->store, m->id, text, &err) < 0)
		log_error("migration='%s' cannot persist its record: %s", m->id,
			  text ? err.msg : "out of memory");
}

/* Moves m to phase (with its time), persists, and counts the end. */
static void phase(struct agent *a, struct migration *m, const char *ph, const char *error)
{
	char now[48];
	pthread_mutex_lock(&a->mig_lock);
	json_object_set_new(m->record, "phase", json_string(ph));
	json_object_set_new(json_object_get(m->record, "phases"), ph,
			    json_string(rfc3339_now(now, sizeof(now))));
	if (error)
		json_object_set_new(m->record, "error", json_string(error));
	persist(a, m);
	if (final(ph)) {
		const char *role = m->source ? "source" : "destination";
		const char *const l1[] = { role, ph };
		const char *const l2[] = { role };
		metric_add(a->mig_total, l1, 1);
		double started = json_number_value(json_object_get(m->record, "startedMonotonic"));
		metric_observe(a->mig_duration, l2, (double)now_ns() / 1e9 - started);
		metric_add(a->mig_bytes, l2, (double)m->bytes);
		if (m->source && m->frozen_at_ns)
			metric_observe(a->mig_frozen, NULL, (double)(now_ns() - m->frozen_at_ns) / 1e9);
	}
	pthread_mutex_unlock(&a->mig_lock);
	log_info("migration='%s' %s pod='%s/%s' phase=%s%s%s", m->id,
		 m->source ? "source" : "destination",
		 json_string_value(json_object_get(m->record, "namespace")),
		 json_string_value(json_object_get(m->record, "pod")), ph, error ? " error: " : "",
		 error ? error : "");
}

struct migration *migration_new(struct agent *a, bool source, const char *ns,
				       const char *name, const char *peer)
{
	struct migration *m = calloc(1, sizeof(*m));
	char now[48];
	if (!m)
		return NULL;
	new_id(m->id);
	m->source = source;
	snprintf(m->ns, sizeof(m->ns), "%s", ns);
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->record = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:{}, s:s, s:f}", "id", m->id, "role",
			      source ? "source" : "destination", "namespace", ns, "pod", name, "peer",
			      peer, "phase", "Pending", "phases", "node", a->node_name,
			      "startedMonotonic", (double)now_ns() / 1e9);
	json_object_set_new(json_object_get(m->record, "phases"), "Pending",
			    json_string(rfc3339_now(now, sizeof(now))));
	json_object_set_new(m->record, "startedAt", json_string(now));
	pthread_mutex_lock(&a->mig_lock);
	m->next = a->migrations;
	a->migrations = m;
	persist(a, m);
	pthread_mutex_unlock(&a->mig_lock);
	return m;
}

/* With a->mig_lock held. */
static struct migration *lookup(struct agent *a, const char *id)
{
	for (struct migration *m = a->migrations; m; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

static void event_on(struct agent *a, const char *ns, const char *name, const char *type,
		     const char *reason, const char *msg)
{
	pthread_mutex_lock(&a->lock);
	struct pod *p = agent_find_pod(a, ns, name);
	if (p)
		pod_event(p, type, reason, "%s", msg);
	pthread_mutex_unlock(&a->lock);
}

/* ================================================================= source */

static bool claim(struct agent *a, struct migration *m, const char *ending);
static void rollback(struct agent *a, struct migration *m, const char *why);

static void thaw(struct agent *a, struct migration *m)
{
	for (size_t i = 0; i < m->n_ids; i++) {
		struct error err = { 0 };
		struct container_state st;
		if (runtime_state(a->rt, m->ids[i], &st, NULL) == 0 && st.status == CONTAINER_PAUSED &&
		    runtime_resume(a->rt, m->ids[i], &err) < 0)
			log_error("migration='%s' cannot thaw '%s': %s", m->id, m->ids[i], err.msg);
	}
}

int agent_migrate_begin(struct agent *a, const char *ns, const char *name, const char *container,
			unsigned timeout_s, bool keep, const char *peer, json_t **ret,
			struct error *err)
{
	pthread_mutex_lock(&a->lock);
	struct pod *p = agent_find_pod(a, ns, name);
	if (!p) {
		pthread_mutex_unlock(&a->lock);
		return error_setx(err, ENOENT, "pods \"%s\" not found in namespace '%s'", name, ns);
	}
	if (container) {
		bool found = false;
		for (size_t i = 0; i < p->spec->n_containers; i++)
			found = found || strcmp(p->spec->containers[i].name, container) == 0;
		if (!found) {
			pthread_mutex_unlock(&a->lock);
			return error_setx(err, ENOENT, "container '%s' not found in pod '%s'",
					  container, name);
		}
	}
	pthread_mutex_lock(&p->lock);
	const char *why = NULL;
	if (p->deleting)
		why = "it is being deleted";
	else if (p->ckpt)
		why = "it is being checkpointed";
	for (size_t i = 0; !why && i < p->spec->n_containers; i++)
		if (strcmp(cstr(json_array_get(p->containers, i), "state") ?: "", "running") != 0)
			why = "not all its containers are running";
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_lock(&a->mig_lock);
	for (struct migration *m = a->migrations; !why && m; m = m->next)
		if (m->source && strcmp(m->ns, ns) == 0 && strcmp(m->name, name) == 0 &&
		    !final(json_string_value(json_object_get(m->record, "phase"))))
			why = "it is migrating already";
	pthread_mutex_unlock(&a->mig_lock);
	if (why) {
		pthread_mutex_unlock(&a->lock);
		return error_setx(err, EBUSY, "pod '%s/%s' cannot migrate: %s", ns, name, why);
	}

	if (fault("migrate-slow-source")) {
		/* a source that answers too late: the destination gives up first */
		pthread_mutex_unlock(&a->lock);
		log_warning("fault point migrate-slow-source: sleeping %us", timeout_s + 3);
		sleep(timeout_s + 3);
		pthread_mutex_lock(&a->lock);
		p = agent_find_pod(a, ns, name);
		if (!p) {
			pthread_mutex_unlock(&a->lock);
			return error_setx(err, ENOENT, "pod '%s/%s' went away", ns, name);
		}
	}
	struct migration *m = migration_new(a, true, ns, name, peer);
	if (!m) {
		pthread_mutex_unlock(&a->lock);
		return error_set(err, ENOMEM, "migration");
	}
	m->keep_checkpoint = keep;
	snprintf(m->staging, sizeof(m->staging), "%s/out-%s", a->scratch_dir, m->id);
	struct ckpt_request req = { .container = NULL, .leave_running = true,
				    .staging_dir = m->staging, .frozen_ids = m->ids,
				    .n_frozen = &m->n_ids };
	req.tcp_established = true;
	req.file_locks = true;
	const char *v = json_string_value(json_object_get(p->spec->annotations, "ferry.io/tcp-established"));
	if (v && strcmp(v, "false") == 0)
		req.tcp_established = false;
	v = json_string_value(json_object_get(p->spec->annotations, "ferry.io/file-locks"));
	if (v && strcmp(v, "false") == 0)
		req.file_locks = false;
	pthread_mutex_init(&req.lock, NULL);
	pthread_cond_init(&req.cond, NULL);
	pthread_mutex_lock(&p->lock);
	p->ckpt = &req;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&a->lock);
	event_on(a, ns, name, "Normal", "MigrationStarted", "Migration started: freezing the pod");
	phase(a, m, "Checkpointing", NULL);

	m->frozen_at_ns = now_ns();
	pthread_mutex_lock(&req.lock);
	while (!req.done)
		pthread_cond_wait(&req.cond, &req.lock);
	pthread_mutex_unlock(&req.lock);
	if (req.r < 0) {
		if (err)
			*err = req.err;
		phase(a, m, "Failed", req.err.msg);
		event_on(a, ns, name, "Warning", "MigrationFailed", req.err.msg);
		return req.r;
	}

	/* What the destination will receive: every file, for its progress. */
	unsigned long long total = 0;
	(void)dir_size(m->staging, &total, NULL);
	/* The containers and their images, by digest and size. */
	json_t *containers = json_array();
	pthread_mutex_lock(&a->lock);
	p = agent_find_pod(a, ns, name);
	for (size_t i = 0; p && i < p->spec->n_containers; i++) {
		struct image_info img = { 0 };
		(void)image_store_get(a->images, p->spec->containers[i].image, &img, NULL);
		json_array_append_new(containers,
				      json_pack("{s:s, s:s, s:s, s:I}", "name", p->spec->containers[i].name,
						"image", p->spec->containers[i].image, "imageDigest",
						img.digest, "imageSize", (json_int_t)img.size));
	}
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_lock(&a->mig_lock);
	json_object_set_new(m->record, "containers", containers);
	m->timeout_ns = (unsigned long long)(timeout_s ? timeout_s : DEFAULT_TIMEOUT_S) * 1000000000ULL;
	m->deadline_ns = now_ns() + m->timeout_ns;
	json_object_set_new(m->record, "checkpoint", req.result);
	json_object_set_new(m->record, "totalBytes", json_integer((json_int_t)total));
	json_object_set_new(m->record, "compression", json_string(a->loopback ? "none" : "zstd"));
	pthread_mutex_unlock(&a->mig_lock);
	phase(a, m, "Transferring", NULL);
	pthread_mutex_lock(&a->mig_lock);
	bool aborted = m->abort_requested;
	*ret = json_deep_copy(m->record);
	pthread_mutex_unlock(&a->mig_lock);
	if (aborted && claim(a, m, "RollingBack")) {
		/* the destination gave up while we were dumping */
		rollback(a, m, "the destination aborted during the checkpoint");
		json_decref(*ret);
		*ret = NULL;
		return error_setx(err, ECANCELED, "migration '%s' was aborted by the destination",
				  m->id);
	}
	return 0;
}

/* ---------------------------------------------------------------- the stream */

struct migrate_stream {
	struct agent *a;
	char id[40];
	int fd;
	pthread_t packer;
	int w;
	char staging[PATH_MAX];
	int compress;
	struct error err;
	int r;
};

static void *pack(void *arg)
{
	struct migrate_stream *s = arg;
	char out[64];
	snprintf(out, sizeof(out), "/dev/fd/%d", s->w);
	s->r = ckpt_pack(s->staging, s->compress, out, &s->err);
	close(s->w);
	return NULL;
}

int agent_migrate_stream_open(struct agent *a, const char *id, struct migrate_stream **ret,
			      struct error *err)
{
	int p[2];
	pthread_mutex_lock(&a->mig_lock);
	struct migration *m = lookup(a, id);
	const char *ph = m ? json_string_value(json_object_get(m->record, "phase")) : NULL;
	int r = 0;
	if (!m || !m->source)
		r = error_setx(err, ENOENT, "no migration '%s' here", id);
	else if (strcmp(ph, "Transferring") != 0 || m->streaming)
		r = error_setx(err, EBUSY, "migration '%s' is %s%s", id, ph,
			       m->streaming ? " and streaming already" : "");
	if (r < 0) {
		pthread_mutex_unlock(&a->mig_lock);
		return r;
	}
	m->streaming = true;
	struct migrate_stream *s = calloc(1, sizeof(*s));
	s->a = a;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->staging, sizeof(s->staging), "%s", m->staging);
	s->compress = a->loopback ? TAR_COMPRESS_NONE : TAR_COMPRESS_ZSTD;
	pthread_mutex_unlock(&a->mig_lock);
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(s);
		return error_set(err, errno, "pipe");
	}
	s->fd = p[0];
	s->w = p[1];
	if (pthread_create(&s->packer, NULL, pack, s) != 0) {
		close(p[0]);
		close(p[1]);
		free(s);
		return error_set(err, EAGAIN, "cannot start the packer");
	}
	*ret = s;
	return 0;
}

ssize_t agent_migrate_stream_read(void *cls, char *buf, size_t max)
{
	struct migrate_stream *s = cls;
	ssize_t n;
	do
		n = read(s->fd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	pthread_mutex_lock(&s->a->mig_lock);
	struct migration *m = lookup(s->a, s->id);
	if (m)
		m->bytes += (unsigned long long)n;
	pthread_mutex_unlock(&s->a->mig_lock);
	return n;
}

void agent_migrate_stream_free(void *cls)
{
	struct migrate_stream *s = cls;
	close(s->fd); /* a reader gone mid-stream: the packer gets EPIPE and stops */
	pthread_join(s->packer, NULL);
	if (s->r < 0)
		log_warning("migration='%s' stream: %s", s->id, s->err.msg);
	pthread_mutex_lock(&s->a->mig_lock);
	struct migration *m = lookup(s->a, s->id);
	if (m) {
		m->streaming = false;
		/* The destination now restores: it has the whole timeout again to commit. */
		if (m->deadline_ns < now_ns() + m->timeout_ns)
			m->deadline_ns = now_ns() + m->timeout_ns;
	}
	pthread_mutex_unlock(&s->a->mig_lock);
	free(s);
}

/* ---------------------------------------------------------------- end */

/* Claims m for an ending: returns false when another ending got there first. */
static bool claim(struct agent *a, struct migration *m, const char *ending)
{
	pthread_mutex_lock(&a->mig_lock);
	const char *ph = json_string_value(json_object_get(m->record, "phase"));
	bool ok = strcmp(ph, "Transferring") == 0;
	if (ok)
		json_object_set_new(m->record, "phase", json_string(ending));
	pthread_mutex_unlock(&a->mig_lock);
	return ok;
}

static void rollback(struct agent *a, struct migration *m, const char *why)
{
	thaw(a, m);
	(void)rm_rf(m->staging, NULL);
	char msg[1024];
	snprintf(msg, sizeof(msg), "Migration rolled back, the pod runs on here: %s", why);
	event_on(a, m->ns, m->name, "Warning", "RolledBack", msg);
	phase(a, m, "RolledBack", why);
}

int agent_migrate_abort(struct agent *a, const char *id, const char *why, struct error *err)
{
	pthread_mutex_lock(&a->mig_lock);
	struct migration *m = lookup(a, id);
	pthread_mutex_unlock(&a->mig_lock);
	if (!m || !m->source)
		return error_setx(err, ENOENT, "no migration '%s' here", id);
	if (!claim(a, m, "RollingBack")) {
		pthread_mutex_lock(&a->mig_lock);
		const char *ph = json_string_value(json_object_get(m->record, "phase"));
		int r = 0;
		if (strcmp(ph, "Pending") == 0 || strcmp(ph, "Checkpointing") == 0)
			m->abort_requested = true; /* rolled back as soon as the dump is done */
		else if (strcmp(ph, "RolledBack") != 0)
			r = error_setx(err, EBUSY, "migration '%s' is %s", id, ph);
		pthread_mutex_unlock(&a->mig_lock);
		return r;
	}
	rollback(a, m, why && *why ? why : "the destination aborted");
	return 0;
}

int agent_migrate_commit(struct agent *a, const char *id, struct error *err)
{
	pthread_mutex_lock(&a->mig_lock);
	struct migration *m = lookup(a, id);
	pthread_mutex_unlock(&a->mig_lock);
	if (!m || !m->source)
		return error_setx(err, ENOENT, "no migration '%s' here", id);
	if (!claim(a, m, "Committing")) {
		pthread_mutex_lock(&a->mig_lock);
		const char *ph = json_string_value(json_object_get(m->record, "phase"));
		int r = error_setx(err, EBUSY, "migration '%s' cannot commit: it is %s", id, ph);
		pthread_mutex_unlock(&a->mig_lock);
		return r;
	}
	phase(a, m, "Committing", NULL);
	/* Still frozen: killed, then thawed into death. The pod goes. */
	for (size_t i = 0; i < m->n_ids; i++)
		(void)runtime_kill(a->rt, m->ids[i], SIGKILL, true, NULL);
	thaw(a, m);
	if (m->keep_checkpoint) {
		char out[PATH_MAX + 64];
		struct error e2 = { 0 };
		snprintf(out, sizeof(out), "%s/checkpoint-%s_%s-%s.tar.zst", a->checkpoints_dir, m->name,
			 m->ns, m->id);
		if (ckpt_pack(m->staging, TAR_COMPRESS_ZSTD, out, &e2) < 0)
			log_warning("migration='%s' cannot keep the checkpoint: %s", m->id, e2.msg);
	}
	(void)rm_rf(m->staging, NULL);
	event_on(a, m->ns, m->name, "Normal", "Migrated", "Migrated to the destination; deleting");
	json_t *gone = NULL;
	struct error e3 = { 0 };
	if (agent_pod_delete(a, m->ns, m->name, &gone, &e3) < 0)
		log_warning("migration='%s' delete the source pod: %s", m->id, e3.msg);
	json_decref(gone);
	phase(a, m, "Succeeded", NULL);
	return 0;
}

int agent_migrations_list(struct agent *a, json_t **ret)
{
	json_t *items = json_array();
	pthread_mutex_lock(&a->mig_lock);
	for (struct migration *m = a->migrations; m; m = m->next) {
		json_t *r = json_deep_copy(m->record);
		json_object_set_new(r, "bytes", json_integer((json_int_t)m->bytes));
		json_object_del(r, "startedMonotonic");
		json_array_append_new(items, r); /* the list is kept newest first */
	}
	pthread_mutex_unlock(&a->mig_lock);
	*ret = json_pack("{s:s, s:o}", "kind", "MigrationList", "items", items);
	return 0;
}

static void *reaper(void *arg)
{
	struct agent *a = arg;
	for (;;) {
		pthread_mutex_lock(&a->mig_lock);
		bool stop = a->stopping;
		struct migration *due = NULL;
		for (struct migration *m = a->migrations; m && !stop; m = m->next)
			if (m->source && m->deadline_ns && now_ns() > m->deadline_ns &&
			    !m->streaming &&
			    strcmp(json_string_value(json_object_get(m->record, "phase")), "Transferring") == 0)
				due = m;
		pthread_mutex_unlock(&a->mig_lock);
		if (stop)
			return NULL;
		if (due && claim(a, due, "RollingBack"))
			rollback(a, due, "no commit from the destination before the deadline");
		usleep(REAPER_TICK_US);
	}
}

static int load_record(const char *id, const char *text, void *userdata)
{
	struct agent *a = userdata;
	json_t *r = json_loads(text, 0, NULL);
	if (!r)
		return 0;
	struct migration *m = calloc(1, sizeof(*m));
	if (!m) {
		json_decref(r);
		return -ENOMEM;
	}
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->record = r;
	m->source = strcmp(json_string_value(json_object_get(r, "role")) ?: "", "source") == 0;
	snprintf(m->ns, sizeof(m->ns), "%s", json_string_value(json_object_get(r, "namespace")) ?: "");
	snprintf(m->name, sizeof(m->name), "%s", json_string_value(json_object_get(r, "pod")) ?: "");
	m->bytes = (unsigned long long)json_integer_value(json_object_get(r, "bytes"));
	json_object_set_new(r, "startedMonotonic", json_real((double)now_ns() / 1e9));
	m->next = a->migrations;
	a->migrations = m;
	return 0;
}

int migration_agent_init(struct agent *a, struct error *err)
{
	static const char *const l_result[] = { "role", "result", NULL };
	static const char *const l_role[] = { "role", NULL };
	static const double secs[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };

	pthread_mutex_init(&a->mig_lock, NULL);
	if (a->metrics) {
		a->mig_total = metrics_register(a->metrics, METRIC_COUNTER, "ferry_migrations_total",
						"Migrations by role and result.", l_result, NULL, 0);
		a->mig_duration = metrics_register(a->metrics, METRIC_HISTOGRAM,
						   "ferry_migration_duration_seconds",
						   "Migration time, start to end, by role.", l_role,
						   secs, ELEMENTSOF(secs));
		a->mig_frozen = metrics_register(a->metrics, METRIC_HISTOGRAM,
						 "ferry_migration_frozen_seconds",
						 "How long a migrating pod was frozen on the source.",
						 NULL, secs, ELEMENTSOF(secs));
		a->mig_bytes = metrics_register(a->metrics, METRIC_COUNTER,
						"ferry_migration_bytes_total",
						"Checkpoint bytes moved by migrations, by role.", l_role,
						NULL, 0);
	}
	int r = store_migration_foreach(a->store, load_record, a, err);
	if (r < 0)
		return r;
	/*
	 * A migration the agent was in the middle of when it stopped: a source
	 * pod may still be frozen. Thaw it and roll back; a destination that
	 * commits later is refused and removes its copy.
	 */
	for (struct migration *m = a->migrations; m; m = m->next) {
		const char *ph = json_string_value(json_object_get(m->record, "phase"));
		if (final(ph))
			continue;
		if (m->source) {
			pthread_mutex_lock(&a->lock);
			struct pod *p = agent_find_pod(a, m->ns, m->name);
			for (size_t i = 0; p && i < p->spec->n_containers; i++) {
				const char *cid = cstr(json_array_get(p->containers, i), "id");
				if (cid && m->n_ids < POD_MAX_CONTAINERS)
					snprintf(m->ids[m->n_ids++], sizeof(m->ids[0]), "%s", cid);
			}
			pthread_mutex_unlock(&a->lock);
			thaw(a, m);
			phase(a, m, "RolledBack", "the agent restarted during the migration");
		} else {
			phase(a, m, "Failed", "the agent restarted during the migration");
		}
	}
	if (pthread_create(&a->reaper, NULL, reaper, a) != 0)
		return error_set(err, EAGAIN, "cannot start the migration reaper");
	a->reaper_running = true;
	return 0;
}

void migration_agent_done(struct agent *a)
{
	pthread_mutex_lock(&a->mig_lock);
	a->stopping = true;
	pthread_mutex_unlock(&a->mig_lock);
	if (a->reaper_running)
		pthread_join(a->reaper, NULL);
	while (a->migrations) {
		struct migration *m = a->migrations;
		a->migrations = m->next;
		json_decref(m->record);
		free(m);
	}
	pthread_mutex_destroy(&a->mig_lock);
}

/* ============================================================ destination */

struct unpack_job {
	char src[64];
	char dest[PATH_MAX];
	json_t *manifest;
	struct error err;
	int r;
};

static void *unpack(void *arg)
{
	struct unpack_job *j = arg;
	j->r = ckpt_unpack(j->src, j->dest, &j->manifest, &j->err);
	return NULL;
}

/* Fault point: the destination agent dies once half the checkpoint has arrived. */
static void *die_mid_transfer(void *arg)
{
	struct migration *m = arg;
	unsigned long long total = 0;
	for (;;) {
		total = (unsigned long long)json_integer_value(json_object_get(m->record, "totalBytes"));
		if (total && __atomic_load_n(&m->bytes, __ATOMIC_RELAXED) >= total / 2)
			break;
		usleep(1000);
	}
	log_warning("fault point migrate-exit-mid-transfer: dying after %llu of %llu bytes",
		    (unsigned long long)m->bytes, total);
	_exit(9);
}

struct restore_job {
	struct pod *p;
	size_t i;
};

static void *restore_one(void *arg)
{
	struct restore_job *j = arg;
	start_container(j->p, j->i);
	return NULL;
}


/* The source's answer to a request, as a message. */
static int peer_call(struct client *c, const char *method, const char *path, json_t **ret,
		     struct error *err)
{
	struct client_reply rep;
	int r = client_request(c, method, path, "", 0, NULL, &rep, err);
	if (r < 0)
		return r;
	if (rep.status < 200 || rep.status >= 300) {
		cleanup_free char *msg = client_error_message(&rep);
		r = error_setx(err, rep.status == 404 ? ENOENT : rep.status == 409 ? EBUSY : EIO,
			       "the source answered %ld: %s", rep.status, msg ? msg : "?");
	} else if (ret) {
		*ret = json_loads(rep.body ? rep.body : "", 0, NULL);
		if (!*ret)
			r = error_setx(err, EPROTO, "the source answered something that is not JSON");
	}
	client_reply_done(&rep);
	return r;
}

/* Pulls an image from the source when this node lacks it or has another digest. */
static int ensure_image(struct pod *p, struct client *c, json_t *source_images, const char *name,
			struct error *err)
{
	struct agent *a = p->agent;
	struct image_info have;
	const char *want = NULL;
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(source_images, "items"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")) ?: "", name) == 0)
			want = json_string_value(json_object_get(v, "digest"));
	if (!want)
		return error_setx(err, ENOENT, "the source has no image '%s'", name);
	if (image_store_get(a->images, name, &have, NULL) == 0 && strcmp(have.digest, want) == 0)
		return 0;

	char path[512], tmp[PATH_MAX + 32];
	unsigned long long bytes = 0;
	snprintf(path, sizeof(path), "/api/v1/images/%s/tarball", name);
	snprintf(tmp, sizeof(tmp), "%s/images/tmp/pull-%s.tar", a->state_dir, p->uid);
	int r = client_download(c, path, tmp, false, &bytes, err);
	if (r < 0)
		return error_wrap(err, "pull image '%s' from the source", name);
	cleanup_close int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	struct image_info got;
	r = fd < 0 ? error_set(err, errno, "open '%s'", tmp)
		   : image_store_import(a->images, name, fd, &got, err);
	(void)unlink(tmp);
	if (r < 0)
		return r;
	if (strcmp(got.digest, want) != 0)
		return error_setx(err, EBADMSG, "image '%s' pulled as %s, the source has %s", name,
				  got.digest, want);
	char sz[32];
	pod_event(p, "Normal", "Pulled", "Pulled image '%s' (%s, %s) from the source", name, want,
		  format_bytes(bytes, sz, sizeof(sz)));
	return 0;
}

static void set_pod_migration(struct pod *p, const char *ph)
{
	pthread_mutex_lock(&p->lock);
	json_object_set_new(json_object_get(p->state, "migration"), "phase", json_string(ph));
	pthread_mutex_unlock(&p->lock);
	pod_persist(p);
}

void pod_migrate_in(struct pod *p)
{
	struct agent *a = p->agent;
	json_t *clone = p->spec->clone_pod;
	const char *peer = json_string_value(json_object_get(clone, "node"));
	const char *src_ns = json_string_value(json_object_get(clone, "namespace"));
	const char *src_name = json_string_value(json_object_get(clone, "name"));
	long long timeout = json_integer_value(json_object_get(clone, "timeoutSeconds"));
	bool keep = json_is_true(json_object_get(clone, "keepSourceCheckpoint"));
	struct error err = { 0 };
	struct client *c = NULL;
	json_t *images = NULL, *src = NULL;
	char source_id[64] = "", path[1024];
	bool committed = false;
	int r;

	pthread_mutex_lock(&p->lock);
	const char *id = json_string_value(json_object_get(json_object_get(p->state, "migration"), "id"));
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_lock(&a->mig_lock);
	struct migration *m = id ? lookup(a, id) : NULL;
	pthread_mutex_unlock(&a->mig_lock);
	if (!m) {
		log_error("pod='%s/%s' has no migration record", pod_ns(p), p->spec->name);
		set_pod_migration(p, "Failed");
		return;
	}
	pod_event(p, "Normal", "MigrationStarted", "Migrating %s/%s from %s", src_ns, src_name, peer);
	unsigned long long t0 = now_ns(), t_ask = 0;

	/* 1. the images, by digest */
	r = client_new(peer, a->ca_path, &c, &err);
	if (r >= 0) {
		/* a source that does not answer within the timeout is given up on */
		client_set_timeout(c, timeout > 0 ? timeout : DEFAULT_TIMEOUT_S);
		r = peer_call(c, "GET", "/api/v1/images", &images, &err);
	}
	for (size_t i = 0; r >= 0 && i < p->spec->n_containers; i++)
		r = ensure_image(p, c, images, p->spec->containers[i].image, &err);
	json_decref(images);

	/* 2. the source freezes and dumps the pod */
	if (r >= 0) {
		phase(a, m, "Checkpointing", NULL);
		set_pod_migration(p, "Checkpointing");
		snprintf(path, sizeof(path), "/migrate/%s/%s?timeout=%lld&keepCheckpoint=%s", src_ns,
			 src_name, timeout > 0 ? timeout : DEFAULT_TIMEOUT_S, keep ? "true" : "false");
		t_ask = now_ns();
		r = peer_call(c, "POST", path, &src, &err);
	}
	if (r >= 0) {
		snprintf(source_id, sizeof(source_id), "%s",
			 json_string_value(json_object_get(src, "id")) ?: "");
		pthread_mutex_lock(&a->mig_lock);
		json_object_set_new(m->record, "sourceMigration", json_string(source_id));
		json_object_set(m->record, "totalBytes", json_object_get(src, "totalBytes"));
		json_object_set(m->record, "checkpoint", json_object_get(src, "checkpoint"));
		json_object_set(m->record, "compression", json_object_get(src, "compression"));
		pthread_mutex_unlock(&a->mig_lock);
	}

	/* 3. the stream, unpacked (and every digest verified) as it arrives */
	char ckdir[PATH_MAX];
	snprintf(ckdir, sizeof(ckdir), "%s/in-%s", a->scratch_dir, m->id);
	struct unpack_job job = { 0 };
	if (r >= 0) {
		phase(a, m, "Transferring", NULL);
		set_pod_migration(p, "Transferring");
		int pp[2];
		pthread_t t;
		if (pipe2(pp, O_CLOEXEC) < 0) {
			r = error_set(&err, errno, "pipe");
		} else {
			snprintf(job.src, sizeof(job.src), "/dev/fd/%d", pp[0]);
			snprintf(job.dest, sizeof(job.dest), "%s", ckdir);
			if (fault("migrate-exit-mid-transfer")) {
				pthread_t killer;
				if (pthread_create(&killer, NULL, die_mid_transfer, m) == 0)
					pthread_detach(killer);
			}
			if (pthread_create(&t, NULL, unpack, &job) != 0) {
				close(pp[0]);
				close(pp[1]);
				r = error_setx(&err, EAGAIN, "cannot start the unpacker");
			} else {
				long status = 0;
				snprintf(path, sizeof(path), "/migrations/%s/archive", source_id);
				r = client_stream_counted(c, path, pp[1], &m->bytes, &status, &err);
				close(pp[1]);
				pthread_join(t, NULL);
				close(pp[0]);
				if (r >= 0 && job.r < 0) {
					r = job.r;
					err = job.err;
				}
			}
		}
	}
	json_decref(job.manifest);
	if (r >= 0 && fault("migrate-corrupt-image")) {
		/*
		 * After verification: an image CRIU itself refuses. (Not a cut
		 * pages image: that makes CRIU spin until the restore's deadline.)
		 */
		glob_t g;
		char pattern[PATH_MAX + 64];
		snprintf(pattern, sizeof(pattern), "%s/containers/*/checkpoint/inventory.img", ckdir);
		if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc)
			(void)truncate(g.gl_pathv[0], 0);
		globfree(&g);
		log_warning("migration='%s' fault point migrate-corrupt-image", m->id);
	}

	/* 4. every container restored, in parallel; none left waiting */
	if (r >= 0) {
		phase(a, m, "Restoring", NULL);
		set_pod_migration(p, "Restoring");
		pthread_t th[POD_MAX_CONTAINERS];
		struct restore_job jobs[POD_MAX_CONTAINERS];
		size_t n = p->spec->n_containers;
		for (size_t i = 0; i < n; i++) {
			char from[PATH_MAX + 64];
			snprintf(from, sizeof(from), "%s/containers/%s", ckdir, p->spec->containers[i].name);
			cset(p, i, "restoreFrom", json_string(from), "restoreTcpEstablished", json_true(),
			     "restoreFileLocks", json_true(), "reason", json_string("Restoring"), NULL);
		}
		bool threaded[POD_MAX_CONTAINERS];
		for (size_t i = 0; i < n; i++) {
			jobs[i] = (struct restore_job){ p, i };
			threaded[i] = pthread_create(&th[i], NULL, restore_one, &jobs[i]) == 0;
			if (!threaded[i])
				restore_one(&jobs[i]);
		}
		for (size_t i = 0; i < n; i++)
			if (threaded[i])
				pthread_join(th[i], NULL);
		for (size_t i = 0; i < n && r >= 0; i++) {
			json_t *ci = json_array_get(p->containers, i);
			if (strcmp(cstr(ci, "state") ?: "", "running") != 0)
				r = error_setx(&err, EIO, "container '%s' did not restore: %s",
					       p->spec->containers[i].name,
					       cstr(ci, "message") ?: cstr(ci, "reason") ?: "unknown");
		}
	}
	unsigned long long t_running = now_ns();

	/* 5. commit: only now does the source let go */
	if (r >= 0) {
		phase(a, m, "Committing", NULL);
		set_pod_migration(p, "Committing");
		snprintf(path, sizeof(path), "/migrations/%s/commit", source_id);
		r = peer_call(c, "POST", path, NULL, &err);
		committed = r >= 0;
	}
	if (committed) {
		pthread_mutex_lock(&a->mig_lock);
		/* From the source's freeze (asked for at t_ask) to the copy running. */
		json_object_set_new(m->record, "downtimeSeconds",
				    json_real((double)(t_running - t_ask) / 1e9));
		json_object_set_new(m->record, "totalSeconds", json_real((double)(now_ns() - t0) / 1e9));
		pthread_mutex_unlock(&a->mig_lock);
		phase(a, m, "Succeeded", NULL);
		set_pod_migration(p, "Succeeded");
		char sz[32];
		pod_event(p, "Normal", "Migrated", "Migrated from %s (%s in %.2fs)", peer,
			  format_bytes(m->bytes, sz, sizeof(sz)), (double)(now_ns() - t0) / 1e9);
	} else {
		/* Nothing of the copy may run: kill what was restored, tell the source. */
		for (size_t i = 0; i < p->spec->n_containers; i++) {
			const char *cid = cstr(json_array_get(p->containers, i), "id");
			if (cid)
				(void)runtime_kill(a->rt, cid, SIGKILL, true, NULL);
		}
		bool rolled_back = false;
		if (source_id[0]) {
			struct error e2 = { 0 };
			snprintf(path, sizeof(path), "/migrations/%s/abort", source_id);
			rolled_back = c && peer_call(c, "POST", path, NULL, &e2) >= 0;
		}
		const char *end = rolled_back || !source_id[0] ? "RolledBack" : "Failed";
		if (!source_id[0] && r == -ENOENT)
			end = "Failed";
		phase(a, m, end, err.msg);
		set_pod_migration(p, end);
		pod_event(p, "Warning", "MigrationFailed", "%s; %s", err.msg,
			  rolled_back ? "the source rolled back and runs the pod"
				      : "the pod was not moved");
		/* The copy goes away; the pod stays where it was. */
		pod_mark_deleting(p);
	}
	/* The images were for CRIU only: the restored processes do not need them. */
	(void)rm_rf(ckdir, NULL);
	json_decref(src);
	client_free(c);
}

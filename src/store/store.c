/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "store"
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/cleanup.h"
#include "ferry/log.h"
#include "ferry/store.h"

#define SCHEMA_VERSION 1

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS pods ("
	"  uid TEXT PRIMARY KEY,"
	"  namespace TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  created TEXT NOT NULL,"
	"  UNIQUE (namespace, name));"
	"CREATE TABLE IF NOT EXISTS events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  pod_uid TEXT NOT NULL,"
	"  time TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  message TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS events_pod ON events (pod_uid, id);"
	"CREATE TABLE IF NOT EXISTS migrations ("
	"  id TEXT PRIMARY KEY,"
	"  record TEXT NOT NULL,"
	"  updated TEXT NOT NULL);";

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
	char *path;
};

static void finalizep(sqlite3_stmt **s)
{
	if (*s)
		sqlite3_finalize(*s);
}

char *rfc3339_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
	return buf;
}

static int db_error(struct store *s, struct error *err, int rc, const char *what)
{
	return error_setx(err, rc == SQLITE_FULL ? ENOSPC : EIO, "%s in '%s': %s", what, s->path,
			  sqlite3_errmsg(s->db));
}

int store_open(const char *path, struct store **ret, struct error *err)
{
	struct store *s = calloc(1, sizeof(*s));
	char *msg = NULL;
	int rc;

	if (!s || !(s->path = strdup(path))) {
		free(s);
		return error_set(err, ENOMEM, "store");
	}
	pthread_mutex_init(&s->lock, NULL);
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int r = error_setx(err, EIO, "cannot open database '%s': %s", path,
				   s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		store_free(s);
		return r;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL: readers never block the writer; synchronous=FULL: a commit survives a crash. */
	rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
			  &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, schema, NULL, NULL, &msg);
	if (rc == SQLITE_OK) {
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", SCHEMA_VERSION);
		rc = sqlite3_exec(s->db, pragma, NULL, NULL, &msg);
	}
	if (rc != SQLITE_OK) {
		int r = error_setx(err, EIO, "cannot set up database '%s': %s", path,
				   msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		store_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct store *store_free(struct store *s)
{
	if (!s)
		return NULL;
	if (s->db)
		sqlite3_close_v2(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
	return NULL;
}

/* Runs one statement with text parameters (NULL-terminated list). Returns changes or -errno. */
static int exec(struct store *s, const char *sql, const char *const params[], const char *what,
		struct error *err)
{
	cleanup_(finalizep) sqlite3_stmt *st = NULL;
	int rc, r;

	pthread_mutex_lock(&s->lock);
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	for (int i = 0; rc == SQLITE_OK && params[i]; i++)
		rc = sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = sqlite3_changes(s->db);
	else if (rc == SQLITE_CONSTRAINT)
		r = -EEXIST;
	else
		r = db_error(s, err, rc, what);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_pod_insert(struct store *s, const struct store_pod *p, struct error *err)
{
	const char *const params[] = { p->uid,	p->namespace_, p->name, p->spec,
				       p->state, p->created,	NULL };
	int r = exec(s,
		     "INSERT INTO pods (uid, namespace, name, spec, state, created) "
		     "VALUES (?, ?, ?, ?, ?, ?)",
		     params, "insert pod", err);
	if (r == -EEXIST)
		return error_setx(err, EEXIST, "pod '%s/%s' already exists", p->namespace_, p->name);
	return r < 0 ? r : 0;
}

int store_pod_set_state(struct store *s, const char *uid, const char *state, struct error *err)
{
	const char *const params[] = { state, uid, NULL };
	int r = exec(s, "UPDATE pods SET state = ? WHERE uid = ?", params, "update pod", err);
	if (r == 0)
		return error_setx(err, ENOENT, "no pod with uid '%s'", uid);
	return r < 0 ? r : 0;
}

int store_pod_delete(struct store *s, const char *uid, struct error *err)
{
	const char *const p1[] = { uid, NULL };
	int r = exec(s, "DELETE FROM pods WHERE uid = ?", p1, "delete pod", err);
	if (r >= 0)
		r = exec(s, "DELETE FROM events WHERE pod_uid = ?", p1, "delete events", err);
	return r < 0 ? r : 0;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

int store_pod_foreach(struct store *s, int (*fn)(const struct store_pod *p, void *userdata),
		      void *userdata, struct error *err)
{
	cleanup_(finalizep) sqlite3_stmt *st = NULL;
	int rc, r = 0;

	pthread_mutex_lock(&s->lock);
	rc = sqlite3_prepare_v2(s->db,
				"SELECT uid, namespace, name, spec, state, created FROM pods "
				"ORDER BY namespace, name",
				-1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		struct store_pod p = { col(st, 0), col(st, 1), col(st, 2),
				       col(st, 3), col(st, 4), col(st, 5) };
		r = fn(&p, userdata);
		if (r < 0)
			break;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = db_error(s, err, rc, "list pods");
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : 0;
}

int store_event_add(struct store *s, const char *pod_uid, const char *type, const char *reason,
		    const char *message, struct error *err)
{
	char now[48];
	const char *const params[] = { pod_uid, rfc3339_now(now, sizeof(now)), type, reason,
				       message, NULL };
	int r = exec(s,
		     "INSERT INTO events (pod_uid, time, type, reason, message) VALUES (?, ?, ?, ?, ?)",
		     params, "record event", err);
	return r < 0 ? r : 0;
}

int store_event_foreach(struct store *s, const char *pod_uid,
			int (*fn)(const struct store_event *e, void *userdata), void *userdata,
			struct error *err)
{
	cleanup_(finalizep) sqlite3_stmt *st = NULL;
	int rc, r = 0;

	pthread_mutex_lock(&s->lock);
	rc = sqlite3_prepare_v2(s->db,
				"SELECT pod_uid, time, type, reason, message FROM events "
				"WHERE pod_uid = ? ORDER BY id",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, pod_uid, -1, SQLITE_TRANSIENT);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		struct store_event e = { col(st, 0), col(st, 1), col(st, 2), col(st, 3), col(st, 4) };
		r = fn(&e, userdata);
		if (r < 0)
			break;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = db_error(s, err, rc, "list events");
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : 0;
}

int store_migration_put(struct store *s, const char *id, const char *record, struct error *err)
{
	char now[48];
	const char *const params[] = { id, record, rfc3339_now(now, sizeof(now)), NULL };
	int r = exec(s, "INSERT OR REPLACE INTO migrations (id, record, updated) VALUES (?, ?, ?)",
		     params, "record migration", err);
	return r < 0 ? r : 0;
}

int store_migration_foreach(struct store *s, int (*fn)(const char *id, const char *record, void *u),
			    void *userdata, struct error *err)
{
	cleanup_(finalizep) sqlite3_stmt *st = NULL;
	int rc, r = 0;

	pthread_mutex_lock(&s->lock);
	rc = sqlite3_prepare_v2(s->db, "SELECT id, record FROM migrations ORDER BY updated", -1, &st,
				NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		r = fn(col(st, 0), col(st, 1), userdata);
		if (r < 0)
			break;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = db_error(s, err, rc, "list migrations");
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : 0;
}

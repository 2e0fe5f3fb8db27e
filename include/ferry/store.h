/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's state in SQLite: pods (their spec and the agent's record of
 * them, each as JSON text) and events. Every change is one transaction, so
 * that an agent killed at any moment finds a consistent state on restart.
 * Thread-safe.
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include "ferry/error.h"

struct store;

struct store_pod {
	const char *uid, *namespace_, *name;
	const char *spec;  /* the Pod as accepted, JSON */
	const char *state; /* the agent's record: containers, phase, ... JSON */
	const char *created;
};

struct store_event {
	const char *pod_uid, *time, *type, *reason, *message;
};

/* Opens (creating) the database at path, migrating its schema. */
int store_open(const char *path, struct store **ret, struct error *err);
struct store *store_free(struct store *s);

/* Inserts a pod. -EEXIST, with a message, when namespace/name is taken. */
int store_pod_insert(struct store *s, const struct store_pod *p, struct error *err);
/* Replaces a pod's state. -ENOENT when there is no such pod. */
int store_pod_set_state(struct store *s, const char *uid, const char *state, struct error *err);
int store_pod_delete(struct store *s, const char *uid, struct error *err);

/* Calls fn for every pod, ordered by namespace and name. fn returns < 0 to stop. */
int store_pod_foreach(struct store *s, int (*fn)(const struct store_pod *p, void *userdata),
		      void *userdata, struct error *err);

/* Records an event ("Normal"/"Warning", a reason such as "Started", a message). */
int store_event_add(struct store *s, const char *pod_uid, const char *type, const char *reason,
		    const char *message, struct error *err);
int store_event_foreach(struct store *s, const char *pod_uid,
			int (*fn)(const struct store_event *e, void *userdata), void *userdata,
			struct error *err);

/* Migration records (JSON), by id, replaced whole on every change. */
int store_migration_put(struct store *s, const char *id, const char *record, struct error *err);
int store_migration_foreach(struct store *s, int (*fn)(const char *id, const char *record, void *u),
			    void *userdata, struct error *err);

/* "2026-12-04T16:40:02.123456789Z", into buf (at least 40 bytes). */
char *rfc3339_now(char *buf, size_t len);

#endif

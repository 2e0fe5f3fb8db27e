/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network namespaces that the agent owns, kept alive by a bind mount (the
 * role Kubernetes gives the pause container). runc does not restore network
 * configuration (it passes --empty-ns network to CRIU): a container joins a
 * namespace named in its config.json, and a restored one joins a fresh one
 * made here, with lo up so that loopback sockets restore.
 */
#ifndef FERRY_NETNS_H
#define FERRY_NETNS_H

#include "ferry/error.h"

/* Makes a new network namespace with lo up, bind-mounted on path (a new file). */
int netns_create(const char *path, struct error *err);

/*
 * Makes a new namespace of one type (CLONE_NEWNET, CLONE_NEWIPC or
 * CLONE_NEWUTS), bind-mounted on path. A network namespace gets lo up; a
 * UTS namespace gets hostname (may be NULL).
 */
int ns_create(const char *path, int type, const char *hostname, struct error *err);

/* Unmounts and removes a namespace file (of any type). Missing path is success. */
int netns_remove(const char *path, struct error *err);

#endif

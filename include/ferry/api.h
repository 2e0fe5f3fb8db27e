/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's HTTP API, kubelet and Kubernetes style: the route table and its
 * handlers, over the agent, the image store and the metrics.
 */
#ifndef FERRY_API_H
#define FERRY_API_H

#include <stddef.h>

struct agent;
struct image_store;
struct metrics;
#include "ferry/http.h"

struct api {
	struct agent *agent;
	struct image_store *images;
	struct metrics *metrics;
	const char *node_name;
};

/* The routes; every handler takes a struct api * as userdata. */
extern const struct http_route api_routes[];
extern const size_t api_n_routes;

/* Largest pod spec body accepted (413 beyond). */
#define API_MAX_SPEC_BODY (256u * 1024)
/* Largest image upload. */
#define API_MAX_IMAGE_BODY (4ULL << 30)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pods: the Kubernetes Pod subset ferry understands, parsed from JSON or YAML
 * and checked field by field before anything touches the disk.
 *
 * Unknown fields are ignored, as the Kubernetes API server does; a known field
 * with a bad value is refused with a message naming it by its path
 * ("spec.containers[1].name: ...").
 */
#ifndef FERRY_POD_H
#define FERRY_POD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ferry/error.h"

#define POD_MAX_CONTAINERS 16

enum restart_policy {
	RESTART_ALWAYS,
	RESTART_ON_FAILURE,
	RESTART_NEVER,
	_RESTART_POLICY_MAX,
	_RESTART_POLICY_INVALID = -EINVAL,
};

const char *restart_policy_to_string(enum restart_policy p);

struct container_spec {
	char *name;
	char *image;
	char **command;	  /* NULL-terminated, may be NULL: the image has no default, see args */
	char **args;	  /* NULL-terminated, may be NULL */
	char **env;	  /* "NAME=VALUE", NULL-terminated, may be NULL */
	char *working_dir;
	uint64_t memory_limit; /* bytes, 0: none */
	unsigned cpu_millis;   /* 0: none */
	char **post_start;     /* lifecycle.postStart.exec.command, may be NULL */
};

struct pod_spec {
	char *name;
	char *namespace_;
	json_t *labels;	     /* object of strings, never NULL */
	json_t *annotations; /* object of strings, never NULL */
	struct container_spec containers[POD_MAX_CONTAINERS];
	size_t n_containers;
	enum restart_policy restart_policy;
	int64_t grace_period_s;
	json_t *clone_pod; /* spec.clonePod, kept as given (migration), may be NULL */
};

/*
 * Parses a request body: JSON, or YAML (one document). Returns -EBADMSG with
 * the parser's message and position for malformed input.
 */
int pod_body_parse(const char *body, size_t len, json_t **ret, struct error *err);

/* Writes a JSON value as a YAML document (for -o yaml). 0 or -EIO. */
int json_to_yaml(json_t *v, FILE *out);

/* YAML (one document) to the equivalent JSON value. */
int yaml_to_json(const char *text, size_t len, json_t **ret, struct error *err);

/*
 * Builds a pod_spec from a Pod object. ns_default is used when
 * metadata.namespace is missing; a namespace that differs from ns_default is
 * refused when must_match. Returns -EINVAL with the field path in err.
 */
int pod_spec_from_json(json_t *pod, const char *ns_default, bool must_match,
		       struct pod_spec **ret, struct error *err);

/* The command line the container runs: command + args. NULL-terminated, allocated. */
char **container_spec_argv(const struct container_spec *c);

/* Quantities: "128Mi", "1G", "500m" (cpu), "2" (cpu). */
int parse_memory_quantity(const char *s, uint64_t *ret);
int parse_cpu_quantity(const char *s, unsigned *ret_millis);

struct pod_spec *pod_spec_free(struct pod_spec *p);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/pod.h"

static const char *const restart_names[_RESTART_POLICY_MAX] = {
	[RESTART_ALWAYS] = "Always",
	[RESTART_ON_FAILURE] = "OnFailure",
	[RESTART_NEVER] = "Never",
};

const char *restart_policy_to_string(enum restart_policy p)
{
	return p >= 0 && p < _RESTART_POLICY_MAX ? restart_names[p] : NULL;
}

int pod_body_parse(const char *body, size_t len, json_t **ret, struct error *err)
{
	size_t i = 0;
	json_error_t jerr;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		return error_setx(err, EBADMSG, "the request body is empty");
	if (body[i] == '{') {
		json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!j)
			return error_setx(err, EBADMSG, "invalid JSON at line %d, column %d: %s",
					  jerr.line, jerr.column, jerr.text);
		*ret = j;
		return 0;
	}
	return yaml_to_json(body, len, ret, err);
}

int parse_memory_quantity(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t mul;
	} units[] = {
		{ "Ki", 1ULL << 10 }, { "Mi", 1ULL << 20 }, { "Gi", 1ULL << 30 }, { "Ti", 1ULL << 40 },
		{ "k", 1000ULL },     { "K", 1000ULL },	   { "M", 1000000ULL },	 { "G", 1000000000ULL },
		{ "T", 1000000000000ULL }, { "", 1 },
	};
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mul)
				return -ERANGE;
			*ret = v * units[i].mul;
			return 0;
		}
	return -EINVAL;
}

int parse_cpu_quantity(const char *s, unsigned *ret_millis)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || v < 0)
		return -EINVAL;
	if (strcmp(end, "m") == 0)
		v /= 1000;
	else if (*end)
		return -EINVAL;
	if (v > 1024)
		return -ERANGE;
	*ret_millis = (unsigned)(v * 1000 + 0.5);
	return 0;
}

static int invalid(struct error *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int invalid(struct error *err, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_setx(err, EINVAL, "%s: %s", path, msg);
}

/* A JSON value for messages: "A_B", 12, {...}. */
static char *show(json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s && strlen(s) > 64)
		strcpy(s + 60, "...");
	return s;
}

static int string_field(json_t *obj, const char *key, const char *path, bool required,
			char **ret, struct error *err)
{
	json_t *v = json_object_get(obj, key);
	char p[512];

	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (!v || json_is_null(v)) {
		if (required)
			return invalid(err, p, "Required value");
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v)) {
		cleanup_free char *s = show(v);
		return invalid(err, p, "Invalid value: %s: must be a string", s ? s : "?");
	}
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static int string_array(json_t *obj, const char *key, const char *path, char ***ret,
			struct error *err)
{
	json_t *v = json_object_get(obj, key), *e;
	char p[512];
	size_t i;

	snprintf(p, sizeof(p), "%s.%s", path, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return invalid(err, p, "must be a list of strings");
	char **a = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!a)
		return -ENOMEM;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			strv_free(a);
			char q[600];
			snprintf(q, sizeof(q), "%s[%zu]", p, i);
			return invalid(err, q, "must be a string");
		}
		a[i] = strdup(json_string_value(e));
	}
	*ret = a;
	return 0;
}

static int string_map(json_t *obj, const char *key, const char *path, json_t **ret,
		      struct error *err)
{
	json_t *v = json_object_get(obj, key), *e;
	const char *k;
	char p[512];

	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (!v || json_is_null(v)) {
		*ret = json_object();
		return 0;
	}
	if (!json_is_object(v))
		return invalid(err, p, "must be a map of strings");
	json_object_foreach(v, k, e)
	{
		if (!json_is_string(e))
			return invalid(err, p, "value of '%s' must be a string", k);
	}
	*ret = json_incref(v);
	return 0;
}

static bool env_name_ok(const char *s)
{
	if (!s || !*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static int quantity(json_t *limits, const char *key, const char *path, bool cpu,
		    struct container_spec *c, struct error *err)
{
	json_t *v = json_object_get(limits, key);
	char buf[64], p[512];
	const char *s;
	int r;

	if (!v || json_is_null(v))
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		s = buf;
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		s = buf;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
	} else {
		return invalid(err, p, "must be a quantity such as %s", cpu ? "\"500m\"" : "\"128Mi\"");
	}
	if (cpu)
		r = parse_cpu_quantity(s, &c->cpu_millis);
	else
		r = parse_memory_quantity(s, &c->memory_limit);
	if (r < 0)
		return invalid(err, p, "Invalid value: \"%s\": must be a quantity such as %s", s,
			       cpu ? "\"500m\" or \"2\"" : "\"128Mi\" or \"1G\"");
	return 0;
}

static int container(json_t *j, const char *path, struct container_spec *c, struct error *err)
{
	char p[512];
	int r;

	if (!json_is_object(j))
		return invalid(err, path, "must be an object");
	if ((r = string_field(j, "name", path, true, &c->name, err)) < 0)
		return r;
	if (!name_is_dns_label(c->name)) {
		snprintf(p, sizeof(p), "%s.name", path);
		return invalid(err, p,
			       "Invalid value: \"%s\": must be a DNS-1123 label (lowercase "
			       "alphanumerics and '-', at most 63)",
			       c->name);
	}
	if ((r = string_field(j, "image", path, true, &c->image, err)) < 0)
		return r;
	if (!name_is_valid(c->image)) {
		snprintf(p, sizeof(p), "%s.image", path);
		return invalid(err, p, "Invalid value: \"%s\": not a valid image name", c->image);
	}
	if ((r = string_array(j, "command", path, &c->command, err)) < 0 ||
	    (r = string_array(j, "args", path, &c->args, err)) < 0)
		return r;
	if ((!c->command || !c->command[0]) && (!c->args || !c->args[0])) {
		snprintf(p, sizeof(p), "%s.command", path);
		return invalid(err, p, "Required value: images carry no default command here");
	}
	if ((r = string_field(j, "workingDir", path, false, &c->working_dir, err)) < 0)
		return r;
	if (c->working_dir && c->working_dir[0] != '/') {
		snprintf(p, sizeof(p), "%s.workingDir", path);
		return invalid(err, p, "Invalid value: \"%s\": must be an absolute path",
			       c->working_dir);
	}

	json_t *env = json_object_get(j, "env"), *e;
	size_t i;
	if (env && !json_is_null(env)) {
		snprintf(p, sizeof(p), "%s.env", path);
		if (!json_is_array(env))
			return invalid(err, p, "must be a list of {name, value}");
		c->env = calloc(json_array_size(env) + 1, sizeof(char *));
		if (!c->env)
			return -ENOMEM;
		json_array_foreach(env, i, e)
		{
			const char *n = json_string_value(json_object_get(e, "name"));
			json_t *vj = json_object_get(e, "value");
			snprintf(p, sizeof(p), "%s.env[%zu]", path, i);
			if (!env_name_ok(n))
				return invalid(err, p, "name: Invalid value: \"%s\": not a valid "
					       "environment variable name", n ? n : "");
			if (vj && !json_is_null(vj) && !json_is_string(vj))
				return invalid(err, p, "value: must be a string");
			if (asprintf(&c->env[i], "%s=%s", n, vj ? json_string_value(vj) ?: "" : "") < 0)
				return -ENOMEM;
		}
	}

	json_t *limits = json_object_get(json_object_get(j, "resources"), "limits");
	snprintf(p, sizeof(p), "%s.resources.limits", path);
	if ((r = quantity(limits, "memory", p, false, c, err)) < 0 ||
	    (r = quantity(limits, "cpu", p, true, c, err)) < 0)
		return r;
	if (c->memory_limit && c->memory_limit < (4u << 20))
		return invalid(err, p, "memory: must be at least 4Mi");

	json_t *exec = json_object_get(
		json_object_get(json_object_get(j, "lifecycle"), "postStart"), "exec");
	if (exec) {
		snprintf(p, sizeof(p), "%s.lifecycle.postStart.exec", path);
		if ((r = string_array(exec, "command", p, &c->post_start, err)) < 0)
			return r;
		if (!c->post_start || !c->post_start[0]) {
			snprintf(p, sizeof(p), "%s.lifecycle.postStart.exec.command", path);
			return invalid(err, p, "Required value");
		}
	}
	return 0;
}

int pod_spec_from_json(json_t *pod, const char *ns_default, bool must_match,
		       struct pod_spec **ret, struct error *err)
{
	struct pod_spec *p;
	json_t *meta, *spec, *v;
	const char *s;
	int r;

	if (!json_is_object(pod))
		return invalid(err, "<body>", "must be a Pod object");
	s = json_string_value(json_object_get(pod, "kind"));
	if (json_object_get(pod, "kind") && (!s || strcmp(s, "Pod") != 0))
		return invalid(err, "kind", "Invalid value: must be \"Pod\"");
	s = json_string_value(json_object_get(pod, "apiVersion"));
	if (json_object_get(pod, "apiVersion") && (!s || strcmp(s, "v1") != 0))
		return invalid(err, "apiVersion", "Invalid value: must be \"v1\"");
	meta = json_object_get(pod, "metadata");
	if (!json_is_object(meta))
		return invalid(err, "metadata", "Required value");
	spec = json_object_get(pod, "spec");
	if (!json_is_object(spec))
		return invalid(err, "spec", "Required value");

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->restart_policy = RESTART_ALWAYS;
	p->grace_period_s = 30;

	if ((r = string_field(meta, "name", "metadata", true, &p->name, err)) < 0)
		goto fail;
	if (!name_is_dns_label(p->name)) {
		r = invalid(err, "metadata.name",
			    "Invalid value: \"%s\": must be a DNS-1123 label (lowercase alphanumerics "
			    "and '-', starting and ending alphanumeric, at most 63)",
			    p->name);
		goto fail;
	}
	if ((r = string_field(meta, "namespace", "metadata", false, &p->namespace_, err)) < 0)
		goto fail;
	if (!p->namespace_ && !(p->namespace_ = strdup(ns_default))) {
		r = -ENOMEM;
		goto fail;
	}
	if (!name_is_dns_label(p->namespace_)) {
		r = invalid(err, "metadata.namespace", "Invalid value: \"%s\": must be a DNS-1123 label",
			    p->namespace_);
		goto fail;
	}
	if (must_match && strcmp(p->namespace_, ns_default) != 0) {
		r = invalid(err, "metadata.namespace",
			    "Invalid value: \"%s\": does not match the namespace of the request "
			    "(\"%s\")",
			    p->namespace_, ns_default);
		goto fail;
	}
	if ((r = string_map(meta, "labels", "metadata", &p->labels, err)) < 0 ||
	    (r = string_map(meta, "annotations", "metadata", &p->annotations, err)) < 0)
		goto fail;

	json_t *cs = json_object_get(spec, "containers");
	if (!json_is_array(cs) || json_array_size(cs) == 0) {
		r = invalid(err, "spec.containers", "Required value: at least one container");
		goto fail;
	}
	if (json_array_size(cs) > POD_MAX_CONTAINERS) {
		r = invalid(err, "spec.containers", "Too many: %zu, at most %d",
			    json_array_size(cs), POD_MAX_CONTAINERS);
		goto fail;
	}
	size_t i;
	json_array_foreach(cs, i, v)
	{
		char path[64];
		snprintf(path, sizeof(path), "spec.containers[%zu]", i);
		r = container(v, path, &p->containers[i], err);
		p->n_containers = i + 1;
		if (r < 0)
			goto fail;
		for (size_t k = 0; k < i; k++)
			if (strcmp(p->containers[k].name, p->containers[i].name) == 0) {
				char q[80];
				snprintf(q, sizeof(q), "%s.name", path);
				r = invalid(err, q, "Duplicate value: \"%s\"", p->containers[i].name);
				goto fail;
			}
	}

	v = json_object_get(spec, "restartPolicy");
	if (v && !json_is_null(v)) {
		s = json_string_value(v);
		p->restart_policy = _RESTART_POLICY_INVALID;
		for (int k = 0; s && k < _RESTART_POLICY_MAX; k++)
			if (strcmp(s, restart_names[k]) == 0)
				p->restart_policy = k;
		if (p->restart_policy < 0) {
			cleanup_free char *shown = show(v);
			r = invalid(err, "spec.restartPolicy",
				    "Unsupported value: %s: supported values: \"Always\", "
				    "\"OnFailure\", \"Never\"",
				    shown ? shown : "?");
			goto fail;
		}
	}
	v = json_object_get(spec, "terminationGracePeriodSeconds");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 3600) {
			cleanup_free char *shown = show(v);
			r = invalid(err, "spec.terminationGracePeriodSeconds",
				    "Invalid value: %s: must be a whole number of seconds from 0 to "
				    "3600",
				    shown ? shown : "?");
			goto fail;
		}
		p->grace_period_s = json_integer_value(v);
	}
	v = json_object_get(spec, "clonePod");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v)) {
			r = invalid(err, "spec.clonePod", "must be an object");
			goto fail;
		}
		p->clone_pod = json_incref(v);
	}
	*ret = p;
	return 0;
fail:
	pod_spec_free(p);
	return r;
}

char **container_spec_argv(const struct container_spec *c)
{
	size_t n = 0, k = 0;
	for (char **a = c->command; a && *a; a++)
		n++;
	for (char **a = c->args; a && *a; a++)
		n++;
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return NULL;
	for (char **a = c->command; a && *a; a++)
		v[k++] = strdup(*a);
	for (char **a = c->args; a && *a; a++)
		v[k++] = strdup(*a);
	return v;
}

struct pod_spec *pod_spec_free(struct pod_spec *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_containers; i++) {
		struct container_spec *c = &p->containers[i];
		free(c->name);
		free(c->image);
		strv_free(c->command);
		strv_free(c->args);
		strv_free(c->env);
		free(c->working_dir);
		strv_free(c->post_start);
	}
	free(p->name);
	free(p->namespace_);
	json_decref(p->labels);
	json_decref(p->annotations);
	json_decref(p->clone_pod);
	free(p);
	return NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML into JSON, so that one validator serves both. Plain (unquoted) scalars
 * are typed as YAML 1.2's core schema does: null, booleans, integers, floats;
 * everything else, and every quoted scalar, is a string. Anchors and aliases
 * are refused: a pod spec has no use for them, and they are how "billion
 * laughs" bodies are built.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "ferry/pod.h"

#define MAX_DEPTH 64

struct parser {
	yaml_parser_t p;
	struct error *err;
};

static int fail(struct parser *ps, const yaml_event_t *ev, const char *what)
{
	return error_setx(ps->err, EBADMSG, "invalid YAML at line %zu, column %zu: %s",
			  (size_t)ev->start_mark.line + 1, (size_t)ev->start_mark.column + 1, what);
}

static bool matches(const char *s, const char *re)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	bool m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

static json_t *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_string(v);
	if (!*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0)
		return json_null();
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		return json_true();
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
		return json_false();
	if (matches(v, "^[-+]?[0-9]+$")) {
		errno = 0;
		long long n = strtoll(v, NULL, 10);
		if (errno == 0)
			return json_integer(n);
	}
	if (matches(v, "^[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$"))
		return json_real(strtod(v, NULL));
	return json_string(v);
}

static int next(struct parser *ps, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ps->p, ev))
		return error_setx(ps->err, EBADMSG, "invalid YAML at line %zu, column %zu: %s",
				  (size_t)ps->p.problem_mark.line + 1,
				  (size_t)ps->p.problem_mark.column + 1,
				  ps->p.problem ? ps->p.problem : "parse error");
	return 0;
}

/* Builds the value that starts with ev (the caller deletes ev). */
static int node(struct parser *ps, yaml_event_t *ev, int depth, json_t **ret)
{
	int r = 0;

	if (depth > MAX_DEPTH)
		return fail(ps, ev, "nested too deeply");
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor)
			return fail(ps, ev, "anchors are not supported");
		*ret = scalar(ev);
		return *ret ? 0 : -ENOMEM;
	case YAML_ALIAS_EVENT:
		return fail(ps, ev, "aliases are not supported");
	case YAML_SEQUENCE_START_EVENT: {
		if (ev->data.sequence_start.anchor)
			return fail(ps, ev, "anchors are not supported");
		json_t *a = json_array();
		for (;;) {
			yaml_event_t e;
			if ((r = next(ps, &e)) < 0)
				break;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				break;
			}
			json_t *v = NULL;
			r = node(ps, &e, depth + 1, &v);
			yaml_event_delete(&e);
			if (r < 0)
				break;
			json_array_append_new(a, v);
		}
		if (r < 0) {
			json_decref(a);
			return r;
		}
		*ret = a;
		return 0;
	}
	case YAML_MAPPING_START_EVENT: {
		if (ev->data.mapping_start.anchor)
			return fail(ps, ev, "anchors are not supported");
		json_t *o = json_object();
		for (;;) {
			yaml_event_t k, e;
			if ((r = next(ps, &k)) < 0)
				break;
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				break;
			}
			if (k.type != YAML_SCALAR_EVENT) {
				r = fail(ps, &k, "mapping keys must be scalars");
				yaml_event_delete(&k);
				break;
			}
			char *key = strdup((const char *)k.data.scalar.value);
			yaml_event_delete(&k);
			if ((r = next(ps, &e)) < 0) {
				free(key);
				break;
			}
			json_t *v = NULL;
			r = node(ps, &e, depth + 1, &v);
			yaml_event_delete(&e);
			if (r < 0) {
				free(key);
				break;
			}
			json_object_set_new(o, key, v);
			free(key);
		}
		if (r < 0) {
			json_decref(o);
			return r;
		}
		*ret = o;
		return 0;
	}
	default:
		return fail(ps, ev, "unexpected event");
	}
}

int yaml_to_json(const char *text, size_t len, json_t **ret, struct error *err)
{
	struct parser ps = { .err = err };
	yaml_event_t ev;
	json_t *doc = NULL;
	int r = 0, docs = 0;

	if (!yaml_parser_initialize(&ps.p))
		return error_set(err, ENOMEM, "YAML parser");
	yaml_parser_set_input_string(&ps.p, (const unsigned char *)text, len);
	for (;;) {
		if ((r = next(&ps, &ev)) < 0)
			break;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			r = fail(&ps, &ev, "more than one document");
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
		    t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
			r = node(&ps, &ev, 0, &doc);
			yaml_event_delete(&ev);
			if (r < 0)
				break;
			continue;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps.p);
	if (r < 0) {
		json_decref(doc);
		return r;
	}
	if (!doc)
		return error_setx(err, EBADMSG, "empty document");
	*ret = doc;
	return 0;
}

/* ------------------------------------------------------------------ emitting */

static int emit_scalar(yaml_emitter_t *e, const char *text, bool plain_ok)
{
	yaml_event_t ev;
	/* Strings that would read back as another type are quoted. */
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	if (!plain_ok)
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
				     plain_ok, 1, style);
	return yaml_emitter_emit(e, &ev) ? 0 : -EIO;
}

static int emit(yaml_emitter_t *e, json_t *v)
{
	yaml_event_t ev;
	char buf[64];
	int r = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(e, &ev))
			return -EIO;
		json_object_foreach(v, k, x)
		{
			if ((r = emit_scalar(e, k, true)) < 0 || (r = emit(e, x)) < 0)
				return r;
		}
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(e, &ev) ? 0 : -EIO;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(e, &ev))
			return -EIO;
		json_array_foreach(v, i, x)
		{
			if ((r = emit(e, x)) < 0)
				return r;
		}
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(e, &ev) ? 0 : -EIO;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		yaml_event_t probe = { 0 };
		probe.type = YAML_SCALAR_EVENT;
		probe.data.scalar.value = (yaml_char_t *)s;
		probe.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
		json_t *as = scalar(&probe);
		bool plain = json_is_string(as);
		json_decref(as);
		return emit_scalar(e, s, plain);
	}
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(e, buf, true);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		return emit_scalar(e, buf, true);
	case JSON_TRUE: return emit_scalar(e, "true", true);
	case JSON_FALSE: return emit_scalar(e, "false", true);
	default: return emit_scalar(e, "null", true);
	}
}

static int write_out(void *data, unsigned char *buffer, size_t size)
{
	return fwrite(buffer, 1, size, data) == size;
}

int json_to_yaml(json_t *v, FILE *out)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int r = -EIO;

	if (!yaml_emitter_initialize(&e))
		return -ENOMEM;
	yaml_emitter_set_output(&e, write_out, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if (!yaml_emitter_emit(&e, &ev))
		goto out;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	if (!yaml_emitter_emit(&e, &ev))
		goto out;
	if (emit(&e, v) < 0)
		goto out;
	yaml_document_end_event_initialize(&ev, 1);
	if (!yaml_emitter_emit(&e, &ev))
		goto out;
	yaml_stream_end_event_initialize(&ev);
	if (!yaml_emitter_emit(&e, &ev))
		goto out;
	r = 0;
out:
	yaml_emitter_delete(&e);
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors that must reach a person or a remote caller.
 *
 * A function that can fail returns an int: >= 0 on success, -errno on failure.
 * When the failure has to be explained, the function also takes a caller-owned
 * struct error as its last argument and fills it where the failure happened;
 * callers add context on the way up with error_wrap(), and only the top (a CLI
 * command, an API handler) prints it. This is crun's libcrun_error_t in spirit,
 * with the message in a fixed buffer so that nothing needs freeing.
 *
 *	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
 *	if (fd < 0)
 *		return error_set(err, errno, "cannot open image '%s'", name);
 *	...
 *	r = image_store_resolve(store, name, &img, err);
 *	if (r < 0)
 *		return error_wrap(err, "create container '%s'", id);
 *
 * The result then reads "create container 'c1': cannot open image 'x': No such
 * file or directory".
 */
#ifndef FERRY_ERROR_H
#define FERRY_ERROR_H

#include <stdbool.h>

#define ERROR_MSG_MAX 4096

struct error {
	int code;		  /* positive errno, 0 when no error is set */
	char msg[ERROR_MSG_MAX]; /* what went wrong, outermost context first */
};

/*
 * Records an error with a printf-style message, followed by ": strerror(code)".
 * code may be given positive or negative; 0 is taken as EIO. err may be NULL.
 * Returns -code, so that a caller can write `return error_set(err, ...)`.
 */
int error_set(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As error_set(), without appending strerror(): for messages that come from
 * another program (runc, CRIU) and already say everything. */
int error_setx(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the message with "context: ". Returns -err->code (or -EIO when no
 * error was recorded). err may be NULL (then returns -EIO). */
int error_wrap(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forgets any recorded error. */
void error_clear(struct error *err);

static inline bool error_is_set(const struct error *err)
{
	return err && err->code != 0;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ferry/error.h"

static int set(struct error *err, int code, bool with_errno, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EIO;
	if (!err)
		return -code;

	err->code = code;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(code));
	return -code;
}

int error_set(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set(err, code, true, fmt, ap);
	va_end(ap);
	return r;
}

int error_setx(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set(err, code, false, fmt, ap);
	va_end(ap);
	return r;
}

int error_wrap(struct error *err, const char *fmt, ...)
{
	char prefix[1024], old[ERROR_MSG_MAX];
	va_list ap;

	if (!err)
		return -EIO;
	if (err->code == 0)
		err->code = EIO;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);

	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -err->code;
}

void error_clear(struct error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ferry/log.h"

/* The only mutable global besides none: the log threshold (see STYLE.md). */
static int max_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",	 [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error",	 [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",	 [LOG_DEBUG] = "debug",
};

void log_set_level(int level)
{
	max_level = level;
}

int log_get_level(void)
{
	return max_level;
}

int log_level_from_string(const char *s)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	return -EINVAL;
}

int log_internal(int level, int error, const char *prefix, const char *fmt, ...)
{
	char buf[2048], msg[2048], stamp[40];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int e = error < 0 ? -error : error;

	if (level > max_level)
		return error < 0 ? error : -e;

	/* Expand %m to strerror(error) ourselves: errno may have moved on. */
	size_t j = 0;
	for (const char *p = fmt; *p && j < sizeof(buf) - 1; p++) {
		if (p[0] == '%' && p[1] == 'm') {
			const char *s = strerror(e);
			while (*s && j < sizeof(buf) - 1) {
				if (*s == '%' && j < sizeof(buf) - 2)
					buf[j++] = '%';
				buf[j++] = *s++;
			}
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf[j++] = *p++;
			if (j < sizeof(buf) - 1)
				buf[j++] = *p;
		} else {
			buf[j++] = *p;
		}
	}
	buf[j] = '\0';

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), buf, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000,
		level_names[level & 7], prefix, msg);
	return error < 0 ? error : -e;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One line per event on stderr: time, level, module, message. Levels follow
 * syslog. Each source file defines LOG_PREFIX before including this header,
 * as CRIU does, so that every line names its module.
 *
 * log_*_errno(r, ...) returns r (negative), so that a caller can write
 *	return log_error_errno(r, "cannot open '%s': %m", path);
 * %m prints strerror of the value given, not of the current errno.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <syslog.h>

#ifndef LOG_PREFIX
#define LOG_PREFIX "ferry"
#endif

/* Sets the maximum level printed (LOG_ERR .. LOG_DEBUG). Default LOG_INFO. */
void log_set_level(int level);
int log_get_level(void);

/* Parses "error", "warning", "notice", "info", "debug". Returns the level or -EINVAL. */
int log_level_from_string(const char *s);

int log_internal(int level, int error, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_full_errno(level, error, ...) log_internal(level, error, LOG_PREFIX, __VA_ARGS__)

#define log_debug(...) (void)log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) (void)log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) (void)log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) (void)log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) (void)log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#endif

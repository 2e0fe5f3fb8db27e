/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a child's output line by line with a deadline: a container's
 * stdout pipe, a workload's reports.
 */
#ifndef FERRY_LINES_H
#define FERRY_LINES_H

#include <stddef.h>

#define LINE_MAX_LEN 4096

struct line_reader {
	int fd; /* not owned */
	size_t len;
	char buf[2 * LINE_MAX_LEN];
	char line[LINE_MAX_LEN];
};

static inline void line_reader_init(struct line_reader *lr, int fd)
{
	lr->fd = fd;
	lr->len = 0;
}

/*
 * Waits up to timeout_ms for the next line and returns it (without the
 * newline) in lr->line; longer lines are cut. Returns 0, -ETIMEDOUT, -EPIPE
 * at end of file, or -errno.
 */
int line_reader_next(struct line_reader *lr, int timeout_ms);

/* Reads lines until one starts with prefix (returned in lr->line), within timeout_ms in all. */
int line_reader_expect(struct line_reader *lr, const char *prefix, int timeout_ms);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "ferry/fs.h"
#include "ferry/lines.h"

static int take_line(struct line_reader *lr)
{
	char *nl = memchr(lr->buf, '\n', lr->len);
	size_t n;

	if (!nl) {
		if (lr->len < sizeof(lr->buf))
			return -EAGAIN;
		nl = lr->buf + LINE_MAX_LEN - 1; /* overlong: cut it */
	}
	n = (size_t)(nl - lr->buf);
	if (n >= LINE_MAX_LEN)
		n = LINE_MAX_LEN - 1;
	memcpy(lr->line, lr->buf, n);
	lr->line[n] = '\0';
	size_t used = (size_t)(nl - lr->buf) + (*nl == '\n' ? 1 : 0);
	memmove(lr->buf, lr->buf + used, lr->len - used);
	lr->len -= used;
	return 0;
}

int line_reader_next(struct line_reader *lr, int timeout_ms)
{
	unsigned long long deadline = now_ns() + (unsigned long long)timeout_ms * 1000000ULL;

	for (;;) {
		if (take_line(lr) == 0)
			return 0;
		unsigned long long now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = lr->fd, .events = POLLIN };
		int r = poll(&p, 1, (int)((deadline - now) / 1000000ULL) + 1);
		if (r < 0 && errno == EINTR)
			return -EINTR;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		ssize_t n = read(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - lr->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			if (lr->len > 0) { /* a last line without newline */
				lr->buf[lr->len < sizeof(lr->buf) ? lr->len : lr->len - 1] = '\n';
				lr->len += lr->len < sizeof(lr->buf) ? 1 : 0;
				continue;
			}
			return -EPIPE;
		}
		lr->len += (size_t)n;
	}
}

int line_reader_expect(struct line_reader *lr, const char *prefix, int timeout_ms)
{
	unsigned long long deadline = now_ns() + (unsigned long long)timeout_ms * 1000000ULL;

	for (;;) {
		unsigned long long now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		int r = line_reader_next(lr, (int)((deadline - now) / 1000000ULL) + 1);
		if (r < 0)
			return r;
		if (strncmp(lr->line, prefix, strlen(prefix)) == 0)
			return 0;
	}
}

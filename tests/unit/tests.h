/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the unit tests: temporary directories, cmocka includes. */
#ifndef FERRY_TESTS_H
#define FERRY_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ferry/error.h"
#include "ferry/fs.h"

/* A fresh directory under /tmp, removed by tmpdir_done(). */
static inline char *tmpdir_new(const char *tag)
{
	char *p;
	if (asprintf(&p, "/tmp/ferry-test-%s-XXXXXX", tag) < 0 || !mkdtemp(p))
		abort();
	return p;
}

static inline void tmpdir_done(char *p)
{
	struct error err = { 0 };
	if (p && rm_rf(p, &err) < 0)
		fprintf(stderr, "cleanup: %s\n", err.msg);
	free(p);
}

/* assert_string_contains(haystack, needle), printing both on failure. */
#define assert_contains(h, n)                                                                      \
	do {                                                                                       \
		const char *h_ = (h), *n_ = (n);                                                   \
		if (!h_ || !strstr(h_, n_))                                                        \
			fail_msg("'%s' does not contain '%s'", h_ ? h_ : "(null)", n_);           \
	} while (0)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scope-bound cleanup, in the manner of systemd's cleanup-fundamental.h and
 * crun's utils.h: a variable declared with one of these attributes is freed,
 * closed or finalized when it leaves scope. TAKE_PTR()/TAKE_FD() hand the
 * resource out and leave the variable empty so that nothing is freed twice.
 */
#ifndef FERRY_CLEANUP_H
#define FERRY_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static inline void strv_freep(char ***v)
{
	strv_free(*v);
}

#define cleanup_free cleanup_(freep)
#define cleanup_close cleanup_(closep)
#define cleanup_fclose cleanup_(fclosep)
#define cleanup_strv cleanup_(strv_freep)

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -EBADF;                                                                     \
		_fd;                                                                               \
	})

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#endif

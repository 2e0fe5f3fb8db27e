/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/digest.h"

int digest_init(struct digest_ctx *d)
{
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -ENOMEM;
	d->h = h;
	return 0;
}

void digest_update(struct digest_ctx *d, const void *data, size_t len)
{
	(void)gnutls_hash(d->h, data, len);
}

void digest_final(struct digest_ctx *d, char out[DIGEST_STR_LEN + 1])
{
	unsigned char md[32];
	static const char hex[] = "0123456789abcdef";

	gnutls_hash_deinit(d->h, md);
	d->h = NULL;
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[DIGEST_STR_LEN] = '\0';
}

int digest_file(const char *path, char out[DIGEST_STR_LEN + 1], struct error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct digest_ctx d;
	char buf[1 << 16];

	if (fd < 0)
		return error_set(err, errno, "cannot open '%s'", path);
	if (digest_init(&d) < 0)
		return error_set(err, ENOMEM, "sha256");
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			digest_final(&d, out);
			return error_set(err, e, "cannot read '%s'", path);
		}
		if (n == 0)
			break;
		digest_update(&d, buf, (size_t)n);
	}
	digest_final(&d, out);
	return 0;
}

bool digest_is_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != DIGEST_STR_LEN)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

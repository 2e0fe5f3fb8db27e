/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 digests, written as "sha256:<64 hex>" as OCI does. Backed by
 * GnuTLS, the TLS library libmicrohttpd and libcurl already use here.
 */
#ifndef FERRY_DIGEST_H
#define FERRY_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "ferry/error.h"

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN) /* "sha256:" + hex */

struct digest_ctx {
	void *h; /* gnutls_hash_hd_t */
};

int digest_init(struct digest_ctx *d);
void digest_update(struct digest_ctx *d, const void *data, size_t len);
/* Writes "sha256:<hex>" (DIGEST_STR_LEN + 1 bytes) and releases the context. */
void digest_final(struct digest_ctx *d, char out[DIGEST_STR_LEN + 1]);

/* Digest of a whole file. */
int digest_file(const char *path, char out[DIGEST_STR_LEN + 1], struct error *err);

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_is_valid(const char *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates with GnuTLS: a cluster CA, and serving certificates issued by
 * it for an agent's name and address, so that agents of one cluster and the
 * CLI verify each other. No code path skips verification.
 */
#ifndef FERRY_TLS_H
#define FERRY_TLS_H

#include "ferry/error.h"

/* Makes DIR/ca.crt and DIR/ca.key (mode 0600). -EEXIST if DIR/ca.key exists. */
int tls_ca_init(const char *dir, const char *common_name, struct error *err);

/*
 * Issues a certificate signed by the CA in ca_dir for common_name, valid for
 * the given DNS names and IP addresses (NULL-terminated lists, may be NULL),
 * usable as TLS server and client. Writes cert_path and key_path (0600).
 */
int tls_issue(const char *ca_dir, const char *common_name, const char *const *dns,
	      const char *const *ips, const char *cert_path, const char *key_path,
	      struct error *err);

/*
 * The agent's TLS material in state_dir/tls: ca.crt (whom to trust),
 * server.crt and server.key. With cluster_ca_dir the serving certificate comes
 * from that CA; without, from a CA of the agent's own made on first start in
 * state_dir/tls/ca. A certificate issued for another name or address is
 * reissued.
 */
int tls_node_ensure(const char *state_dir, const char *node_name, const char *host,
		    const char *cluster_ca_dir, struct error *err);

#endif

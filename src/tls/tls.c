/* SPDX-License-Identifier: Apache-2.0 */
#define LOG_PREFIX "tls"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/log.h"
#include "ferry/tls.h"

#define CA_DAYS 3650
#define CERT_DAYS 825

static int gtls(struct error *err, int rc, const char *what)
{
	return error_setx(err, EIO, "%s: %s", what, gnutls_strerror(rc));
}

static int write_pem(const char *path, gnutls_datum_t *d, mode_t mode, struct error *err)
{
	int r = write_file_atomic(path, d->data, d->size, mode, err);
	gnutls_free(d->data);
	d->data = NULL;
	return r;
}

static int load_datum(const char *path, gnutls_datum_t *d, char **buf, struct error *err)
{
	size_t len;
	int r = read_file(path, 1 << 20, buf, &len, err);
	if (r < 0)
		return r;
	d->data = (unsigned char *)*buf;
	d->size = (unsigned)len;
	return 0;
}

static int new_key(gnutls_x509_privkey_t *ret, struct error *err)
{
	int rc = gnutls_x509_privkey_init(ret);
	if (rc >= 0)
		rc = gnutls_x509_privkey_generate(*ret, GNUTLS_PK_ECDSA,
						  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	return rc < 0 ? gtls(err, rc, "generate key") : 0;
}

static int set_common(gnutls_x509_crt_t crt, const char *cn, int days, struct error *err)
{
	unsigned char serial[16];
	time_t now = time(NULL);
	int rc;

	if (getrandom(serial, sizeof(serial), 0) != sizeof(serial))
		return error_set(err, errno, "getrandom");
	serial[0] &= 0x7f; /* a positive serial */
	rc = gnutls_x509_crt_set_version(crt, 3);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	if (rc >= 0)
		rc = gnutls_x509_crt_set_activation_time(crt, now - 3600);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
						   (unsigned)strlen(cn));
	if (rc >= 0)
		rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "ferry",
						   5);
	return rc < 0 ? gtls(err, rc, "certificate fields") : 0;
}

int tls_ca_init(const char *dir, const char *common_name, struct error *err)
{
	cleanup_free char *crt_path = path_join(dir, "ca.crt"), *key_path = path_join(dir, "ca.key");
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t out = { 0 };
	int r, rc;

	if (!crt_path || !key_path)
		return error_set(err, ENOMEM, "ca init");
	if (path_exists(key_path))
		return error_setx(err, EEXIST, "a CA exists already in '%s' (ca.key)", dir);
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return error_set(err, r, "cannot create '%s'", dir);
	r = new_key(&key, err);
	if (r < 0)
		goto out;
	rc = gnutls_x509_crt_init(&crt);
	if (rc < 0) {
		r = gtls(err, rc, "certificate");
		goto out;
	}
	r = set_common(crt, common_name, CA_DAYS, err);
	if (r < 0)
		goto out;
	rc = gnutls_x509_crt_set_key(crt, key);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_basic_constraints(crt, 1, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
							      GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (rc >= 0)
		rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
	if (rc >= 0)
		rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &out);
	if (rc < 0) {
		r = gtls(err, rc, "make CA certificate");
		goto out;
	}
	r = write_pem(key_path, &out, 0600, err);
	if (r >= 0 && (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out)) < 0)
		r = gtls(err, rc, "export CA certificate");
	if (r >= 0)
		r = write_pem(crt_path, &out, 0644, err);
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}

int tls_issue(const char *ca_dir, const char *common_name, const char *const *dns,
	      const char *const *ips, const char *cert_path, const char *key_path,
	      struct error *err)
{
	cleanup_free char *ca_crt_path = path_join(ca_dir, "ca.crt");
	cleanup_free char *ca_key_path = path_join(ca_dir, "ca.key");
	cleanup_free char *ca_crt_buf = NULL, *ca_key_buf = NULL;
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	gnutls_datum_t d = { 0 }, out = { 0 };
	int r, rc;

	if (!ca_crt_path || !ca_key_path)
		return error_set(err, ENOMEM, "issue");
	r = load_datum(ca_crt_path, &d, &ca_crt_buf, err);
	if (r < 0)
		return error_wrap(err, "load cluster CA");
	rc = gnutls_x509_crt_init(&ca);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		r = gtls(err, rc, "read CA certificate");
		goto out;
	}
	r = load_datum(ca_key_path, &d, &ca_key_buf, err);
	if (r < 0) {
		error_wrap(err, "load cluster CA key");
		goto out;
	}
	rc = gnutls_x509_privkey_init(&ca_key);
	if (rc >= 0)
		rc = gnutls_x509_privkey_import(ca_key, &d, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		r = gtls(err, rc, "read CA key");
		goto out;
	}

	r = new_key(&key, err);
	if (r < 0)
		goto out;
	rc = gnutls_x509_crt_init(&crt);
	if (rc < 0) {
		r = gtls(err, rc, "certificate");
		goto out;
	}
	r = set_common(crt, common_name, CERT_DAYS, err);
	if (r < 0)
		goto out;
	rc = gnutls_x509_crt_set_key(crt, key);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
								GNUTLS_KEY_KEY_ENCIPHERMENT);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
	for (size_t i = 0; rc >= 0 && dns && dns[i]; i++)
		rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns[i],
							  (unsigned)strlen(dns[i]), GNUTLS_FSAN_APPEND);
	for (size_t i = 0; rc >= 0 && ips && ips[i]; i++) {
		unsigned char a[16];
		unsigned n = 0;
		if (inet_pton(AF_INET, ips[i], a) == 1)
			n = 4;
		else if (inet_pton(AF_INET6, ips[i], a) == 1)
			n = 16;
		if (n)
			rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, n,
								  GNUTLS_FSAN_APPEND);
	}
	if (rc >= 0)
		rc = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0);
	if (rc >= 0)
		rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &out);
	if (rc < 0) {
		r = gtls(err, rc, "issue certificate");
		goto out;
	}
	r = write_pem(key_path, &out, 0600, err);
	if (r >= 0 && (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out)) < 0)
		r = gtls(err, rc, "export certificate");
	if (r >= 0)
		r = write_pem(cert_path, &out, 0644, err);
out:
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca_key)
		gnutls_x509_privkey_deinit(ca_key);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}

static int copy_file(const char *from, const char *to, struct error *err)
{
	cleanup_free char *data = NULL;
	size_t len;
	int r = read_file(from, 1 << 20, &data, &len, err);
	return r < 0 ? r : write_file_atomic(to, data, len, 0644, err);
}

int tls_node_ensure(const char *state_dir, const char *node_name, const char *host,
		    const char *cluster_ca_dir, struct error *err)
{
	cleanup_free char *dir = path_join(state_dir, "tls");
	cleanup_free char *own_ca = path_join(dir, "ca");
	cleanup_free char *ca_crt = path_join(dir, "ca.crt");
	cleanup_free char *crt = path_join(dir, "server.crt"), *key = path_join(dir, "server.key");
	cleanup_free char *issued_for = path_join(dir, "server.for"), *want = NULL, *have = NULL;
	const char *ca_dir;
	int r;

	if (!dir || !own_ca || !ca_crt || !crt || !key || !issued_for ||
	    asprintf(&want, "%s %s %s\n", node_name, host, cluster_ca_dir ? cluster_ca_dir : "-") < 0)
		return error_set(err, ENOMEM, "tls");
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return error_set(err, r, "cannot create '%s'", dir);
	if (cluster_ca_dir) {
		ca_dir = cluster_ca_dir;
	} else {
		ca_dir = own_ca;
		cleanup_free char *own_key = path_join(own_ca, "ca.key");
		if (!path_exists(own_key)) {
			char cn[128];
			snprintf(cn, sizeof(cn), "ferry node CA %s", node_name);
			r = tls_ca_init(own_ca, cn, err);
			if (r < 0)
				return error_wrap(err, "make the agent's own CA");
			log_info("made a CA of the agent's own in %s", own_ca);
		}
	}
	cleanup_free char *src_ca = path_join(ca_dir, "ca.crt");
	r = copy_file(src_ca, ca_crt, err);
	if (r < 0)
		return error_wrap(err, "install CA certificate");

	if (path_exists(crt) && path_exists(key) &&
	    read_file(issued_for, 4096, &have, NULL, NULL) == 0 && strcmp(have, want) == 0)
		return 0;
	const char *dns[] = { node_name, "localhost", NULL };
	const char *ips[] = { host, NULL };
	r = tls_issue(ca_dir, node_name, dns, ips, crt, key, err);
	if (r < 0)
		return error_wrap(err, "issue the serving certificate");
	return write_file_atomic(issued_for, want, strlen(want), 0600, err);
}

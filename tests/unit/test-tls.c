/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/stat.h>

#include "tests.h"
#include "ferry/cleanup.h"
#include "ferry/tls.h"

static gnutls_x509_crt_t load(const char *path)
{
	cleanup_free char *pem = NULL;
	size_t len;
	gnutls_x509_crt_t c;
	assert_int_equal(read_file(path, 1 << 20, &pem, &len, NULL), 0);
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)len };
	assert_int_equal(gnutls_x509_crt_init(&c), 0);
	assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
	return c;
}

static void test_ca_and_issued_certificate_verify(void **state)
{
	char *dir = tmpdir_new("tls");
	cleanup_free char *ca = path_join(dir, "ca");
	cleanup_free char *key = path_join(dir, "ca/ca.key");
	cleanup_free char *crt = path_join(dir, "node.crt"), *nkey = path_join(dir, "node.key");
	struct error err = { 0 };
	struct stat st;

	assert_int_equal(tls_ca_init(ca, "test CA", &err), 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tls_ca_init(ca, "again", &err), -EEXIST);
	assert_contains(err.msg, "exists already");

	const char *dns[] = { "node-a", "localhost", NULL };
	const char *ips[] = { "127.0.0.2", NULL };
	assert_int_equal(tls_issue(ca, "node-a", dns, ips, crt, nkey, &err), 0);

	cleanup_free char *ca_crt = path_join(ca, "ca.crt");
	gnutls_x509_crt_t cac = load(ca_crt), c = load(crt);
	unsigned status = 0;
	assert_int_equal(gnutls_x509_crt_list_verify(&c, 1, &cac, 1, NULL, 0, 0, &status), 0);
	assert_int_equal(status, 0);
	assert_true(gnutls_x509_crt_check_hostname(c, "node-a"));
	assert_true(gnutls_x509_crt_check_ip(c, (const unsigned char *)"\x7f\x00\x00\x02", 4, 0));
	assert_false(gnutls_x509_crt_check_ip(c, (const unsigned char *)"\x7f\x00\x00\x03", 4, 0));

	/* a certificate from another CA does not verify against this one */
	cleanup_free char *other = path_join(dir, "other");
	assert_int_equal(tls_ca_init(other, "other CA", &err), 0);
	cleanup_free char *other_crt = path_join(other, "ca.crt");
	gnutls_x509_crt_t oc = load(other_crt);
	assert_int_equal(gnutls_x509_crt_list_verify(&c, 1, &oc, 1, NULL, 0, 0, &status), 0);
	assert_int_not_equal(status, 0);
	gnutls_x509_crt_deinit(cac);
	gnutls_x509_crt_deinit(c);
	gnutls_x509_crt_deinit(oc);

	assert_true(tls_issue("/nonexistent", "x", NULL, NULL, crt, nkey, &err) < 0);
	assert_contains(err.msg, "load cluster CA");
	tmpdir_done(dir);
}

static void test_node_ensure_reissues_for_a_new_address(void **state)
{
	char *dir = tmpdir_new("tlsnode");
	cleanup_free char *crt = path_join(dir, "tls/server.crt");
	cleanup_free char *ca = path_join(dir, "tls/ca.crt");
	struct error err = { 0 };

	assert_int_equal(tls_node_ensure(dir, "node-a", "127.0.0.2", NULL, &err), 0);
	assert_true(path_exists(ca));
	gnutls_x509_crt_t c1 = load(crt);
	assert_true(gnutls_x509_crt_check_ip(c1, (const unsigned char *)"\x7f\x00\x00\x02", 4, 0));
	/* same name and address: kept */
	cleanup_free char *before = NULL, *after = NULL;
	assert_int_equal(read_file(crt, 1 << 20, &before, NULL, NULL), 0);
	assert_int_equal(tls_node_ensure(dir, "node-a", "127.0.0.2", NULL, &err), 0);
	assert_int_equal(read_file(crt, 1 << 20, &after, NULL, NULL), 0);
	assert_string_equal(before, after);
	/* a new address: reissued for it */
	assert_int_equal(tls_node_ensure(dir, "node-a", "127.0.0.9", NULL, &err), 0);
	gnutls_x509_crt_t c2 = load(crt);
	assert_true(gnutls_x509_crt_check_ip(c2, (const unsigned char *)"\x7f\x00\x00\x09", 4, 0));
	gnutls_x509_crt_deinit(c1);
	gnutls_x509_crt_deinit(c2);
	tmpdir_done(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_and_issued_certificate_verify),
		cmocka_unit_test(test_node_ensure_reissues_for_a_new_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

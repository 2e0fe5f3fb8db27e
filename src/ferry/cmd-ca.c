/* SPDX-License-Identifier: Apache-2.0 */
/* ferry ca init DIR: a cluster CA (DIR/ca.crt, DIR/ca.key) for ferryd --cluster-ca. */
#include <stdio.h>
#include <string.h>

#include "ferry.h"
#include "ferry/tls.h"

int cmd_ca(struct cli_context *ctx, int argc, char **argv)
{
	struct error err = { 0 };

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: ferry ca init DIR\n\nMake a cluster CA: DIR/ca.crt and DIR/ca.key "
		       "(mode 0600).\nAgents started with --cluster-ca DIR get serving "
		       "certificates from it,\nand trust each other and the CLI through it.\n");
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "init") != 0)
		return cli_fail("ca: usage: ferry ca init DIR");
	if (tls_ca_init(argv[2], "ferry cluster CA", &err) < 0)
		return cli_fail("ca init: %s", err.msg);
	printf("cluster CA in %s (ca.crt, ca.key)\n", argv[2]);
	return 0;
}

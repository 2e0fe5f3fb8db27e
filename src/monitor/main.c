/* SPDX-License-Identifier: Apache-2.0 */
#include "ferry/monitor.h"

int main(int argc, char **argv)
{
	return monitor_main(argc, argv);
}

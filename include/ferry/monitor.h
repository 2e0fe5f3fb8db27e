/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ferry-monitor: one small process per container, in the role conmon plays
 * for CRI-O and Podman. It holds the container's stdio pipes (so they are
 * never a host file, and CRIU can dump them), writes what the container
 * prints to a log file in the CRI format, reaps the container's init as a
 * child subreaper, and records its exit status in an exit file. It runs in a
 * session of its own, so the agent can restart (or die) while containers keep
 * running and logging.
 *
 *	ferry-monitor --root R --id ID --bundle DIR --log FILE --exit-file FILE
 *	              --sync-fd N [--runc PATH]
 *	              [--restore IMAGES --work DIR [--tcp-established] [--file-locks]]
 *
 * With --restore, the container comes back from CRIU images (runc restore
 * --detach) instead of being created, and is running when the monitor reports.
 * On the sync fd it writes one JSON line, {"pid":N} once the container is
 * created (the agent then runs `runc start`), or {"error":"..."}, then closes
 * it. The exit file, written atomically when init exits:
 *	{"exitCode":N,"signal":S,"finishedAt":"RFC3339"}
 */
#ifndef FERRY_MONITOR_H
#define FERRY_MONITOR_H

#include <stddef.h>

/* The monitor's main(). */
int monitor_main(int argc, char **argv);

/*
 * Formats one CRI log record: "<RFC3339Nano> <stream> <F|P> <text>\n" into out
 * (at least len + 64 bytes). partial: the text is not a whole line (P).
 */
size_t cri_log_format(char *out, const char *stream, const char *text, size_t len, int partial);

#endif

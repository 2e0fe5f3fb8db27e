/* SPDX-License-Identifier: Apache-2.0 */
/*
 * statekeeper: a workload that keeps state of every kind a checkpoint must
 * carry, in the shape of CRIU's zdtm tests: set the state up, say "ready",
 * keep going, and on SIGUSR1 check that everything is still as it must be.
 *
 * State kept:
 * - memory: --mem MiB filled with a pattern derived from the offset, checked
 *   in full on every check;
 * - an open file appended to (O_APPEND): one line per tick, "tick N"; on a
 *   check the file is read back and must end with the current tick;
 * - a child process, talked to through two pipes: each tick sends N, the child
 *   answers N+1 (so the child's state and both pipes must survive);
 * - an interval timer (ITIMER_REAL, 10 ms) whose ticks must keep coming;
 * - a heartbeat: the largest gap between two ticks, in ms ("max_gap_ms"), which
 *   is what the process itself saw of a freeze;
 * - with -t, an established TCP connection over loopback (both ends held):
 *   every tick goes through it and must come out unchanged (CRIU keeps it only
 *   with --tcp-established, and only if lo is up where it restores);
 * - with -l FILE, an exclusive flock on FILE: on a check, a second open of the
 *   file must fail to take the lock (CRIU keeps held locks only with
 *   --file-locks).
 *
 * Output, one line each, on stdout (line buffered):
 *	ready pid=P mem=M
 *	count N                       every --report ticks
 *	check ok count=N ticks=T max_gap_ms=G
 *	check FAIL <what differs>
 * SIGTERM: the child is stopped and the process exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t check_requested, stop_requested, alarms;

static void on_usr1(int s)
{
	(void)s;
	check_requested = 1;
}

static void on_term(int s)
{
	(void)s;
	stop_requested = 1;
}

static void on_alarm(int s)
{
	(void)s;
	alarms++;
}

static uint64_t pattern(uint64_t i)
{
	return (i + 1) * 0x9E3779B97F4A7C15ull ^ 0xC0FFEEull;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* the freeze must show: not monotonic-adjusted */
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void child_loop(int in, int out)
{
	uint64_t v, served = 0;
	for (;;) {
		if (read_full(in, &v, sizeof(v)) < 0)
			_exit(0);
		served++;
		v += 1;
		if (write_full(out, &v, sizeof(v)) < 0)
			_exit(1);
	}
}

/* The file must end with "tick <count>\n" and hold exactly count lines. */
static int check_file(const char *path, uint64_t count, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[4096];
	uint64_t lines = 0;
	char last[64] = "", cur[64];
	size_t cl = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				cur[cl] = '\0';
				memcpy(last, cur, cl + 1);
				cl = 0;
				lines++;
			} else if (cl < sizeof(cur) - 1) {
				cur[cl++] = buf[i];
			}
		}
	}
	close(fd);
	char want[64];
	snprintf(want, sizeof(want), "tick %llu", (unsigned long long)count);
	if (lines != count || strcmp(last, want) != 0) {
		snprintf(why, whylen, "file %s has %llu lines ending '%s', want %llu ending '%s'",
			 path, (unsigned long long)lines, last, (unsigned long long)count, want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned mem_mib = 16, interval_ms = 50, report = 10;
	const char *file = "/data/ticks.log", *lock_file = NULL;
	int opt, lock_fd = -1, tcp = 0, tcp_client = -1, tcp_server = -1;

	while ((opt = getopt(argc, argv, "m:f:i:r:l:t")) != -1) {
		switch (opt) {
		case 'm': mem_mib = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': file = optarg; break;
		case 'i': interval_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': report = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': lock_file = optarg; break;
		case 't': tcp = 1; break;
		default:
			fprintf(stderr, "usage: statekeeper [-m MiB] [-f FILE] [-i MS] [-r TICKS] [-l LOCKFILE] [-t]\n");
			return 2;
		}
	}
	if (report == 0)
		report = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("check FAIL open %s: %s\n", file, strerror(errno));
		return 1;
	}

	if (lock_file) {
		lock_fd = open(lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0) {
			printf("check FAIL lock %s: %s\n", lock_file, strerror(errno));
			return 1;
		}
	}

	if (tcp) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(sa);
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
		    getsockname(l, (struct sockaddr *)&sa, &len) < 0) {
			printf("check FAIL tcp listen: %s\n", strerror(errno));
			return 1;
		}
		tcp_client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (tcp_client < 0 || connect(tcp_client, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    (tcp_server = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			printf("check FAIL tcp connect: %s\n", strerror(errno));
			return 1;
		}
		close(l);
	}

	int to_child[2], from_child[2];
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
		printf("check FAIL pipe: %s\n", strerror(errno));
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		printf("check FAIL fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		close(to_child[1]);
		close(from_child[0]);
		child_loop(to_child[0], from_child[1]);
	}
	close(to_child[0]);
	close(from_child[1]);

	/* After the fork: the child must not share (copy-on-write) the pattern. */
	size_t words = (size_t)mem_mib * (1u << 20) / sizeof(uint64_t);
	uint64_t *mem = NULL;
	if (words) {
		mem = mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			printf("check FAIL mmap %u MiB: %s\n", mem_mib, strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < words; i++)
			mem[i] = pattern(i);
	}


	struct sigaction sa = { 0 };
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { .it_interval = { 0, 10000 }, .it_value = { 0, 10000 } };
	setitimer(ITIMER_REAL, &it, NULL);

	printf("ready pid=%d mem=%u\n", (int)getpid(), mem_mib);

	uint64_t count = 0, max_gap = 0, last = now_ms();
	sig_atomic_t alarms_at_check = 0;
	while (!stop_requested) {
		struct timespec ts = { interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_requested)
			;
		if (stop_requested)
			break;
		uint64_t t = now_ms();
		if (t - last > max_gap)
			max_gap = t - last;
		last = t;

		count++;
		char line[64];
		int n = snprintf(line, sizeof(line), "tick %llu\n", (unsigned long long)count);
		if (write_full(fd, line, (size_t)n) < 0) {
			printf("check FAIL append to %s: %s\n", file, strerror(errno));
			return 1;
		}
		uint64_t v = count, answer = 0;
		if (write_full(to_child[1], &v, sizeof(v)) < 0 ||
		    read_full(from_child[0], &answer, sizeof(answer)) < 0 || answer != count + 1) {
			printf("check FAIL child pipe: sent %llu, got %llu\n",
			       (unsigned long long)count, (unsigned long long)answer);
			return 1;
		}
		if (tcp) {
			uint64_t echo = 0;
			if (write_full(tcp_client, &v, sizeof(v)) < 0 ||
			    read_full(tcp_server, &echo, sizeof(echo)) < 0 || echo != count) {
				printf("check FAIL tcp connection: sent %llu, got %llu (%s)\n",
				       (unsigned long long)count, (unsigned long long)echo,
				       strerror(errno));
				return 1;
			}
		}
		if (count % report == 0)
			printf("count %llu\n", (unsigned long long)count);

		if (check_requested) {
			check_requested = 0;
			char why[512] = "";
			int bad = 0;
			for (size_t i = 0; i < words && !bad; i++)
				if (mem[i] != pattern(i)) {
					snprintf(why, sizeof(why), "memory word %zu is %llx, want %llx", i,
						 (unsigned long long)mem[i],
						 (unsigned long long)pattern(i));
					bad = 1;
				}
			if (!bad && check_file(file, count, why, sizeof(why)) < 0)
				bad = 1;
			if (!bad && kill(child, 0) < 0) {
				snprintf(why, sizeof(why), "child %d is gone", (int)child);
				bad = 1;
			}
			if (!bad && lock_fd >= 0) {
				int probe = open(lock_file, O_RDONLY | O_CLOEXEC);
				if (probe < 0 || flock(probe, LOCK_EX | LOCK_NB) == 0 ||
				    errno != EWOULDBLOCK) {
					snprintf(why, sizeof(why), "the lock on %s is no longer held",
						 lock_file);
					bad = 1;
				}
				if (probe >= 0)
					close(probe);
			}
			if (!bad && alarms == alarms_at_check) {
				snprintf(why, sizeof(why), "the interval timer stopped (%d ticks)",
					 (int)alarms);
				bad = 1;
			}
			alarms_at_check = alarms;
			if (bad)
				printf("check FAIL %s\n", why);
			else
				printf("check ok count=%llu ticks=%d max_gap_ms=%llu\n",
				       (unsigned long long)count, (int)alarms,
				       (unsigned long long)max_gap);
		}
	}
	close(to_child[1]);
	waitpid(child, NULL, 0);
	return 0;
}

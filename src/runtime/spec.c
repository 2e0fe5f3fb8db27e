/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI runtime spec (config.json) generation. The defaults follow `runc spec`:
 * the same mounts, masked and read-only paths, capabilities and rlimits, so
 * that a ferry container behaves like any runc container.
 */
#define LOG_PREFIX "runtime"
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/cleanup.h"
#include "ferry/fs.h"
#include "ferry/runtime.h"
#include "runtime-internal.h"

static const char *const default_caps[] = {
	"CAP_AUDIT_WRITE", "CAP_CHOWN",	 "CAP_DAC_OVERRIDE", "CAP_FOWNER",     "CAP_FSETID",
	"CAP_KILL",	   "CAP_MKNOD",	 "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
	"CAP_SETGID",	   "CAP_SETPCAP", "CAP_SETUID",	      "CAP_SYS_CHROOT",
};

static const char *const masked_paths[] = {
	"/proc/acpi",	   "/proc/asound",	"/proc/kcore",	     "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/sys/firmware",   "/proc/scsi",
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && (n ? i < n : v[i] != NULL); i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mount(const char *dst, const char *type, const char *src, const char *opts)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dst, "type", type, "source", src);
	json_t *o = json_array();
	cleanup_free char *copy = strdup(opts);
	char *save = NULL;

	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(o, json_string(t));
	json_object_set_new(m, "options", o);
	return m;
}

static json_t *ns(const char *type, const char *path)
{
	json_t *n = json_pack("{s:s}", "type", type);
	if (path)
		json_object_set_new(n, "path", json_string(path));
	return n;
}

int runtime_bundle_write(const struct runtime *rt, const char *id,
			 const struct container_config *c, const char *bundle_dir,
			 struct error *err)
{
	static const char *const default_env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL
	};
	cleanup_free char *config_path = NULL, *rootfs = NULL, *cgroups_path = NULL;
	cleanup_free char *text = NULL;
	json_t *spec = NULL;
	struct stat st;
	int r;

	if (!name_is_valid(id))
		return error_setx(err, EINVAL,
				  "invalid container id '%s': use 1-128 of [A-Za-z0-9_.:-], no '..'",
				  id ? id : "");
	if (!c->args || !c->args[0] || !c->args[0][0])
		return error_setx(err, EINVAL, "container '%s': args: a command is required", id);
	if (c->cwd && c->cwd[0] != '/')
		return error_setx(err, EINVAL,
				  "container '%s': workingDir '%s' must be an absolute path", id,
				  c->cwd);
	for (const char *const *e = c->env; e && *e; e++)
		if (!strchr(*e, '=') || **e == '=')
			return error_setx(err, EINVAL,
					  "container '%s': env entry '%s' is not NAME=VALUE", id, *e);
	if (c->memory_limit && c->memory_limit < 4096 * 64)
		return error_setx(err, EINVAL,
				  "container '%s': memory limit %llu bytes is below 256 KiB", id,
				  (unsigned long long)c->memory_limit);

	rootfs = path_join(bundle_dir, "rootfs");
	config_path = path_join(bundle_dir, "config.json");
	if (asprintf(&cgroups_path, "%s/%s", rt->cgroup_parent, id) < 0)
		cgroups_path = NULL;
	if (!rootfs || !config_path || !cgroups_path)
		return error_set(err, ENOMEM, "bundle for '%s'", id);
	if (stat(bundle_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return error_set(err, errno ? errno : ENOTDIR, "bundle directory '%s'", bundle_dir);

	size_t ncaps = ELEMENTSOF(default_caps);
	json_t *caps = json_object();
	const char *const cap_sets[] = { "bounding", "effective", "permitted", "ambient" };
	for (size_t i = 0; i < ELEMENTSOF(cap_sets); i++)
		json_object_set_new(caps, cap_sets[i], strings(default_caps, ncaps));

	/* The image carries no environment: PATH is ours unless the container sets it. */
	json_t *env = strings(c->env ? c->env : default_env, 0);
	bool has_path = false;
	for (const char *const *e = c->env; e && *e; e++)
		has_path = has_path || strncmp(*e, "PATH=", 5) == 0;
	if (c->env && !has_path)
		json_array_insert_new(env, 0, json_string(default_env[0]));

	json_t *process = json_pack("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:o, s:b, s:[{s:s, s:i, s:i}]}",
				    "terminal", 0, "user", "uid", 0, "gid", 0, "args",
				    strings(c->args, 0), "env", env, "cwd",
				    c->cwd ? c->cwd : "/", "capabilities", caps, "noNewPrivileges", 1,
				    "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024);

	json_t *mounts = json_array();
	json_array_append_new(mounts, mount("/proc", "proc", "proc", ""));
	json_array_append_new(mounts, mount("/dev", "tmpfs", "tmpfs",
					    "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts,
			      mount("/dev/pts", "devpts", "devpts",
				    "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(mounts, mount("/dev/shm", "tmpfs", "shm",
					    "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(mounts, mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	/* sysfs can be mounted only in a network namespace of the container's own. */
	if (c->ns.network)
		json_array_append_new(mounts, mount("/sys", "bind", "/sys", "rbind,nosuid,noexec,nodev,ro"));
	else
		json_array_append_new(mounts, mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_array_append_new(mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup",
					    "nosuid,noexec,nodev,relatime,ro"));

	json_t *namespaces = json_array();
	json_array_append_new(namespaces, ns("pid", NULL));
	json_array_append_new(namespaces, ns("mount", NULL));
	json_array_append_new(namespaces, ns("network", c->ns.network));
	json_array_append_new(namespaces, ns("ipc", c->ns.ipc));
	json_array_append_new(namespaces, ns("uts", c->ns.uts));

	json_t *resources = json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm");
	if (c->memory_limit)
		json_object_set_new(resources, "memory",
				    json_pack("{s:I}", "limit", (json_int_t)c->memory_limit));
	if (c->cpu_millis) {
		const json_int_t period = 100000;
		json_object_set_new(resources, "cpu",
				    json_pack("{s:I, s:I}", "quota",
					      (json_int_t)c->cpu_millis * period / 1000, "period",
					      period));
	}

	json_t *linux_ = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o}", "resources", resources,
				   "cgroupsPath", cgroups_path, "namespaces", namespaces,
				   "maskedPaths", strings(masked_paths, ELEMENTSOF(masked_paths)),
				   "readonlyPaths",
				   strings(readonly_paths, ELEMENTSOF(readonly_paths)), "devices",
				   json_array());

	spec = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:{s:s}}", "ociVersion", "1.0.2",
			 "process", process, "root", "path", rootfs, "readonly", 0, "hostname",
			 c->hostname ? c->hostname : id, "mounts", mounts, "linux", linux_,
			 "annotations", "org.ferry.container", id);
	if (!spec)
		return error_set(err, ENOMEM, "build config.json for '%s'", id);
	/* A hostname can be set only in a uts namespace of the container's own. */
	if (c->ns.uts)
		json_object_del(spec, "hostname");

	text = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(spec);
	if (!text)
		return error_set(err, ENOMEM, "serialize config.json for '%s'", id);
	r = write_file_atomic(config_path, text, strlen(text), 0644, err);
	if (r < 0)
		return error_wrap(err, "write OCI bundle for '%s'", id);
	return 0;
}

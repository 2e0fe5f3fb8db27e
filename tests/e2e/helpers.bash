# Shared by the agent tests: a cluster CA, two real ferryd processes on
# 127.0.0.2 and 127.0.0.3 (each with its own state dir, runc root and cgroup
# parent), and the ferry CLI pointed at them.

: "${FERRY:=ferry}"
: "${FERRYD:=ferryd}"
: "${FERRY_TEST_IMAGE:?FERRY_TEST_IMAGE must name the test image}"
PORT=${FERRY_TEST_PORT:-10350}
NODE_A=https://127.0.0.2:$PORT
NODE_B=https://127.0.0.3:$PORT

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "skip: needs root" >&3
		exit 77
	fi
}

# start_agent NAME ADDR: starts ferryd in the background, waits until it answers.
start_agent() {
	local name=$1 addr=$2 dir=$W/$1
	mkdir -p "$dir"
	echo "--listen $addr:$PORT" >"$dir/cmdline"
	"$FERRYD" --name "$name" --listen "$addr:$PORT" --state-dir "$dir/state" \
		--cluster-ca "$W/ca" --cgroup-parent "ferry-e2e-$PORT-$name" --backoff-base-ms 300 \
		--log-level debug >>"$dir/ferryd.log" 2>&1 3>&- &
	echo $! >"$dir/pid"
	for _ in $(seq 100); do
		curl -sf --cacert "$W/ca/ca.crt" "https://$addr:$PORT/healthz" >/dev/null && return 0
		sleep 0.1
	done
	echo "ferryd $name did not come up:" >&2
	cat "$dir/ferryd.log" >&2
	return 1
}

stop_agent() { # NAME [SIGNAL]
	local pid
	pid=$(cat "$W/$1/pid" 2>/dev/null) || return 0
	kill "-${2:-TERM}" "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}

# ferry_a / ferry_b / ferry_c ARGS...: the CLI against node a, b or c.
NODE_C=https://127.0.0.4:$PORT
ferry_a() { "$FERRY" --node "$NODE_A" --ca "$W/ca/ca.crt" "$@"; }
ferry_b() { "$FERRY" --node "$NODE_B" --ca "$W/ca/ca.crt" "$@"; }
ferry_c() { "$FERRY" --node "$NODE_C" --ca "$W/ca/ca.crt" "$@"; }

# api_a METHOD PATH [curl args...]: raw HTTPS; prints the body, then "HTTP <code>".
api_a() {
	local method=$1 path=$2
	shift 2
	curl -s --cacert "$W/ca/ca.crt" -X "$method" -w '\nHTTP %{http_code}\n' "$@" "$NODE_A$path"
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
	local t=$1
	shift
	for _ in $(seq $((t * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

pod_phase() { ferry_${3:-a} get pod "$1" -o json | grep -m1 '"phase"' | sed 's/.*: "\(.*\)".*/\1/'; }
phase_is() { [ "$(pod_phase "$1" "$2" "${3:-a}")" = "$2" ]; }

# nothing_left NODE-DIR: no pods, no mounts, no container cgroups, no temporary files.
nothing_left() {
	local dir=$W/$1/state
	[ -z "$(ls "$dir/pods" 2>/dev/null)" ] || { echo "pods left in $dir"; return 1; }
	[ -z "$(ls "$dir/images/tmp" 2>/dev/null)" ] || { echo "files left in $dir/images/tmp"; return 1; }
	! grep -q "$dir" /proc/self/mountinfo || { echo "mounts left under $dir"; return 1; }
	[ -z "$(ls -d /sys/fs/cgroup/memory/ferry-e2e-$PORT-$1/*/ 2>/dev/null)" ] || { echo "cgroups left for $1"; return 1; }
	# migrations in flight live on tmpfs, /dev/shm/ferry-NODE-<state dir inode>
	local scratch
	scratch=/dev/shm/ferry-$1-$(printf '%x' "$(stat -c %i "$dir")")
	[ -z "$(ls -A "$scratch" 2>/dev/null)" ] || { echo "migration files left in $scratch"; return 1; }
}

# check_ok NODE POD CONTAINER: asks the statekeeper workload to check all of
# its state (memory, file, child and pipes, timer, lock, TCP) and expects "check ok".
check_ok() {
	local f=ferry_$1 before last
	before=$($f logs "$2" -c "$3" | grep -c '^check ' || true)
	$f exec "$2" -c "$3" -- kill -USR1 1
	for _ in $(seq 50); do
		[ "$($f logs "$2" -c "$3" | grep -c '^check ' || true)" -gt "$before" ] && break
		sleep 0.2
	done
	last=$($f logs "$2" -c "$3" | grep '^check ' | tail -1)
	echo "$1 $2/$3: $last"
	[[ "$last" == "check ok"* ]]
}

# last_count NODE POD CONTAINER: the workload's last reported count.
last_count() { ferry_$1 logs "$2" -c "$3" | grep '^count ' | tail -1 | awk '{print $2}'; }

setup_agents() {
	need_root
	W=$(mktemp -d /tmp/ferry-e2e-agents-XXXXXX)
	export W
	"$FERRY" ca init "$W/ca" >/dev/null
	start_agent node-a 127.0.0.2
	start_agent node-b 127.0.0.3
	ferry_a image import test "$FERRY_TEST_IMAGE" >/dev/null
	ferry_b image import test "$FERRY_TEST_IMAGE" >/dev/null
}

# Deletes every pod, stops the agents, and checks that nothing is left behind.
teardown_agents() {
	local n addr
	for n in $(ls "$W" 2>/dev/null); do
		[ -f "$W/$n/pid" ] || continue
		addr=$(sed -n 's/.*--listen \([0-9.]*\):.*/\1/p' "$W/$n/cmdline" 2>/dev/null)
		[ -n "$addr" ] || continue
		local node=https://$addr:$PORT
		for p in $("$FERRY" --node "$node" --ca "$W/ca/ca.crt" get pods -A -o json 2>/dev/null |
			grep -A2 '"metadata"' | sed -n 's/.*"name": "\(.*\)".*/\1/p'); do
			"$FERRY" --node "$node" --ca "$W/ca/ca.crt" delete pod "$p" >/dev/null 2>&1 || true
		done
		stop_agent "$n"
	done
	local left
	left=$(grep "$W" /proc/self/mountinfo | awk '{print $5}')
	left+=$(ls -d /sys/fs/cgroup/*/ferry-e2e-$PORT-*/*/ 2>/dev/null)
	if [ -n "$left" ]; then
		echo "left behind: $left" >&2
		for m in $(grep "$W" /proc/self/mountinfo | awk '{print $5}' | sort -r); do umount -l "$m"; done
	fi
	for d in /sys/fs/cgroup/*/ferry-e2e-$PORT-*; do rmdir "$d" 2>/dev/null || true; done
	rm -rf "$W"
	[ -z "$left" ]
}

#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# The ferry command line as a person uses it. Needs root, runc and CRIU
# (scripts/setup); FERRY points at the binary under test, FERRY_TEST_IMAGE at
# the test image.

setup_file() {
	if [ "$(id -u)" != 0 ]; then
		echo "skip: needs root" >&3
		exit 77
	fi
}

setup() {
	: "${FERRY:=ferry}"
	: "${FERRY_TEST_IMAGE:?FERRY_TEST_IMAGE must name the test image}"
}

# Nothing of a demo may be left: work dirs, mounts, cgroups, runc state, agents.
assert_no_leftovers() {
	run pgrep -f 'ferryd --name node-. --listen 127.0.0.[23]:10251'
	[ -z "$output" ] || { echo "agents left: $output"; return 1; }
	run bash -c 'ls -d /tmp/ferry-demo-* 2>/dev/null'
	[ -z "$output" ] || { echo "left behind: $output"; return 1; }
	run bash -c 'grep ferry-demo /proc/self/mountinfo'
	[ -z "$output" ] || { echo "still mounted: $output"; return 1; }
	run bash -c 'ls -d /sys/fs/cgroup/*/ferry-demo-* /sys/fs/cgroup/ferry-demo-* 2>/dev/null'
	[ -z "$output" ] || { echo "cgroups left: $output"; return 1; }
}

@test "ferry --help lists the commands" {
	run "$FERRY" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"demo"* ]]
	[[ "$output" == *"Usage: ferry"* ]]
}

@test "every command has --help" {
	run "$FERRY" demo --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: ferry demo"* ]]
	run "$FERRY" version
	[ "$status" -eq 0 ]
	[[ "$output" == "ferry "* ]]
}

@test "an unknown command or option fails with one line naming it" {
	run "$FERRY" frobnicate
	[ "$status" -eq 1 ]
	[[ "$output" == *"ferry: unknown command 'frobnicate'"* ]]
	run "$FERRY" demo --mem lots
	[ "$status" -eq 1 ]
	[[ "$output" == *"--mem: 'lots' is not a size in MiB"* ]]
	run "$FERRY" demo --local --mem lots
	[ "$status" -eq 1 ]
	[[ "$output" == *"--mem: 'lots' is not a size in MiB"* ]]
	run "$FERRY" --log-level loud demo
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown log level 'loud'"* ]]
}

@test "ferry demo: a stateful pod live-migrates between two agents and back, state intact" {
	run "$FERRY" demo --image "$FERRY_TEST_IMAGE" --mem 16
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"node node-a  https://127.0.0.2:10251"* ]]
	[[ "$output" == *"node node-b  https://127.0.0.3:10251"* ]]
	[[ "$output" == *"[hop 1] node-a -> node-b"*"pod/counter migrated to https://127.0.0.3:10251"*"downtime "*"it continued"*"check ok"* ]]
	[[ "$output" == *"[hop 2] node-b -> node-a"*"pod/counter migrated to https://127.0.0.2:10251"*"it continued"*"check ok"* ]]
	[[ "$output" == *"demo: ok"* ]]
	[[ "$output" != *"check FAIL"* ]]
	assert_no_leftovers
}

@test "ferry demo --local: a container checkpointed and restored under a second runc root" {
	run "$FERRY" demo --local --image "$FERRY_TEST_IMAGE" --mem 16
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"[3/5] checkpoint"* ]]
	[[ "$output" == *"[4/5] restore"*"on node b"* ]]
	[[ "$output" == *"count continued"*"intact"* ]]
	[[ "$output" == *"demo: ok"* ]]
	assert_no_leftovers
}

@test "ferry demo with a missing image fails clearly and cleans up" {
	run "$FERRY" demo --image /nonexistent/image.tar
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot open the demo image '/nonexistent/image.tar'"* ]]
	assert_no_leftovers
}

@test "ferry demo with a file that is not an image fails clearly and cleans up" {
	junk=$(mktemp)
	echo "not a tarball" >"$junk"
	run "$FERRY" demo --image "$junk"
	rm -f "$junk"
	[ "$status" -eq 1 ]
	[[ "$output" == *"import image 'test'"* ]]
	assert_no_leftovers
}

@test "ferry demo cleans up after Ctrl-C" {
	"$FERRY" demo --image "$FERRY_TEST_IMAGE" --mem 16 >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q 'pod/counter created' "$BATS_TEST_TMPDIR/out" && break
		sleep 0.1
	done
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/out"
	[ "$rc" -eq 1 ]
	grep -q "interrupted; cleaned up" "$BATS_TEST_TMPDIR/out"
	assert_no_leftovers
}

@test "ferry demo --local -o json prints the figures as JSON on stdout" {
	run --separate-stderr "$FERRY" demo --local --image "$FERRY_TEST_IMAGE" --mem 8 -o json
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "{" ]]
	[[ "$output" == *'"mem_mib": 8'* ]]
	[[ "$output" == *'"downtime_seconds": '* ]]
	[[ "$output" == *'"workload_gap_ms": '* ]]
	[[ "$output" != *"[1/5]"* ]]
	run "$FERRY" demo --local -o yaml
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown output format 'yaml'"* ]]
	assert_no_leftovers
}

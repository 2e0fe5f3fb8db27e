#!/usr/bin/env bats
# Checkpoint and restore on a node, with two real agents: pod-consistent
# checkpoints of the project's state-checking workloads, archives restored on
# the same node and on another, rootfs changes, and every refused archive.
bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	setup_agents
}

teardown_file() {
	teardown_agents
}

stateful_pod() { # NAME
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: keeper
    image: test
    command: ["/usr/bin/statekeeper", "-m", "16", "-i", "20", "-r", "10", "-f", "/data/keeper.log"]
  - name: locker
    image: test
    command: ["/usr/bin/statekeeper", "-m", "2", "-i", "20", "-r", "10", "-l", "/data/lock", "-f", "/data/locker.log"]
YAML
}

nothing_left_on_a() {
	[ -z "$(ls "$W/node-a/state/images/tmp")" ]
	! grep -q "$W/node-a/state/pods/.*checkpoint" /proc/self/mountinfo
}

@test "a pod checkpointed with --leave-running runs on, and its copy restores on this node and another" {
	stateful_pod orig | ferry_a apply -f -
	wait_for 20 phase_is orig Running
	wait_for 10 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt logs orig -c keeper | grep -q '^count '"
	# rootfs changes: a file written, a file of the image deleted
	ferry_a exec orig -c keeper -- sh -c 'echo written > /etc/added && rm /etc/image-file'
	run ferry_a checkpoint orig --leave-running -o "$W/orig.tar.zst"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pod/orig checkpointed: checkpoint-orig_default-"*".tar.zst"* ]]
	[[ "$output" == *"frozen "*"memory pages "* ]]
	[[ "$output" == *"left running"* ]]
	[[ "$output" == *"digest verified"* ]]
	[ -s "$W/orig.tar.zst" ]
	# the original runs on, state intact
	phase_is orig Running
	check_ok a orig keeper
	check_ok a orig locker

	run ferry_a checkpoint inspect "$W/orig.tar.zst"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Pod:         default/orig"* ]]
	[[ "$output" == *"keeper"*"test"*"sha256:"* ]]
	[[ "$output" == *"locker"* ]]
	[[ "$output" == *"CRIU:        4."* ]]

	# restored under another name on the same node
	run ferry_a restore "$W/orig.tar.zst" --name twin
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "pod/twin restored from orig.tar.zst"* ]]
	wait_for 20 phase_is twin Running
	check_ok a twin keeper
	check_ok a twin locker
	run ferry_a exec twin -c keeper -- cat /etc/added
	[ "$output" = "written" ]
	run ferry_a exec twin -c keeper -- test -e /etc/image-file
	[ "$status" -eq 1 ]
	run ferry_a describe pod twin
	[[ "$output" == *"Restored container 'keeper'"* ]]

	# and, the archive copied, on the second agent under its own name
	run ferry_b restore "$W/orig.tar.zst"
	[ "$status" -eq 0 ]
	wait_for 20 bash -c "\"$FERRY\" --node $NODE_B --ca $W/ca/ca.crt get pod orig -o json | grep -q '\"phase\": \"Running\"'"
	check_ok b orig keeper
	check_ok b orig locker
	run ferry_b exec orig -c keeper -- cat /etc/added
	[ "$output" = "written" ]
	c1=$(last_count b orig keeper)
	sleep 0.5
	[ "$(last_count b orig keeper)" -gt "$c1" ]
	ferry_b delete pod orig
	ferry_a delete pod twin
	nothing_left_on_a
}

@test "a checkpoint without --leave-running stops the pod; the restore continues it" {
	before=$(last_count a orig keeper)
	run ferry_a checkpoint orig --compress gzip -o "$W/stopped.tar.gz"
	[ "$status" -eq 0 ]
	[[ "$output" == *"stopped; the pod is deleted"* ]]
	wait_for 20 bash -c "! \"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt get pod orig"
	run ferry_a restore "$W/stopped.tar.gz"
	[ "$status" -eq 0 ]
	wait_for 20 phase_is orig Running
	check_ok a orig keeper
	check_ok a orig locker
	# the count continued from where it was, not from zero
	[ "$(last_count a orig keeper)" -ge "$before" ]
	run ferry_a get pod orig -o json
	[[ "$output" == *'"restartCount": 0'* ]]
}

@test "a flipped byte, a truncated archive, a '..' member and a foreign version are each refused" {
	ferry_a checkpoint orig --leave-running --compress none -o "$W/plain.tar" >/dev/null
	pods_before=$(ls "$W/node-a/state/pods" | wc -l)

	# a flipped byte in a memory image: the digest catches it
	cp "$W/plain.tar" "$W/flipped.tar"
	off=$(grep -abo 'pages-1.img' "$W/flipped.tar" | tail -1 | cut -d: -f1)
	off=$((off + 4096))
	printf '\xff' | dd of="$W/flipped.tar" bs=1 seek="$off" conv=notrunc status=none
	run ferry_a restore "$W/flipped.tar" --name flipped
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not match its digest"* ]]

	# a truncated archive
	head -c $(($(stat -c %s "$W/plain.tar") / 2)) "$W/plain.tar" >"$W/truncated.tar"
	run ferry_a restore "$W/truncated.tar" --name truncated
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"refused"* || "$output" == *"truncated"* ]]

	# a member that leaves the tree
	mkdir -p "$W/evil/inner"
	echo pwned >"$W/evil/x"
	(cd "$W/evil/inner" && tar -cPf "$W/evil.tar" ../x)
	run ferry_a restore "$W/evil.tar" --name evil
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"leaves the tree"* ]]

	# a foreign format version, consistently repacked
	mkdir -p "$W/foreign"
	tar -xf "$W/plain.tar" -C "$W/foreign"
	sed -i 's/"version": 1/"version": 99/' "$W/foreign/manifest.json"
	(cd "$W/foreign" && tar -cf "$W/foreign.tar" manifest.json containers)
	run ferry_a restore "$W/foreign.tar" --name foreign
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"format version 99"* ]]

	# nothing was left: no pod, no unpacked files, no uploaded copies
	run ferry_a get pods
	[[ "$output" != *"flipped"* && "$output" != *"truncated"* && "$output" != *"evil"* ]]
	[ "$(ls "$W/node-a/state/pods" | wc -l)" -eq "$pods_before" ]
	[ ! -e "$W/node-a/state/checkpoints/flipped.tar" ]
	[ ! -e "$W/node-a/state/checkpoints/evil.tar" ]
	[ ! -e "$W/x" ]
	nothing_left_on_a
	# the original runs on
	check_ok a orig keeper
}

@test "the kubelet-style endpoint checkpoints one container and answers with the archive" {
	run api_a POST /checkpoint/default/orig/keeper
	echo "$output"
	[[ "$output" == *"HTTP 200"* ]]
	[[ "$output" == *'"items": ['* ]]
	path=$(echo "$output" | sed -n 's/.*"\(\/.*checkpoint-orig_default-keeper-.*\.tar\)".*/\1/p')
	[ -n "$path" ]
	[ -s "$path" ]
	[[ "$path" == "$W/node-a/state/checkpoints/"* ]]
	[[ "$(basename "$path")" =~ ^checkpoint-orig_default-keeper-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\.tar$ ]]
	# the container runs on (the kubelet's checkpoint is a snapshot)
	phase_is orig Running
	check_ok a orig keeper
	run api_a POST /checkpoint/default/nope/keeper
	[[ "$output" == *"HTTP 404"* ]]
	run api_a POST /checkpoint/default/orig/keeper?timeout=abc
	[[ "$output" == *"HTTP 400"* ]]
	# the archive lists and downloads with its digest
	run api_a GET /api/v1/checkpoints
	[[ "$output" == *"$(basename "$path")"* ]]
	curl -s --cacert "$W/ca/ca.crt" -D "$W/headers" -o "$W/kubelet.tar" "$NODE_A/api/v1/checkpoints/$(basename "$path")"
	grep -qi "content-length: $(stat -c %s "$path")" "$W/headers"
	grep -qi "x-content-digest: $(sha256sum "$path" | awk '{print "sha256:" $1}')" "$W/headers"
}

@test "a failed checkpoint leaves the pod running with its state" {
	ferry_a apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: tcp
  annotations: {ferry.io/tcp-established: "false"}
spec:
  containers:
  - name: c
    image: test
    command: ["/usr/bin/statekeeper", "-m", "1", "-t", "-r", "5", "-i", "20"]
YAML
	wait_for 20 phase_is tcp Running
	wait_for 10 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt logs tcp | grep -q '^count '"
	run ferry_a checkpoint tcp
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"tcp_established"* ]]
	phase_is tcp Running
	check_ok a tcp c
	run ferry_a describe pod tcp
	[[ "$output" == *"CheckpointFailed"* ]]
	# the option given for this checkpoint: the established connection travels
	run ferry_a checkpoint tcp --tcp-established=true -o "$W/tcp.tar.zst"
	echo "$output"
	[ "$status" -eq 0 ]
	run ferry_b restore "$W/tcp.tar.zst"
	[ "$status" -eq 0 ]
	wait_for 20 bash -c "\"$FERRY\" --node $NODE_B --ca $W/ca/ca.crt get pod tcp -o json | grep -q '\"phase\": \"Running\"'"
	check_ok b tcp c
	c1=$(last_count b tcp c)
	sleep 0.5
	[ "$(last_count b tcp c)" -gt "$c1" ]
	ferry_b delete pod tcp
}

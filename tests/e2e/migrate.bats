#!/usr/bin/env bats
# Live migration between real agents: the happy path many times over, and
# every way it can fail, each ending with the pod running where it was.
bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	setup_agents
}

teardown_file() {
	teardown_agents
}

stateful_pod() { # NAME [IMAGE]
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: keeper
    image: ${2:-test}
    command: ["/usr/bin/statekeeper", "-m", "16", "-i", "20", "-r", "10", "-f", "/data/keeper.log"]
  - name: talker
    image: ${2:-test}
    command: ["/usr/bin/statekeeper", "-m", "2", "-i", "20", "-r", "10", "-t", "-l", "/data/lock", "-f", "/data/talker.log"]
YAML
}

# The source's own migration files (its dump) are gone too.
nothing_left_of_migrations() {
	local scratch
	scratch=/dev/shm/ferry-$1-$(printf '%x' "$(stat -c %i "$W/$1/state")")
	[ -z "$(ls -A "$scratch" 2>/dev/null)" ]
}

running_on() { # NODE POD
	wait_for 20 bash -c "\"$FERRY\" --node $(eval echo \$NODE_${1^^}) --ca $W/ca/ca.crt get pod $2 -o json | grep -q '\"phase\": \"Running\"'"
}

@test "a two-container pod goes A to B and back 10 times with its state intact" {
	hops=${FERRY_TEST_HOPS:-10}
	stateful_pod hop | ferry_a apply -f -
	running_on a hop
	wait_for 10 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt logs hop -c keeper | grep -q '^count '"
	ferry_a exec hop -c keeper -- sh -c 'echo travelled > /etc/added && rm /etc/image-file'
	for i in $(seq "$hops"); do
		run ferry_a migrate default/hop --to "$NODE_B"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"pod/hop migrated to $NODE_B"* ]]
		[[ "$output" == *"downtime "* ]]
		run ferry_a get pod hop
		[ "$status" -eq 1 ]
		check_ok b hop keeper
		check_ok b hop talker
		run ferry_b migrate hop --to "$NODE_A"
		echo "$output"
		[ "$status" -eq 0 ]
		check_ok a hop keeper
		check_ok a hop talker
	done
	# what the container wrote to its root file system travelled too
	run ferry_a exec hop -c keeper -- cat /etc/added
	[ "$output" = "travelled" ]
	run ferry_a exec hop -c keeper -- test -e /etc/image-file
	[ "$status" -eq 1 ]
	run ferry_a get pod hop -o json
	[[ "$output" == *'"restartCount": 0'* ]]
	# the records, on both sides
	run ferry_a get migrations -o json
	[[ "$output" == *'"imageDigest": "sha256:'* ]]
	run ferry_a get migrations
	[[ "$output" == *"source"*"default/hop"*"Succeeded"* ]]
	[[ "$output" == *"destination"*"default/hop"*"Succeeded"* ]]
	run api_a GET /metrics
	[[ "$output" == *"ferry_migrations_total{role=\"source\",result=\"Succeeded\"} $hops"* ]]
	[[ "$output" == *"ferry_migration_frozen_seconds_count $hops"* ]]
	nothing_left node-b
}

@test "the image is pulled from the source when the destination lacks it" {
	ferry_a image import only-on-a "$FERRY_TEST_IMAGE"
	run ferry_b image ls
	[[ "$output" != *"only-on-a"* ]]
	stateful_pod pulled only-on-a | ferry_a apply -f -
	running_on a pulled
	run ferry_a migrate pulled --to "$NODE_B" --keep-source-checkpoint
	echo "$output"
	[ "$status" -eq 0 ]
	# asked to, the source kept its checkpoint, as an archive that restores
	run ferry_a checkpoint inspect "$(ls "$W"/node-a/state/checkpoints/checkpoint-pulled_default-mig-*.tar.zst)"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Pod:         default/pulled"* ]]
	run ferry_b image ls
	[[ "$output" == *"only-on-a"* ]]
	run ferry_b describe pod pulled
	[[ "$output" == *"Pulled image 'only-on-a'"* ]]
	check_ok b pulled keeper
	ferry_b delete pod pulled
}

@test "the source answers 404 for an unknown pod and 409 for one that does not run" {
	run api_a POST /migrate/default/nope
	[[ "$output" == *"HTTP 404"* ]]
	run api_a POST /migrate/default/hop/nope
	[[ "$output" == *"HTTP 404"* ]]
	ferry_a apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers: [{name: c, image: test, command: ["true"]}]
YAML
	wait_for 20 phase_is done Succeeded
	run api_a POST /migrate/default/done
	[[ "$output" == *"HTTP 409"* ]]
	[[ "$output" == *"not all its containers are running"* ]]
	run ferry_a migrate done --to "$NODE_B"
	[ "$status" -eq 1 ]
	run ferry_b get pod done
	[ "$status" -eq 1 ]
	ferry_a delete pod done
	nothing_left node-b
}

@test "a destination whose restore fails: the pod runs on at the source, rolled back" {
	stop_agent node-c
	FERRY_FAULT=migrate-corrupt-image start_agent node-c 127.0.0.4
	run ferry_a migrate hop --to "$NODE_C"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"RolledBack"* ]]
	[[ "$output" == *"did not restore"* ]]
	running_on a hop
	check_ok a hop keeper
	check_ok a hop talker
	run ferry_a get migrations
	[[ "$(echo "$output" | sed -n 2p)" == *"source"*"RolledBack"* ]]
	run ferry_a describe pod hop
	[[ "$output" == *"RolledBack"* ]]
	wait_for 20 bash -c "! \"$FERRY\" --node $NODE_C --ca $W/ca/ca.crt get pod hop"
	nothing_left node-c
	nothing_left_of_migrations node-a
	stop_agent node-c
}

@test "a destination killed mid-transfer: the source rolls back at its deadline" {
	stop_agent node-c
	rm -rf "$W/node-c"
	FERRY_FAULT=migrate-exit-mid-transfer start_agent node-c 127.0.0.4
	pid=$(cat "$W/node-c/pid")
	run ferry_a migrate hop --to "$NODE_C" --timeout 5
	echo "$output"
	[ "$status" -eq 1 ]
	! kill -0 "$pid" 2>/dev/null
	wait_for 30 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt get migrations | sed -n 2p | grep -q RolledBack"
	running_on a hop
	check_ok a hop keeper
	check_ok a hop talker
	nothing_left_of_migrations node-a
	# the destination, back, removes its half-made copy
	start_agent node-c 127.0.0.4
	wait_for 20 bash -c "! \"$FERRY\" --node $NODE_C --ca $W/ca/ca.crt get pod hop"
	nothing_left node-c
	stop_agent node-c
}

@test "a source answering too slowly: the destination gives up, the pod runs on" {
	stop_agent node-c
	rm -rf "$W/node-c"
	FERRY_FAULT=migrate-slow-source start_agent node-c 127.0.0.4
	ferry_c image import test "$FERRY_TEST_IMAGE" >/dev/null
	stateful_pod slow | ferry_c apply -f -
	running_on c slow
	run ferry_c migrate slow --to "$NODE_A" --timeout 3
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Failed"* || "$output" == *"RolledBack"* ]]
	# the source, once its dump is done, sees the abort and thaws
	wait_for 30 bash -c "\"$FERRY\" --node $NODE_C --ca $W/ca/ca.crt get migrations | sed -n 2p | grep -q RolledBack"
	running_on c slow
	check_ok c slow keeper
	run ferry_a get pod slow
	[ "$status" -eq 1 ]
	ferry_c delete pod slow
	nothing_left node-c
	stop_agent node-c
}

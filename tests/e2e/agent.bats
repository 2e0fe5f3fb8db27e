#!/usr/bin/env bats
# ferryd as a person uses it: two real agents on 127.0.0.2 and 127.0.0.3, the
# real CLI, raw HTTPS with curl, real runc.
bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	setup_agents
}

teardown_file() {
	teardown_agents
}

two_containers() {
	cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: e2e}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: counter
    image: test
    command: ["/usr/bin/statekeeper", "-m", "4", "-i", "50", "-r", "10"]
  - name: shell
    image: test
    command: ["sh", "-c"]
    args: ["echo hello from \$HOSTNAME \$GREETING; trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"]
    env: [{name: GREETING, value: hi}]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo hooked > /tmp/hook"]
YAML
}

@test "a two-container pod runs, logs, and runs its postStart hook" {
	two_containers web | ferry_a apply -f -
	wait_for 20 phase_is web Running
	wait_for 10 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt logs web -c counter | grep -q '^count '"
	run ferry_a get pods
	[ "$status" -eq 0 ]
	[[ "$output" == *"web"*"2/2"*"Running"* ]]
	wait_for 10 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt logs web -c shell | grep -q 'hello from web hi'"
	run ferry_a logs web -c counter --tail 1
	[[ "$output" == "count "* ]]
	[ "${#lines[@]}" -eq 1 ]
	# the hook ran inside the container
	run ferry_a exec web -c shell -- cat /tmp/hook
	[ "$status" -eq 0 ]
	[ "$output" = "hooked" ]
	# exit codes pass through
	run ferry_a exec web -c shell -- sh -c 'exit 7'
	[ "$status" -eq 7 ]
	# the containers share the pod's hostname and network namespace
	run ferry_a exec web -c counter -- hostname
	[ "$output" = "web" ]
	run ferry_a describe pod web
	[[ "$output" == *"Started"*"Started container 'shell'"* ]]
	[[ "$output" == *"Image ID:       sha256:"* ]]
	run ferry_a get pod web -o yaml
	[[ "$output" == *"phase: Running"* ]]
	[[ "$output" == *"nodeName: node-a"* ]]
}

@test "the workload's state is intact and its logs follow" {
	ferry_a exec web -c counter -- kill -USR1 1
	wait_for 10 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt logs web -c counter | grep -q 'check ok'"
	# a followed log ends when the container does not run any more: stop it with the pod below
	run timeout 3 "$FERRY" --node "$NODE_A" --ca "$W/ca/ca.crt" logs -f web -c counter
	[ "$status" -eq 124 ] # still following after 3 s
	[[ "$output" == *"count "* ]]
}

@test "ferryd killed with SIGKILL and restarted re-adopts the running pod, logs intact" {
	run ferry_a get pod web -o json
	before_id=$(echo "$output" | grep -m1 containerID)
	stop_agent node-a KILL
	# the containers run on without the agent
	pgrep -f 'statekeeper -m 4 -i 50' >/dev/null
	start_agent node-a 127.0.0.2
	run ferry_a get pod web -o json
	[[ "$output" == *"$before_id"* ]]
	[[ "$output" == *'"restartCount": 0'* ]]
	grep -q "re-adopted (2 running container(s))" "$W/node-a/ferryd.log"
	run ferry_a logs web -c shell
	[[ "$output" == *"hello from web hi"* ]]
	# the count went on while the agent was away, in the same log
	c1=$(ferry_a logs web -c counter --tail 1 | awk '{print $2}')
	sleep 1
	c2=$(ferry_a logs web -c counter --tail 1 | awk '{print $2}')
	[ "$c2" -gt "$c1" ]
}

@test "delete is graceful: SIGTERM first, then everything goes" {
	"$FERRY" --node "$NODE_A" --ca "$W/ca/ca.crt" logs -f web -c shell >"$W/shell.log" 2>&1 &
	follower=$!
	sleep 0.5
	start=$(date +%s)
	run ferry_a delete pod web
	[ "$status" -eq 0 ]
	[ "$output" = 'pod "web" deleted' ]
	[ $(($(date +%s) - start)) -lt 10 ] # the workloads stop on SIGTERM, well within the grace period
	wait "$follower" || true
	grep -q "got TERM" "$W/shell.log"
	run ferry_a get pod web
	[ "$status" -eq 1 ]
	[[ "$output" == *'pods "web" not found'* ]]
	[ -z "$(ls "$W/node-a/state/pods")" ]
}

@test "a container that ignores SIGTERM is killed after its grace period" {
	ferry_a apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: test
    command: ["sh", "-c", "trap '' TERM; echo ignoring; while true; do sleep 0.1; done"]
YAML
	wait_for 20 phase_is stubborn Running
	start=$(date +%s)
	run ferry_a delete pod stubborn
	[ "$status" -eq 0 ]
	took=$(($(date +%s) - start))
	[ "$took" -ge 2 ]
	[ "$took" -lt 15 ]
	grep -q "outlived its grace period" "$W/node-a/ferryd.log"
}

@test "a failing postStart hook is reported and the container restarted" {
	ferry_a apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: badhook}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: test
    command: ["sh", "-c", "while true; do sleep 0.1; done"]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo no good; exit 3"]
YAML
	wait_for 20 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt describe pod badhook | grep -q FailedPostStartHook"
	run ferry_a describe pod badhook
	[[ "$output" == *"FailedPostStartHook"*"exited with 3: no good"* ]]
	wait_for 20 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt get pod badhook -o json | grep -q '\"restartCount\": [1-9]'"
	run ferry_a get pod badhook -o json
	[[ "$output" == *"PostStartHookError"* ]]
	ferry_a delete pod badhook
}

@test "restart policies: Never ends Succeeded or Failed, OnFailure restarts with back-off" {
	for spec in "ok:Never:0" "bad:Never:3" "retry:OnFailure:1"; do
		IFS=: read -r name policy code <<<"$spec"
		ferry_a apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $name}
spec:
  restartPolicy: $policy
  containers:
  - {name: c, image: test, command: ["sh", "-c", "echo run; exit $code"]}
YAML
	done
	wait_for 20 phase_is ok Succeeded
	wait_for 20 phase_is bad Failed
	run ferry_a get pod bad -o json
	[[ "$output" == *'"exitCode": 3'* ]]
	wait_for 20 bash -c "\"$FERRY\" --node $NODE_A --ca $W/ca/ca.crt get pod retry -o json | grep -q '\"restartCount\": [2-9]'"
	run ferry_a describe pod retry
	[[ "$output" == *"BackOff"* ]]
	run ferry_a get pods
	[[ "$output" == *"ok"*"0/1"*"Completed"* || "$output" == *"ok"*"Succeeded"* ]]
	run ferry_a logs bad
	[ "$output" = "run" ]
	for p in ok bad retry; do ferry_a delete pod "$p"; done
}

@test "two agents keep separate pods" {
	echo '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"same"},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"test","command":["sleep","1000"]}]}}' >"$W/same.json"
	ferry_a apply -f "$W/same.json"
	run ferry_b get pods
	[[ "$output" == "No resources found"* || "$output" != *"same"* ]]
	ferry_b apply -f "$W/same.json"
	wait_for 20 phase_is same Running
	run ferry_b get pods -o wide
	[[ "$output" == *"same"*"127.0.0.3"*"node-b"* ]]
	run ferry_a get pods -o wide
	[[ "$output" == *"same"*"127.0.0.2"*"node-a"* ]]
	ferry_b delete pod same
	run ferry_a get pod same
	[ "$status" -eq 0 ]
	ferry_a delete pod same
}

@test "bad input gets a clear 4xx and changes nothing" {
	run api_a POST /api/v1/namespaces/default/pods -H 'Content-Type: application/yaml' --data-binary $'metadata:\n  name: [unclosed\n'
	[[ "$output" == *"HTTP 400"* ]]
	[[ "$output" == *"invalid YAML at line"* ]]
	run api_a POST /api/v1/namespaces/default/pods --data-binary '{"metadata": {"name": "x"},'
	[[ "$output" == *"HTTP 400"* ]]
	[[ "$output" == *"invalid JSON"* ]]
	run api_a POST /api/v1/namespaces/default/pods --data-binary '{"metadata":{"name":"A_B"},"spec":{"containers":[{"name":"c","image":"test","command":["true"]}]}}'
	[[ "$output" == *"HTTP 422"* ]]
	[[ "$output" == *'metadata.name: Invalid value: \"A_B\"'* ]]
	run api_a POST /api/v1/namespaces/default/pods --data-binary '{"metadata":{"name":"ok"},"spec":{"containers":[{"name":"c","image":"nope","command":["true"]}]}}'
	[[ "$output" == *"HTTP 422"* ]]
	[[ "$output" == *'spec.containers[0].image'*'no such image'* ]]
	run api_a POST /api/v1/namespaces/default/pods --data-binary '{"metadata":{"name":"ok"},"spec":{"containers":[{"name":"c","image":"test","command":["true"],"resources":{"limits":{"memory":"lots"}}}]}}'
	[[ "$output" == *"HTTP 422"* ]]
	[[ "$output" == *"spec.containers[0].resources.limits.memory"* ]]
	run api_a POST /api/v1/namespaces/A_B/pods --data-binary '{}'
	[[ "$output" == *"HTTP 400"* ]]
	[[ "$output" == *"invalid namespace 'A_B'"* ]]
	run api_a GET /api/v1/namespaces/default/pods/..%2Fx
	[[ "$output" == *"HTTP 400"* ]]
	[[ "$output" == *"'..' segments are not allowed"* ]]
	run api_a DELETE /api/v1/namespaces/default/pods/.. --path-as-is
	[[ "$output" == *"HTTP 400"* ]]
	run api_a GET /api/v1/namespaces/default/pods/A_B
	[[ "$output" == *"HTTP 400"* ]]
	head -c 300000 /dev/zero | tr '\0' 'a' >"$W/big"
	run api_a POST /api/v1/namespaces/default/pods --data-binary @"$W/big"
	[[ "$output" == *"HTTP 413"* ]]
	[[ "$output" == *"request body too large"* ]]
	run api_a GET /api/v1/nothing
	[[ "$output" == *"HTTP 404"* ]]
	run api_a PUT /api/v1/namespaces/default/pods
	[[ "$output" == *"HTTP 405"* ]]
	run api_a POST '/api/v1/images?name=../evil' --data-binary 'x'
	[[ "$output" == *"HTTP 400"* ]]
	run api_a POST '/api/v1/images?name=junk' --data-binary 'not a tarball'
	[[ "$output" == *"HTTP 400"* ]]
	# the CLI says the same in one line
	run ferry_a get pod ../x
	[ "$status" -eq 1 ]
	[[ "$output" == "ferry: invalid pod name '../x'"* ]]
	echo 'metadata: {name: ok}' >"$W/nospec.yaml"
	run ferry_a apply -f "$W/nospec.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == "ferry: spec: Required value" ]]
	# nothing changed
	run ferry_a get pods -A
	[[ "$output" == "No resources found"* ]]
	run ferry_a image ls
	[[ "$output" != *"junk"* && "$output" != *"evil"* ]]
	[ -z "$(ls "$W/node-a/state/pods")" ]
}

@test "an existing pod name is a 409 and leaves the first pod alone" {
	ferry_a apply -f "$W/same.json"
	run ferry_a apply -f "$W/same.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *'pods \"same\" already exists'* || "$output" == *'pods "same" already exists'* ]]
	wait_for 20 phase_is same Running
	ferry_a delete pod same
}

@test "the CLI verifies the agent's certificate" {
	"$FERRY" ca init "$W/other-ca" >/dev/null
	run "$FERRY" --node "$NODE_A" --ca "$W/other-ca/ca.crt" get pods
	[ "$status" -eq 1 ]
	[[ "$output" == "ferry: cannot reach $NODE_A"* ]]
	run "$FERRY" --node "http://127.0.0.2:$PORT" --ca "$W/ca/ca.crt" get pods
	[ "$status" -eq 1 ]
	[[ "$output" == *"must be an https:// URL"* ]]
	# FERRY_NODE / FERRY_CA and the config file work too
	FERRY_NODE=$NODE_A FERRY_CA=$W/ca/ca.crt run "$FERRY" get pods
	[ "$status" -eq 0 ]
	printf 'node: %s\nca: %s\n' "$NODE_B" "$W/ca/ca.crt" >"$W/cli.yaml"
	FERRY_CONFIG=$W/cli.yaml run "$FERRY" image ls
	[ "$status" -eq 0 ]
	[[ "$output" == *"test"* ]]
}

@test "an agent without --cluster-ca makes its own CA and says where it is" {
	mkdir -p "$W/solo"
	"$FERRYD" --name solo --listen "127.0.0.4:$PORT" --state-dir "$W/solo/state" \
		--cgroup-parent ferry-e2e-node-solo >"$W/solo/log" 2>&1 &
	pid=$!
	wait_for 10 test -s "$W/solo/state/tls/ca.crt"
	wait_for 10 curl -sf --cacert "$W/solo/state/tls/ca.crt" "https://127.0.0.4:$PORT/healthz"
	kill "$pid"
	wait "$pid" || true
	grep -q "CA certificate: $W/solo/state/tls/ca.crt" "$W/solo/log"
}

@test "ferryd reads its settings from a config file; flags win" {
	mkdir -p "$W/conf"
	cat >"$W/conf/node.yaml" <<YAML
name: from-file
listen: 127.0.0.6:$PORT
stateDir: $W/conf/state
clusterCA: $W/ca
cgroupParent: ferry-e2e-node-conf
logLevel: debug
YAML
	"$FERRYD" --config "$W/conf/node.yaml" --name conf >"$W/conf/log" 2>&1 &
	pid=$!
	wait_for 10 curl -sf --cacert "$W/ca/ca.crt" "https://127.0.0.6:$PORT/healthz"
	kill "$pid"
	wait "$pid" || true
	grep -q "node='conf' serving https://127.0.0.6:$PORT state='$W/conf/state'" "$W/conf/log"
	grep -q " debug " "$W/conf/log"
	echo "colour: blue" >"$W/conf/bad.yaml"
	run "$FERRYD" --config "$W/conf/bad.yaml" --name conf
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown setting 'colour'"* ]]
}

@test "resource limits become cgroup limits; unknown fields are ignored" {
	ferry_a apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: limited, somethingNew: 1}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {disk: ssd}
  containers:
  - name: c
    image: test
    command: ["sleep", "1000"]
    imagePullPolicy: Never
    resources: {limits: {memory: 64Mi, cpu: 250m}}
YAML
	wait_for 20 phase_is limited Running
	id=$(ferry_a get pod limited -o json | sed -n 's/.*"containerID": "runc:\/\/\(.*\)".*/\1/p')
	[ -n "$id" ]
	[ "$(cat /sys/fs/cgroup/memory/ferry-e2e-$PORT-node-a/$id/memory.limit_in_bytes)" = 67108864 ]
	[ "$(cat /sys/fs/cgroup/cpu/ferry-e2e-$PORT-node-a/$id/cpu.cfs_quota_us)" = 25000 ]
	ferry_a delete pod limited
}

@test "healthz and metrics answer over HTTPS" {
	api_a POST /api/v1/namespaces/default/pods --data-binary '{"metadata":{"name":"A_B"},"spec":{}}' >/dev/null
	echo '{"metadata":{"name":"m"},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"test","command":["sleep","1000"]}]}}' | ferry_a apply -f -
	wait_for 20 phase_is m Running
	run api_a GET /healthz
	[[ "$output" == "ok"*"HTTP 200" ]]
	run api_a GET /metrics
	[[ "$output" == *"HTTP 200"* ]]
	[[ "$output" == *'ferry_runtime_operations_total{operation_type="create"}'* ]]
	[[ "$output" == *'ferry_runtime_operations_duration_seconds_bucket{operation_type="start",le='* ]]
	[[ "$output" == *'ferry_http_requests_total{route="/api/v1/namespaces/{ns}/pods",method="POST",code="422"}'* ]]
	[[ "$output" == *'ferry_pods{phase="Running"} 1'* ]]
	ferry_a delete pod m
}

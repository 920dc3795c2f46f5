#!/usr/bin/env bash
# make demo / make down: a local control plane with the cert-manager controller (hack/controlplane), the
# operator, a key-API replica, a nats-server in operator mode and the reference agent as background
# processes, and every example applied and Ready. Everything stops on `make down` or after PALISADE_DEMO_TTL (default 8h).
#
#   hack/demo.sh up <state-dir>     on a running demo: re-applies the examples and waits for them again
#   hack/demo.sh down <state-dir>   stops every process `up` started (their pids are in <state-dir>)
set -euo pipefail
cmd=${1:?up|down}
state=$(mkdir -p "${2:?state dir}" && cd "$2" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${PALISADE_CACHE:-$HOME/.cache/palisade}
bin=$cache/bin
# Node keeps compiled code here across runs: the operator starts in half the time.
export NODE_COMPILE_CACHE=${NODE_COMPILE_CACHE:-$cache/node-compile-cache}
# shellcheck source=versions.env
. "$repo/hack/versions.env"
kubectl=$bin/kubectl-$KUBERNETES_VERSION
ttl=${PALISADE_DEMO_TTL:-8h}
wait_s=${PALISADE_DEMO_TIMEOUT:-120} # seconds, for each wait below; a healthy demo needs a few
operator_ns=palisade-system
export KUBECONFIG="$state/kubeconfig"

k() { "$kubectl" --cache-dir "$state/kubectl-cache" "$@"; }
# --force-conflicts: `make demo` again puts the examples back as they are in examples/.
apply() { k apply --server-side --force-conflicts --field-manager=palisade-demo "$@" >/dev/null; }
# Two free TCP ports on 127.0.0.1, on one line.
free_ports() {
  node -e 'const listen = () => new Promise((ok) => { const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { ok(s.address().port); s.close(); }); });
    Promise.all([listen(), listen()]).then((ports) => console.log(ports.join(" ")));'
}

# Is <name>.pid ours: alive, and the `timeout` wrapper of a command given a path in the state dir?
ours() {
  local pid cmdline
  pid=$(cat "$state/$1.pid" 2>/dev/null) || return 1
  [ -d /proc/self ] || { kill -0 "$pid" 2>/dev/null; return; } # no procfs: trust the pid file
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == "timeout "*"$state"* ]]
}

# start <name> <command...>: detached from make, bounded by the TTL, output in <name>.log. `timeout`
# leads its own process group and passes a SIGTERM on to all of it, then SIGKILL 5 s later.
start() {
  local name=$1
  shift
  nohup timeout --kill-after=5s "$ttl" "$@" >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
}

# stop <name>...: SIGTERM to each, then wait until they are gone.
stop() {
  local name pid i pids=()
  for name; do
    if ours "$name"; then
      pid=$(cat "$state/$name.pid")
      pids+=("$pid")
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$state/$name.pid"
  done
  for pid in "${pids[@]}"; do
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
}

down() {
  stop agent agent-trial keyapi nats-reload nats operator
  node "$repo/hack/controlplane/cli.ts" down --state "$state"
  echo "stopped (state was in $state)"
}

# Whether the operator's connections are up, asked of nats-server's monitoring endpoint (bash alone).
operator_on_nats() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /connz HTTP/1.0\r\n\r\n' >&3
    grep -q '"name": *"palisade-reports"' <&3
  ) 2>/dev/null
}

# The operator, then a nats-server in operator mode configured from the Secrets the operator bootstraps.
start_palisade() {
  local nats_port monitor_port keyservice_port i
  read -r nats_port monitor_port < <(free_ports)
  read -r keyservice_port keyapi_port < <(free_ports)
  echo "$keyservice_port" >"$state/keyservice.port"
  echo "$keyapi_port" >"$state/keyapi.port"
  echo "127.0.0.1:$nats_port" >"$state/nats.address"
  # NB: agents are told the key-API replica's address, as the chart's Service sends them to key-API replicas.
  PALISADE_NATS_URL="127.0.0.1:$nats_port" PALISADE_NATS_AGENT_URL="tls://127.0.0.1:$nats_port" \
    start operator node "$repo/controllers/main.ts" --kubeconfig "$KUBECONFIG" --namespace "$operator_ns" \
    --probe-address 127.0.0.1:0 --audit-log "$state/audit.log" --keyservice-address "127.0.0.1:$keyservice_port" \
    --agent-channel-address "127.0.0.1:$keyapi_port"
  start_key_api
  node "$repo/controllers/nats/cli.ts" write-config --kubeconfig "$KUBECONFIG" --namespace "$operator_ns" \
    --dir "$state/nats" --wait "$wait_s" >/dev/null
  start nats "$bin/nats-server-$NATS_SERVER_VERSION" -c "$state/nats/nats.conf" -a 127.0.0.1 -p "$nats_port" \
    -m "$monitor_port"
  # What the chart's reloader does: nats-server reloads a renewed or reissued certificate (CA rotation).
  start nats-reload node "$repo/controllers/nats/cli.ts" watch-tls --kubeconfig "$KUBECONFIG" \
    --namespace "$operator_ns" --dir "$state/nats" --pid-file "$state/nats/nats.pid"
  # NB: a Tenant reconciled before the operator reaches NATS fails and backs off for seconds; waiting
  # here for its connection (about a second) saves that.
  for i in $(seq 150); do
    operator_on_nats "$monitor_port" && break
    sleep 0.1
  done
  echo "NATS (operator mode, TLS) on 127.0.0.1:$nats_port"
}

# A key-API replica (--role keyservice, the chart's keyService.replicas): it serves the key API and the
# agents' channel from its own caches, never leads, and relays the reports of the agents connected to it
# to the operator, which leads.
start_key_api() {
  local nats
  ours keyapi && return 0
  # NB: a demo started before key-API replicas has none: its agents use the operator's port.
  [ -e "$state/keyapi.port" ] || return 0
  nats=$(cat "$state/nats.address")
  PALISADE_NATS_URL="$nats" PALISADE_NATS_AGENT_URL="tls://$nats" \
    start keyapi node "$repo/controllers/main.ts" --kubeconfig "$KUBECONFIG" --namespace "$operator_ns" \
    --role keyservice --identity demo-key-api --probe-address 127.0.0.1:0 --audit-log "$state/keyapi-audit.log" \
    --keyservice-address "127.0.0.1:$(cat "$state/keyapi.port")"
}

# The examples, with what they need: for `portal` the demo's ClusterIssuers (applied earlier: the CA
# issuer takes seconds), for `wildcard` the certificate globex brings along, made once from a throwaway
# CA (by the background job `making`).
apply_examples() {
  local making=$1 imported=$2 out
  apply -f "$repo/examples/tenants.yaml"
  # The other examples live in the namespaces the operator makes for the Tenants.
  k wait --for=condition=Ready tenants --all --timeout="${wait_s}s" >/dev/null
  wait "$making"
  if ! out=$(k create -f "$imported" 2>&1) && [[ $out != *AlreadyExists* ]]; then
    echo "$out" >&2
    return 1
  fi
  rm -f "$imported"
  k wait --for=condition=Ready clusterissuer/palisade-demo-ca --timeout="${wait_s}s" >/dev/null
  apply -f "$repo/examples/acme.yaml" -f "$repo/examples/globex.yaml" -f "$repo/examples/keyaccess.yaml"
  k -n tenant-acme get serviceaccount billing >/dev/null 2>&1 || k -n tenant-acme create serviceaccount billing >/dev/null
}

# The reference agent (agent/) for acme's prod-eu-west-1, with the credentials Palisade issued to it,
# written as files the way a Secret volume mounts them: its heartbeats turn the ClusterAgent Connected.
start_agent() {
  local dir="$state/agent-prod-eu-west-1" secret=prod-eu-west-1-nats-creds key value
  ours agent && return 0
  k -n tenant-acme wait --for=create "secret/$secret" --timeout="${wait_s}s" >/dev/null
  mkdir -p "$dir"
  while read -r key value; do
    base64 -d <<<"$value" >"$dir/$key"
    chmod 600 "$dir/$key"
  done < <(k -n tenant-acme get secret "$secret" \
    -o go-template='{{range $k, $v := .data}}{{$k}} {{$v}}{{"\n"}}{{end}}')
  start agent node "$repo/agent/main.ts" --secret-dir "$dir" --interval 5s
}

# The reference agent for globex's trial cluster, paired with the code Palisade shows once in the Secret
# trial-pairing-code (`server` and `ca-pin` beside it), its keys and credentials in files of its own.
# Paired once: later runs find the credentials (the code Secret is gone once used), or pair again when
# the Secret shows a new code (`palisade agent pairing-code --new`).
start_paired_agent() {
  local dir="$state/agent-trial" log="$state/agent-trial-pair.log" pairing i
  if [ ! -e "$dir/code-id" ]; then
    pairing=$(k -n tenant-globex get clusteragent trial -o jsonpath='{.status.pairing.state}')
    # Paired by someone else, or the code expired unused: a new code for the demo's agent.
    if [ "$pairing" = Paired ] || [ "$pairing" = Expired ]; then
      k -n tenant-globex patch clusteragent trial --type=merge \
        -p "{\"spec\":{\"pairing\":{\"requestedAt\":\"$(date -u +%FT%TZ)\"}}}" >/dev/null
    fi
    k -n tenant-globex wait --for=create secret/trial-pairing-code --timeout="${wait_s}s" >/dev/null
  fi
  # The code Secret names the key-API replica's address: pair once it listens.
  for i in $(seq $((wait_s * 10))); do
    ! ours keyapi || grep -q 'key service listening' "$state/keyapi.log" && break
    sleep 0.1
  done
  node "$repo/agent/main.ts" pair --code-secret tenant-globex/trial-pairing-code --credentials-dir "$dir" \
    --if-unpaired >"$log"
  # Paired again: the running agent's credentials are superseded.
  grep -q '^already paired' "$log" || stop agent-trial
  ours agent-trial ||
    start agent-trial node "$repo/agent/main.ts" run --credentials-dir "$dir" --channels grpc,nats --interval 5s
}

summary() {
  k get palisade -A
  cat <<MSG

Palisade runs on a local control plane; state, logs and pids are in $state. Try:
  export KUBECONFIG=$state/kubeconfig; alias kubectl=$kubectl
  alias palisade="$(command -v node) $repo/controllers/cli.ts"
  # encrypt with acme's payments key, rotate the key, and decrypt the old ciphertext, through the
  # key-API replica (--role keyservice), as acme's billing ServiceAccount, which examples/keyaccess.yaml
  # allows (docs/keyservice.md)
  kubectl -n tenant-acme create token billing --audience palisade-keyservice >$state/billing.token
  ks="--tenant acme --key payments --token-file $state/billing.token --server 127.0.0.1:$(cat "$state/keyapi.port") --base64"
  echo hello | palisade data encrypt \$ks >/tmp/sealed
  kubectl -n tenant-acme patch tenantkey payments --type=merge -p '{"spec":{"rotationTrigger":"try-1"}}'
  kubectl -n tenant-acme get tenantkey payments         # CURRENT is now 2
  palisade data decrypt \$ks </tmp/sealed
  kubectl get certificatebindings -A -o wide            # from cert-manager, imported, internal CA
  # globex's trial agent paired with a one-time code and reports through the key-API replica, which relays
  # to the operator (docs/agents.md); a new code, and how to redeem it
  palisade agent pairing-code --namespace tenant-globex --agent trial --new
  tail -f $state/operator.log $state/keyapi.log $state/audit.log $state/agent-trial.log
'make demo' again puts examples/ back as written (that rotates the key again) and pairs the trial agent
again if there is a new code; 'make down' stops it all.
MSG
}

on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] && return
  echo >&2
  k get palisade -A >&2 2>/dev/null
  echo "make demo failed (exit $rc); logs: $state/operator.log, $state/logs/. 'make down' stops it." >&2
}

up() {
  local imported="$state/imported-cert.json" making
  trap on_exit EXIT
  node "$repo/hack/demo/imported-cert.ts" --namespace tenant-globex >"$imported" &
  making=$!
  if ours operator; then
    echo "the demo is already running (state in $state); 'make down' stops it"
  else
    stop agent agent-trial keyapi nats-reload nats # left from an interrupted start
    node "$repo/hack/controlplane/cli.ts" up --state "$state" --ttl "$ttl" --crds "$repo/crds" --cert-manager \
      >/dev/null
  fi
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$operator_ns" |
    apply -f - -f "$repo/hack/demo/cluster-issuers.yaml"
  if ours operator; then start_key_api; else start_palisade; fi
  apply_examples "$making" "$imported"
  start_agent
  start_paired_agent
  k wait --for=condition=Ready tenantkeys,clusteragents,certificatebindings -A --all --timeout="${wait_s}s" \
    >/dev/null
  k -n tenant-acme wait --for=condition=Connected clusteragent/prod-eu-west-1 --timeout="${wait_s}s" \
    >/dev/null
  k -n tenant-globex wait --for=condition=Connected clusteragent/trial --timeout="${wait_s}s" >/dev/null
  summary
}

case $cmd in
  up) up ;;
  down) down ;;
  *)
    echo "usage: $0 up|down <state-dir>" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# make demo / make down: a local control plane + NATS (hack/controlplane), the operator as a background
# process, and the examples applied. Everything stops on `make down` or after PALISADE_DEMO_TTL (default 8h).
set -euo pipefail
cmd=${1:?up|down}
state=${2:?state dir}
repo=$(cd "$(dirname "$0")/.." && pwd)
ttl=${PALISADE_DEMO_TTL:-8h}
operator_ns=palisade-system

down() {
  if [ -f "$state/agent.pid" ]; then
    kill "$(cat "$state/agent.pid")" 2>/dev/null || true
    rm -f "$state/agent.pid"
  fi
  if [ -f "$state/nats.pid" ]; then
    kill "$(cat "$state/nats.pid")" 2>/dev/null || true
    rm -f "$state/nats.pid"
  fi
  if [ -f "$state/operator.pid" ]; then
    kill "$(cat "$state/operator.pid")" 2>/dev/null || true
    rm -f "$state/operator.pid"
  fi
  if [ -f "$state/pids" ] || [ -f "$state/env" ]; then
    node "$repo/hack/controlplane/cli.ts" down --state "$state" || true
  fi
  echo "stopped (state was in $state)"
}

# The reference agent (agent/) for acme's prod-eu-west-1, with the credentials Palisade issued to it,
# mounted as files the way a Secret volume would be: its heartbeats turn the ClusterAgent Connected.
start_agent() {
  [ -f "$state/agent.pid" ] && kill -0 "$(cat "$state/agent.pid")" 2>/dev/null && return 0
  local dir="$state/agent-prod-eu-west-1" i
  for i in $(seq 60); do
    "$kubectl" -n tenant-acme get secret prod-eu-west-1-nats-creds >/dev/null 2>&1 && break
    sleep 1
  done
  mkdir -p "$dir"
  for k in $("$kubectl" -n tenant-acme get secret prod-eu-west-1-nats-creds -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}'); do
    "$kubectl" -n tenant-acme get secret prod-eu-west-1-nats-creds -o go-template="{{index .data \"$k\" | base64decode}}" >"$dir/$k"
  done
  chmod 600 "$dir"/*
  nohup timeout "$ttl" node "$repo/agent/main.ts" --secret-dir "$dir" --interval 5s >"$state/agent.log" 2>&1 &
  echo $! >"$state/agent.pid"
  "$kubectl" -n tenant-acme wait --for=condition=Connected clusteragent/prod-eu-west-1 --timeout=60s >/dev/null
}

up() {
  mkdir -p "$state"
  if [ -f "$state/operator.pid" ] && kill -0 "$(cat "$state/operator.pid")" 2>/dev/null; then
    echo "the demo is already running; 'make down' stops it"
  else
    node "$repo/hack/controlplane/cli.ts" up --state "$state" --ttl "$ttl" --crds "$repo/crds"
    export KUBECONFIG="$state/kubeconfig"
    kubectl=$(ls "${PALISADE_CACHE:-$HOME/.cache/palisade}"/bin/kubectl-* | head -n1)
    "$kubectl" create namespace "$operator_ns" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
    # Messaging: a nats-server in operator mode, configured from the Secrets the operator bootstraps.
    nats_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    # The operator runs detached; `timeout` bounds it to the same lifetime as the control plane.
    PALISADE_NATS_URL="127.0.0.1:$nats_port" PALISADE_NATS_AGENT_URL="tls://127.0.0.1:$nats_port" \
      nohup timeout "$ttl" node "$repo/controllers/main.ts" --kubeconfig "$KUBECONFIG" --namespace "$operator_ns" \
      --probe-address 127.0.0.1:0 --audit-log "$state/audit.log" >"$state/operator.log" 2>&1 &
    echo $! >"$state/operator.pid"
    node "$repo/controllers/nats/cli.ts" write-config --kubeconfig "$KUBECONFIG" --namespace "$operator_ns" \
      --dir "$state/nats" >/dev/null
    nats=$(ls "${PALISADE_CACHE:-$HOME/.cache/palisade}"/bin/nats-server-* | head -n1)
    nohup timeout "$ttl" "$nats" -c "$state/nats/nats.conf" -a 127.0.0.1 -p "$nats_port" >"$state/nats.log" 2>&1 &
    echo $! >"$state/nats.pid"
    echo "NATS (operator mode, TLS) on 127.0.0.1:$nats_port; agent credentials: kubectl get secrets -A -l palisade.dev/component=nats-agent-credentials"
  fi
  export KUBECONFIG="$state/kubeconfig"
  kubectl=$(ls "${PALISADE_CACHE:-$HOME/.cache/palisade}"/bin/kubectl-* | head -n1)
  # Tenants first: the other examples live in the namespaces the operator makes for them.
  "$kubectl" apply --server-side --field-manager=palisade-demo -f "$repo/examples/tenants.yaml" >/dev/null
  "$kubectl" wait --for=condition=Ready tenants --all --timeout=120s >/dev/null
  for f in "$repo"/examples/*.yaml; do
    [ "$f" = "$repo/examples/tenants.yaml" ] && continue
    "$kubectl" apply --server-side --field-manager=palisade-demo -f "$f" >/dev/null
  done
  start_agent
  echo
  "$kubectl" get tenants
  echo
  "$kubectl" get secrets,configmaps -n "$operator_ns" -l app.kubernetes.io/managed-by=palisade
  echo
  "$kubectl" get palisade -A
  cat <<MSG

Palisade is running against a local control plane (state in $state):
  export KUBECONFIG=$state/kubeconfig
  alias kubectl=$kubectl
  kubectl get tenants                      # the example tenants
  tail -f $state/operator.log              # operator logs (JSON)
  tail -f $state/audit.log                 # audit log
  tail -f $state/agent.log                 # the reference agent of acme's prod-eu-west-1
Stop everything with: make down
MSG
}

case $cmd in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down <state-dir>" >&2; exit 2 ;;
esac

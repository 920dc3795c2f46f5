#!/usr/bin/env bash
# `make demo`: builds the pinned binaries if needed and starts a local control plane (etcd, kube-apiserver,
# kube-controller-manager, NATS, cert-manager) in the background, with Palisade's CRDs applied.
#
#   hack/demo/up.sh [--ttl 8h]      state in $PALISADE_STATE (default: .palisade/ in the repo)
#
# Stop it with hack/demo/down.sh (`make down`); it also stops by itself after the TTL.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
state=${PALISADE_STATE:-$repo/.palisade}
PATH=$("$repo/hack/node.sh"):$PATH
"$repo/hack/build-tools.sh" etcd kube-apiserver kube-controller-manager kubectl nats-server \
  cert-manager-controller cert-manager-crds
exec node "$repo/hack/controlplane/cli.ts" up --state "$state" --crds "$repo/crds" --cert-manager "$@"

#!/usr/bin/env bash
# make e2e-kind: for machines with Docker. Creates a kind cluster, installs cert-manager and the chart
# with an image built from this checkout, applies the examples and checks the journey a user sees:
# installation keys created once, every example Tenant Ready, keys kept across an operator restart.
# (The main e2e suite runs against the local control plane in `make test`; this checks the packaging.)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/hack/versions.env"
command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "e2e-kind needs a running Docker engine" >&2; exit 2; }
export GOBIN="${PALISADE_CACHE:-$HOME/.cache/palisade}/bin"
[ -x "$GOBIN/kind" ] || go install "sigs.k8s.io/kind@${KIND_VERSION}"
"$repo/hack/build-tools.sh" helm >/dev/null
hack_helm="$GOBIN/helm-${HELM_VERSION}-stamped"
cluster=${KIND_CLUSTER:-palisade-e2e}
image=palisade:e2e
ns=palisade-system
kubectl=${KUBECTL:-kubectl}

cleanup() { [ "${KEEP_CLUSTER:-}" = 1 ] || "$GOBIN/kind" delete cluster --name "$cluster" >/dev/null 2>&1 || true; }
trap cleanup EXIT

"$GOBIN/kind" create cluster --name "$cluster" --wait 120s
docker build -t "$image" "$repo"
"$GOBIN/kind" load docker-image "$image" --name "$cluster"
"$kubectl" apply -f "https://github.com/cert-manager/cert-manager/releases/download/${KIND_CERT_MANAGER_VERSION}/cert-manager.yaml"
"$kubectl" -n cert-manager rollout status deploy --timeout=180s
"$hack_helm" install palisade "$repo/charts/palisade" --namespace "$ns" --create-namespace \
  --set image.repository=palisade --set image.tag=e2e --set image.pullPolicy=Never --wait --timeout 180s

"$kubectl" apply --server-side -f "$repo/examples/tenants.yaml"
"$kubectl" wait --for=condition=Ready tenants --all --timeout=120s
for f in "$repo"/examples/*.yaml; do "$kubectl" apply --server-side -f "$f"; done

keys() { "$kubectl" -n "$ns" get secrets -l app.kubernetes.io/managed-by=palisade -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
before=$(keys)
[ "$(echo "$before" | grep -c .)" -ge 3 ] || { echo "installation keys missing" >&2; exit 1; }
"$kubectl" -n "$ns" rollout restart deploy
"$kubectl" -n "$ns" rollout status deploy --timeout=180s
[ "$(keys)" = "$before" ] || { echo "installation keys changed across a restart" >&2; exit 1; }
"$kubectl" get palisade -A
echo "e2e-kind: OK"

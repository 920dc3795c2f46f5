#!/usr/bin/env bash
# Builds the local control plane's binaries from the Go module proxy, once per pinned version.
#
#   hack/build-tools.sh [tool...]     tools: kube-apiserver kube-controller-manager kubectl etcd nats-server
#                                            nats-server-config-reloader
#                                            cert-manager-controller cert-manager-crds helm promtool
#                                            (default: all)
#
# Binaries land in $PALISADE_CACHE/bin (default ~/.cache/palisade), named with their version, so a
# second run is a no-op and a version bump rebuilds. Prints nothing on a cache hit. A change of how a
# tool is built (its ldflags) changes its name too, so an older build is not reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${PALISADE_CACHE:-$HOME/.cache/palisade}
bin="$cache/bin"
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION} \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 \
-X k8s.io/component-base/version.gitTreeState=clean"

# Like helm's release Makefile: the version, and the Kubernetes version helm assumes without a cluster
# (`.Capabilities.KubeVersion`, checked against a chart's kubeVersion): 1.<client-go minor>. Unstamped,
# helm believes the cluster is v1.20 and refuses charts that need newer.
helm_ldflags() {
  local client_go minor
  client_go=$(cd "$here/tools/helm" && go list -m -f '{{.Version}}' k8s.io/client-go)
  minor=$(echo "$client_go" | cut -d. -f2)
  echo "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} \
-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
}

# Prometheus's Go module v0.MMM.P is release M.MM.P (v0.316.0 is 3.16.0).
prometheus_release() {
  local mm=${PROMETHEUS_VERSION#v0.}
  mm=${mm%%.*}
  echo "$((mm / 100)).$((mm % 100)).${PROMETHEUS_VERSION##*.}"
}
promtool_ldflags="-s -w -X github.com/prometheus/common/version.Version=$(prometheus_release)"

# build <tool-module-dir> <package> <output-name> [ldflags]
build() {
  local dir=$1 pkg=$2 out=$3 ldflags=${4:-"-s -w"}
  [ -x "$bin/$out" ] && return 0
  echo "building $out (cold builds take minutes)..." >&2
  # NB: a temporary name of this run's own, so two concurrent runs do not move each other's file.
  (cd "$here/tools/$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/$out.tmp.$$" "$pkg")
  mv "$bin/$out.tmp.$$" "$bin/$out"
}

cert_manager_crds() {
  local dest="$cache/cert-manager-crds-${CERT_MANAGER_VERSION}"
  [ -d "$dest" ] && return 0
  local src
  src=$(cd "$here/tools/certmanager" && go mod download -json "github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$dest.tmp"
  cp "$src"/deploy/crds/crd-*.yaml "$dest.tmp/"
  chmod u+w "$dest.tmp"/*
  mv "$dest.tmp" "$dest"
}

tool() {
  case $1 in
    kube-apiserver) build kubernetes k8s.io/kubernetes/cmd/kube-apiserver "kube-apiserver-${KUBERNETES_VERSION}" "$k8s_ldflags" ;;
    kube-controller-manager) build kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "kube-controller-manager-${KUBERNETES_VERSION}" "$k8s_ldflags" ;;
    kubectl) build kubernetes k8s.io/kubernetes/cmd/kubectl "kubectl-${KUBERNETES_VERSION}" "$k8s_ldflags" ;;
    etcd) build etcd go.etcd.io/etcd/server/v3 "etcd-${ETCD_VERSION}" ;;
    nats-server) build natsserver github.com/nats-io/nats-server/v2 "nats-server-${NATS_SERVER_VERSION}" ;;
    nats-server-config-reloader) build natsreloader github.com/nats-io/nack/cmd/nats-server-config-reloader "nats-server-config-reloader-${NATS_RELOADER_VERSION}" ;;
    cert-manager-controller) build certmanager github.com/cert-manager/cert-manager/cmd/controller "cert-manager-controller-${CERT_MANAGER_VERSION}" ;;
    cert-manager-crds) cert_manager_crds ;;
    # "-stamped": an unstamped build of the same version (helm-<version>) is not reused. Checked here
    # too, so a cache hit runs no `go list`.
    helm) [ -x "$bin/helm-${HELM_VERSION}-stamped" ] || build helm helm.sh/helm/v3/cmd/helm "helm-${HELM_VERSION}-stamped" "$(helm_ldflags)" ;;
    promtool) build prometheus github.com/prometheus/prometheus/cmd/promtool "promtool-${PROMETHEUS_VERSION}" "$promtool_ldflags" ;;
    *) echo "unknown tool: $1" >&2; exit 2 ;;
  esac
}

if [ $# -eq 0 ]; then
  set -- etcd kube-apiserver kube-controller-manager kubectl nats-server nats-server-config-reloader cert-manager-controller cert-manager-crds helm promtool
fi
for t in "$@"; do tool "$t"; done

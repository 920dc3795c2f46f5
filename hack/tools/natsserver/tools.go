//go:build tools

// Package tools pins the nats-server the local control plane builds.
package tools

import _ "github.com/nats-io/nats-server/v2"

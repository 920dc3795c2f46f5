//go:build tools

// Package tools pins the nats-server config reloader the chart runs beside nats-server, built here so
// the local tests run the same reloader against a real nats-server.
package tools

import _ "github.com/nats-io/nack/cmd/nats-server-config-reloader"

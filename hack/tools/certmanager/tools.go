//go:build tools

// Package tools pins the cert-manager controller the local control plane builds.
package tools

import _ "github.com/cert-manager/cert-manager/cmd/controller"

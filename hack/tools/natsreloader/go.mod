module palisade.dev/hack/tools/natsreloader

go 1.26

require github.com/nats-io/nack v0.23.0

require (
	github.com/fsnotify/fsnotify v1.9.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
)

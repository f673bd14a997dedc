package acd

import "errors"

var (
	// ErrStopped is returned by Router.Snapshot once Run has returned.
	ErrStopped = errors.New("acd router stopped")
	// ErrAlreadyRunning is returned by a second call to Router.Run.
	ErrAlreadyRunning = errors.New("acd router already running")
)

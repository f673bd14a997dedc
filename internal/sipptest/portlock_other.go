//go:build !unix

package sipptest

// Without flock only the in-process set guards ports; SIPp tests run on Linux.
type portLock struct{}

func lockPort(int) (portLock, bool) { return portLock{}, true }

func (portLock) unlock() {}

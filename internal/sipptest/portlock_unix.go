//go:build unix

package sipptest

import (
	"os"
	"syscall"
)

type portLock struct{ f *os.File }

// lockPort takes an exclusive, non-blocking flock on the port's lock file. The lock
// files stay behind (they are empty); deleting them would race with another process
// that has just opened one.
func lockPort(port int) (portLock, bool) {
	if err := os.MkdirAll(lockDir(), 0o777); err != nil {
		return portLock{}, false
	}
	f, err := os.OpenFile(lockPath(port), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return portLock{}, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return portLock{}, false
	}
	return portLock{f: f}, true
}

func (l portLock) unlock() {
	if l.f != nil {
		l.f.Close() // closing the descriptor drops the flock
	}
}

package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd when hotline-bench dies, so a crashed or
// interrupted bench leaves no hotline or SIPp behind holding ports.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

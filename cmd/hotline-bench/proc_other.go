//go:build !linux

package main

import "os/exec"

// dieWithParent has no portable equivalent of Linux's parent-death signal; the bench
// needs /proc anyway, so elsewhere it only compiles.
func dieWithParent(*exec.Cmd) {}

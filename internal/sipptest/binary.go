package sipptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Binary returns the path of the sipp executable, failing t when there is none. It
// fails rather than skips: an end-to-end test that silently does not run is worse than
// a red build with the fix in the message.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp not found: run `make test` (installs sip-tester) or apt-get install sip-tester")
	}
	return p
}

// ScenarioDir is testdata/sipp at the root of the module, found from the working
// directory `go test` gives a package.
func ScenarioDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("sipptest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "sipp")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("sipptest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// CanPlayPCAP reports whether this process may open the raw UDP socket SIPp's
// play_pcap_audio sends through (send_packets.c: socket(PF_INET, SOCK_RAW,
// IPPROTO_UDP)); SIPp itself runs with our credentials. Without CAP_NET_RAW SIPp aborts
// the call when it reaches the exec.
func CanPlayPCAP() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_UDP)
	if err != nil {
		return err
	}
	syscall.Close(fd)
	return nil
}

func usesPCAP(scenarioFiles ...string) bool {
	for _, f := range scenarioFiles {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), "play_pcap_audio") {
			return true
		}
	}
	return false
}

package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupLimit(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int64{"max\n": 0, "2147483648\n": 2147483648, "junk": 0, "0": 0} {
		p := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, ok := cgroupLimit(p)
		if got != want && ok || ok != (want > 0) {
			t.Errorf("cgroupLimit(%q) = %d, %v; want %d", content, got, ok, want)
		}
	}
	if _, ok := cgroupLimit(filepath.Join(dir, "none")); ok {
		t.Error("a missing file gave a limit")
	}
}

package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestProfilesOnlyOnLoopback(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, bad := range []string{"0.0.0.0:0", "192.0.2.1:6060", "localhost:6060", "6060"} {
		t.Setenv("HOTLINE_PPROF", bad)
		if _, err := startProfiling(log); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("HOTLINE_PPROF=%s: %v, want a loopback error", bad, err)
		}
	}
	t.Setenv("HOTLINE_PPROF", "127.0.0.1:0")
	addr, err := startProfiling(log)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get("http://" + addr.String() + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("heap profile: %d %.200s", res.StatusCode, body)
	}
}

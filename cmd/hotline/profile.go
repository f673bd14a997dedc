package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"time"
)

// startProfiling serves Go's profiles (net/http/pprof) on HOTLINE_PPROF, an
// ip:port on loopback, when the variable is set: heap, CPU and goroutine
// profiles of a running hotline (make bench uses them; so can an operator
// chasing memory). It is kept off the API's listener and off anything but
// loopback, since a profile shows the process's insides to whoever asks.
func startProfiling(log *slog.Logger) (net.Addr, error) {
	addr := os.Getenv("HOTLINE_PPROF")
	if addr == "" {
		return nil, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("HOTLINE_PPROF=%q: want a loopback ip:port such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("HOTLINE_PPROF: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiles served", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return ln.Addr(), nil
}

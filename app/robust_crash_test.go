package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestKillNineUnderLoad: hotline is killed with SIGKILL while carrier calls
// are talking to agents and waiting in the queue, all of them recorded. On
// restart the database is consistent, every call has a closed CDR, every
// recording plays, no agent is left on a call and every RTP port is free.
func TestKillNineUnderLoad(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	bin := buildHotline(t, t.TempDir())
	data := t.TempDir()
	callers := robustScale(6, 30)
	ports := 4*callers + 20 // two even ports per call leg, with room
	rtpLow := sipptest.FreePortRange(t, ports)
	args := []string{
		"-sip", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data", data,
		"-rtp-ports", fmt.Sprintf("%d-%d", rtpLow, rtpLow+ports-1),
	}
	first := startHotlineProcess(t, bin, args...)

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	agents := []string{"1001", "1002"}
	for _, id := range agents {
		if _, err := sipptest.Start(ctx, t, sipptest.Scenario{
			File: "agent.xml", OutOfCall: "agent_answer.xml", Remote: first.sipAddr,
			Service: id, AuthUser: id, AuthPass: "demo" + id, Timeout: 110 * time.Second,
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, "both agents available", func() (bool, string) {
		states := processAgentStates(t, first)
		return states["1001"] == "available" && states["1002"] == "available", fmt.Sprint(states)
	})

	// Each caller answers the menu with 1 (sales): two reach the agents, the
	// others wait with music. All are recorded.
	for i := range callers {
		peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
		media, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { media.Close() })
		call, _ := placeCarrierCall(t, first.sipAddr, peer, fmt.Sprintf("crash-%d", i),
			offerSDPAt(media.LocalAddr().(*net.UDPAddr).AddrPort(), "0 101", "0 PCMU/8000", "101 telephone-event/8000"), 10*time.Second)
		if call.answer.status != 200 {
			t.Fatalf("caller %d: answered %d", i, call.answer.status)
		}
		call.ack(t)
		pressKey(t, media, net.UDPAddrFromAddrPort(call.answerMedia(t)), 1, 1, 160, 0x4000+uint32(i))
	}
	waitFor(t, 20*time.Second, "two callers with agents, the rest waiting", func() (bool, string) {
		states := processAgentStates(t, first)
		live := 0
		for _, c := range first.calls() {
			if c.End == nil {
				live++
			}
		}
		return states["1001"] == "on-call" && states["1002"] == "on-call" && live == callers,
			fmt.Sprintf("agents %v, %d calls live", states, live)
	})
	// Every recording has a second of audio on disk before the crash (what
	// a crash may lose is the block being filled: at most a second).
	const oneSecond = 44 + 8000*4
	waitFor(t, 20*time.Second, "every call's recording past 1 s on disk", func() (bool, string) {
		files, _ := filepath.Glob(filepath.Join(data, "recordings", "*", "*", "*", "*.wav"))
		long := 0
		for _, f := range files {
			if info, err := os.Stat(f); err == nil && info.Size() > oneSecond {
				long++
			}
		}
		return long >= callers, fmt.Sprintf("%d of %d recordings past 1 s", long, len(files))
	})
	first.kill()

	second := startHotlineProcess(t, bin, args...)
	calls := second.calls()
	closed, recorded := 0, 0
	for _, c := range calls {
		if c.End != nil && c.HangupCause == "system-restart" {
			closed++
		} else {
			t.Errorf("call %s after the restart: end %v, cause %q", c.CallID, c.End, c.HangupCause)
		}
		path := c.RecordingURL
		if path == "" {
			path = "/api/v1/recordings/" + c.CallID
		}
		code, wav := second.api(path)
		if code != http.StatusOK {
			t.Errorf("call %s: GET %s: %d", c.CallID, path, code)
			continue
		}
		checkRepairedWAV(t, wav)
		if w := parseWAV(t, wav); len(w.left) >= 8000 {
			recorded++
		} else {
			t.Errorf("call %s: the recording holds %d frames, want the second written before the crash", c.CallID, len(w.left))
		}
	}
	states := processAgentStates(t, second)
	stuck := 0
	for id, st := range states {
		if st == "on-call" || st == "ringing" || st == "wrap-up" {
			stuck++
			t.Errorf("agent %s is %s after the restart", id, st)
		}
	}
	integrity := sqliteIntegrity(t, filepath.Join(data, "hotline.db"))
	if integrity != "ok" {
		t.Errorf("integrity_check: %s", integrity)
	}
	_, metrics := second.api("/metrics")
	free := metricValue(string(metrics), "hotline_media_ports_free")
	if int(free) != ports/2 {
		t.Errorf("%v RTP ports free after the restart, want all %d", free, ports/2)
	}
	reportRobust(t, "kill -9 during recorded calls, then restart",
		fmt.Sprintf("%d calls (2 talking, %d queued): %d CDRs closed, %d recordings play, %d agents stuck, integrity %s, %v/%d ports free",
			callers, callers-2, closed, recorded, stuck, integrity, free, ports/2),
		"every CDR closed, every recording plays, nothing stuck",
		len(calls) == callers && closed == callers && recorded == callers && stuck == 0 && integrity == "ok" && int(free) == ports/2)
}

// processAgentStates is each agent's state from the API.
func processAgentStates(t *testing.T, p *hotlineProcess) map[string]string {
	t.Helper()
	code, b := p.api("/api/v1/agents")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/agents: %d %s", code, b)
	}
	var out struct{ Agents []api.AgentJSON }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, a := range out.Agents {
		states[a.ID] = a.State
	}
	return states
}

// sqliteIntegrity runs PRAGMA integrity_check on a database file, read only.
func sqliteIntegrity(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []string
	r, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return err.Error()
	}
	defer r.Close()
	for r.Next() {
		var s string
		_ = r.Scan(&s)
		rows = append(rows, s)
	}
	return strings.Join(rows, "; ")
}

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestSIGHUPReloadsQueuesAndRefusesBadFiles runs the real binary on a copy
// of the demo configuration. A SIGHUP with a broken file is refused with
// file:line:col and the running configuration stays; a SIGHUP with a good
// file adds an agent to support and changes its ring timeout, live.
func TestSIGHUPReloadsQueuesAndRefusesBadFiles(t *testing.T) {
	t.Parallel()
	bin := buildHotline(t, t.TempDir())
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hotline.yaml")
	demo := config.DemoYAML
	if err := os.WriteFile(cfgPath, demo, 0o600); err != nil {
		t.Fatal(err)
	}
	rtpLow := sipptest.FreePortRange(t, 20)
	p := startHotlineProcess(t, bin, "-config", cfgPath, "-sip", "127.0.0.1:0", "-http", "127.0.0.1:0",
		"-data", filepath.Join(dir, "data"), "-rtp-ports", fmt.Sprintf("%d-%d", rtpLow, rtpLow+19))

	// supportRing edits the support queue's ring timeout (the second one in
	// the file; sales comes first).
	supportRing := func(to string) string {
		i := strings.Index(string(demo), "- name: support")
		return string(demo[:i]) + strings.Replace(string(demo[i:]), "ring_timeout: 15s", "ring_timeout: "+to, 1)
	}
	queueRing := func() float64 {
		code, b := p.api("/api/v1/queues")
		if code != 200 {
			t.Fatalf("GET /api/v1/queues: %d %s", code, b)
		}
		var out struct {
			Queues []struct {
				Name        string
				RingTimeout float64 `json:"ring_timeout_seconds"`
			}
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		for _, q := range out.Queues {
			if q.Name == "support" {
				return q.RingTimeout
			}
		}
		t.Fatal("no support queue")
		return 0
	}
	hasAgent := func(id string) bool {
		code, _ := p.api("/api/v1/agents/" + id)
		return code == 200
	}
	if hasAgent("1005") {
		t.Fatal("agent 1005 exists before the reload")
	}

	// A broken file saved over the running one: the file watcher tries it
	// and refuses it (the metric says so), the running configuration stays.
	broken := supportRing("soon")
	if err := os.WriteFile(cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the file watcher refusing the broken file", func() (bool, string) {
		_, m := p.api("/metrics")
		return metricValue(string(m), "hotline_config_last_reload_failed") == 1, "last_reload_failed 0"
	})
	if ring := queueRing(); ring != 15 {
		t.Fatalf("after a refused reload support rings %vs, want the running 15s", ring)
	}
	// SIGHUP and the API say what is wrong, as file:line:col.
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	refused := regexp.MustCompile(regexp.QuoteMeta(cfgPath) + `:\d+:\d+: .*ring_timeout`)
	waitFor(t, 10*time.Second, "the broken file refused with its position", func() (bool, string) {
		return refused.MatchString(p.stderr.String()), tailString(p.stderr.String(), 400)
	})
	code, body := p.post("/api/v1/reload")
	var answer struct {
		Error  string
		Errors []string
	}
	if err := json.Unmarshal(body, &answer); err != nil || code != 422 || len(answer.Errors) != 1 || !refused.MatchString(answer.Errors[0]) {
		t.Fatalf("POST /api/v1/reload with a broken file: %d %s", code, body)
	}

	good := supportRing("9s")
	good = strings.Replace(good, `  - { id: "1004",`, `  - { id: "1005", name: Erin, password: demo1005, skills: { support: 7 } }
  - { id: "1004",`, 1)
	if err := os.WriteFile(cfgPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := p.post("/api/v1/reload"); code != 200 {
		t.Fatalf("POST /api/v1/reload with a good file: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "the new configuration in force", func() (bool, string) {
		ring := queueRing()
		return ring == 9 && hasAgent("1005"), fmt.Sprintf("ring %v, agent 1005 %v", ring, hasAgent("1005"))
	})
	_, m := p.api("/metrics")
	if metricValue(string(m), "hotline_config_last_reload_failed") != 0 || metricValue(string(m), `hotline_config_reloads_total{result="ok"}`) < 1 {
		t.Errorf("reload metrics after a good reload:\n%s", grepLines(string(m), "hotline_config_"))
	}
	select {
	case <-p.done:
		t.Fatal("hotline exited on SIGHUP")
	default:
	}
}

// TestReloadKeepsWaitingCaller: a caller waits in support with nobody to
// answer; a reload adds agent 1005 to support; 1005's phone registers and
// the waiting caller, untouched by the reload, is connected to them.
func TestReloadKeepsWaitingCaller(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	caller, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "carrier_call.xml", Remote: h.sipAddr(), Service: "100", Timeout: 40 * time.Second,
		Vars: map[string]string{"digit": "2", "talk_ms": "9000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the caller waiting in support", func() (bool, string) {
		q := h.queue("support")
		return len(q.Waiting) == 1, fmt.Sprintf("waiting %+v", q.Waiting)
	})

	next := config.Demo()
	next.SIP, next.HTTP, next.DataDir, next.RTP = h.cfg.SIP, h.cfg.HTTP, h.cfg.DataDir, h.cfg.RTP
	next.Agents = append(next.Agents, config.Agent{ID: "1005", Name: "Erin", Password: "demo1005"})
	next.Queue("support").Agents = append(next.Queue("support").Agents, "1005")
	if err := h.app.Reload(next); err != nil {
		t.Fatal(err)
	}
	if q := h.queue("support"); len(q.Waiting) != 1 {
		t.Fatalf("after the reload support has %d callers waiting, want the same 1", len(q.Waiting))
	}
	// Not h.startAgent: the waiting caller takes 1005 the moment they
	// register, so "available" may never be seen.
	agent := h.startAgentPhone(ctx, "1005", "agent_answer.xml", map[string]string{"hangup": "remote"})
	if res, err := caller.Wait(); err != nil || res.ExitCode != 0 {
		t.Fatalf("caller: %v %+v", err, res)
	}
	finished(t, agent, "agent")
	cdr := h.waitEndedCall()
	if cdr.Result != "completed" || cdr.AgentID != "1005" || cdr.Queue != "support" {
		t.Fatalf("CDR = %+v, want completed with the agent added by the reload", cdr)
	}

	// A configuration that does not compile is refused and changes nothing.
	bad := config.Demo()
	bad.SIP, bad.HTTP, bad.DataDir, bad.RTP = h.cfg.SIP, h.cfg.HTTP, h.cfg.DataDir, h.cfg.RTP
	bad.Queue("support").Music = "no-such-prompt"
	if err := h.app.Reload(bad); err == nil {
		t.Fatal("a configuration naming a missing prompt was accepted")
	}
	if res := h.do("GET", "/api/v1/agents/1005", h.token, nil); res.status != 200 {
		t.Fatalf("agent 1005 gone after a refused reload: %d", res.status)
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAPIReloadNeedsAdminAndAFile: only admin tokens may reload, and a
// hotline running a configuration it cannot read again says so (409).
func TestAPIReloadNeedsAdminAndAFile(t *testing.T) {
	t.Parallel()
	h := startHotline(t, withRoles)
	h.do("POST", "/api/v1/reload", supToken, nil).want(t, "a supervisor reloading", 403, nil)
	h.do("POST", "/api/v1/reload", "", nil).want(t, "reload without token", 401, nil)
	h.do("GET", "/api/v1/reload", h.token, nil).want(t, "GET reload", 405, nil)
	res := h.do("POST", "/api/v1/reload", h.token, nil)
	res.want(t, "reload of the in-memory configuration", 409, nil)
	if !strings.Contains(res.errorText(), "no configuration file") {
		t.Errorf("409 says %q", res.errorText())
	}
}

// TestReasonsReportRefusesBadQueries: the report's parameters are checked.
func TestReasonsReportRefusesBadQueries(t *testing.T) {
	t.Parallel()
	h := startHotline(t, nil)
	for _, q := range []string{
		"group_by=caller", "from=yesterday", "from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
		"from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
	} {
		h.do("GET", "/api/v1/reports/reasons?"+q, h.token, nil).want(t, q, 400, nil)
	}
	var empty struct {
		Calls       int
		Containment *float64
		Reasons     []api.ReasonJSON
	}
	h.do("GET", "/api/v1/reports/reasons?group_by=queue", h.token, nil).want(t, "no calls yet", 200, &empty)
	if empty.Calls != 0 || empty.Containment != nil || empty.Reasons == nil || len(empty.Reasons) != 0 {
		t.Errorf("report of no calls: %+v", empty)
	}
}

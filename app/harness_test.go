package app_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/app"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// hotline is a running hotline on loopback ports for one test.
type hotline struct {
	t     *testing.T
	app   *app.App
	cfg   *config.Config
	token string
	// client makes the harness's API requests: http.DefaultClient unless
	// a test serves HTTPS with a CA of its own.
	client *http.Client
}

// startHotline runs the demo configuration on free loopback ports, with data in a
// temporary folder. edit may change the configuration first.
func startHotline(t *testing.T, edit func(*config.Config)) *hotline {
	t.Helper()
	cfg := config.Demo()
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.Advertise = "127.0.0.1"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.RTP.PortLow = sipptest.FreePortRange(t, 40)
	cfg.RTP.PortHigh = cfg.RTP.PortLow + 39
	cfg.Calls.Drain = 0 // a test's clean-up need not wait for calls to finish
	if edit != nil {
		edit(cfg)
	}
	logFile, err := os.Create(cfg.DataDir + "/hotline.log")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.Start(context.Background(), app.Options{Config: cfg, Logger: log, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h := &hotline{t: t, app: a, cfg: cfg, token: cfg.HTTP.Tokens[0].Token, client: http.DefaultClient}
	t.Cleanup(func() {
		a.Close()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(cfg.DataDir + "/hotline.log")
			t.Logf("hotline log:\n%s", tailString(string(b), 12000))
		}
	})
	return h
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func (h *hotline) sipAddr() string { return h.app.SIPAddr.String() }

func (h *hotline) url(path string) string {
	scheme := "http://"
	if h.app.HTTPS {
		scheme = "https://"
	}
	return scheme + h.app.HTTPAddr.String() + path
}

// get fetches an API path with the token and decodes JSON into v.
func (h *hotline) get(path string, v any) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	if v != nil && res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			h.t.Fatalf("GET %s: %v", path, err)
		}
	}
	return res.StatusCode
}

// waitFor polls cond until it holds or the deadline passes, then fails with what
// cond last said.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %s)", what, within, last)
		}
		<-tick.C
	}
}

func (h *hotline) agentState(id string) string {
	var out struct{ Agents []api.AgentJSON }
	h.get("/api/v1/agents", &out)
	for _, a := range out.Agents {
		if a.ID == id {
			return a.State
		}
	}
	return "missing"
}

func (h *hotline) waitAgent(id, state string) {
	h.t.Helper()
	waitFor(h.t, 10*time.Second, "agent "+id+" "+state, func() (bool, string) {
		s := h.agentState(id)
		return s == state, s
	})
}

// waitCall waits for the CDR of the only (or newest) call to be complete.
func (h *hotline) waitEndedCall() api.CallJSON {
	h.t.Helper()
	var got api.CallJSON
	waitFor(h.t, 15*time.Second, "a completed CDR", func() (bool, string) {
		var out struct{ Calls []api.CallJSON }
		h.get("/api/v1/calls?limit=1", &out)
		if len(out.Calls) == 0 {
			return false, "no calls"
		}
		got = out.Calls[0]
		return got.End != nil, fmt.Sprintf("%+v", got)
	})
	return got
}

// startAgentPhone registers a SIPp agent without waiting for it to be
// available: with callers already waiting, it is offered one at once.
func (h *hotline) startAgentPhone(ctx context.Context, id, answer string, vars map[string]string) *sipptest.Process {
	h.t.Helper()
	p, err := sipptest.Start(ctx, h.t, sipptest.Scenario{
		File: "agent.xml", OutOfCall: answer, Remote: h.sipAddr(),
		Service: id, AuthUser: id, AuthPass: "demo" + id, Vars: vars, Timeout: 40 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// startAgent registers a SIPp agent and waits until the ACD has it available.
func (h *hotline) startAgent(ctx context.Context, id, answer string, vars map[string]string) *sipptest.Process {
	h.t.Helper()
	p, err := sipptest.Start(ctx, h.t, sipptest.Scenario{
		File: "agent.xml", OutOfCall: answer, Remote: h.sipAddr(),
		Service: id, AuthUser: id, AuthPass: "demo" + id, Vars: vars, Timeout: 60 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.waitAgent(id, "available")
	return p
}

// metrics scrapes /metrics, lints it and returns the text.
func (h *hotline) metrics() string {
	h.t.Helper()
	res, err := h.client.Get(h.url("/metrics"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	problems, err := promlint.New(strings.NewReader(string(b))).Lint()
	if err != nil {
		h.t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "hotline_") {
			h.t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
	}
	return string(b)
}

// metricValue finds one sample line such as `hotline_calls_total{result="completed"}`.
func metricValue(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, series+" "), "%g", &v)
			return v
		}
	}
	return math.NaN()
}

// wavFile is a parsed stereo recording.
type wavFile struct {
	channels, rate, bits int
	left, right          []int16
	markers              []string // the stage markers' labels
}

func parseWAV(t *testing.T, b []byte) wavFile {
	t.Helper()
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("not a WAV file (%d bytes)", len(b))
	}
	if got := binary.LittleEndian.Uint32(b[4:8]); int(got) != len(b)-8 {
		t.Errorf("RIFF size %d, file has %d bytes after it", got, len(b)-8)
	}
	var w wavFile
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		body := b[off+8:]
		switch id {
		case "fmt ":
			w.channels = int(binary.LittleEndian.Uint16(body[2:4]))
			w.rate = int(binary.LittleEndian.Uint32(body[4:8]))
			w.bits = int(binary.LittleEndian.Uint16(body[14:16]))
		case "LIST":
			// Stage markers: labl subchunks (cue point ID, text, NUL).
			for sub := 4; size >= 4 && sub+8 <= size; {
				n := int(binary.LittleEndian.Uint32(body[sub+4:]))
				if string(body[sub:sub+4]) == "labl" && n > 5 {
					w.markers = append(w.markers, strings.TrimRight(string(body[sub+12:sub+8+n]), "\x00"))
				}
				sub += 8 + n + n%2
			}
		case "data":
			if size > len(body) {
				t.Fatalf("data chunk says %d bytes, file has %d", size, len(body))
			}
			for i := 0; i+4 <= size; i += 4 {
				w.left = append(w.left, int16(binary.LittleEndian.Uint16(body[i:])))
				w.right = append(w.right, int16(binary.LittleEndian.Uint16(body[i+2:])))
			}
		}
		off += 8 + size + size%2
	}
	return w
}

// toneLevel is the Goertzel power of freq in samples, relative to their total
// power: near 1 for a pure tone, near 0 when freq is absent.
func toneLevel(samples []int16, freq float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2, total float64
	for _, x := range samples {
		v := float64(x)
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
		total += v * v
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	if total == 0 {
		return 0
	}
	return power / (total * float64(len(samples)) / 2)
}

func rms(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	var sum float64
	for _, x := range samples {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum / float64(len(samples)))
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// The media rows hold many calls up at once and measure their RTP at the bench's
// sink (sink.go) instead of counting calls per second:
//
//   - playback: every caller waits in a queue nobody serves, so hotline streams the
//     queue's music (a looped prompt) for the whole call, and records it. The
//     caller's SDP names the sink, which measures what hotline's pacer sent.
//   - bridged: every caller is connected to an agent and sends audio (SIPp's
//     rtp_stream); hotline relays it to the agent's leg, whose SDP (one SIPp UAS
//     answering for every agent) names the sink; the call is recorded.
//
// Each has a calibration row: the same SIPp caller against a SIPp UAS, with the
// UAS (playback) or the caller (bridged) sending the audio straight to the sink.

// mediaRow is one row of the media table: one kind of load at one number of calls,
// measured repeat times.
type mediaRow struct {
	Kind     string // "playback" or "bridged"
	Calib    bool   // SIPp against SIPp
	Calls    int    // calls held up at once
	Runs     []mediaRun
	IdleRSS  int64 // hotline's RSS before the first call (bridged: agents registered)
	StartRSS int64 // hotline's RSS right after start-up (no agent registered)
	Err      string
}

// mediaRun is one measurement: ramp to Calls, hold the plateau, hang up.
type mediaRun struct {
	Created, Success, Failed int
	RTP                      rtpResult
	ServerCores              float64 // hotline, or the SIPp UAS, over the window
	CallerCores              float64 // the SIPp caller
	AnswerCores              float64 // the SIPp UAS of the agents (bridged), or 0
	BenchCores               float64 // this process: the RTP sink, mostly
	BoxCores                 float64
	RSS                      int64   // hotline's largest RSS in the window
	Active                   float64 // hotline_calls_active at the window's end
	Leftover                 float64 // calls still open in hotline after the drain deadline
	Note                     string
}

// mediaPlan is what the media rows run.
type mediaPlan struct {
	kinds   []string
	calls   map[string][]int
	repeat  int
	rate    int
	plateau time.Duration
	settle  time.Duration
}

// bench queue and agents of the hotline configuration the media rows write.
const (
	benchAgentBase  = 5000
	benchAgentPass  = "bench-secret"
	benchRTPFile    = "bench_rtp.ulaw"
	playbackMinimum = 1500 // the targets
	bridgedMinimum  = 1000
	bridgedStretch  = 2000
	lossTargetPct   = 0.1
	jitterTarget    = 5 * time.Millisecond
	perCallTarget   = 100 << 10
	idleTarget      = 50 << 20
	realTimeMinPct  = 99.0 // the sink must get this share of 50 packets/s per stream
)

// benchConfig is hotline's configuration for a media row: one trunk into a flow
// that puts every call in the queue "bench", whose music loops while callers wait.
// agents ≥ 1 adds agents 5000.. with the bench's password who serve the queue; with
// none the queue lists agent 4999, who never registers, so callers wait for ever.
func benchConfig(sipAddr, httpAddr, dataDir, rtpPorts string, agents int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by cmd/hotline-bench for its media rows.
sip:
  listen: %s
  realm: hotline
  register_min_expires: 60s
  register_max_expires: 1h
  register_default_expires: 1h
http:
  listen: %s
  tokens:
    - { name: bench, role: admin, token: bench-token }
data_dir: %s
rtp:
  ports: %s
trunks:
  - { name: carrier, acl: [127.0.0.0/8], numbers: ["*"], flow: main }
skills: [bench]
agents:
`, sipAddr, httpAddr, dataDir, rtpPorts)
	if agents == 0 {
		b.WriteString("  - { id: \"4999\", name: nobody, password: never-registers }\n")
	}
	for i := range agents {
		fmt.Fprintf(&b, "  - { id: \"%d\", name: a%d, password: %s, skills: { bench: 1 } }\n", benchAgentBase+i, i, benchAgentPass)
	}
	b.WriteString("queues:\n  - name: bench\n")
	if agents == 0 {
		b.WriteString("    agents: [\"4999\"]\n")
	} else {
		b.WriteString("    skills: { bench: 1 }\n    strategy: longest-idle\n")
	}
	b.WriteString(`    ring_timeout: 15s
    music: moh
agent_states:
  missed_offers_before_not_ready: 0
flows:
  - name: main
    start: wait
    nodes:
      wait:
        queue: { name: bench }
`)
	return b.String()
}

// writeRTPFile writes SIPp's rtp_stream file: one second of a 440 Hz-ish square
// wave in μ-law (the content does not matter; the sink reads headers only).
func writeRTPFile(dir string) error {
	b := make([]byte, 8000)
	for i := range b {
		if (i/9)%2 == 0 {
			b[i] = 0x9f
		} else {
			b[i] = 0x1f
		}
	}
	return os.WriteFile(filepath.Join(dir, benchRTPFile), b, 0o644)
}

func mediaRows(ctx context.Context, o *options, progress io.Writer, p mediaPlan) []mediaRow {
	var rows []mediaRow
	for _, kind := range p.kinds {
		for _, n := range p.calls[kind] {
			if ctx.Err() != nil {
				return rows
			}
			row := runMediaRow(ctx, o, progress, p, kind, false, n)
			rows = append(rows, row)
			fmt.Fprintln(progress, "  "+row.progressLine())
			if o.calibrate {
				c := runMediaRow(ctx, o, progress, p, kind, true, n)
				rows = append(rows, c)
				fmt.Fprintln(progress, "  "+c.progressLine())
			}
			if !row.carried() {
				break // calls failed or went silent: a higher level would only fail harder
			}
		}
	}
	return rows
}

func runMediaRow(ctx context.Context, o *options, progress io.Writer, p mediaPlan, kind string, calib bool, n int) mediaRow {
	row := mediaRow{Kind: kind, Calib: calib, Calls: n}
	name := fmt.Sprintf("%s-%d", kind, n)
	if calib {
		name += "-calibration"
	}
	dir := filepath.Join(o.workDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		row.Err = err.Error()
		return row
	}
	if err := mediaRowIn(ctx, o, progress, p, &row, dir); err != nil {
		row.Err = err.Error()
	}
	return row
}

func mediaRowIn(ctx context.Context, o *options, progress io.Writer, p mediaPlan, row *mediaRow, dir string) error {
	sink, err := newRTPSink(2)
	if err != nil {
		return err
	}
	defer sink.close()
	if err := writeRTPFile(dir); err != nil {
		return err
	}
	var target server
	var answerPID int
	switch {
	case row.Calib:
		// The SIPp UAS stands for hotline: it answers and, for playback, streams.
		stream := "0"
		if row.Kind == "playback" {
			stream = "1"
		}
		uas, err := startAnswerer(o, dir, "uas", 0, sink.port, stream)
		if err != nil {
			return err
		}
		defer uas.stop()
		target = server{label: "uas", sipAddr: fmt.Sprintf("127.0.0.1:%d", uas.port), sipPort: uas.port, pid: uas.cmd.Process.Pid}
	default:
		agents := 0
		if row.Kind == "bridged" {
			agents = row.Calls
		}
		h, err := startBenchHotline(ctx, o, dir, agents)
		if err != nil {
			return err
		}
		defer func() {
			h.stop()
			if !o.keepData {
				_ = os.RemoveAll(filepath.Join(dir, "data"))
			}
		}()
		time.Sleep(time.Second)
		row.StartRSS = readProc(h.cmd.Process.Pid).rssBytes
		target = server{label: "hotline", sipAddr: h.sipAddr, sipPort: h.sipPort, pid: h.cmd.Process.Pid, metrics: newMetricsClient(h.httpAddr)}
		if agents > 0 {
			// Register every agent from the port the agents' SIPp is about to take:
			// hotline sends an agent's INVITE to the address its REGISTER came from.
			port, err := freeUDPPorts(1)
			if err != nil {
				return err
			}
			t0 := time.Now()
			if err := registerAgents(ctx, h.sipAddr, port, agents); err != nil {
				return fmt.Errorf("registering agents: %w", err)
			}
			fmt.Fprintf(progress, "hotline-bench: registered %d agents from 127.0.0.1:%d in %s\n", agents, port, time.Since(t0).Round(time.Millisecond))
			ans, err := startAnswerer(o, dir, "agents", port, sink.port, "0")
			if err != nil {
				return err
			}
			defer ans.stop()
			answerPID = ans.cmd.Process.Pid
		}
		time.Sleep(2 * time.Second)
		row.IdleRSS = readProc(h.cmd.Process.Pid).rssBytes
	}
	for i := range p.repeat {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		run, err := runMediaCalls(ctx, o, p, row, target, answerPID, sink, filepath.Join(dir, fmt.Sprintf("run-%d", i+1)))
		if err != nil {
			return err
		}
		row.Runs = append(row.Runs, run)
		fmt.Fprintf(progress, "    %s run %d: %s\n", row.name(), i+1, run.line())
	}
	return nil
}

// answerer is a SIPp UAS running bench_answer.xml.
type answerer struct {
	cmd  *exec.Cmd
	done chan struct{}
	port int
}

func (a *answerer) stop() { stopProcess(a.cmd, a.done, 5*time.Second) }

func startAnswerer(o *options, dir, name string, port, sinkPort int, stream string) (*answerer, error) {
	scen, err := copyScenario(o, dir, "bench_answer.xml")
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = freeUDPPorts(1); err != nil {
			return nil, err
		}
	}
	mp, err := freeUDPPorts(4)
	if err != nil {
		return nil, err
	}
	args := []string{"-sf", scen, "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mp),
		"-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", strconv.Itoa(sinkPort), "-set", "stream", stream,
		"-l", "1000000", "-nostdin", "-buff_size", strconv.Itoa(sippBufferBytes),
		"-trace_screen", "-screen_file", name + "-screen.log", "-trace_err", "-error_file", name + "-errors.log"}
	a := &answerer{cmd: exec.Command(o.sipp, args...), done: make(chan struct{}), port: port}
	a.cmd.Dir = dir
	dieWithParent(a.cmd)
	if err := os.WriteFile(filepath.Join(dir, name+"-command.txt"), []byte(o.sipp+" "+strings.Join(args, " ")+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sipp %s: %w", name, err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	if err := waitUDPBound(port, 10*time.Second, a.done); err != nil {
		a.stop()
		return nil, fmt.Errorf("sipp %s: %w", name, err)
	}
	return a, nil
}

// copyScenario copies a scenario of testdata/sipp (next to -scenario) into dir:
// SIPp writes its traces next to the scenario file.
func copyScenario(o *options, dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(o.scenario), name))
	if err != nil {
		return "", err
	}
	return name, os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

func startBenchHotline(ctx context.Context, o *options, dir string, agents int) (*hotlineProc, error) {
	sipAddr, httpAddr, err := freeHotlineAddrs()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(cfg, []byte(benchConfig(sipAddr, httpAddr, filepath.Join(dir, "data"), o.rtpPorts, agents)), 0o644); err != nil {
		return nil, err
	}
	return startHotlineArgs(ctx, o, dir, sipAddr, httpAddr, []string{"run", "-config", cfg, "-log-level", "warn"})
}

// runMediaCalls runs one SIPp caller: ramp to row.Calls at p.rate, hold, hang up;
// the sink counts over the plateau.
func runMediaCalls(ctx context.Context, o *options, p mediaPlan, row *mediaRow, srv server, answerPID int, sink *rtpSink, dir string) (mediaRun, error) {
	var run mediaRun
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return run, err
	}
	if err := writeRTPFile(dir); err != nil {
		return run, err
	}
	scenName := "bench_playback.xml"
	if row.Kind == "bridged" {
		scenName = "bench_bridged.xml"
	}
	scen, err := copyScenario(o, dir, scenName)
	if err != nil {
		return run, err
	}
	sipPort, err := freeUDPPorts(1)
	if err != nil {
		return run, err
	}
	mediaPort, err := freeUDPPorts(4)
	if err != nil {
		return run, err
	}
	n := row.Calls
	ramp := time.Duration(float64(n) / float64(p.rate) * float64(time.Second))
	hold := ramp + p.settle + p.plateau + time.Second
	runFor := 2*ramp + hold + 60*time.Second
	args := []string{
		srv.sipAddr, "-sf", scen, "-s", "100",
		"-set", "hold_ms", strconv.FormatInt(hold.Milliseconds(), 10),
		"-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", strconv.Itoa(sipPort), "-mp", strconv.Itoa(mediaPort),
		"-r", strconv.Itoa(p.rate), "-rp", "1000", "-m", strconv.Itoa(n), "-l", strconv.Itoa(n + 10),
		"-recv_timeout", "30000", "-timeout", fmt.Sprintf("%ds", int(runFor/time.Second)), "-timeout_error",
		"-nostdin", "-buff_size", strconv.Itoa(sippBufferBytes),
		"-trace_stat", "-stf", "stat.csv", "-fd", "1",
		"-trace_screen", "-screen_file", "screen.log", "-trace_err", "-error_file", "errors.log",
	}
	if row.Kind == "playback" {
		args = append(args, "-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", strconv.Itoa(sink.port))
	}
	if err := os.WriteFile(filepath.Join(dir, "command.txt"), []byte(o.sipp+" "+strings.Join(args, " ")+"\n"), 0o644); err != nil {
		return run, err
	}
	runCtx, cancel := context.WithTimeout(ctx, runFor+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, o.sipp, args...)
	cmd.Dir = dir
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return run, fmt.Errorf("start sipp: %w", err)
	}
	start := time.Now()
	smp := startSampler(ctx, srv, cmd.Process.Pid, sipPort)
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()

	from := start.Add(ramp + p.settle)
	to := from.Add(p.plateau)
	measured := false
	var ansFrom procSample
	for !measured {
		select {
		case <-waited:
			measured = true
			run.Note = "SIPp ended before the window"
			sink.stopWindow(0)
			continue
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-waited
			return run, ctx.Err()
		case <-time.After(time.Until(from)):
		}
		if answerPID > 0 {
			ansFrom = readProc(answerPID)
		}
		benchFrom := readProc(os.Getpid())
		sink.startWindow()
		at := time.Now()
		select {
		case <-time.After(time.Until(to)):
		case <-waited:
		}
		run.RTP = sink.stopWindow(time.Since(at))
		run.BenchCores = cores(benchFrom, readProc(os.Getpid()))
		if answerPID > 0 {
			run.AnswerCores = cores(ansFrom, readProc(answerPID))
		}
		if srv.metrics != nil {
			if m, err := srv.metrics.scrape(ctx); err == nil {
				run.Active = m["hotline_calls_active"]
			}
		}
		measured = true
	}
	<-waited
	s := smp.stop()
	run.ServerCores, run.CallerCores, run.BoxCores, _ = s.window(from, to)
	for _, ps := range s.server {
		if ps.ok && !ps.at.Before(from) && !ps.at.After(to.Add(sampleEvery)) {
			run.RSS = max(run.RSS, ps.rssBytes)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "stat.csv")); err == nil {
		if rows, err := parseStatCSV(b); err == nil {
			last := rows[len(rows)-1]
			run.Created, run.Success, run.Failed = last.int("TotalCallCreated"), last.int("SuccessfulCall(C)"), last.int("FailedCall(C)")
		}
	}
	if lines := errorLines(filepath.Join(dir, "errors.log"), 2); len(lines) > 0 && run.Failed > 0 {
		run.Note = strings.TrimPrefix(run.Note+"; SIPp: "+strings.Join(lines, " / "), "; ")
	}
	if srv.metrics != nil {
		run.Leftover, _ = srv.metrics.waitIdle(ctx, drainDeadline)
	} else {
		time.Sleep(5 * time.Second) // the UAS's timewait
	}
	return run, nil
}

// registerAgents registers agents benchAgentBase.. with hotline from
// 127.0.0.1:port, answering each digest challenge (MD5), one after the other.
func registerAgents(ctx context.Context, hotline string, port, agents int) error {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return err
	}
	defer c.Close()
	dst, err := net.ResolveUDPAddr("udp4", hotline)
	if err != nil {
		return err
	}
	buf := make([]byte, 8192)
	uri := "sip:" + hotline
	for i := range agents {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		user := strconv.Itoa(benchAgentBase + i)
		authz := ""
		for attempt := 1; ; attempt++ {
			if attempt > 3 {
				return fmt.Errorf("agent %s: still challenged after %d attempts", user, attempt-1)
			}
			msg := registerRequest(uri, user, port, attempt, authz)
			if _, err := c.WriteToUDP([]byte(msg), dst); err != nil {
				return err
			}
			code, hdrs, err := readResponse(c, buf, fmt.Sprintf("%d REGISTER", attempt))
			if err != nil {
				return fmt.Errorf("agent %s: %w", user, err)
			}
			if code == 200 {
				break
			}
			if code != 401 {
				return fmt.Errorf("agent %s: REGISTER answered %d", user, code)
			}
			var chal *digest.Challenge
			for _, h := range hdrs["www-authenticate"] {
				ch, err := digest.ParseChallenge(h)
				if err == nil && (ch.Algorithm == "" || strings.EqualFold(ch.Algorithm, "MD5")) {
					chal = ch
					break
				}
			}
			if chal == nil {
				return fmt.Errorf("agent %s: no MD5 challenge in %q", user, hdrs["www-authenticate"])
			}
			cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: uri, Username: user, Password: benchAgentPass, Count: 1})
			if err != nil {
				return err
			}
			authz = cred.String()
		}
	}
	return nil
}

func registerRequest(uri, user string, port, cseq int, authz string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER %s SIP/2.0\r\n", uri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-hb-%s-%d;rport\r\n", port, user, cseq)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:%s@hotline>;tag=hb%s\r\n", user, user)
	fmt.Fprintf(&b, "To: <sip:%s@hotline>\r\n", user)
	fmt.Fprintf(&b, "Call-ID: hb-register-%s@127.0.0.1\r\n", user)
	fmt.Fprintf(&b, "CSeq: %d REGISTER\r\n", cseq)
	fmt.Fprintf(&b, "Contact: <sip:%s@127.0.0.1:%d>\r\n", user, port)
	b.WriteString("Expires: 3600\r\nUser-Agent: hotline-bench\r\n")
	if authz != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", authz)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// readResponse reads datagrams until a final response whose CSeq is cseq arrives
// (provisional ones and strays are skipped) and returns its code and headers, names
// lower-cased.
func readResponse(c *net.UDPConn, buf []byte, cseq string) (int, map[string][]string, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return 0, nil, err
		}
		lines := strings.Split(string(buf[:n]), "\r\n")
		f := strings.Fields(lines[0])
		if len(f) < 2 || f[0] != "SIP/2.0" {
			continue
		}
		code, _ := strconv.Atoi(f[1])
		hdrs := map[string][]string{}
		for _, l := range lines[1:] {
			if l == "" {
				break
			}
			k, v, ok := strings.Cut(l, ":")
			if ok {
				k = strings.ToLower(strings.TrimSpace(k))
				hdrs[k] = append(hdrs[k], strings.TrimSpace(v))
			}
		}
		if code < 200 || len(hdrs["cseq"]) == 0 || hdrs["cseq"][0] != cseq {
			continue
		}
		return code, hdrs, nil
	}
}

// Results.

func (r mediaRow) name() string {
	if r.Calib {
		return fmt.Sprintf("%s %d calls, SIPp→SIPp", r.Kind, r.Calls)
	}
	return fmt.Sprintf("%s %d calls, hotline", r.Kind, r.Calls)
}

func (m mediaRun) line() string {
	s := fmt.Sprintf("%d/%d ok, %d failed; sink: %d streams (%d short), %s pkts/s (%.1f%% of real time), loss %.3f%% (%d of %d), jitter p50 %s p99 %s max %s, |D| p99 %s; server %.2f cores, caller %.2f, box %.2f",
		m.Success, m.Created, m.Failed, m.RTP.Streams, m.RTP.Short, thousands(m.RTP.PacketRate), m.RTP.realTimePct(), m.RTP.LossPct, m.RTP.Lost, m.RTP.Expected,
		msf(m.RTP.JitterP50), msf(m.RTP.JitterP99), msf(m.RTP.JitterMax), msf(m.RTP.DeltaP99), m.ServerCores, m.CallerCores, m.BoxCores)
	s += fmt.Sprintf(", sink (bench) %.2f", m.BenchCores)
	if m.AnswerCores > 0 {
		s += fmt.Sprintf(", agents' SIPp %.2f", m.AnswerCores)
	}
	if m.RSS > 0 {
		s += ", RSS " + formatBytes(m.RSS)
	}
	if m.Active > 0 {
		s += fmt.Sprintf(", %.0f calls active", m.Active)
	}
	if m.Leftover > 0 {
		s += fmt.Sprintf(", %.0f calls left after %s", m.Leftover, drainDeadline)
	}
	if m.Note != "" {
		s += " (" + m.Note + ")"
	}
	return s
}

func msf(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// medianOf is the median of f over the runs (the lower middle one of an even count).
func (r mediaRow) medianOf(f func(mediaRun) float64) float64 {
	if len(r.Runs) == 0 {
		return 0
	}
	v := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		v[i] = f(run)
	}
	sort.Float64s(v)
	return v[(len(v)-1)/2]
}

// mediaSummary is one row's medians.
type mediaSummary struct {
	Failed, Streams        float64
	LossPct                float64
	JitterP99, DeltaP99    time.Duration
	JitterMax              time.Duration
	PktRate                float64
	RealTime               float64 // PktRate as a share of 50 packets/s per stream, %
	Bench                  float64
	Server, Caller, Answer float64
	Box                    float64
	RSS                    float64
	PerCall                float64 // (RSS in the window - idle RSS) / calls
}

func (r mediaRow) summary() mediaSummary {
	d := func(f func(mediaRun) time.Duration) time.Duration {
		return time.Duration(r.medianOf(func(m mediaRun) float64 { return float64(f(m)) }))
	}
	s := mediaSummary{
		Failed:    r.medianOf(func(m mediaRun) float64 { return float64(r.Calls - m.Success) }),
		Streams:   r.medianOf(func(m mediaRun) float64 { return float64(m.RTP.Streams) }),
		LossPct:   r.medianOf(func(m mediaRun) float64 { return m.RTP.LossPct }),
		JitterP99: d(func(m mediaRun) time.Duration { return m.RTP.JitterP99 }),
		JitterMax: d(func(m mediaRun) time.Duration { return m.RTP.JitterMax }),
		DeltaP99:  d(func(m mediaRun) time.Duration { return m.RTP.DeltaP99 }),
		PktRate:   r.medianOf(func(m mediaRun) float64 { return m.RTP.PacketRate }),
		RealTime:  r.medianOf(func(m mediaRun) float64 { return m.RTP.realTimePct() }),
		Bench:     r.medianOf(func(m mediaRun) float64 { return m.BenchCores }),
		Server:    r.medianOf(func(m mediaRun) float64 { return m.ServerCores }),
		Caller:    r.medianOf(func(m mediaRun) float64 { return m.CallerCores }),
		Answer:    r.medianOf(func(m mediaRun) float64 { return m.AnswerCores }),
		Box:       r.medianOf(func(m mediaRun) float64 { return m.BoxCores }),
		RSS:       r.medianOf(func(m mediaRun) float64 { return float64(m.RSS) }),
	}
	if r.IdleRSS > 0 && s.RSS > 0 && r.Calls > 0 {
		s.PerCall = (s.RSS - float64(r.IdleRSS)) / float64(r.Calls)
	}
	return s
}

// failures lists why a row misses the targets (nil: it meets them).
func (r mediaRow) failures() []string {
	var out []string
	if r.Err != "" {
		return []string{"run error: " + r.Err}
	}
	if len(r.Runs) == 0 {
		return []string{"no run"}
	}
	s := r.summary()
	if s.Failed > 0 {
		out = append(out, fmt.Sprintf("%.0f calls failed (median)", s.Failed))
	}
	if s.Streams < float64(r.Calls) {
		out = append(out, fmt.Sprintf("only %.0f of %d calls had RTP all through the window", s.Streams, r.Calls))
	}
	if s.LossPct >= lossTargetPct {
		out = append(out, fmt.Sprintf("loss %.3f%% ≥ %.1f%%", s.LossPct, lossTargetPct))
	}
	if r.Kind == "playback" && s.JitterP99 >= jitterTarget {
		out = append(out, fmt.Sprintf("jitter p99 %s ≥ %s", msf(s.JitterP99), msf(jitterTarget)))
	}
	if s.RealTime > 0 && s.RealTime < realTimeMinPct {
		// Not one of the figures, but a sender that runs slow loses no
		// sequence number and, if steadily slow, keeps its jitter low.
		out = append(out, fmt.Sprintf("RTP at %.1f%% of real time (< %.0f%%)", s.RealTime, realTimeMinPct))
	}
	if r.Kind == "bridged" && !r.Calib {
		if s.PerCall > perCallTarget {
			out = append(out, fmt.Sprintf("RSS per call %s > 100 kB", formatBytes(int64(s.PerCall))))
		}
		if r.IdleRSS > idleTarget {
			out = append(out, fmt.Sprintf("idle RSS %s > 50 MB", formatBytes(r.IdleRSS)))
		}
	}
	return out
}

func (r mediaRow) passed() bool { return len(r.failures()) == 0 }

// carried says whether every call of the row was up with RTP at the sink (median):
// the capacity part of the targets. The climb goes on past a row that carried its
// calls but missed a quality target (jitter, memory), to show how that grows.
func (r mediaRow) carried() bool {
	if r.Err != "" || len(r.Runs) == 0 {
		return false
	}
	s := r.summary()
	return s.Failed == 0 && s.Streams >= float64(r.Calls)
}

// verdict says whether the row meets the target for its kind.
func (r mediaRow) verdict() string {
	f := r.failures()
	switch {
	case len(f) > 0:
		return "misses: " + strings.Join(f, "; ")
	case r.Calib:
		return "clean"
	case r.Kind == "playback" && r.Calls < playbackMinimum:
		return fmt.Sprintf("clean (below the %d-call target)", playbackMinimum)
	case r.Kind == "bridged" && r.Calls < bridgedMinimum:
		return fmt.Sprintf("clean (below the %d-call target)", bridgedMinimum)
	case r.Kind == "bridged" && r.Calls >= bridgedStretch:
		return "meets the target and the stretch"
	}
	return "meets the target"
}

func (r mediaRow) progressLine() string {
	s := r.summary()
	line := fmt.Sprintf("%s (median of %d): loss %.3f%%, jitter p99 %s, |D| p99 %s, %.0f streams, server %.2f cores",
		r.name(), len(r.Runs), s.LossPct, msf(s.JitterP99), msf(s.DeltaP99), s.Streams, s.Server)
	if !r.Calib {
		line += fmt.Sprintf(", RSS start %s idle %s plateau %s", formatBytes(r.StartRSS), formatBytes(r.IdleRSS), formatBytes(int64(s.RSS)))
		if s.PerCall != 0 {
			line += fmt.Sprintf(" (%.0f kB per call)", s.PerCall/1024)
		}
	}
	return line + " → " + r.verdict()
}

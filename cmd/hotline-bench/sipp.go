package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// server is what one ladder loads: hotline, or SIPp's built-in uas for calibration.
type server struct {
	label   string // short name for progress lines
	sipAddr string // host:port SIPp calls
	sipPort int    // its UDP port, to read the socket's queue and drops
	pid     int    // for CPU and RSS
	metrics *metricsClient
}

// step is one rung of a ladder: SIPp at one target rate.
type step struct {
	Rate  int // target calls per second
	Calls int // -m

	// From SIPp's statistics file.
	Created   int
	Success   int
	Failed    int
	Retrans   int
	Failures  map[string]int // SIPp's Failed* counters that are not zero
	Achieved  float64        // calls per second at which SIPp started the calls
	AnswerAvg time.Duration  // mean INVITE→200 (response time 1)
	SlowCalls int            // answers that took 200 ms or more
	ExitCode  int
	ErrLines  []string          // first lines of SIPp's error log
	Messages  map[string][2]int // SIPp's screen: "ACK>" or "200<" → {messages, retransmissions}

	// Measured on the server and on the SIPp client, over the steady window (all
	// calls of the step overlapping: from one call length after the first INVITE to
	// the last INVITE).
	ServerCores float64
	SIPpCores   float64
	BoxCores    float64 // every process on the machine, kernel included
	ServerRSS   int64   // largest VmRSS seen during the step

	// From hotline's /metrics (zero for the uas).
	RTPOut      float64            // RTP packets hotline sent during the step
	RTPExpected float64            // successful calls × hold / 20 ms
	PeakActive  float64            // largest hotline_calls_active seen
	PeakPlaying float64            // largest hotline_media_playing_streams seen
	Ended       map[string]float64 // hotline_calls_total delta by result
	Responses   map[string]float64 // hotline_sip_responses_total delta other than 100/200
	EventsDrop  float64
	Requests    map[string]float64 // hotline_sip_requests_total delta by method
	PeakHeap    float64            // largest go_memstats_heap_inuse_bytes seen
	PeakGor     float64            // largest go_goroutines seen
	IdleHeap    float64            // heap in use once the step's calls had ended
	IdleGor     float64
	GCs         float64 // garbage collections during the step
	GCPause     float64 // their summed stop-the-world pauses, seconds

	// UDP: the kernel's view of the two SIP sockets.
	ServerDrops  int64 // datagrams dropped at the server's SIP socket (full receive buffer)
	ServerRxPeak int64 // largest backlog seen in its receive buffer, bytes
	ClientDrops  int64 // the same for SIPp's SIP socket
	ClientRxPeak int64
	SysRcvbuf    int64 // /proc/net/snmp Udp RcvbufErrors, whole box (RTP to SIPp's unread media port included)

	Leftover    float64 // calls still active when the drain deadline passed
	LeftoverEPs float64 // RTP endpoints still open then

	Wall    time.Duration
	Verdict verdict
	Note    string
}

type verdict int

const (
	verdictUnknown   verdict = iota
	verdictOK                // every call succeeded at ≥ minAchieved of the rate
	verdictFailed            // some calls failed
	verdictGenerator         // no failure, but SIPp did not reach the rate
	verdictError             // SIPp did not run to the end
)

func (v verdict) String() string {
	switch v {
	case verdictOK:
		return "ok"
	case verdictFailed:
		return "failed calls"
	case verdictGenerator:
		return "SIPp below rate"
	case verdictError:
		return "run error"
	}
	return "unknown"
}

// sippBufferBytes is SIPp's -buff_size (SO_SNDBUF and SO_RCVBUF of its sockets).
const sippBufferBytes = 4 << 20

// drainDeadline is how long hotline gets after SIPp's last call to close every call
// and endpoint before the next step starts.
const drainDeadline = 30 * time.Second

// runStep runs one SIPp client at rate calls per second against srv in dir.
func runStep(ctx context.Context, o *options, srv server, rate int, dir string) (step, error) {
	st := step{Rate: rate, Calls: rate * int(o.seconds/time.Second)}
	if st.Calls < 1 {
		st.Calls = 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, err
	}
	// SIPp names its -trace_* files after the scenario file and writes them next to
	// it, so each step runs on its own copy.
	scen, err := os.ReadFile(o.scenario)
	if err != nil {
		return st, err
	}
	scenFile := filepath.Base(o.scenario)
	if err := os.WriteFile(filepath.Join(dir, scenFile), scen, 0o644); err != nil {
		return st, err
	}
	sipPort, err := freeUDPPorts(1)
	if err != nil {
		return st, err
	}
	mediaPort, err := freeUDPPorts(4)
	if err != nil {
		return st, err
	}
	// Room for every call of the step to be up at once plus a margin, so SIPp's call
	// limit never throttles the rate: a slow answer shows up as a slow answer.
	limit := rate*int((o.hold+5*time.Second)/time.Second) + 100
	runFor := o.seconds + o.hold + 30*time.Second
	args := []string{
		srv.sipAddr,
		"-sf", scenFile,
		"-s", "100",
		"-set", "hold_ms", strconv.FormatInt(o.hold.Milliseconds(), 10),
		"-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", strconv.Itoa(sipPort), "-mp", strconv.Itoa(mediaPort),
		"-r", strconv.Itoa(rate), "-rp", "1000",
		"-m", strconv.Itoa(st.Calls),
		"-l", strconv.Itoa(limit),
		"-recv_timeout", "10000",
		"-timeout", fmt.Sprintf("%ds", int(runFor/time.Second)), "-timeout_error",
		"-nostdin",
		// SIPp's own socket buffers default to 64 kB; give it the most the kernel
		// allows (net.core.rmem_max caps it) so a burst of hotline's responses is not
		// lost at the load generator and counted against hotline.
		"-buff_size", strconv.Itoa(sippBufferBytes),
		"-trace_stat", "-stf", "stat.csv", "-fd", "500ms",
		"-trace_screen", "-screen_file", "screen.log",
		"-trace_err", "-error_file", "errors.log",
	}
	stepCtx, cancel := context.WithTimeout(ctx, runFor+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(stepCtx, o.sipp, args...)
	cmd.Dir = dir
	stderr, err := os.Create(filepath.Join(dir, "sipp.stderr"))
	if err != nil {
		return st, err
	}
	defer stderr.Close()
	cmd.Stderr = stderr // stdout is SIPp's live screen: discarded (-trace_screen keeps the last)
	dieWithParent(cmd)
	if err := os.WriteFile(filepath.Join(dir, "command.txt"), []byte(o.sipp+" "+strings.Join(args, " ")+"\n"), 0o644); err != nil {
		return st, err
	}

	var before map[string]float64
	if srv.metrics != nil {
		if before, err = srv.metrics.scrape(ctx); err != nil {
			return st, fmt.Errorf("metrics before rate %d: %w", rate, err)
		}
	}
	udpBefore := readUDPSocket(srv.sipPort)
	rcvbufBefore, _ := udpErrors()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return st, fmt.Errorf("start sipp: %w", err)
	}
	smp := startSampler(ctx, srv, cmd.Process.Pid, sipPort)
	waitErr := cmd.Wait()
	samples := smp.stop()
	st.Wall = time.Since(start)
	st.ExitCode = cmd.ProcessState.ExitCode()

	statFile, err := os.ReadFile(filepath.Join(dir, "stat.csv"))
	if err != nil {
		st.Verdict = verdictError
		st.Note = fmt.Sprintf("sipp exit %d (%v), no statistics: %v", st.ExitCode, waitErr, err)
		return st, nil
	}
	rows, err := parseStatCSV(statFile)
	if err != nil || len(rows) == 0 {
		st.Verdict = verdictError
		st.Note = fmt.Sprintf("sipp exit %d, statistics unreadable: %v", st.ExitCode, err)
		return st, nil
	}
	st.fillFromStats(rows)
	st.ErrLines = errorLines(filepath.Join(dir, "errors.log"), 5)
	if b, err := os.ReadFile(filepath.Join(dir, "screen.log")); err == nil {
		st.Messages = parseScreenMessages(string(b))
	}

	// Steady window: once the first calls have lasted a full call length every call
	// slot is busy; from there to the last INVITE the load is the step's full load.
	t0 := epochTime(rows[0].epoch("StartTime"))
	lastInvite := t0.Add(time.Duration(float64(st.Calls) / math.Max(st.Achieved, 1e-9) * float64(time.Second)))
	from, to := t0.Add(o.hold), lastInvite
	if to.Sub(from) < time.Second {
		from, to = t0, t0.Add(st.Wall)
	}
	st.ServerCores, st.SIPpCores, st.BoxCores, st.ServerRSS = samples.window(from, to)

	if srv.metrics != nil {
		st.Leftover, st.LeftoverEPs = srv.metrics.waitIdle(ctx, drainDeadline)
		after, err := srv.metrics.scrape(ctx)
		if err != nil {
			return st, fmt.Errorf("metrics after rate %d: %w", rate, err)
		}
		st.fillFromMetrics(before, after, samples, o.hold)
	}
	if udpAfter := readUDPSocket(srv.sipPort); udpBefore.ok && udpAfter.ok {
		st.ServerDrops = udpAfter.drops - udpBefore.drops
	}
	rcvbufAfter, _ := udpErrors()
	st.SysRcvbuf = rcvbufAfter - rcvbufBefore
	st.ServerRxPeak, st.ClientRxPeak, st.ClientDrops = samples.serverRxPeak, samples.clientRxPeak, samples.clientDrops
	st.judge(o.minAchieved)
	return st, nil
}

func (st *step) fillFromStats(rows []statRow) {
	last := rows[len(rows)-1]
	st.Created = last.int("TotalCallCreated")
	st.Success = last.int("SuccessfulCall(C)")
	st.Failed = last.int("FailedCall(C)")
	st.Retrans = last.int("Retransmissions(C)")
	st.AnswerAvg = parseSIPpDuration(last["ResponseTime1(C)"])
	st.Failures = map[string]int{}
	for name, v := range last {
		if strings.HasPrefix(name, "Failed") && strings.HasSuffix(name, "(C)") && name != "FailedCall(C)" {
			if n, _ := strconv.Atoi(v); n > 0 {
				st.Failures[strings.TrimSuffix(strings.TrimPrefix(name, "Failed"), "(C)")] = n
			}
		}
		if n, ok := slowBucket(name, 200); ok && n {
			c, _ := strconv.Atoi(v)
			st.SlowCalls += c
		}
	}
	for _, extra := range []string{"OutOfCallMsgs(C)", "DeadCallMsgs(C)"} {
		if n := last.int(extra); n > 0 {
			st.Failures["("+strings.TrimSuffix(extra, "(C)")+")"] = n
		}
	}
	st.Achieved = achievedRate(rows, st.Calls)
}

// slowBucket says whether a ResponseTimeRepartition1 column counts answers of at
// least minMs: "_<500" holds [previous bound, 500), "_>=1000" holds ≥ 1000.
func slowBucket(name string, minMs int) (slow, isBucket bool) {
	rest, ok := strings.CutPrefix(name, "ResponseTimeRepartition1_")
	if !ok {
		return false, false
	}
	if n, found := strings.CutPrefix(rest, ">="); found {
		v, err := strconv.Atoi(n)
		return err == nil && v >= minMs, true
	}
	if n, found := strings.CutPrefix(rest, "<"); found {
		v, err := strconv.Atoi(n)
		return err == nil && v > minMs, true
	}
	return false, false
}

func (st *step) fillFromMetrics(before, after map[string]float64, s samples, hold time.Duration) {
	d := func(series string) float64 { return after[series] - before[series] }
	st.RTPOut = d(`hotline_media_rtp_packets_total{direction="out"}`)
	st.RTPExpected = float64(st.Success) * float64(hold/(20*time.Millisecond))
	st.EventsDrop = d("hotline_media_events_dropped_total")
	st.Ended = map[string]float64{}
	st.Responses = map[string]float64{}
	for series := range after {
		if strings.HasPrefix(series, "hotline_calls_total{") {
			if v := d(series); v > 0 {
				st.Ended[labelValue(series, "result")] = v
			}
		}
		if strings.HasPrefix(series, "hotline_sip_responses_total{") {
			code := labelValue(series, "code")
			if v := d(series); v > 0 && code != "100" && code != "200" {
				st.Responses[labelValue(series, "method")+" "+code] = v
			}
		}
	}
	st.Requests = map[string]float64{}
	for series := range after {
		if strings.HasPrefix(series, "hotline_sip_requests_total{") {
			if v := d(series); v > 0 {
				st.Requests[labelValue(series, "method")] = v
			}
		}
	}
	st.PeakActive = s.peakActive
	st.PeakPlaying = s.peakPlaying
	st.PeakHeap, st.PeakGor = s.peakHeap, s.peakGoroutines
	st.IdleHeap, st.IdleGor = after["go_memstats_heap_inuse_bytes"], after["go_goroutines"]
	st.GCs = d("go_gc_duration_seconds_count")
	st.GCPause = d("go_gc_duration_seconds_sum")
}

func (st *step) judge(minAchieved float64) {
	switch {
	case st.Failed > 0 || st.Ended["failed"] > 0:
		// A call hotline itself ended as failed counts even when SIPp saw it
		// through: with a lost ACK hotline never starts the prompt, the recording or
		// the CDR of a call the caller thinks is up.
		st.Verdict = verdictFailed
	case st.Created < st.Calls || st.Success < st.Calls || (st.ExitCode != 0 && st.ExitCode != 1):
		st.Verdict = verdictError
		st.Note = fmt.Sprintf("sipp exit %d: %d of %d calls created, %d successful", st.ExitCode, st.Created, st.Calls, st.Success)
	case st.Achieved < minAchieved*float64(st.Rate):
		st.Verdict = verdictGenerator
	default:
		st.Verdict = verdictOK
	}
	if st.Leftover > 0 || st.LeftoverEPs > 0 {
		st.Note = strings.TrimPrefix(st.Note+fmt.Sprintf("; %.0f calls and %.0f RTP endpoints still open in hotline %s after SIPp ended",
			st.Leftover, st.LeftoverEPs, drainDeadline), "; ")
	}
}

// achievedRate is the rate at which SIPp started the step's calls: calls divided by
// the time from SIPp's start to the moment its call counter reached calls, that moment
// interpolated between the two statistics rows around it. A SIPp that lags behind its
// target (one core, one thread) shows up here.
func achievedRate(rows []statRow, calls int) float64 {
	if len(rows) == 0 {
		return 0
	}
	t0 := rows[0].epoch("StartTime")
	prevT, prevC := t0, 0.0
	for _, r := range rows {
		t, c := r.epoch("CurrentTime"), float64(r.int("TotalCallCreated"))
		if c >= float64(calls) {
			at := t
			if c > prevC && t > prevT {
				at = prevT + (float64(calls)-prevC)/(c-prevC)*(t-prevT)
			}
			if at <= t0 {
				return 0
			}
			return float64(calls) / (at - t0)
		}
		prevT, prevC = t, c
	}
	last := rows[len(rows)-1]
	if el := last.epoch("CurrentTime") - t0; el > 0 {
		return float64(last.int("TotalCallCreated")) / el
	}
	return 0
}

// statRow is one line of SIPp's -trace_stat file, by column name.
type statRow map[string]string

// parseStatCSV reads SIPp's statistics file: a header of counter names, then one row
// per -fd period and a last one at exit, all ';'-separated.
func parseStatCSV(b []byte) ([]statRow, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return nil, errors.New("no statistics rows")
	}
	header := strings.Split(strings.TrimRight(lines[0], "\r"), ";")
	var rows []statRow
	for _, line := range lines[1:] {
		f := strings.Split(strings.TrimRight(line, "\r"), ";")
		if len(f) < len(header)-1 {
			continue // a row cut short by a kill
		}
		r := statRow{}
		for i, name := range header {
			if name != "" && i < len(f) {
				r[name] = f[i]
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, errors.New("no complete statistics rows")
	}
	return rows, nil
}

func (r statRow) int(name string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(r[name]))
	return n
}

// epoch reads a SIPp time column, "2026-11-23<TAB>10:15:05.931371<TAB>1795428905.931371",
// as Unix seconds.
func (r statRow) epoch(name string) float64 {
	f := strings.Fields(r[name])
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[len(f)-1], 64)
	return v
}

func epochTime(sec float64) time.Time {
	whole := math.Floor(sec)
	return time.Unix(int64(whole), int64((sec-whole)*1e9))
}

// parseSIPpDuration reads SIPp's "HH:MM:SS:uuuuuu".
func parseSIPpDuration(s string) time.Duration {
	p := strings.Split(strings.TrimSpace(s), ":")
	if len(p) != 4 {
		return 0
	}
	var n [4]int64
	for i, v := range p {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		n[i] = x
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute +
		time.Duration(n[2])*time.Second + time.Duration(n[3])*time.Microsecond
}

// errorLines returns up to max distinct lines of SIPp's error log with their counts,
// timestamps stripped, most frequent first.
var sippLogStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+\s+\d+\.\d+:\s*`)

func errorLines(path string, max int) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	count := map[string]int{}
	var order []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(sippLogStamp.ReplaceAllString(line, ""))
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if len(line) > 160 {
			line = line[:160] + "…"
		}
		if count[line] == 0 {
			order = append(order, line)
		}
		count[line]++
	}
	sort.SliceStable(order, func(i, j int) bool { return count[order[i]] > count[order[j]] })
	var out []string
	for _, l := range order {
		if len(out) == max {
			break
		}
		out = append(out, fmt.Sprintf("%d× %s", count[l], l))
	}
	return out
}

// SIPp's scenario screen lists each message with its count and retransmissions:
//
//	INVITE ---------->  B-RTD1 4000      114       0
//	   200 <----------  E-RTD1 4000      109       0         0
var screenMessageRE = regexp.MustCompile(`^\s*(\S+)\s+(-+>|<-+)\s+(?:[BE]-RTD\d+\s+)?(\d+)\s+(\d+)`)

// parseScreenMessages reads the first scenario screen of SIPp's -trace_screen file.
// Keys are the message and its direction: "INVITE>" sent, "200<" received.
func parseScreenMessages(screen string) map[string][2]int {
	out := map[string][2]int{}
	seen := false
	for line := range strings.Lines(screen) {
		if strings.Contains(line, "Messages  Retrans") {
			if seen {
				break // a later screen repeats the table
			}
			seen = true
			continue
		}
		m := screenMessageRE.FindStringSubmatch(line)
		if !seen || m == nil {
			continue
		}
		dir := ">"
		if strings.HasPrefix(m[2], "<") {
			dir = "<"
		}
		n, _ := strconv.Atoi(m[3])
		r, _ := strconv.Atoi(m[4])
		key := m[1] + dir
		if _, dup := out[key]; dup {
			key += "#2" // the same message twice in the scenario
		}
		out[key] = [2]int{n, r}
	}
	return out
}

package sipptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Scenario is one SIPp run.
type Scenario struct {
	// File is the scenario XML. A name without a directory is taken from
	// testdata/sipp. SIPp runs in the file's directory, so the pcap/ paths inside the
	// scenarios resolve the same way as when you run sipp by hand from testdata/sipp.
	File string
	// OutOfCall is the -oocsf scenario: what SIPp does with a request that belongs to
	// no call it knows. The agent scenarios use it: agent.xml registers, and the
	// INVITE hotline then sends (a new Call-ID) is played by agent_answer.xml or
	// agent_no_answer.xml. Resolved like File.
	OutOfCall string
	// Remote is the peer's host:port; empty for a scenario that starts with <recv>.
	Remote string
	// LocalPort (-p) and MediaPort (-mp); 0 reserves a free one for the test.
	LocalPort int
	MediaPort int
	// Vars are passed as -set NAME VALUE; each scenario declares and documents its own
	// in a <Global variables="..."/> line.
	Vars map[string]string
	// Service is -s, the user part of the request URI ([service]).
	Service string
	// AuthUser and AuthPass are -au/-ap, the digest credentials for [authentication].
	AuthUser string
	AuthPass string
	// Calls is -m, the number of calls to place or answer; 0 means 1.
	Calls int
	// Timeout is -timeout: SIPp gives up and fails (-timeout_error) after it. 0 means
	// 30 s.
	Timeout time.Duration
	// ExtraArgs go last on the command line.
	ExtraArgs []string
}

// Result is what a finished SIPp run left behind.
type Result struct {
	Args       []string
	ExitCode   int  // 0: every call succeeded; 1: some failed; 97/99/255: see sipp -h
	Stopped    bool // ended by Stop or the context, not on its own
	Successful int  // "Successful call", cumulative, from the final statistics screen
	Failed     int  // "Failed call"
	// Messages is the -trace_msg log: every SIP message sent and received.
	Messages string
	// Errors is the -trace_err log: unexpected messages and SIPp's complaints.
	Errors string
	// Logs is the output of the scenarios' <log> actions (-trace_logs).
	Logs   string
	Stdout string
	Stderr string
	// Dir is the run's work directory (under t.TempDir()).
	Dir       string
	LocalPort int
	MediaPort int
}

// Check returns nil when SIPp exited 0 with every one of want calls successful, else an
// error that carries what is needed to see why.
func (r *Result) Check(want int) error {
	if r.ExitCode == 0 && r.Successful == want && r.Failed == 0 {
		return nil
	}
	return fmt.Errorf("sipp %s: exit %d, %d successful and %d failed calls, want %d successful\n--- errors:\n%s\n--- stderr:\n%s\n--- messages:\n%s",
		strings.Join(r.Args, " "), r.ExitCode, r.Successful, r.Failed, want, r.Errors, tail(r.Stderr, 2000), tail(r.Messages, 6000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Process is a SIPp run in the background, such as an agent waiting for an INVITE.
type Process struct {
	t      testing.TB
	cmd    *exec.Cmd
	res    *Result
	done   chan struct{}
	err    error
	once   sync.Once
	stopMu sync.Mutex
	stop   bool
}

// Run runs sc to completion (or until ctx ends) and returns its result. The error is
// about running SIPp at all; whether the calls succeeded is in the Result (see Check).
func Run(ctx context.Context, t testing.TB, sc Scenario) (*Result, error) {
	t.Helper()
	p, err := Start(ctx, t, sc)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// Start launches sc and returns at once. The process is stopped when ctx ends or when
// the test finishes, whichever comes first.
func Start(ctx context.Context, t testing.TB, sc Scenario) (*Process, error) {
	t.Helper()
	bin := Binary(t)
	dir := ScenarioDir(t)
	resolve := func(f string) string {
		if f == "" || filepath.IsAbs(f) || strings.ContainsRune(f, filepath.Separator) {
			return f
		}
		return filepath.Join(dir, f)
	}
	file, ooc := resolve(sc.File), resolve(sc.OutOfCall)
	if file == "" {
		return nil, errors.New("sipptest: Scenario.File is empty")
	}
	for _, f := range []string{file, ooc} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("sipptest: scenario: %w", err)
		}
	}
	if usesPCAP(file, ooc) {
		if err := CanPlayPCAP(); err != nil {
			t.Fatalf("sipptest: %s plays RTP from a pcap, which needs a raw socket (root or CAP_NET_RAW): %v", filepath.Base(file), err)
		}
	}
	if sc.LocalPort == 0 {
		sc.LocalPort = FreeUDPPort(t)
	}
	if sc.MediaPort == 0 {
		sc.MediaPort = FreeMediaPort(t)
	}
	if sc.Calls == 0 {
		sc.Calls = 1
	}
	if sc.Timeout == 0 {
		sc.Timeout = 30 * time.Second
	}
	work := t.TempDir()
	res := &Result{Dir: work, LocalPort: sc.LocalPort, MediaPort: sc.MediaPort}

	var args []string
	if sc.Remote != "" {
		args = append(args, sc.Remote)
	}
	args = append(args,
		"-sf", file,
		"-nostdin",
		"-t", "u1", // UDP, one socket for every call
		"-i", "127.0.0.1",
		"-mi", "127.0.0.1",
		"-p", strconv.Itoa(sc.LocalPort),
		"-mp", strconv.Itoa(sc.MediaPort),
		// The control socket defaults to 8888 and counts up when busy; give each run
		// its own so nothing depends on what else listens there.
		"-cp", strconv.Itoa(FreeUDPPort(t)),
		"-m", strconv.Itoa(sc.Calls),
		"-timeout", fmt.Sprintf("%dms", sc.Timeout.Milliseconds()),
		"-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(work, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(work, "errors.log"),
		"-trace_logs", "-log_file", filepath.Join(work, "logs.log"),
	)
	if ooc != "" {
		args = append(args, "-oocsf", ooc)
	}
	if sc.Service != "" {
		args = append(args, "-s", sc.Service)
	}
	if sc.AuthUser != "" {
		args = append(args, "-au", sc.AuthUser, "-ap", sc.AuthPass)
	}
	names := make([]string, 0, len(sc.Vars))
	for k := range sc.Vars {
		names = append(names, k)
	}
	sort.Strings(names) // stable command lines in failure messages
	for _, k := range names {
		args = append(args, "-set", k, sc.Vars[k])
	}
	args = append(args, sc.ExtraArgs...)
	res.Args = append([]string{bin}, args...)

	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sipptest: start sipp: %w", err)
	}
	p := &Process{t: t, cmd: cmd, res: res, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		res.Stdout, res.Stderr = stdout.String(), stderr.String()
		res.ExitCode = cmd.ProcessState.ExitCode()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			p.err = fmt.Errorf("sipptest: wait for sipp: %w", err)
		}
		p.collect()
		close(p.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			p.signalStop()
		case <-p.done:
		}
	}()
	t.Cleanup(func() {
		res, err := p.Stop()
		if err != nil {
			t.Errorf("sipptest: %v", err)
		}
		// The work directory goes with the test: keep what explains a failure.
		if t.Failed() {
			t.Logf("sipp %s\nexit %d (stopped: %v)\n--- errors:\n%s\n--- logs:\n%s\n--- messages:\n%s",
				filepath.Base(file), res.ExitCode, res.Stopped, res.Errors, res.Logs, tail(res.Messages, 8000))
		}
	})
	return p, nil
}

var (
	successfulRE = regexp.MustCompile(`(?m)^\s*Successful call\s*\|.*\|\s*(\d+)\s*$`)
	failedRE     = regexp.MustCompile(`(?m)^\s*Failed call\s*\|.*\|\s*(\d+)\s*$`)
)

// collect reads the logs and the last statistics screen SIPp printed on exit.
func (p *Process) collect() {
	r := p.res
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(r.Dir, name)) // absent when nothing was logged
		return string(b)
	}
	r.Messages, r.Errors, r.Logs = read("messages.log"), read("errors.log"), read("logs.log")
	last := func(re *regexp.Regexp) int {
		m := re.FindAllStringSubmatch(r.Stdout, -1)
		if len(m) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(m[len(m)-1][1])
		return n
	}
	r.Successful, r.Failed = last(successfulRE), last(failedRE)
	p.stopMu.Lock()
	r.Stopped = p.stop
	p.stopMu.Unlock()
}

// signalStop asks SIPp to end: on SIGTERM it aborts its calls, prints its statistics
// and exits 0 at once (checked on 3.6.1); SIGKILL follows if it has not within 5 s.
func (p *Process) signalStop() {
	p.once.Do(func() {
		p.stopMu.Lock()
		p.stop = true
		p.stopMu.Unlock()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		go func() {
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}()
	})
}

// Wait waits for SIPp to exit on its own (its -timeout bounds that) and returns the
// result.
func (p *Process) Wait() (*Result, error) {
	<-p.done
	return p.res, p.err
}

// Stop ends SIPp if it is still running and returns the result. Result.Stopped tells
// whether it had to be stopped.
func (p *Process) Stop() (*Result, error) {
	select {
	case <-p.done:
	default:
		p.signalStop()
	}
	return p.Wait()
}

// Done is closed when SIPp has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// LocalAddr is SIPp's SIP address, 127.0.0.1:-p.
func (p *Process) LocalAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.res.LocalPort) }

// MediaPort is SIPp's -mp.
func (p *Process) MediaPort() int { return p.res.MediaPort }

// WaitMessage polls the run's -trace_msg log until it contains substr, SIPp exits or
// ctx ends; use it to wait for "an agent has registered" before placing a call. SIPp
// writes each message to the log as it sends or receives it.
func (p *Process) WaitMessage(ctx context.Context, substr string) error {
	path := filepath.Join(p.res.Dir, "messages.log")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(substr)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sipptest: %q not in sipp's message log: %w\n%s", substr, context.Cause(ctx), tail(string(b), 4000))
		case <-p.done:
			b, _ = os.ReadFile(path)
			if bytes.Contains(b, []byte(substr)) {
				return nil
			}
			return fmt.Errorf("sipptest: sipp exited (%d) before %q was in its message log\n%s", p.res.ExitCode, substr, tail(string(b), 4000))
		case <-tick.C:
		}
	}
}

// WaitSuccess waits for the run and fails t unless exactly calls calls succeeded.
func (p *Process) WaitSuccess(t testing.TB, calls int) *Result {
	t.Helper()
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(calls); err != nil {
		t.Fatal(err)
	}
	return res
}

// Command hotline-bench measures how many IVR calls a second hotline takes with zero
// failed calls. It starts hotline (a binary built beforehand) on free loopback ports,
// runs SIPp with testdata/sipp/bench_ivr.xml (answer, menu prompt for -hold, hang-up)
// at rising rates, and stops at the first rate with a failed call or that SIPp cannot
// keep up. Beside it runs the same ladder of SIPp against SIPp's built-in uas: the
// calibration row, what the load generator itself drives on this box.
//
// With -rows it also runs (or runs only) two media rows, which hold many calls up at
// once and measure their RTP at an RTP sink inside the bench (sink.go, media.go):
// playback (callers waiting in a queue nobody serves hear its music, recorded; the
// sink measures hotline's pacer: loss and RFC 3550 jitter) and bridged (callers
// connected to registered agents, hotline relaying the caller's audio to the agent
// leg, which is the sink; recorded; hotline's RSS idle and per call). Each level is
// run -repeat times and the medians are reported, beside a SIPp-against-SIPp
// calibration row.
//
// It prints one summary table on stdout (progress goes to stderr) and, with -write,
// updates the generated sections of docs/performance.md (only those of the rows run).
//
//	go run ./cmd/hotline-bench -hotline bin/hotline [-write docs/performance.md] [-gobench FILE]
//	go run ./cmd/hotline-bench -hotline bin/hotline -rows playback,bridged [-playback-calls 1500,2000] [-bridged-calls 1000,2000] [-repeat 3]
//
// All traffic stays on 127.0.0.1, every step is bounded in calls and time, and the
// children (hotline, SIPp) die with the bench.
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	hotline     string
	sipp        string
	scenario    string
	rates       []int
	seconds     time.Duration
	hold        time.Duration
	rtpPorts    string
	write       string
	gobench     string
	calibrate   bool
	minAchieved float64
	budget      time.Duration
	workDir     string
	keepData    bool
	rows        map[string]bool // ivr, playback, bridged
	media       mediaPlan
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hotline-bench:", err)
		return 1
	}
	printSummary(stdout, rep)
	if o.write != "" {
		if err := updateDoc(o.write, rep); err != nil {
			fmt.Fprintln(stderr, "hotline-bench:", err)
			return 1
		}
		fmt.Fprintf(stderr, "hotline-bench: wrote %s\n", o.write)
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("hotline-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	rates := fs.String("rates", "25,50,100,200,300,400,600,800,1000,1200,1500,2000", "rising call rates (calls/s), comma-separated")
	fs.StringVar(&o.hotline, "hotline", "bin/hotline", "hotline binary to run (built beforehand: make build)")
	fs.StringVar(&o.sipp, "sipp", "sipp", "SIPp binary")
	fs.StringVar(&o.scenario, "scenario", "testdata/sipp/bench_ivr.xml", "SIPp scenario of one call")
	fs.DurationVar(&o.seconds, "seconds", 5*time.Second, "how long each rate is offered (whole seconds; calls = rate × seconds)")
	fs.DurationVar(&o.hold, "hold", 2*time.Second, "how long each call listens to the IVR prompt before hanging up")
	fs.StringVar(&o.rtpPorts, "rtp-ports", "40000-59999", "hotline's RTP port range (kept apart from the ports the end-to-end tests pick below the ephemeral range)")
	fs.StringVar(&o.write, "write", "", "update the generated sections of this markdown file (docs/performance.md)")
	fs.StringVar(&o.gobench, "gobench", "", "output of `go test -bench` to put into the -write file as the Go benchmark table")
	fs.BoolVar(&o.calibrate, "calibrate", true, "also run the ladder of SIPp against SIPp's built-in uas")
	fs.Float64Var(&o.minAchieved, "min-achieved", 0.9, "a rate counts only if SIPp started calls at least this share of it")
	fs.DurationVar(&o.budget, "budget", 8*time.Minute, "stop climbing a ladder once the whole run has taken this long")
	fs.StringVar(&o.workDir, "workdir", "", "directory for logs and SIPp traces (default: a new one under $TMPDIR, kept)")
	fs.BoolVar(&o.keepData, "keep-data", false, "keep hotline's recordings and database (large) in the work directory")
	rowsFlag := fs.String("rows", "ivr", "rows to run, comma-separated: ivr (the cps ladder), playback (calls held on a looped prompt, RTP loss and jitter at the bench's sink), bridged (caller↔agent calls relayed by hotline, RTP at the sink, RSS per call)")
	playbackCalls := fs.String("playback-calls", "1500,2000", "playback row: calls held up at once, rising; the climb stops after the first level whose calls fail or go silent at the sink")
	bridgedCalls := fs.String("bridged-calls", "1000,2000", "bridged row: calls held up at once, rising (1000 is the target, 2000 the stretch); the climb stops like -playback-calls")
	fs.IntVar(&o.media.repeat, "repeat", 3, "media rows: runs per level (the median is reported)")
	fs.IntVar(&o.media.rate, "media-rate", 200, "media rows: calls per second while ramping up")
	fs.DurationVar(&o.media.plateau, "plateau", 10*time.Second, "media rows: how long the sink measures once every call is up")
	fs.DurationVar(&o.media.settle, "settle", 3*time.Second, "media rows: wait after the last call started before measuring")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.rows = map[string]bool{}
	for _, r := range strings.Split(*rowsFlag, ",") {
		r = strings.TrimSpace(r)
		switch r {
		case "ivr", "playback", "bridged":
			o.rows[r] = true
		default:
			fmt.Fprintf(stderr, "hotline-bench: -rows: unknown row %q (ivr, playback, bridged)\n", r)
			return nil, errors.New("usage")
		}
	}
	o.media.calls = map[string][]int{}
	for kind, list := range map[string]string{"playback": *playbackCalls, "bridged": *bridgedCalls} {
		if !o.rows[kind] {
			continue
		}
		for _, f := range strings.Split(list, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				fmt.Fprintf(stderr, "hotline-bench: -%s-calls: %q is not a positive integer\n", kind, f)
				return nil, errors.New("usage")
			}
			o.media.calls[kind] = append(o.media.calls[kind], n)
		}
	}
	for _, kind := range []string{"playback", "bridged"} {
		if o.rows[kind] {
			o.media.kinds = append(o.media.kinds, kind)
		}
	}
	if o.media.repeat < 1 || o.media.rate < 1 || o.media.plateau < time.Second {
		fmt.Fprintln(stderr, "hotline-bench: -repeat and -media-rate must be positive, -plateau at least 1s")
		return nil, errors.New("usage")
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hotline-bench: unexpected argument %q\n", fs.Arg(0))
		return nil, errors.New("usage")
	}
	for _, f := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 {
			fmt.Fprintf(stderr, "hotline-bench: -rates: %q is not a positive integer\n", f)
			return nil, errors.New("usage")
		}
		if len(o.rates) > 0 && r <= o.rates[len(o.rates)-1] {
			fmt.Fprintln(stderr, "hotline-bench: -rates must rise")
			return nil, errors.New("usage")
		}
		o.rates = append(o.rates, r)
	}
	if o.seconds < time.Second || o.seconds%time.Second != 0 {
		fmt.Fprintln(stderr, "hotline-bench: -seconds must be whole seconds, at least 1s")
		return nil, errors.New("usage")
	}
	if o.hold < 0 {
		fmt.Fprintln(stderr, "hotline-bench: -hold must not be negative")
		return nil, errors.New("usage")
	}
	return o, nil
}

// report is everything one run measured.
type report struct {
	When       time.Time
	Machine    machine
	GoVersion  string // the toolchain running the bench
	HotlineGo  string // the toolchain that built hotline
	SIPp       string
	Command    string
	Opts       *options
	IVR        []step
	Calib      []step
	IVRErr     string // why the IVR ladder ended early, if it could not run
	CalibErr   string
	HotlineLog logSummary
	WorkDir    string
	GoBench    *goBench
	LoadBefore string // /proc/loadavg before the run: other work on the box
	Media      []mediaRow
}

func bench(ctx context.Context, o *options, progress io.Writer) (*report, error) {
	started := time.Now()
	rep := &report{When: started, Machine: readMachine(), GoVersion: runtime.Version(), Opts: o}
	rep.Command = "go run ./cmd/hotline-bench " + strings.Join(os.Args[1:], " ")
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.LoadBefore = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	var err error
	if o.scenario, err = filepath.Abs(o.scenario); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.scenario); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if rep.SIPp, err = sippVersion(o.sipp); err != nil {
		return nil, err
	}
	if bi, err := buildinfo.ReadFile(o.hotline); err == nil {
		rep.HotlineGo = bi.GoVersion
	} else {
		return nil, fmt.Errorf("hotline binary %s: %w (build it first: make build)", o.hotline, err)
	}
	if o.gobench != "" {
		b, err := os.ReadFile(o.gobench)
		if err != nil {
			return nil, fmt.Errorf("-gobench: %w", err)
		}
		rep.GoBench = parseGoBench(string(b))
	}
	if o.workDir == "" {
		if o.workDir, err = os.MkdirTemp("", "hotline-bench-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		return nil, err
	}
	rep.WorkDir = o.workDir
	fmt.Fprintf(progress, "hotline-bench: %s; SIPp %s; logs and traces in %s\n", rep.Machine, rep.SIPp, o.workDir)

	deadline := started.Add(o.budget)
	if len(o.media.kinds) > 0 {
		rep.Media = mediaRows(ctx, o, progress, o.media)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		deadline = time.Now().Add(o.budget) // the ladder's budget is its own
	}
	if !o.rows["ivr"] {
		return rep, nil
	}
	rep.IVR, rep.HotlineLog, err = ivrLadder(ctx, o, progress, deadline)
	if err != nil {
		rep.IVRErr = err.Error()
		fmt.Fprintln(progress, "hotline-bench: IVR ladder:", err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if o.calibrate {
		rep.Calib, err = calibrationLadder(ctx, o, progress, deadline)
		if err != nil {
			rep.CalibErr = err.Error()
			fmt.Fprintln(progress, "hotline-bench: calibration ladder:", err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if rep.IVRErr != "" && len(rep.IVR) == 0 {
		return rep, errors.New("the IVR ladder did not run: " + rep.IVRErr)
	}
	return rep, nil
}

var sippVersionRE = regexp.MustCompile(`SIPp v?([0-9][0-9.]*)`)

func sippVersion(bin string) (string, error) {
	out, _ := exec.Command(bin, "-v").CombinedOutput() // SIPp exits non-zero after -v
	m := sippVersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s -v: no SIPp version in %q (install sip-tester: make deps)", bin, strings.TrimSpace(string(out)))
	}
	return string(m[1]), nil
}

// ladder climbs rates until a step is not clean, the budget is spent or ctx ends.
func ladder(ctx context.Context, o *options, progress io.Writer, deadline time.Time, srv server, dir string) ([]step, error) {
	var steps []step
	for _, rate := range o.rates {
		if ctx.Err() != nil {
			return steps, ctx.Err()
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(progress, "  %s: time budget spent, not trying %d cps\n", srv.label, rate)
			break
		}
		st, err := runStep(ctx, o, srv, rate, filepath.Join(dir, fmt.Sprintf("rate-%04d", rate)))
		if err != nil {
			return steps, err
		}
		steps = append(steps, st)
		fmt.Fprintln(progress, "  "+srv.label+": "+st.progressLine())
		if st.Verdict != verdictOK {
			break
		}
	}
	return steps, nil
}

func ivrLadder(ctx context.Context, o *options, progress io.Writer, deadline time.Time) ([]step, logSummary, error) {
	dir := filepath.Join(o.workDir, "ivr")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, logSummary{}, err
	}
	h, err := startHotline(ctx, o, dir)
	if err != nil {
		return nil, logSummary{}, err
	}
	fmt.Fprintf(progress, "hotline-bench: hotline pid %d on sip %s, http %s; stderr in %s\n", h.cmd.Process.Pid, h.sipAddr, h.httpAddr, h.stderrPath)
	srv := server{label: "ivr  ", sipAddr: h.sipAddr, sipPort: h.sipPort, pid: h.cmd.Process.Pid, metrics: newMetricsClient(h.httpAddr)}
	steps, lerr := ladder(ctx, o, progress, deadline, srv, dir)
	killed := h.stop()
	sum := summarizeLog(h.stderrPath)
	if killed {
		sum.Notes = append(sum.Notes, "hotline did not exit within 15 s of SIGTERM and was killed")
	}
	if h.exitErr != nil && !killed {
		sum.Notes = append(sum.Notes, "hotline exit: "+h.exitErr.Error())
	}
	if !o.keepData {
		_ = os.RemoveAll(filepath.Join(dir, "data"))
	}
	return steps, sum, lerr
}

func calibrationLadder(ctx context.Context, o *options, progress io.Writer, deadline time.Time) ([]step, error) {
	dir := filepath.Join(o.workDir, "calibration")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freeUDPPorts(1)
	if err != nil {
		return nil, err
	}
	mp, err := freeUDPPorts(4)
	if err != nil {
		return nil, err
	}
	args := []string{"-sn", "uas", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mp),
		"-l", "1000000", "-nostdin", "-buff_size", strconv.Itoa(sippBufferBytes), "-trace_screen", "-screen_file", "uas-screen.log", "-trace_err", "-error_file", "uas-errors.log"}
	cmd := exec.Command(o.sipp, args...)
	cmd.Dir = dir
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sipp uas: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer stopProcess(cmd, done, 5*time.Second)
	if err := waitUDPBound(port, 10*time.Second, done); err != nil {
		return nil, fmt.Errorf("sipp uas: %w", err)
	}
	fmt.Fprintf(progress, "hotline-bench: SIPp uas pid %d on 127.0.0.1:%d\n", cmd.Process.Pid, port)
	srv := server{label: "calib", sipAddr: fmt.Sprintf("127.0.0.1:%d", port), sipPort: port, pid: cmd.Process.Pid}
	return ladder(ctx, o, progress, deadline, srv, dir)
}

type hotlineProc struct {
	cmd        *exec.Cmd
	done       chan struct{}
	exitErr    error
	sipAddr    string
	sipPort    int
	httpAddr   string
	stderrPath string
	files      []*os.File
}

// freeHotlineAddrs picks loopback addresses for a hotline's SIP (UDP and
// TCP free) and HTTP listeners.
func freeHotlineAddrs() (sipAddr, httpAddr string, err error) {
	sipPort, err := freeSIPPort()
	if err != nil {
		return "", "", err
	}
	httpPort, err := freeTCPPort()
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", sipPort), fmt.Sprintf("127.0.0.1:%d", httpPort), nil
}

func startHotline(ctx context.Context, o *options, dir string) (*hotlineProc, error) {
	sipAddr, httpAddr, err := freeHotlineAddrs()
	if err != nil {
		return nil, err
	}
	args := []string{"run", "-sip", sipAddr, "-http", httpAddr, "-data", filepath.Join(dir, "data"),
		"-rtp-ports", o.rtpPorts, "-log-level", "warn"}
	return startHotlineArgs(ctx, o, dir, sipAddr, httpAddr, args)
}

// startHotlineArgs starts hotline with args, listening on sipAddr and httpAddr, and
// waits until it is healthy.
func startHotlineArgs(ctx context.Context, o *options, dir, sipAddr, httpAddr string, args []string) (*hotlineProc, error) {
	sipPort := 0
	if ap, err := netip.ParseAddrPort(sipAddr); err == nil {
		sipPort = int(ap.Port())
	}
	h := &hotlineProc{
		sipAddr:    sipAddr,
		sipPort:    sipPort,
		httpAddr:   httpAddr,
		stderrPath: filepath.Join(dir, "hotline.stderr"),
		done:       make(chan struct{}),
	}
	if err := os.WriteFile(filepath.Join(dir, "hotline-command.txt"), []byte(o.hotline+" "+strings.Join(args, " ")+"\n"), 0o644); err != nil {
		return nil, err
	}
	stdout, err := os.Create(filepath.Join(dir, "hotline.stdout"))
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(h.stderrPath)
	if err != nil {
		stdout.Close()
		return nil, err
	}
	h.files = []*os.File{stdout, stderr}
	h.cmd = exec.Command(o.hotline, args...)
	h.cmd.Stdout, h.cmd.Stderr = stdout, stderr
	dieWithParent(h.cmd)
	if err := h.cmd.Start(); err != nil {
		h.closeFiles()
		return nil, fmt.Errorf("start hotline: %w", err)
	}
	go func() { h.exitErr = h.cmd.Wait(); close(h.done) }()
	if err := h.waitHealthy(ctx, 20*time.Second); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

func (h *hotlineProc) waitHealthy(ctx context.Context, deadline time.Duration) error {
	end := time.Now().Add(deadline)
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.httpAddr+"/healthz", nil)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/healthz: %s", res.Status)
		}
		last = err
		select {
		case <-h.done:
			return fmt.Errorf("hotline exited during start-up (%v); see %s", h.exitErr, h.stderrPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(end) {
			return fmt.Errorf("hotline not healthy after %s: %v", deadline, last)
		}
	}
}

// stop ends hotline the way an operator does (SIGTERM: live calls are hung up and
// written), killing it after a deadline.
func (h *hotlineProc) stop() (killed bool) {
	killed = stopProcess(h.cmd, h.done, 15*time.Second)
	h.closeFiles()
	return killed
}

func (h *hotlineProc) closeFiles() {
	for _, f := range h.files {
		f.Close()
	}
	h.files = nil
}

package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// buildHotline compiles cmd/hotline into dir and returns the binary's path. The
// module root comes from `go env GOMOD`, so the test does not depend on where go
// test runs it from.
func buildHotline(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("go env GOMOD: not inside the hotline module")
	}
	bin := filepath.Join(dir, "hotline")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hotline")
	cmd.Dir = filepath.Dir(gomod)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hotline: %v\n%s", err, b)
	}
	return bin
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hotlineProcess is the real binary running as a child process.
type hotlineProcess struct {
	t        *testing.T
	cmd      *exec.Cmd
	stdout   *lockedBuffer
	stderr   *lockedBuffer
	done     chan struct{}
	sipAddr  string
	httpAddr string
}

var (
	bannerSIP  = regexp.MustCompile(`(?m)^\s+SIP\s+(\S+) \(UDP and TCP\)`)
	bannerHTTP = regexp.MustCompile(`(?m)^\s+HTTP\s+http://(\S+)\s`)
)

// startHotlineProcess runs `hotline run` with args and waits until its banner
// names the bound addresses and /healthz answers 200.
func startHotlineProcess(t *testing.T, bin string, args ...string) *hotlineProcess {
	t.Helper()
	p := &hotlineProcess{t: t, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"run"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start hotline: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("hotline (pid %d) stdout:\n%s\nstderr:\n%s", p.cmd.Process.Pid, p.stdout, tailString(p.stderr.String(), 8000))
		}
	})
	waitFor(t, 30*time.Second, "hotline banner", func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("hotline exited during start-up (%v)\nstderr:\n%s", p.cmd.ProcessState, p.stderr)
		default:
		}
		out := p.stdout.String()
		sipM, httpM := bannerSIP.FindStringSubmatch(out), bannerHTTP.FindStringSubmatch(out)
		if sipM == nil || httpM == nil {
			return false, fmt.Sprintf("stdout %q", out)
		}
		p.sipAddr, p.httpAddr = sipM[1], httpM[1]
		return true, ""
	})
	waitFor(t, 10*time.Second, "hotline /healthz", func() (bool, string) {
		res, err := http.Get("http://" + p.httpAddr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK, res.Status
	})
	return p
}

// api fetches path with the demo token and returns the status and the body.
func (p *hotlineProcess) api(path string) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+p.httpAddr+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer demo-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	return res.StatusCode, b
}

// post sends an empty POST to path with the demo token.
func (p *hotlineProcess) post(path string) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.httpAddr+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer demo-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (p *hotlineProcess) calls() []api.CallJSON {
	p.t.Helper()
	code, b := p.api("/api/v1/calls")
	if code != http.StatusOK {
		p.t.Fatalf("GET /api/v1/calls: %d %s", code, b)
	}
	var out struct{ Calls []api.CallJSON }
	if err := json.Unmarshal(b, &out); err != nil {
		p.t.Fatalf("GET /api/v1/calls: %v\n%s", err, b)
	}
	return out.Calls
}

// kill sends SIGKILL: no shutdown code of hotline runs.
func (p *hotlineProcess) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill -9 hotline: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatal("hotline still running 10 s after SIGKILL")
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		p.t.Fatalf("hotline ended with %v, want killed by SIGKILL (it must not have stopped on its own)", p.cmd.ProcessState)
	}
}

// TestKillNineLeavesRepairableState: hotline is killed with SIGKILL while a caller
// waits in a queue with music and is recorded. The next start on the same data
// directory must close the dangling CDR with cause system-restart and repair the
// recording's WAV header, so the download is a valid stereo WAV as long as what was
// written before the crash.
func TestKillNineLeavesRepairableState(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	bin := buildHotline(t, t.TempDir())
	data := t.TempDir()
	rtpLow := sipptest.FreePortRange(t, 40)
	args := []string{
		"-sip", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data", data,
		"-rtp-ports", fmt.Sprintf("%d-%d", rtpLow, rtpLow+39),
	}
	first := startHotlineProcess(t, bin, args...)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	carrier, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "carrier_wait_hangup.xml", Remote: first.sipAddr, Service: "100",
		Vars: map[string]string{"digit": "1", "wait_ms": "60000"}, Timeout: 80 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}

	var live api.CallJSON
	waitFor(t, 15*time.Second, "the call in the CDR list, not ended", func() (bool, string) {
		calls := first.calls()
		if len(calls) != 1 {
			return false, fmt.Sprintf("%d calls", len(calls))
		}
		live = calls[0]
		return live.End == nil && live.Queue == "sales", fmt.Sprintf("%+v", live)
	})

	// The recording must have more than a second of stereo 16-bit audio on disk
	// before the crash: 44 header bytes + 8000 frames × 4 bytes.
	const oneSecond = 44 + 8000*4
	var recPath string
	waitFor(t, 15*time.Second, "the recording past 1 s of audio", func() (bool, string) {
		var found []string
		err := filepath.WalkDir(filepath.Join(data, "recordings"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".wav") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil || len(found) != 1 {
			return false, fmt.Sprintf("recordings %v (err %v)", found, err)
		}
		info, err := os.Stat(found[0])
		if err != nil {
			return false, err.Error()
		}
		recPath = found[0]
		return info.Size() > oneSecond, fmt.Sprintf("%s has %d bytes", found[0], info.Size())
	})
	first.kill()
	select {
	case <-carrier.Done():
		t.Fatal("SIPp ended before the restart: the call was not left open by the crash")
	default:
	}

	second := startHotlineProcess(t, bin, args...)
	calls := second.calls()
	if len(calls) != 1 {
		t.Fatalf("after restart: %d calls, want the one cut by the crash: %+v", len(calls), calls)
	}
	cdr := calls[0]
	if cdr.CallID != live.CallID {
		t.Fatalf("after restart: call %s, want %s", cdr.CallID, live.CallID)
	}
	if cdr.End == nil || cdr.HangupCause != "system-restart" {
		t.Errorf("after restart: end %v, hangup_cause %q; want an end and system-restart (CDR %+v)", cdr.End, cdr.HangupCause, cdr)
	}
	if cdr.End != nil && cdr.End.Before(cdr.Start) {
		t.Errorf("after restart: end %v before start %v", cdr.End, cdr.Start)
	}
	// The timeline the crash cut is closed at the restart too: its last
	// stage ends with the call, and the stages still add up.
	code, body := second.api("/api/v1/calls/" + cdr.CallID + "/timeline")
	var tl api.TimelineJSON
	if err := json.Unmarshal(body, &tl); code != http.StatusOK || err != nil {
		t.Fatalf("timeline after restart: %d %s", code, body)
	}
	if n := len(tl.Stages); n == 0 || tl.Stages[n-1].End == nil || tl.Stages[n-1].Result != "system-restart" ||
		tl.UnaccountedSec < -0.01 || tl.UnaccountedSec > 0.01 {
		t.Errorf("timeline after restart: %+v; want its last stage closed with system-restart and no gap", tl)
	}

	path := cdr.RecordingURL
	if path == "" {
		path = "/api/v1/recordings/" + cdr.CallID
	}
	code, wav := second.api(path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, wav)
	}
	onDisk, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wav, onDisk) {
		t.Errorf("download has %d bytes, file on disk %d: want the repaired file itself", len(wav), len(onDisk))
	}
	checkRepairedWAV(t, wav)
	w := parseWAV(t, wav)
	if w.channels != 2 || w.rate != 8000 || w.bits != 16 {
		t.Errorf("recording format %d ch %d Hz %d bit, want 2 ch 8000 Hz 16 bit", w.channels, w.rate, w.bits)
	}
	if secs := float64(len(w.left)) / 8000; secs < 1 {
		t.Errorf("recording holds %.2f s of audio, want at least the 1 s written before the crash", secs)
	}

	res, err := carrier.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stopped {
		t.Errorf("SIPp ended on its own (exit %d) though its call was still waiting", res.ExitCode)
	}
}

// checkRepairedWAV verifies what recorder.Repair promises: the RIFF size and the
// data chunk size describe the file exactly, and the data is whole stereo frames.
func checkRepairedWAV(t *testing.T, b []byte) {
	t.Helper()
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("not a RIFF/WAVE file (%d bytes)", len(b))
	}
	if riff := binary.LittleEndian.Uint32(b[4:8]); int(riff) != len(b)-8 {
		t.Errorf("RIFF size %d, want file length - 8 = %d", riff, len(b)-8)
	}
	off := 12
	for off+8 <= len(b) {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		if id == "data" {
			if rest := len(b) - off - 8; size != rest {
				t.Errorf("data size %d, want the %d bytes that follow its header", size, rest)
			}
			if size%4 != 0 {
				t.Errorf("data size %d is not whole 16-bit stereo frames", size)
			}
			return
		}
		off += 8 + size + size%2
	}
	t.Errorf("no data chunk in %d bytes (chunks end at %d)", len(b), off)
}

package app_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/store"
)

// TestCarrierCallReachesAgent is the foundation path end to end: an agent's SIPp
// phone registers with digest, a carrier's SIPp call presses 2 as RFC 4733, waits in
// support, is offered to 1003, talks (440 Hz from the caller, 1 kHz from the agent)
// and hangs up. Then the CDR, the recording and the metrics must all agree.
func TestCarrierCallReachesAgent(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"hangup": "remote"})

	h.call(ctx, "carrier_call.xml", "8005551000", map[string]string{"digit": "2", "talk_ms": "4000"})
	finished(t, agent, "agent")

	cdr := h.waitEndedCall()
	if cdr.Result != "completed" || cdr.AgentID != "1003" || cdr.Queue != "support" || cdr.IVRDigits != "2" || cdr.IVRPath != "welcome>support" ||
		cdr.HangupBy != "caller" || cdr.Called != "8005551000" || cdr.Trunk != "carrier" || cdr.Answer == nil {
		t.Fatalf("CDR = %+v", cdr)
	}
	if cdr.TalkSec < 2 || cdr.TalkSec > 5 {
		t.Errorf("talk time %.2fs, want about 3.5s (4 s after the key press, less queue and ring)", cdr.TalkSec)
	}
	if cdr.QueueWaitSec <= 0 || cdr.QueueWaitSec > 3 {
		t.Errorf("queue wait %.2fs, want a short positive wait", cdr.QueueWaitSec)
	}
	h.waitAgent("1003", "logged-out") // the SIPp agent unregisters after its call

	// Why people call: one call, through the menu to support, not contained.
	var reasons struct {
		Calls, Contained int
		Containment      *float64
		Reasons          []api.ReasonJSON
	}
	if status := h.get("/api/v1/reports/reasons?group_by=menu_path", &reasons); status != 200 ||
		reasons.Calls != 1 || reasons.Contained != 0 || reasons.Containment == nil || *reasons.Containment != 0 ||
		len(reasons.Reasons) != 1 || reasons.Reasons[0] != (api.ReasonJSON{Key: "welcome>support", Calls: 1, Queued: 1, Answered: 1}) {
		t.Errorf("reasons report: %d %+v", status, reasons)
	}

	// The recording: stereo 8 kHz 16-bit, as long as the call, the caller's tone on
	// the left and the agent's tone (relayed through hotline) on the right.
	req, _ := http.NewRequest(http.MethodGet, h.url(cdr.RecordingURL), nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wavBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("recording: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	w := parseWAV(t, wavBytes)
	if w.channels != 2 || w.rate != 8000 || w.bits != 16 {
		t.Fatalf("recording format %d ch %d Hz %d bit", w.channels, w.rate, w.bits)
	}
	callLen := cdr.End.Sub(*cdr.Answer).Seconds()
	recLen := float64(len(w.left)) / 8000
	if math.Abs(recLen-callLen) > 0.75 {
		t.Errorf("recording is %.2fs, call was %.2fs", recLen, callLen)
	}
	// The last 1.5 s of the call are talk time on both sides.
	talk := int(1.5 * 8000)
	end := len(w.left) - 1600 // leave the hangup's last 200 ms alone
	if end-talk < 0 {
		t.Fatalf("recording too short: %d samples", len(w.left))
	}
	left, right := w.left[end-talk:end], w.right[end-talk:end]
	if lv := toneLevel(left, 440); lv < 0.3 || rms(left) < 500 {
		t.Errorf("left channel: 440 Hz level %.2f, rms %.0f; want the caller's tone", lv, rms(left))
	}
	if rv := toneLevel(right, 1000); rv < 0.3 || rms(right) < 500 {
		t.Errorf("right channel: 1 kHz level %.2f, rms %.0f; want the agent's tone", rv, rms(right))
	}
	// Range requests serve part of the file (players seek with them).
	req.Header.Set("Range", "bytes=0-43")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || len(part) != 44 {
		t.Errorf("range request: %d, %d bytes", resp.StatusCode, len(part))
	}

	m := h.metrics()
	for series, want := range map[string]float64{
		`hotline_calls_total{result="completed"}`:                            1,
		`hotline_acd_offers_total{result="answered"}`:                        1,
		`hotline_calls_dtmf_digits_total`:                                    1,
		`hotline_ivr_node_visits_total{flow="main",node="welcome"}`:          1,
		`hotline_ivr_menu_choices_total{flow="main",key="2",node="welcome"}`: 1,
		`hotline_sip_responses_total{code="200",method="REGISTER"}`:          2,
	} {
		if got := metricValue(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := metricValue(m, `hotline_media_rtp_packets_total{direction="in"}`); got < 200 {
		t.Errorf("rtp packets in = %v, want both legs' audio", got)
	}
	// The caller entered support with 1003 free: one first offer, at once
	// (a second is far more than any delay of hotline's own).
	if n, sum := metricValue(m, "hotline_acd_first_offer_delay_seconds_count"), metricValue(m, "hotline_acd_first_offer_delay_seconds_sum"); n != 1 || sum > 1 {
		t.Errorf("first offer delay: %v offers, %v s; want one, at once", n, sum)
	}
	// Nothing of the call may outlive it: no endpoint, no port, no call.
	waitFor(t, 5*time.Second, "media and calls released", func() (bool, string) {
		m := h.metrics()
		eps, active := metricValue(m, "hotline_media_endpoints"), metricValue(m, "hotline_calls_active")
		free := metricValue(m, "hotline_media_ports_free")
		return eps == 0 && active == 0 && free == 20, fmt.Sprintf("endpoints %v, active calls %v, free ports %v", eps, active, free)
	})
}

// TestCallerHangsUpWhileAgentRings: the agent's phone rings; the caller gives up;
// hotline must CANCEL the agent's INVITE and free the agent.
func TestCallerHangsUpWhileAgentRings(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1004", "agent_no_answer.xml", nil)
	h.call(ctx, "carrier_wait_hangup.xml", "100", map[string]string{"digit": "2", "wait_ms": "3000"})
	finished(t, agent, "agent did not see INVITE, 180, CANCEL")
	cdr := h.waitEndedCall()
	if cdr.Result != "abandoned" || cdr.Queue != "support" || cdr.AgentID != "" || cdr.HangupBy != "caller" {
		t.Fatalf("CDR = %+v", cdr)
	}
}

// TestCallerWaitsWithMusicWhenNoAgent: nobody is logged in; the caller waits in the
// queue hearing the announcement and music, then hangs up.
func TestCallerWaitsWithMusicWhenNoAgent(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carrier, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "carrier_wait_hangup.xml", Remote: h.sipAddr(), Service: "100",
		Vars: map[string]string{"digit": "1", "wait_ms": "4000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a caller waiting in sales", func() (bool, string) {
		var out struct{ Queues []api.QueueJSON }
		h.get("/api/v1/queues", &out)
		for _, q := range out.Queues {
			if q.Name == "sales" && len(q.Waiting) == 1 {
				return true, ""
			}
		}
		return false, "not yet"
	})
	finished(t, carrier, "caller")
	cdr := h.waitEndedCall()
	if cdr.Result != "abandoned" || cdr.Queue != "sales" || cdr.IVRDigits != "1" {
		t.Fatalf("CDR = %+v", cdr)
	}
	// What the caller heard while waiting is on the recording's right channel:
	// never silence for long.
	w := h.recording(cdr.CallID)
	queued := w.right[len(w.right)-3*8000 : len(w.right)-8000]
	if rms(queued) < 300 {
		t.Errorf("right channel rms %.0f while queued: the caller heard silence, want music", rms(queued))
	}
	if got := metricValue(h.metrics(), `hotline_calls_total{result="abandoned"}`); got != 1 {
		t.Errorf("abandoned calls = %v", got)
	}
}

// TestUnansweredOfferGoesToNextAgent: 1003 (longest idle) lets it ring; after the
// ring timeout hotline cancels and offers 1004, who answers.
func TestUnansweredOfferGoesToNextAgent(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) {
		for i := range c.Queues {
			c.Queues[i].RingTimeout = 2 * time.Second
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	first := h.startAgent(ctx, "1003", "agent_no_answer.xml", nil)
	second := h.startAgent(ctx, "1004", "agent_answer.xml", map[string]string{"hangup": "remote"})
	h.call(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "6000"})
	finished(t, first, "1003 should have rung and been canceled")
	finished(t, second, "1004 should have answered")
	cdr := h.waitEndedCall()
	if cdr.Result != "completed" || cdr.AgentID != "1004" {
		t.Fatalf("CDR = %+v", cdr)
	}
	if cdr.QueueWaitSec < 2 {
		t.Errorf("queue wait %.2fs, want at least the 2 s ring timeout", cdr.QueueWaitSec)
	}
	m := h.metrics()
	if got := metricValue(m, `hotline_acd_offers_total{result="ring-timeout"}`); got != 1 {
		t.Errorf("ring-timeout offers = %v\n", got)
	}
}

func (h *hotline) recording(callID string) wavFile {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url("/api/v1/recordings/"+callID), nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("recording: %d %s", resp.StatusCode, b)
	}
	return parseWAV(h.t, b)
}

// TestAgentHangsUpFirst: the agent ends the call; hotline must BYE the caller and
// record who hung up.
func TestAgentHangsUpFirst(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1001", "agent_answer.xml", map[string]string{"hangup": "agent", "talk_ms": "2000"})
	h.call(ctx, "carrier_call.xml", "100", map[string]string{"digit": "1", "hangup": "remote"})
	finished(t, agent, "agent")
	cdr := h.waitEndedCall()
	if cdr.Result != "completed" || cdr.AgentID != "1001" || cdr.Queue != "sales" || cdr.HangupBy != "agent" {
		t.Fatalf("CDR = %+v", cdr)
	}
	if cdr.TalkSec < 1.5 || cdr.TalkSec > 3 {
		t.Errorf("talk %.2fs, want about the agent's 2 s", cdr.TalkSec)
	}
}

// TestSilentCallerGoesToSupport: the demo menu replays once after 5 s of silence,
// then sends the caller to support (welcome 5.5 s + 5 s, twice: about 21 s).
func TestSilentCallerGoesToSupport(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1004", "agent_answer.xml", map[string]string{"hangup": "agent", "talk_ms": "1000"})
	h.call(ctx, "carrier_no_digit.xml", "100", map[string]string{"hangup": "remote"})
	finished(t, agent, "agent")
	cdr := h.waitEndedCall()
	if cdr.Queue != "support" || cdr.IVRDigits != "" || cdr.AgentID != "1004" {
		t.Fatalf("CDR = %+v", cdr)
	}
	inIVR := cdr.End.Sub(*cdr.Answer).Seconds() - cdr.TalkSec - cdr.QueueWaitSec
	if inIVR < 20 || inIVR > 25 {
		t.Errorf("%.1fs in the IVR, want two rounds of prompt and 5 s timeout (about 21 s)", inIVR)
	}
}

func requirePCAP(t *testing.T) {
	t.Helper()
	if err := sipptest.CanPlayPCAP(); err != nil {
		t.Skip(err)
	}
}

// call runs a carrier scenario against hotline and fails unless its one call
// succeeded.
func (h *hotline) call(ctx context.Context, scenario, called string, vars map[string]string) {
	h.t.Helper()
	res, err := sipptest.Run(ctx, h.t, sipptest.Scenario{File: scenario, Remote: h.sipAddr(), Service: called, Vars: vars, Timeout: 60 * time.Second})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		h.t.Fatalf("%s: %v", scenario, err)
	}
}

// finished waits for a SIPp run in the background and fails unless its one call
// went as scripted.
func finished(t *testing.T, p *sipptest.Process, what string) {
	t.Helper()
	t.Logf("waiting for %s", what)
	p.WaitSuccess(t, 1)
}

// TestCallerHangsUpInIVR: a BYE during the menu ends the call with its CDR.
func TestCallerHangsUpInIVR(t *testing.T) {
	t.Parallel()
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.call(ctx, "carrier_no_digit.xml", "100", map[string]string{"wait_ms": "2000"})
	cdr := h.waitEndedCall()
	if cdr.Result != "ivr" || cdr.Queue != "" || cdr.HangupBy != "caller" || cdr.HangupCause != "bye" || cdr.RecordingURL == "" {
		t.Fatalf("CDR = %+v", cdr)
	}
	if w := h.recording(cdr.CallID); rms(w.right) < 300 {
		t.Errorf("right channel rms %.0f: the caller should have heard the menu", rms(w.right))
	}
}

// TestReusedCallIDKeepsCallsApart: a carrier that sends a Call-ID again
// (here the same one for two calls in a row) gets two CDRs, two
// recordings and two timelines; the second call's record is its Call-ID
// with its start time.
func TestReusedCallIDKeepsCallsApart(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	const callID = "reused-call-id@127.0.0.1"
	for i := range 2 {
		p, err := sipptest.Start(ctx, t, sipptest.Scenario{
			File: "carrier_no_digit.xml", Remote: h.sipAddr(), Service: "100", Timeout: 20 * time.Second,
			Vars: map[string]string{"wait_ms": "1000"}, ExtraArgs: []string{"-cid_str", callID},
		})
		if err != nil {
			t.Fatal(err)
		}
		p.WaitSuccess(t, 1)
		waitFor(t, 10*time.Second, fmt.Sprintf("call %d's CDR", i+1), func() (bool, string) {
			var out struct{ Calls []api.CallJSON }
			h.get("/api/v1/calls?limit=5", &out)
			ended := 0
			for _, c := range out.Calls {
				if c.End != nil {
					ended++
				}
			}
			return ended == i+1, fmt.Sprint(ended, " ended")
		})
	}
	var out struct{ Calls []api.CallJSON }
	h.get("/api/v1/calls?limit=5", &out)
	if len(out.Calls) != 2 || out.Calls[1].CallID != callID || !strings.HasPrefix(out.Calls[0].CallID, callID+"~") ||
		out.Calls[0].RecordingURL == out.Calls[1].RecordingURL || !out.Calls[0].Start.After(out.Calls[1].Start) {
		t.Fatalf("calls %+v; want two, the second recorded as the Call-ID with its start", out.Calls)
	}
	for _, c := range out.Calls {
		if w := h.recording(c.CallID); len(w.left) < 4000 {
			t.Errorf("%s: recording of %d samples", c.CallID, len(w.left))
		}
		if tl := h.timeline(c.CallID); len(tl.Stages) == 0 || tl.UnaccountedSec > 0.01 {
			t.Errorf("%s: timeline %+v", c.CallID, tl)
		}
	}
}

// TestDeadOrEndlessCallsAreEnded: a caller whose RTP stops (the pcap ends
// after 5 s) is hung up once calls.rtp_timeout has passed, and any call
// is hung up at calls.max_duration; both keep their CDR with the cause.
func TestDeadOrEndlessCallsAreEnded(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	for _, tc := range []struct {
		name       string
		limits     config.Calls
		cause      string
		minS, maxS float64
	}{
		{"rtp-timeout", config.Calls{RTPTimeout: 1500 * time.Millisecond}, "rtp-timeout", 6, 9},
		{"max-duration", config.Calls{RTPTimeout: time.Minute, MaxDuration: 2 * time.Second}, "max-duration", 1.9, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startHotline(t, func(c *config.Config) { c.Calls = tc.limits })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			h.call(ctx, "carrier_no_digit.xml", "100", map[string]string{"hangup": "remote"})
			cdr := h.waitEndedCall()
			secs := cdr.End.Sub(*cdr.Answer).Seconds()
			if cdr.HangupBy != "system" || cdr.HangupCause != tc.cause || secs < tc.minS || secs > tc.maxS {
				t.Errorf("CDR hung up by %q for %q after %.2f s; want system, %s, in %.1f-%.1f s", cdr.HangupBy, cdr.HangupCause, secs, tc.cause, tc.minS, tc.maxS)
			}
			if got := metricValue(h.metrics(), `hotline_calls_system_hangups_total{cause="`+tc.cause+`"}`); got != 1 {
				t.Errorf("system hangups for %s = %v, want 1", tc.cause, got)
			}
		})
	}
}

// TestShutdownDrainsCalls: a stopping hotline refuses new calls (503)
// while the call in progress goes on to its end, with its normal CDR;
// then it stops without waiting out the drain.
func TestShutdownDrainsCalls(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) { c.Calls.Drain = 20 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	// (1003's SIPp cannot unregister from a stopped hotline: only the
	// caller's side and the CDR tell how the call went.)
	h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	caller, callID := h.callTo1003(ctx, "3000")
	closed := make(chan time.Time, 1)
	go func() {
		h.app.Close()
		closed <- time.Now()
	}()
	waitFor(t, 5*time.Second, "a new call refused while draining", func() (bool, string) {
		_, _, status := newFeaturePhone(t).invite(t, ctx, h, "carrier", "", "100")
		return status == 503, fmt.Sprint(status)
	})
	caller.WaitSuccess(t, 1)
	var stoppedAt time.Time
	select {
	case stoppedAt = <-closed:
	case <-ctx.Done():
		t.Fatal("hotline did not stop after its last call")
	}
	// The store is closed now: read the CDR straight from the database.
	st, err := store.OpenReader(filepath.Join(h.cfg.DataDir, "hotline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	calls, _, err := st.SearchRecordings(ctx, store.RecordingQuery{Limit: 5})
	if err != nil || len(calls) != 1 || calls[0].CallID != callID || calls[0].Result != "completed" || calls[0].HangupBy != "caller" {
		t.Fatalf("after the drain: %+v (%v); want the call completed, hung up by the caller", calls, err)
	}
	if wait := stoppedAt.Sub(calls[0].End); wait > 5*time.Second {
		t.Errorf("hotline stopped %s after its last call ended; want soon after, not at the end of the drain", wait)
	}
}

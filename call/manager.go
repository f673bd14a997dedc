// Package call is the conductor: one goroutine per call turns SIP leg events,
// media events, IVR actions and ACD commands into commands for the others. It owns
// each call's stage, its IVR run, its legs, its recording and its CDR.
package call

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/clock"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/pinguard"
	"github.com/hotline-cc/hotline/recorder"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// Runtime is the configuration a call starts with: a call keeps the version it
// started with even when the configuration is reloaded.
type Runtime struct {
	Config  *config.Config
	Flows   map[string]*ivr.Graph
	Prompts media.PromptSet
}

// Deps are the services a call uses.
type Deps struct {
	Runtime       func() *Runtime
	Media         *media.Engine
	SIP           *hsip.Server
	ACD           *acd.Router
	Store         *store.Store
	Recorder      *recorder.Writer
	RecordingsDir string
	Clock         clock.Clock
	Log           *slog.Logger
	Metrics       *Metrics
	// Journal records the ACD's decisions and audit trail; nil records
	// nothing.
	Journal *Journal
	// PINs checks the PIN of a feature-code login (shared with the API).
	PINs *pinguard.Guard
}

// Manager routes ACD commands to calls and keeps the set of live calls.
type Manager struct {
	deps  Deps
	calls sync.Map // call ID (Call.id) → *Call
	// sipCallIDs holds the SIP Call-IDs of live carrier calls: a second
	// INVITE with one of them while it lives is a loop (482).
	sipCallIDs sync.Map
	// consults routes the ACD's consultation IDs to their calls.
	consults sync.Map // ACD call ID → *Call
	// callbacks holds the callback attempts in progress, by offer.
	callbacks sync.Map // offer ID → *callbackAttempt
	active    atomic.Int64
	wg        sync.WaitGroup

	// trunkCalls counts carrier calls in progress by trunk, for Admit's
	// call limits: trunk name → *atomic.Int64.
	trunkCalls sync.Map

	stopping chan struct{} // closed by Shutdown: every call hangs up
	// draining is closed when Shutdown begins: new calls are refused
	// while those in progress may finish.
	draining  chan struct{}
	drainOnce sync.Once
	stopOnce  sync.Once
	// dipClient sends the IVR's data dips.
	dipClient *http.Client
	// analyses bounds the recordings analyzed (and hooks run) at once.
	analysisSlots chan struct{}
}

// maxConcurrentAnalyses is how many ended calls' recordings are analyzed
// at a time.
const maxConcurrentAnalyses = 2

// NewManager returns a manager; wire HandleCall into hsip.Hooks and Dispatch as the
// ACD router's command sink.
func NewManager(d Deps) *Manager {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	if d.PINs == nil {
		d.PINs = pinguard.New(nil)
	}
	return &Manager{deps: d, stopping: make(chan struct{}), draining: make(chan struct{}), dipClient: newDipClient(),
		analysisSlots: make(chan struct{}, maxConcurrentAnalyses)}
}

// Shutdown hangs up every live call and waits for them to finish (CDRs written,
// recordings closed) or for ctx to end.
func (m *Manager) Shutdown(ctx context.Context) {
	m.Drain(ctx, 0)
}

// Drain stops hotline taking calls (new ones get 503, callbacks wait for
// the next start) and lets the calls in progress finish for up to drain;
// then it hangs up those left and waits for them (CDRs written,
// recordings closed) or for ctx to end.
func (m *Manager) Drain(ctx context.Context, drain time.Duration) {
	m.drainOnce.Do(func() { close(m.draining) })
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	if drain > 0 {
		m.deps.Log.Info("draining: new calls are refused, calls in progress may finish", "active", m.Active(), "drain", drain.String())
		t := time.NewTimer(drain)
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	m.stopOnce.Do(func() { close(m.stopping) })
	select {
	case <-done:
	case <-ctx.Done():
		m.deps.Log.Error("calls still running at shutdown", "active", m.Active())
	}
}

// Active is the number of calls in progress.
func (m *Manager) Active() int { return int(m.active.Load()) }

// Wait blocks until every call goroutine has finished.
func (m *Manager) Wait() { m.wg.Wait() }

// Dispatch takes a command from the ACD loop. It never blocks: the loop must not
// wait on a call (a call's inbox is sized for the few commands it can have pending).
func (m *Manager) Dispatch(cmd acd.Command) {
	if j := m.deps.Journal; j != nil && j.Wants(cmd.Kind) {
		j.Add(m.deps.Clock.Now(), cmd)
	}
	switch cmd.Kind {
	case acd.CommandOffer:
		if cmd.Offer.Callback {
			m.startCallback(cmd.Offer)
			return
		}
	case acd.CommandCancelOffer:
		if acd.IsCallbackCallID(cmd.Cancel.CallID) {
			m.cancelCallback(cmd.Cancel)
			return
		}
	case acd.CommandMove, acd.CommandRoute, acd.CommandAnnounce:
	default:
		return
	}
	id := cmd.CallID()
	v, ok := m.calls.Load(id)
	if !ok {
		v, ok = m.consults.Load(id)
	}
	if !ok {
		// The call ended while the command was on its way; the ACD has (or will
		// have) CallAbandoned, so only an offer needs an answer.
		if cmd.Kind == acd.CommandOffer {
			m.deps.Log.Info("offer for a call that has ended", "call_id", id, "agent_id", cmd.Offer.AgentID)
			m.postLater(acd.OfferFailed{OfferID: cmd.Offer.OfferID, Reason: acd.OfferUnreachable})
		}
		return
	}
	c := v.(*Call)
	select {
	case c.acdCommands <- &cmd:
	default:
		// c.log belongs to the call's goroutine; this runs on the ACD loop.
		m.deps.Log.Error("call inbox full, acd command dropped", "call_id", id, "command", cmd.Kind.String())
		if cmd.Kind == acd.CommandOffer {
			m.postLater(acd.OfferFailed{OfferID: cmd.Offer.OfferID, Reason: acd.OfferUnreachable})
		}
	}
}

// Reconcile tells the ACD, every interval until ctx ends, which calls and
// phones really exist, so that it can drop what it holds by mistake (the
// self-healing check; see acd.Reconcile).
func (m *Manager) Reconcile(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Taken comes first: a call or login that happens while the facts are
		// gathered is newer than Taken, and the ACD leaves it alone.
		ev := acd.Reconcile{Taken: m.deps.Clock.Now(), LiveCalls: map[string]bool{}, RegisteredDevices: map[string]bool{}}
		live := func(id, _ any) bool {
			ev.LiveCalls[id.(string)] = true
			return true
		}
		m.calls.Range(live)
		m.consults.Range(live)
		m.callbacks.Range(func(_, att any) bool {
			ev.LiveCalls[att.(*callbackAttempt).offer.CallID] = true
			return true
		})
		for _, b := range m.deps.SIP.Registrar().Bindings() {
			ev.RegisteredDevices[b.User] = true
		}
		m.deps.ACD.Post(ev)
	}
}

// postLater posts from a new goroutine: Dispatch runs on the ACD loop, which must
// not post to itself (its inbox could be full).
func (m *Manager) postLater(ev acd.Event) {
	go m.deps.ACD.Post(ev)
}

// OnRegistration logs agents in and out with their phones' registrations.
func (m *Manager) OnRegistration(ch hsip.RegistrationChange) {
	// An agent's own phone registers as the agent's ID and logs them in;
	// a hot-desk phone logs nobody in until an agent dials the login code.
	if ch.Registered {
		if m.deps.Runtime().Config.Agent(ch.User) != nil {
			m.deps.ACD.Post(acd.AgentLoggedIn{AgentID: ch.User, Device: ch.User, Source: "register"})
		}
	} else {
		m.deps.ACD.Post(acd.DeviceUnregistered{Device: ch.User})
	}
	m.deps.Log.Info("agent registration", "agent_id", ch.User, "registered", ch.Registered, "reason", ch.Reason)
}

// Admit applies the trunks of the current configuration to a carrier INVITE:
// 403 when the source is in no trunk's ACL, 404 when no trunk of that source takes
// the called number, 503 with Retry-After when the calls in progress are at
// security.calls' limit, in all or for the trunk.
func (m *Manager) Admit(src netip.Addr, called string) hsip.Admission {
	cfg := m.deps.Runtime().Config
	allowed := false
	for i := range cfg.Trunks {
		t := &cfg.Trunks[i]
		if !t.Allows(src) {
			continue
		}
		allowed = true
		if t.AcceptsNumber(called) {
			return m.callLimits(cfg, t.Name)
		}
	}
	if !allowed {
		return hsip.Admission{Status: 403, Reason: "Forbidden"}
	}
	return hsip.Admission{Status: 404, Reason: "Not Found"}
}

// Password returns the digest secret of an agent's own phone or of a hot-desk
// phone.
func (m *Manager) Password(user string) (string, bool) {
	cfg := m.deps.Runtime().Config
	if a := cfg.Agent(user); a != nil && a.Password != "" {
		return a.Password, true
	}
	// A hot-desk phone registers with its own credentials; agents log in on
	// it with their PIN.
	if p := cfg.Phone(user); p != nil {
		return p.Password, true
	}
	return "", false
}

// HandleCall runs one carrier call to its end; it is hsip's HandleCall hook.
func (m *Manager) HandleCall(in *hsip.InboundCall) {
	select {
	case <-m.draining:
		// Shutting down: refuse rather than answer and hang up at once
		// (RFC 3261 §21.5.4; carriers retry elsewhere).
		in.Log().Info("call refused during shutdown", "sip_status", 503)
		_ = in.Reject(503, "Service Unavailable")
		return
	default:
	}
	m.wg.Add(1)
	defer m.wg.Done()
	if in.AuthUser != "" {
		if hsip.IsFeatureCode(in.Called) {
			m.featureCall(in)
		} else {
			m.phoneCall(in)
		}
		return
	}
	m.active.Add(1)
	defer m.active.Add(-1)
	defer m.countTrunkCall(in.Trunk)()
	if _, dup := m.sipCallIDs.LoadOrStore(in.ID, true); dup {
		in.Log().Warn("second call with the same Call-ID", "sip_status", 482)
		_ = in.Reject(482, "Loop Detected")
		return
	}
	defer m.sipCallIDs.Delete(in.ID)
	c := newCall(m, in, m.recordID(in))
	m.calls.Store(c.id, c)
	defer m.calls.Delete(c.id)
	defer func() {
		for _, id := range c.consultIDs {
			m.consults.Delete(id)
		}
	}()
	defer func() {
		// One call's bug must not take every other call down with the process.
		if r := recover(); r != nil {
			in.Log().Error("call panicked", "panic", r, "stack", string(debug.Stack()))
			c.abort()
			ctx, cancel := bgTimeout(5 * time.Second)
			defer cancel()
			_ = in.Hangup(ctx, "internal-error")
		}
	}()
	c.run()
}

// recordID is the ID a new carrier call is known by: its Call-ID, unless
// an earlier call had that Call-ID (a carrier reusing them, a replayed
// INVITE), which keeps its record; the new one then gets the Call-ID with
// its start time, so that the two CDRs, timelines and recordings stay
// apart. A store that cannot answer leaves the Call-ID.
func (m *Manager) recordID(in *hsip.InboundCall) string {
	ctx, cancel := bgTimeout(2 * time.Second)
	defer cancel()
	exists, err := m.deps.Store.CallExists(ctx, in.ID)
	if err != nil {
		in.Log().Warn("cdr lookup", "err", err)
	}
	if !exists {
		return in.ID
	}
	id := in.ID + "~" + m.deps.Clock.Now().UTC().Format("20060102T150405.000000")
	in.Log().Info("Call-ID used before: this call is recorded as another", "record_id", id)
	return id
}

// recordingPath places a call's WAV under DATA/recordings/YYYY/MM/DD/.
// createRecording opens the recording of callID started at at; nil when
// recording is off or fails (a recording that cannot start never stops the
// call, the error is logged).
func (m *Manager) createRecording(callID string, at time.Time, log *slog.Logger) (*recorder.Recording, string) {
	if m.deps.Recorder == nil {
		return nil, ""
	}
	// A full disk must not fail calls: below the floor they go on
	// unrecorded. If the space cannot be read, recording is tried (and
	// Create's error, if any, says why).
	if floor := m.deps.Runtime().Config.Recordings.MinFreeBytes; floor > 0 {
		free, err := recorder.FreeBytes(m.deps.RecordingsDir)
		switch {
		case err != nil:
			log.Warn("recordings disk space unknown, recording anyway", "err", err)
		case free < uint64(floor):
			m.deps.Metrics.recordingSkipped("disk-full")
			log.Warn("call not recorded: the recordings disk is low", "free_bytes", free, "min_free_bytes", floor)
			return nil, ""
		}
	}
	path := m.recordingPath(callID, at)
	rec, err := m.deps.Recorder.Create(path)
	if errors.Is(err, fs.ErrExist) {
		// A carrier reused a Call-ID the same day: keep both recordings.
		path = strings.TrimSuffix(path, ".wav") + "-" + at.UTC().Format("150405.000") + ".wav"
		rec, err = m.deps.Recorder.Create(path)
	}
	if err != nil {
		log.Error("recording not started", "err", err)
		return nil, ""
	}
	return rec, path
}

func (m *Manager) recordingPath(callID string, at time.Time) string {
	return filepath.Join(m.deps.RecordingsDir, at.UTC().Format("2006/01/02"), safeFileName(callID)+".wav")
}

// safeFileName keeps a Call-ID (chosen by the carrier) from escaping the folder.
func safeFileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 120 {
			break
		}
	}
	name := strings.Trim(b.String(), ".")
	if name == "" {
		name = "call"
	}
	return name
}

// sdpAddr is the address to put in SDP for ep: the endpoint's port on the
// advertised IP, since the socket may be bound to a wildcard or a private address.
func (c *Call) sdpAddr(ep *media.Endpoint) netip.AddrPort { return advertisedAddr(c.rt.Config, ep) }

// advertisedAddr is the media address to put in SDP: the endpoint's port on
// the advertise IP, since the socket may be bound to a wildcard.
func advertisedAddr(cfg *config.Config, ep *media.Endpoint) netip.AddrPort {
	local := ep.LocalAddr()
	if ip, err := netip.ParseAddr(cfg.SIP.Advertise); err == nil && !ip.IsUnspecified() {
		return netip.AddrPortFrom(ip, local.Port())
	}
	return local
}

func codecOf(pt uint8) media.Codec { return media.CodecFromPayloadType(pt) }

var errNoBinding = fmt.Errorf("agent phone not registered")

func bgTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/media"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// MonitorMode is how a supervisor takes part in an agent's call.
type MonitorMode uint8

const (
	// Listen: the supervisor hears caller and agent; nobody hears them.
	Listen MonitorMode = iota + 1
	// Whisper: as Listen, and the agent (only) hears the supervisor.
	Whisper
	// Barge: a three-way call; everyone hears everyone.
	Barge
)

func (m MonitorMode) String() string {
	switch m {
	case Listen:
		return "listen"
	case Whisper:
		return "whisper"
	case Barge:
		return "barge"
	}
	return "unknown"
}

// role is the supervisor's part in the call's mix.
func (m MonitorMode) role(agent *media.Endpoint) media.Role {
	switch m {
	case Whisper:
		return media.Whisperer(agent)
	case Barge:
		return media.Speaker()
	}
	return media.Listener()
}

// monitor is a supervisor's session on an agent's call. ended is closed by
// the monitored call when the session is over (the call ended, or the
// supervisor left).
type monitor struct {
	supervisor string
	agent      string // the monitored agent
	mode       MonitorMode
	ep         *media.Endpoint
	ended      chan struct{}
	stage      *store.Stage // in the monitored call's timeline
}

// Errors of monitoring.
var (
	// ErrAlreadyMonitoring refuses a supervisor a second session on one call.
	ErrAlreadyMonitoring = errors.New("already monitoring this call")
	// ErrNotSupervisor: monitoring is for agents with the supervisor role.
	ErrNotSupervisor = errors.New("not a supervisor")
	// ErrNoSuchSession: no such supervisor's session on the call.
	ErrNoSuchSession = errors.New("no such monitoring session")
)

// ParseMonitorMode reads "listen", "whisper" or "barge".
func ParseMonitorMode(s string) (MonitorMode, bool) {
	for _, m := range []MonitorMode{Listen, Whisper, Barge} {
		if m.String() == s {
			return m, true
		}
	}
	return 0, false
}

// monitorCode recognizes a monitoring feature code: the mode and the
// monitored agent's ID.
func monitorCode(codes config.FeatureCodes, code string) (MonitorMode, string, bool) {
	for _, c := range []struct {
		prefix string
		mode   MonitorMode
	}{{codes.Listen, Listen}, {codes.Whisper, Whisper}, {codes.Barge, Barge}} {
		if c.prefix != "" && strings.HasPrefix(code, c.prefix) && len(code) > len(c.prefix) {
			return c.mode, code[len(c.prefix):], true
		}
	}
	return 0, "", false
}

// monitorCall serves a supervisor's phone dialing a monitoring code (*31
// AGENT listen, *32 whisper, *33 barge): the supervisor joins the agent's
// call until either side hangs up. Anyone who is not a supervisor gets
// 403 before the call is answered; an agent not on a call, 404.
func (m *Manager) monitorCall(in *hsip.InboundCall, mode MonitorMode, agentID string) {
	cfg := m.deps.Runtime().Config
	log := in.Log().With("feature_code", in.Called, "mode", mode.String(), "agent_id", agentID)
	sup := m.supervisorOf(cfg, in.AuthUser)
	if sup == "" {
		log.Warn("monitoring refused: not a supervisor", "device", in.AuthUser, "sip_status", 403)
		_ = in.Reject(403, "Forbidden")
		return
	}
	target := m.callOfAgent(agentID)
	if target == nil || agentID == sup {
		log.Info("monitoring: agent not on a call", "supervisor", sup, "sip_status", 404)
		_ = in.Reject(404, "Not Found")
		return
	}
	ep := m.answerFeature(in, log, "supervisor")
	if ep == nil {
		return
	}
	defer ep.Close()
	session := &monitor{supervisor: sup, agent: agentID, mode: mode, ep: ep, ended: make(chan struct{})}
	m.runMonitor(target, session, in.Done(), func() { m.hangupFeature(in, log) }, log)
}

// Monitor has a supervisor monitor a live call from the API: hotline
// calls the supervisor's registered phone and, once they answer, they
// join the call in mode. It returns once the phone is being called; the
// session lasts until either side hangs up or StopMonitor.
func (m *Manager) Monitor(ctx context.Context, callID, supervisor string, mode MonitorMode) error {
	cfg := m.deps.Runtime().Config
	if a := cfg.Agent(supervisor); a == nil || !a.Supervisor {
		return fmt.Errorf("%w: %s", ErrNotSupervisor, supervisor)
	}
	v, ok := m.calls.Load(callID)
	if !ok {
		return ErrNoSuchCall
	}
	c := v.(*Call)
	binding, ok := m.deps.SIP.Registrar().Lookup(supervisor)
	if !ok {
		return fmt.Errorf("%w: supervisor %s's phone is not registered", ErrBadTarget, supervisor)
	}
	agentID, err := c.connectedAgent(ctx)
	if err != nil {
		return err
	}
	if agentID == supervisor {
		return fmt.Errorf("%w: %s would monitor their own call", ErrBadTarget, supervisor)
	}
	ep, err := m.deps.Media.NewEndpoint(callID, "supervisor")
	if err != nil {
		return err
	}
	log := m.deps.Log.With("call_id", callID, "supervisor", supervisor, "mode", mode.String(), "agent_id", agentID)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer ep.Close()
		dialCtx, cancel := context.WithTimeout(c.ctx, blindTransferRing)
		leg, err := m.deps.SIP.Dial(dialCtx, hsip.DialRequest{
			Target: binding, CallerID: agentID, CallerName: "Monitor " + mode.String() + " " + agentID,
			LocalRTP: advertisedAddr(m.deps.Runtime().Config, ep), Log: log,
		})
		cancel()
		if err != nil {
			log.Info("monitoring: the supervisor did not answer", "err", err)
			return
		}
		ep.SetRemote(media.Remote{Addr: leg.Answer.Addr, Codec: codecOf(leg.PayloadType), DTMFPayloadType: leg.Answer.DTMFPayloadType})
		leg.OnReoffer(func(o hsip.MediaOffer) { reoffered(ep, o) })
		session := &monitor{supervisor: supervisor, agent: agentID, mode: mode, ep: ep, ended: make(chan struct{})}
		m.runMonitor(c, session, leg.Done(), func() { hangupLeg(leg, "monitoring-ended") }, log)
	}()
	return nil
}

// connectedAgent asks the call (on its goroutine) which agent it is
// connected to; ErrNotTalking when none.
func (c *Call) connectedAgent(ctx context.Context) (string, error) {
	var agent string
	err := c.control(ctx, control{query: func() error {
		if c.stage != StageTalking || c.agentEP == nil {
			return ErrNotTalking
		}
		agent = c.agentID
		return nil
	}, reply: make(chan error, 1)})
	return agent, err
}

// SetMonitorMode switches a supervisor's session on a call to mode (the
// API; their phone switches with 4, 5 and 6).
func (m *Manager) SetMonitorMode(ctx context.Context, callID, supervisor string, mode MonitorMode) error {
	return m.controlCall(ctx, callID, control{monitorMode: &monitorModeChange{supervisor: supervisor, mode: mode}})
}

// StopMonitor ends a supervisor's session on a call (their phone is hung
// up).
func (m *Manager) StopMonitor(ctx context.Context, callID, supervisor string) error {
	return m.controlCall(ctx, callID, control{monitorMode: &monitorModeChange{supervisor: supervisor, stop: true}})
}

// monitorModeChange asks a call to switch a supervisor's mode, or to end
// their session.
type monitorModeChange struct {
	supervisor string
	mode       MonitorMode
	stop       bool
}

// Monitoring keys: as in Asterisk's ChanSpy with its d option, the
// supervisor switches modes from the keypad while monitoring.
var monitorKeys = map[byte]MonitorMode{'4': Listen, '5': Whisper, '6': Barge}

// runMonitor joins an answered supervisor's session to the call and keeps
// it until the supervisor's phone hangs up (phoneDone), the session ends
// on the call's side, or hotline stops; hangup hangs the phone up. The
// supervisor's keys 4, 5 and 6 switch modes.
func (m *Manager) runMonitor(target *Call, session *monitor, phoneDone <-chan struct{}, hangup func(), log *slog.Logger) {
	ctx, cancel := bgTimeout(5 * time.Second)
	err := target.control(ctx, control{monitor: session, source: "monitor", reply: make(chan error, 1)})
	cancel()
	if err != nil {
		log.Info("monitoring refused by the call", "err", err)
		// The call may have taken the session after all (the wait
		// timed out, not the request): take it out again before the
		// endpoint closes. Controls are handled in order.
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			select {
			case target.controls <- control{unmonitor: session}:
			case <-target.done:
			}
		}()
		hangup()
		return
	}
	log.Info("monitoring started", "call_id", target.id)
	for {
		select {
		case ev := <-session.ep.Events():
			if mode, ok := monitorKeys[ev.Digit]; ev.Kind == media.EventDTMF && ok {
				ctx, cancel := bgTimeout(5 * time.Second)
				err := target.control(ctx, control{monitorMode: &monitorModeChange{supervisor: session.supervisor, mode: mode}, reply: make(chan error, 1)})
				cancel()
				log.Info("monitoring mode key", "key", string(ev.Digit), "mode", mode.String(), "err", err)
			}
			continue
		case <-phoneDone:
			ctx, cancel := bgTimeout(5 * time.Second)
			_ = target.control(ctx, control{unmonitor: session, reply: make(chan error, 1)})
			cancel()
		case <-session.ended:
			hangup()
		case <-target.done:
			// The monitored call's goroutine is over, whatever path it took.
			hangup()
		case <-m.stopping:
			hangup()
		}
		break
	}
	log.Info("monitoring ended")
}

// supervisorOf returns the supervisor logged in on device (or whose own
// phone it is), or "".
func (m *Manager) supervisorOf(cfg *config.Config, device string) string {
	id := device
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	snap, err := m.deps.ACD.Snapshot(ctx)
	if err != nil {
		return "" // refuse rather than guess who holds the phone
	}
	for _, a := range snap.Agents {
		if a.Device == device {
			id = a.ID
		}
	}
	if a := cfg.Agent(id); a != nil && a.Supervisor {
		return id
	}
	return ""
}

// callOfAgent returns the live call agentID is connected to, or nil.
func (m *Manager) callOfAgent(agentID string) *Call {
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	snap, err := m.deps.ACD.Snapshot(ctx)
	if err != nil {
		return nil
	}
	for _, a := range snap.Agents {
		// Ringing is not on a call yet.
		if a.ID == agentID && a.CallID != "" && (a.State == acd.AgentStateOnCall || a.State == acd.AgentStateOnHold) {
			if v, ok := m.calls.Load(a.CallID); ok {
				return v.(*Call)
			}
			// An agent who took a call over from a consultation.
			if v, ok := m.consults.Load(a.CallID); ok {
				return v.(*Call)
			}
		}
	}
	return nil
}

func (m *Manager) hangupFeature(in *hsip.InboundCall, log interface{ Info(string, ...any) }) {
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	if err := in.Hangup(ctx, "monitoring-ended"); err != nil {
		log.Info("monitoring hangup", "err", err)
	}
}

// startMonitor puts the call into a mix (caller and agent speak, the
// supervisor takes the part the mode gives) on the call's goroutine.
func (c *Call) startMonitor(s *monitor) error {
	// The agent is checked here, on the call's goroutine: the call may
	// have moved to another agent since the supervisor dialed.
	if c.stage != StageTalking || c.agentEP == nil || c.agentID != s.agent {
		return ErrNotTalking
	}
	for _, m := range c.monitors {
		if m.supervisor == s.supervisor {
			return ErrAlreadyMonitoring
		}
	}
	if k := c.consult; k != nil && k.phone == nil && c.mix == nil {
		// The agent leg is bridged to a consultee; a mix made now would
		// cut them off.
		return ErrConsultBusy
	}
	if err := c.joinMix(s); err != nil {
		if len(c.monitors) == 0 {
			c.closeMix(true) // no half-built mix may stay between caller and agent
		}
		return err
	}
	c.monitors = append(c.monitors, s)
	c.m.deps.Metrics.monitoring(s.mode, true)
	s.stage = c.beginNested("monitor", store.Stage{AgentID: s.supervisor, Detail: s.mode.String() + " " + s.agent})
	c.log.Info("supervisor joined", "supervisor", s.supervisor, "mode", s.mode.String())
	return nil
}

// joinMix puts the supervisor into the call's mix, making it first (caller
// and agent as speakers) if there is none.
func (c *Call) joinMix(s *monitor) error {
	if err := c.ensureMix(); err != nil {
		return err
	}
	return c.mix.Join(s.ep, s.mode.role(c.agentEP))
}

// ensureMix moves caller and agent from their bridge into a mix, as
// speakers, unless the call has one already.
func (c *Call) ensureMix() error {
	if c.mix != nil {
		return nil
	}
	c.mix = c.m.deps.Media.NewMix()
	media.Unbridge(c.caller)
	if !c.onHold() {
		if err := c.mix.Join(c.caller, media.Speaker()); err != nil {
			return err
		}
	}
	return c.mix.Join(c.agentEP, media.Speaker())
}

// closeMix ends the call's mix; rebridge puts caller and agent back on a
// direct bridge (not when the talk itself is ending).
func (c *Call) closeMix(rebridge bool) {
	if c.mix == nil {
		return
	}
	c.mix.Close()
	c.mix = nil
	if rebridge {
		c.bridgeWhenIntroduced()
	}
}

// changeMonitor switches a supervisor's mode or ends their session.
func (c *Call) changeMonitor(ch *monitorModeChange) error {
	for _, s := range c.monitors {
		if s.supervisor != ch.supervisor {
			continue
		}
		if ch.stop {
			c.stopMonitor(s)
			return nil
		}
		if s.mode == ch.mode {
			return nil
		}
		if err := c.mix.SetRole(s.ep, ch.mode.role(c.agentEP)); err != nil {
			return err
		}
		c.m.deps.Metrics.monitoring(s.mode, false)
		c.m.deps.Metrics.monitoring(ch.mode, true)
		c.endNested(s.stage, "switched to "+ch.mode.String())
		s.mode = ch.mode
		s.stage = c.beginNested("monitor", store.Stage{AgentID: s.supervisor, Detail: s.mode.String() + " " + s.agent})
		c.log.Info("supervisor switched mode", "supervisor", s.supervisor, "mode", s.mode.String())
		return nil
	}
	return fmt.Errorf("%w: %s is not monitoring this call", ErrNoSuchSession, ch.supervisor)
}

// stopMonitor takes a supervisor out; with none left, caller and agent
// are bridged again.
func (c *Call) stopMonitor(s *monitor) {
	c.leaveMonitor(s, true)
}

func (c *Call) leaveMonitor(s *monitor, rebridge bool) {
	for i, m := range c.monitors {
		if m != s {
			continue
		}
		c.monitors = append(c.monitors[:i], c.monitors[i+1:]...)
		if c.mix != nil {
			c.mix.Leave(s.ep)
		}
		close(s.ended)
		c.m.deps.Metrics.monitoring(s.mode, false)
		c.endNested(s.stage, "left")
		c.log.Info("supervisor left", "supervisor", s.supervisor)
		break
	}
	if len(c.monitors) == 0 && c.thirdLeg == nil {
		c.closeMix(rebridge)
		if k := c.consult; rebridge && k != nil && k.phone == nil && k.leg != nil {
			media.Bridge(c.agentEP, k.ep) // the consultee was in the mix
		}
	}
}

// endMonitors ends every supervisor session and the mix: the talk is over
// (or its agent is gone).
func (c *Call) endMonitors() {
	for len(c.monitors) > 0 {
		c.leaveMonitor(c.monitors[0], false)
	}
	c.closeMix(false)
}

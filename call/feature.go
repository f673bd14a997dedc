package call

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/media"
	hsip "github.com/hotline-cc/hotline/sip"
)

// featureAnswerTimeout bounds a feature-code call: the confirmation lasts
// a second or two.
const featureAnswerTimeout = 10 * time.Second

// featureRequest is what a dialed feature code asks of the ACD.
type featureRequest struct {
	agentID string
	events  []acd.Event
	// want is the state the agent should be in (or have pending) once the
	// ACD applied the events; the confirmation prompt depends on it.
	want   acd.AgentState
	prompt string
	// failure says why the code cannot be carried out; the caller hears
	// feature_failed.
	failure string
}

// featureCall serves a registered phone dialing a feature code: *20 (log in
// as AGENT with PIN: *20AGENT*PIN), *21 (ready, also ends wrap-up), *22
// with a reason code (not ready: *221 break), *23 (log out). The codes come
// from the configuration. The phone is answered, the ACD is told, and the
// agent hears whether it worked before the call hangs up. An unknown code
// is refused with 404 before answering.
func (m *Manager) featureCall(in *hsip.InboundCall) {
	cfg := m.deps.Runtime().Config
	if mode, agentID, ok := monitorCode(cfg.FeatureCodes, in.Called); ok {
		m.monitorCall(in, mode, agentID)
		return
	}
	if m.dispositionCall(in) {
		return
	}
	log := in.Log().With("feature_code", redactPIN(cfg.FeatureCodes, in.Called))
	req, known := m.parseFeature(cfg, in.AuthUser, in.Called)
	if !known {
		log.Warn("unknown feature code", "sip_status", 404)
		_ = in.Reject(404, "Not Found")
		return
	}
	prompt := "feature_failed"
	if req.failure != "" {
		log.Warn("feature code refused", "agent_id", req.agentID, "why", req.failure)
	} else {
		for _, ev := range req.events {
			m.deps.ACD.Post(ev)
		}
		if m.agentReached(req) {
			prompt = req.prompt
			log.Info("feature code applied", "agent_id", req.agentID, "state", req.want.String())
		} else {
			log.Warn("feature code had no effect", "agent_id", req.agentID, "want", req.want.String())
		}
	}
	m.answerAndSay(in, log, prompt)
}

// redactPIN is a dialed code fit for the log: the PIN of a login code
// (*20ID*PIN) is masked, as a password would be.
func redactPIN(codes config.FeatureCodes, code string) string {
	rest, ok := strings.CutPrefix(code, codes.Login)
	if !ok || codes.Login == "" {
		return code
	}
	agentID, _, hasPIN := strings.Cut(rest, "*")
	if !hasPIN {
		return code
	}
	return codes.Login + agentID + "*****"
}

// parseFeature turns a dialed code into ACD events for the agent on device.
func (m *Manager) parseFeature(cfg *config.Config, device, code string) (featureRequest, bool) {
	codes := cfg.FeatureCodes
	switch {
	case code == codes.Ready:
		req := m.deviceAgent(cfg, device, acd.AgentStateAvailable, "agent_ready")
		if req.failure == "" {
			req.events = append(req.events, acd.AgentStateRequested{AgentID: req.agentID, State: acd.AgentStateAvailable, Source: "feature-code"})
		}
		return req, true
	case code == codes.Logout:
		req := m.deviceAgent(cfg, device, acd.AgentStateLoggedOut, "agent_logged_out")
		req.events = []acd.Event{acd.AgentLoggedOut{AgentID: req.agentID, Reason: "feature-code", Source: "feature-code"}}
		return req, true
	case strings.HasPrefix(code, codes.NotReady):
		req := m.deviceAgent(cfg, device, acd.AgentStateNotReady, "agent_not_ready")
		reasons := cfg.AgentStates.NotReadyReasons
		var reason config.Reason
		switch digits := strings.TrimPrefix(code, codes.NotReady); {
		case digits == "" && len(reasons) > 0:
			reason = reasons[0]
		default:
			var ok bool
			if reason, ok = cfg.ReasonByCode(digits); !ok && req.failure == "" {
				req.failure = "no not-ready reason with code " + digits
			}
		}
		if req.failure == "" {
			req.events = append(req.events, acd.AgentStateRequested{AgentID: req.agentID, State: acd.AgentStateNotReady, Reason: reason.Name, Source: "feature-code"})
		}
		return req, true
	case strings.HasPrefix(code, codes.Login):
		agentID, pin, _ := strings.Cut(strings.TrimPrefix(code, codes.Login), "*")
		req := featureRequest{agentID: agentID, want: acd.AgentStateAvailable, prompt: "agent_logged_in"}
		a := cfg.Agent(agentID)
		switch {
		case a == nil:
			req.failure = "no such agent"
		case a.PIN == "":
			req.failure = "agent has no PIN"
		default:
			if ok, locked := m.deps.PINs.Check(agentID, pin, a.PIN); locked > 0 {
				req.failure = "too many wrong PINs; locked for " + locked.Round(time.Second).String()
				break
			} else if !ok {
				req.failure = "wrong PIN"
				break
			}
			req.events = []acd.Event{acd.AgentLoggedIn{AgentID: agentID, Device: device, Source: "feature-code"}}
		}
		return req, true
	}
	return featureRequest{}, false
}

// deviceAgent finds the agent a state code is about: whoever is logged in
// on the phone, else the phone's own agent (an agent's phone registers as
// their ID), who is logged in first.
func (m *Manager) deviceAgent(cfg *config.Config, device string, want acd.AgentState, prompt string) featureRequest {
	req := featureRequest{want: want, prompt: prompt}
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	snap, err := m.deps.ACD.Snapshot(ctx)
	if err != nil {
		req.failure = "acd: " + err.Error()
		return req
	}
	for _, a := range snap.Agents {
		if a.Device == device {
			req.agentID = a.ID
			return req
		}
	}
	if cfg.Agent(device) == nil {
		req.failure = "nobody is logged in on this phone"
		return req
	}
	req.agentID = device
	if want != acd.AgentStateLoggedOut {
		req.events = append(req.events, acd.AgentLoggedIn{AgentID: device, Device: device, Source: "feature-code"})
	}
	return req
}

// agentReached reports whether the ACD, having applied the request's
// events, has the agent in the wanted state or has it pending until their
// call ends. Snapshot is ordered after the events posted before it.
func (m *Manager) agentReached(req featureRequest) bool {
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	snap, err := m.deps.ACD.Snapshot(ctx)
	if err != nil {
		return false
	}
	for _, a := range snap.Agents {
		if a.ID == req.agentID {
			return a.State == req.want || a.Pending == req.want
		}
	}
	return false
}

// answerFeature answers a feature-code call with a media endpoint (leg
// names its part in logs), which follows the phone's re-INVITEs; nil when
// the call could not be answered (the phone has its answer: 503, or the
// call is gone). The caller closes the endpoint.
func (m *Manager) answerFeature(in *hsip.InboundCall, log *slog.Logger, leg string) *media.Endpoint {
	ep, err := m.deps.Media.NewEndpoint(in.ID, leg)
	if err != nil {
		log.Error("no media endpoint for a feature code", "err", err, "sip_status", 503)
		_ = in.Reject(503, "Service Unavailable")
		return nil
	}
	ep.SetRemote(media.Remote{Addr: in.Offer.Addr, Codec: codecOf(in.PayloadType), DTMFPayloadType: in.Offer.DTMFPayloadType})
	in.OnReoffer(func(o hsip.MediaOffer) { reoffered(ep, o) })
	if err := in.Answer(advertisedAddr(m.deps.Runtime().Config, ep)); err != nil {
		log.Info("feature code answer", "err", err)
		ep.Close()
		return nil
	}
	return ep
}

// answerAndSay answers a feature-code call, plays one prompt and hangs up.
func (m *Manager) answerAndSay(in *hsip.InboundCall, log *slog.Logger, prompt string) {
	ep := m.answerFeature(in, log, "caller")
	if ep == nil {
		return
	}
	defer ep.Close()
	ctx, cancel := context.WithTimeout(context.Background(), featureAnswerTimeout)
	defer cancel()
	if p := m.deps.Runtime().Prompts[prompt]; p != nil {
		id := ep.Play(media.Playlist{Prompts: []*media.Prompt{p}})
	wait:
		for {
			select {
			case ev := <-ep.Events():
				if ev.Kind == media.EventPlaybackDone && ev.PlaybackID == id {
					break wait
				}
			case <-in.Done():
				return
			case <-ctx.Done():
				break wait
			case <-m.stopping:
				break wait
			}
		}
	}
	byeCtx, byeCancel := bgTimeout(5 * time.Second) // ctx may have run out
	defer byeCancel()
	if err := in.Hangup(byeCtx, "feature-code"); err != nil {
		log.Info("feature code hangup", "err", err)
	}
}

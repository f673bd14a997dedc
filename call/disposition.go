package call

import (
	"context"
	"strings"
	"time"

	hsip "github.com/hotline-cc/hotline/sip"
)

// dispositionCall serves an agent's phone dialing the disposition code
// and a wrap-up code (*24 1): the agent's current or last call gets that
// disposition, and the agent hears a beep (or feature_failed). It reports
// whether the dialed number was the disposition code at all.
func (m *Manager) dispositionCall(in *hsip.InboundCall) bool {
	cfg := m.deps.Runtime().Config
	prefix := cfg.FeatureCodes.Disposition
	code, ok := strings.CutPrefix(in.Called, prefix)
	if prefix == "" || !ok || code == "" {
		return false
	}
	log := in.Log().With("feature_code", in.Called)
	prompt := "feature_failed"
	agentID := m.agentOnDevice(in.AuthUser)
	d, known := cfg.DispositionByCode(code)
	switch {
	case agentID == "":
		log.Warn("disposition refused: nobody is logged in on this phone")
	case !known:
		log.Warn("disposition refused: unknown code", "agent_id", agentID, "code", code)
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		callID, err := m.deps.Store.LastCallOfAgent(ctx, agentID)
		if err == nil && callID != "" {
			err = m.deps.Store.SetDisposition(ctx, callID, d.Name)
		}
		cancel()
		if err != nil || callID == "" {
			log.Warn("disposition not stored", "agent_id", agentID, "err", err)
			break
		}
		prompt = "beep"
		log.Info("disposition", "agent_id", agentID, "disposition", d.Name, "disposed_call_id", callID)
	}
	m.answerAndSay(in, log, prompt)
	return true
}

package api

import (
	"net/http"
	"time"

	"github.com/hotline-cc/hotline/acd"
)

// QueueJSON is a queue as the API shows it.
type QueueJSON struct {
	Name string `json:"name"`
	// Waiting lists callers and callbacks in the order they will be served.
	Waiting []WaitingJSON `json:"waiting"`
	// OldestWaitSec is the longest wait among live callers (callbacks left
	// out).
	OldestWaitSec float64 `json:"oldest_wait_seconds"`
	// Agents counts the queue's members by what they are doing;
	// AgentsAvailable are those who may be offered a call right now.
	AgentsLoggedIn   int `json:"agents_logged_in"`
	AgentsAvailable  int `json:"agents_available"`
	AgentsCoolingOff int `json:"agents_cooling_off"`
	AgentsRinging    int `json:"agents_ringing"`
	AgentsOnCall     int `json:"agents_on_call"`
	// AgentsByState counts members in every state, zeros included.
	AgentsByState    map[string]int `json:"agents_by_state"`
	NotReadyByReason map[string]int `json:"not_ready_by_reason"`
	// Staffed counts members logged in and not on a break.
	Staffed      int              `json:"staffed"`
	ServiceLevel ServiceLevelJSON `json:"service_level"`
	// HandleTimeSec is the average talk plus wrap-up time (a moving
	// average); absent until the queue has finished a call.
	HandleTimeSec *float64 `json:"handle_time_seconds,omitempty"`
	// EstimatedWaitSec is what a caller arriving now would wait:
	// (waiting + 1) × handle time ÷ staffed. Absent while nobody is staffed
	// or the handle time is unknown.
	EstimatedWaitSec *float64          `json:"estimated_wait_seconds,omitempty"`
	CallbacksWaiting int               `json:"callbacks_waiting"`
	RingTimeoutSec   float64           `json:"ring_timeout_seconds"`
	Retired          bool              `json:"retired,omitempty"`
	Counters         QueueCountersJSON `json:"counters"`
}

// ServiceLevelJSON is a queue's live service level: the share of calls
// answered within the threshold over the last 15 minutes.
type ServiceLevelJSON struct {
	// Ratio is 0-1; null when no call counted in the window (Known false).
	Ratio         *float64 `json:"ratio"`
	Calls         int      `json:"calls"`
	ThresholdSec  float64  `json:"threshold_seconds"`
	TargetPercent float64  `json:"target_percent"`
	Known         bool     `json:"known"`
}

// QueueCountersJSON are a queue's totals since hotline started (or the
// queue was added).
type QueueCountersJSON struct {
	Queued    uint64 `json:"queued"`
	Abandoned uint64 `json:"abandoned"`
	Connected uint64 `json:"connected"`
	Routed    uint64 `json:"routed"`
	MovedIn   uint64 `json:"moved_in"`
	MovedOut  uint64 `json:"moved_out"`
	Callbacks uint64 `json:"callbacks"`
	// Offers counts offers by how they ended (acd.OfferResult names).
	Offers map[string]uint64 `json:"offers"`
	// ServiceLevel counts verdicts: met, missed, excluded.
	ServiceLevel     map[string]uint64 `json:"service_level"`
	ConnectedWaitSec float64           `json:"connected_wait_seconds"`
	AbandonedWaitSec float64           `json:"abandoned_wait_seconds"`
}

// WaitingJSON is one waiting caller, or a callback waiting for its turn.
type WaitingJSON struct {
	CallID            string    `json:"call_id"`
	QueuedAt          time.Time `json:"queued_at"`
	WaitSec           float64   `json:"wait_seconds"`
	Priority          int       `json:"priority"`
	EffectivePriority float64   `json:"effective_priority"`
	Stage             int       `json:"stage"`
	// AgentID is the agent whose phone rings for the caller, OfferID that
	// offer.
	AgentID string `json:"ringing_agent_id,omitempty"`
	OfferID uint64 `json:"offer_id,omitempty"`
	// WaitingFor is the dedicated agent the caller waits for.
	WaitingFor string     `json:"waiting_for,omitempty"`
	Callback   bool       `json:"callback,omitempty"`
	CallbackID int64      `json:"callback_id,omitempty"`
	Number     string     `json:"number,omitempty"`
	NotBefore  *time.Time `json:"not_before,omitempty"`
	Attempts   int        `json:"attempts,omitempty"`
}

// callers counts the live callers among a queue's waiting (callbacks are
// counted apart) and returns the longest wait among them. A callback's wait
// counts from its caller's first call, or from when it was scheduled: hours,
// for one set for the evening, which is not what a wallboard's "oldest
// wait" means.
func callers(q *acd.QueueSnapshot) (n int, oldest time.Duration) {
	for _, wc := range q.Waiting {
		if !wc.Callback {
			n++
			oldest = max(oldest, wc.Wait)
		}
	}
	return n, oldest
}

// slOutcomes are the verdicts a queue counts, in SLOutcome order.
var slOutcomes = []acd.SLOutcome{acd.SLMet, acd.SLMissed, acd.SLExcluded}

func queueJSON(q *acd.QueueSnapshot) QueueJSON {
	_, oldest := callers(q)
	j := QueueJSON{
		Name: q.Name, OldestWaitSec: oldest.Seconds(),
		AgentsLoggedIn: q.AgentsLoggedIn, AgentsAvailable: q.AgentsAvailable, AgentsCoolingOff: q.AgentsCoolingOff,
		AgentsRinging: q.AgentsRinging, AgentsOnCall: q.AgentsOnCall,
		AgentsByState: map[string]int{}, NotReadyByReason: map[string]int{},
		Staffed: q.Staffed,
		ServiceLevel: ServiceLevelJSON{
			Calls: q.SLCalls, ThresholdSec: q.SLThreshold.Seconds(), TargetPercent: q.SLTarget, Known: q.SLKnown,
		},
		CallbacksWaiting: q.CallbacksReady, RingTimeoutSec: q.RingTimeout.Seconds(), Retired: q.Retired,
		Waiting: make([]WaitingJSON, 0, len(q.Waiting)),
		Counters: QueueCountersJSON{
			Queued: q.Counters.CallsQueued, Abandoned: q.Counters.CallsAbandoned, Connected: q.Counters.CallsConnected,
			Routed: q.Counters.CallsRouted, MovedIn: q.Counters.CallsMovedIn, MovedOut: q.Counters.CallsMovedOut,
			Callbacks: q.Counters.Callbacks, Offers: offersByResult(q.Counters.OffersByResult),
			ServiceLevel:     map[string]uint64{},
			ConnectedWaitSec: q.Counters.ConnectedWait.Seconds(), AbandonedWaitSec: q.Counters.AbandonedWait.Seconds(),
		},
	}
	if j.RingTimeoutSec == 0 {
		j.RingTimeoutSec = acd.DefaultRingTimeout.Seconds()
	}
	if q.SLKnown {
		ratio := finite(q.ServiceLevel)
		j.ServiceLevel.Ratio = &ratio
	}
	for _, st := range acd.AgentStates() {
		j.AgentsByState[st.String()] = q.AgentsByState[st]
	}
	for reason, n := range q.NotReadyByReason {
		j.NotReadyByReason[reason] = n
	}
	for _, o := range slOutcomes {
		j.Counters.ServiceLevel[o.String()] = q.Counters.SL[o]
	}
	if q.HandleTime > 0 {
		ht := q.HandleTime.Seconds()
		j.HandleTimeSec = &ht
		if q.Staffed > 0 {
			ewt := float64(len(q.Waiting)+1) * ht / float64(max(q.Staffed, 1))
			j.EstimatedWaitSec = &ewt
		}
	}
	for _, wc := range q.Waiting {
		j.Waiting = append(j.Waiting, WaitingJSON{
			CallID: wc.CallID, QueuedAt: wc.QueuedAt.UTC(), WaitSec: wc.Wait.Seconds(),
			Priority: wc.Priority, EffectivePriority: finite(wc.EffectivePriority), Stage: wc.Stage,
			AgentID: wc.AgentID, OfferID: wc.OfferID, WaitingFor: wc.WaitingFor,
			Callback: wc.Callback, CallbackID: wc.CallbackID, Number: wc.Number,
			NotBefore: optTime(wc.NotBefore), Attempts: wc.Attempts,
		})
	}
	return j
}

func (a *api) listQueues(w http.ResponseWriter, r *http.Request) {
	snap, err := a.snapshot(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]QueueJSON, 0, len(snap.Queues))
	for i := range snap.Queues {
		out = append(out, queueJSON(&snap.Queues[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": out})
}

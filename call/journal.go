package call

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/store"
)

// Journal writes what the ACD decides to the database: every agent state
// change (the audit trail), every routing decision, each call's
// service-level verdict and the progress of callbacks.
//
// The ACD loop hands commands over with Add, which never blocks and never
// drops: the loop must not wait on the disk, and an audit trail with holes
// is worthless. Commands queue in memory until Run's goroutine writes them.
type Journal struct {
	store *store.Store
	log   *slog.Logger

	mu      sync.Mutex
	pending []journalEntry
	wake    chan struct{}
}

type journalEntry struct {
	at  time.Time
	cmd acd.Command
}

// NewJournal returns a journal writing to st.
func NewJournal(st *store.Store, log *slog.Logger) *Journal {
	return &Journal{store: st, log: log, wake: make(chan struct{}, 1)}
}

// Wants reports whether the journal records commands of this kind.
func (j *Journal) Wants(kind acd.CommandKind) bool {
	switch kind {
	case acd.CommandAgentState, acd.CommandOffer, acd.CommandCallExit, acd.CommandCallback:
		return true
	case acd.CommandUnknown, acd.CommandCancelOffer, acd.CommandRoute, acd.CommandMove,
		acd.CommandAnnounce, acd.CommandRepair:
	}
	return false
}

// Add queues cmd, issued at at, for writing. It is safe from any goroutine.
func (j *Journal) Add(at time.Time, cmd acd.Command) {
	j.mu.Lock()
	j.pending = append(j.pending, journalEntry{at: at, cmd: cmd})
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Run writes queued commands until ctx ends. Call Flush after the ACD has
// stopped to write what is left.
func (j *Journal) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-j.wake:
			j.Flush()
		}
	}
}

// Flush writes every queued command now.
func (j *Journal) Flush() {
	for {
		j.mu.Lock()
		batch := j.pending
		j.pending = nil
		j.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for i := range batch {
			j.write(batch[i].at, &batch[i].cmd)
		}
	}
}

func (j *Journal) write(at time.Time, cmd *acd.Command) {
	ctx := context.Background()
	var err error
	switch cmd.Kind {
	case acd.CommandAgentState:
		s := &cmd.AgentState
		err = j.store.RecordAgentEventAsync(store.AgentEvent{
			At: at, AgentID: s.AgentID, From: s.From.String(), To: s.To.String(),
			Reason: s.Reason, Source: s.Source, Device: s.Device, CallID: s.CallID,
		})
		if err == nil && s.From == acd.AgentStateWrapUp && s.To != acd.AgentStateWrapUp && hasCDR(s.CallID) {
			// The call's CDR gets the after-call work it cost.
			err = j.store.CallUpdated(context.Background(), store.CDR{CallID: s.CallID, WrapUp: s.InStateFor})
			if err == nil {
				err = j.store.WrapUpRecorded(context.Background(), s.CallID, s.AgentID, at.Add(-s.InStateFor), at)
			}
		}
	case acd.CommandOffer:
		err = j.store.RecordDecision(ctx, decisionRecord(at, &cmd.Offer))
	case acd.CommandCallExit:
		e := &cmd.Exit
		if _, consult := acd.ConsultedCall(e.CallID); consult || e.Exit == acd.ExitCallback && e.SL == acd.SLNone {
			return
		}
		if e.Transferred {
			// The first answer's verdict and offers stand.
			if e.AgentID != "" {
				err = j.store.CallUpdated(ctx, store.CDR{CallID: e.CallID, AgentID: e.AgentID})
			}
			break
		}
		err = j.store.CallUpdated(ctx, store.CDR{
			CallID: e.CallID, SLOutcome: e.SL.String(), Offers: e.Offers,
			Priority: e.Priority, PrioritySet: true, AgentID: e.AgentID,
		})
	case acd.CommandCallback:
		err = j.callback(ctx, at, &cmd.Callback)
	case acd.CommandUnknown, acd.CommandCancelOffer, acd.CommandRoute, acd.CommandMove,
		acd.CommandAnnounce, acd.CommandRepair:
		return
	}
	if err != nil {
		j.log.Error("acd journal write", "command", cmd.Kind.String(), "call_id", cmd.CallID(), "err", err)
	}
}

// hasCDR reports whether the ACD's call ID is a caller's call, with a CDR:
// callbacks and consultations have none.
func hasCDR(callID string) bool {
	_, consult := acd.ConsultedCall(callID)
	return callID != "" && !consult && !acd.IsCallbackCallID(callID)
}

func decisionRecord(at time.Time, o *acd.OfferCall) store.Decision {
	d := &o.Decision
	rec := store.Decision{
		CallID: o.CallID, OfferID: o.OfferID, At: at, Queue: o.Queue, AgentID: o.AgentID,
		Rule: d.Rule.String(), Stage: d.Stage, Tier: d.Tier, Idle: d.Idle, Wait: d.Wait,
		EffectivePriority: d.EffectivePriority,
	}
	for _, c := range d.Candidates[:d.NumCandidates] {
		rec.Candidates = append(rec.Candidates, store.Candidate{AgentID: c.AgentID, Tier: c.Tier, Idle: c.Idle, Stage: c.Stage, Skipped: c.Skipped})
	}
	return rec
}

// callback brings the stored callback in line with the ACD's view.
func (j *Journal) callback(ctx context.Context, at time.Time, ch *acd.CallbackChanged) error {
	cb, err := j.store.Callback(ctx, ch.CallbackID)
	if err != nil {
		return err
	}
	switch ch.State {
	case "pending":
		cb.State = store.CallbackPending
	case "dialing":
		cb.State = store.CallbackDialing
	case "done":
		cb.State = store.CallbackDone
	case "failed":
		cb.State = store.CallbackFailed
	case "canceled":
		cb.State = store.CallbackCanceled
	case "merged":
		cb.State, cb.LastResult = store.CallbackCanceled, "merged"
		if first, err := j.store.Callback(ctx, ch.MergedInto); err == nil {
			first.QueuedAt, first.Priority, first.UpdatedAt = ch.QueuedAt, ch.Priority, at
			if _, err := j.store.SaveCallback(ctx, first); err != nil {
				return err
			}
		}
	}
	if ch.State != "merged" {
		// The ACD's view is the truth: its enqueue time (the caller's place)
		// and priority, which the conductor only approximated.
		cb.Attempts = max(cb.Attempts, ch.Attempts)
		cb.QueuedAt, cb.Priority = ch.QueuedAt, ch.Priority
	}
	cb.UpdatedAt = at
	_, err = j.store.SaveCallback(ctx, cb)
	return err
}

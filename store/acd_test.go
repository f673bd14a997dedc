package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openVersion1 creates a database at schema version 1 (only the first
// migration) holding one finished call, as an older hotline left it.
func openVersion1(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn(path, nil))
	must(t, err)
	defer db.Close()
	must(t, applyMigration(context.Background(), db, 0))
	_, err = db.Exec(`INSERT INTO calls (call_id, caller, called, trunk, start_ms, answer_ms, end_ms,
			ivr_digits, flow_version, queue, agent_id, queue_wait_ms, talk_ms,
			result, hangup_by, hangup_cause, recording_path)
		VALUES ('old', '+15550100', '+15550199', 'carrier-a', ?, ?, ?, '1', 'v1', 'support', '1001',
			2000, 60000, 'answered', 'caller', 'bye', '')`,
		t0.UnixMilli(), t0.Add(time.Second).UnixMilli(), t0.Add(time.Minute).UnixMilli())
	must(t, err)
	var version int
	must(t, db.QueryRow("PRAGMA user_version").Scan(&version))
	if version != 1 {
		t.Fatalf("prepared user_version %d, want 1", version)
	}
}

func TestMigrationFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	openVersion1(t, path)

	s, err := Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var version int
	must(t, s.readDB.QueryRow("PRAGMA user_version").Scan(&version))
	if version != len(migrations) {
		t.Errorf("user_version %d, want %d", version, len(migrations))
	}
	want := CDR{
		CallID: "old", Caller: "+15550100", Called: "+15550199", Trunk: "carrier-a",
		Start: t0, Answer: t0.Add(time.Second), End: t0.Add(time.Minute),
		IVRDigits: "1", FlowVersion: "v1", Queue: "support", AgentID: "1001",
		QueueWait: 2 * time.Second, Talk: time.Minute, Result: "answered", HangupBy: "caller", HangupCause: "bye",
	}
	got, err := s.Call(ctx, "old")
	if err != nil || got != want {
		t.Fatalf("old row after migration: %+v, %v\n want %+v", got, err, want)
	}
	// The old row takes the new columns, and is found by the new index.
	must(t, s.CallUpdated(ctx, CDR{CallID: "old", SLOutcome: SLMet, Tags: "vip", Offers: 2, PrioritySet: true}))
	want.SLOutcome, want.Tags, want.Offers = SLMet, "vip", 2
	if got, err := s.Call(ctx, "old"); err != nil || got != want {
		t.Errorf("old row updated: %+v, %v\n want %+v", got, err, want)
	}
	if agent, err := s.LastAgentForCaller(ctx, "+15550100", t0); err != nil || agent != "1001" {
		t.Errorf("LastAgentForCaller on the old row = %q, %v; want 1001", agent, err)
	}
	// The new tables are there.
	must(t, s.RecordAgentEvent(ctx, AgentEvent{At: t0, AgentID: "1001", To: "available"}))
	must(t, s.RecordDecision(ctx, Decision{CallID: "old", OfferID: 1, At: t0}))
	if _, err := s.SaveCallback(ctx, Callback{Queue: "support", Number: "+15550100", QueuedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	must(t, s.Close())

	// Reopening at version 2 migrates nothing and keeps it all.
	s, err = Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Call(ctx, "old"); err != nil || got != want {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	if cbs, err := s.PendingCallbacks(ctx); err != nil || len(cbs) != 1 {
		t.Errorf("callbacks after reopen: %v, %v", cbs, err)
	}
}

func TestCDRACDFields(t *testing.T) {
	ctx := context.Background()
	start := t0.Add(789 * time.Millisecond)
	acd := CDR{CallID: "c1", Start: start, Priority: 5, SLOutcome: SLMissed, WrapUp: 15500*time.Millisecond + 700*time.Microsecond,
		Tags: "vip,callback", Offers: 3, CallbackID: 42}
	read := acd // what reads return: truncated to ms, PrioritySet false
	read.WrapUp = 15500 * time.Millisecond

	tests := []struct {
		name   string
		writes []CDR
		want   CDR
	}{
		{"one write", []CDR{acd}, read},
		{"empty fields keep stored ones", []CDR{acd, {CallID: "c1"}}, read},
		{"unset zero priority keeps stored", []CDR{acd, {CallID: "c1", Priority: 0}}, read},
		{
			name:   "explicit zero priority replaces",
			writes: []CDR{acd, {CallID: "c1", Priority: 0, PrioritySet: true}},
			want:   func() CDR { c := read; c.Priority = 0; return c }(),
		},
		{
			name:   "negative priority",
			writes: []CDR{acd, {CallID: "c1", Priority: -2}},
			want:   func() CDR { c := read; c.Priority = -2; return c }(),
		},
		{
			name: "later values replace",
			writes: []CDR{acd, {CallID: "c1", Priority: 7, SLOutcome: SLExcluded, WrapUp: time.Second,
				Tags: "vip", Offers: 4, CallbackID: 43}},
			want: CDR{CallID: "c1", Start: start, Priority: 7, SLOutcome: SLExcluded, WrapUp: time.Second,
				Tags: "vip", Offers: 4, CallbackID: 43},
		},
		{
			name:   "defaults",
			writes: []CDR{{CallID: "c1", Start: start}},
			want:   CDR{CallID: "c1", Start: start},
		},
		{
			name: "with the lifecycle writes",
			writes: []CDR{
				{CallID: "c1", Start: start, Answer: start},
				{CallID: "c1", Queue: "support", Priority: 5, Tags: "vip,callback", CallbackID: 42},
				{CallID: "c1", AgentID: "1001", Offers: 3},
				{CallID: "c1", End: start.Add(time.Minute), Result: "answered", SLOutcome: SLMissed},
				{CallID: "c1", WrapUp: acd.WrapUp},
			},
			want: func() CDR {
				c := read
				c.Answer, c.End, c.Queue, c.AgentID, c.Result = start, start.Add(time.Minute), "support", "1001", "answered"
				return c
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			for _, w := range tt.writes {
				must(t, s.CallUpdated(ctx, w))
			}
			got, err := s.Call(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Call:\n got  %+v\n want %+v", got, tt.want)
			}
			calls, err := s.ListCalls(ctx, ListOptions{})
			if err != nil || len(calls) != 1 || calls[0] != tt.want {
				t.Errorf("ListCalls: %+v, %v", calls, err)
			}
		})
	}
}

// explainUses fails unless SQLite's plan for query uses index and needs no
// sort of its own.
func explainUses(t *testing.T, s *Store, index, query string, args ...any) {
	t.Helper()
	if plan := explain(t, s, query, args...); !strings.Contains(plan, "USING INDEX "+index) || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("plan %q does not use index %s alone", plan, index)
	}
}

func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.readDB.Query("EXPLAIN QUERY PLAN "+query, args...)
	must(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		must(t, rows.Scan(&id, &parent, &notUsed, &detail))
		plan = append(plan, detail)
	}
	must(t, rows.Err())
	all := strings.Join(plan, "; ")
	t.Logf("plan: %s", all)
	return all
}

func TestLastAgentForCaller(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const alice, bob = "+15550001", "+15550002"
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	for _, c := range []CDR{
		{CallID: "a1", Caller: alice, Start: at(0), Answer: at(0), AgentID: "1001"},
		{CallID: "a2", Caller: alice, Start: at(1), Answer: at(1), AgentID: "1002"},
		{CallID: "a3", Caller: alice, Start: at(2), Answer: at(2)},   // abandoned in queue
		{CallID: "a4", Caller: alice, Start: at(3), AgentID: "1009"}, // never answered
		{CallID: "b1", Caller: bob, Start: at(4), Answer: at(4), AgentID: "1003"},
		{CallID: "x1", Start: at(5), Answer: at(5), AgentID: "1004"}, // anonymous
	} {
		must(t, s.CallUpdated(ctx, c))
	}
	tests := []struct {
		caller string
		since  time.Time
		want   string
	}{
		{alice, time.Time{}, "1002"},
		{alice, at(0), "1002"},
		{alice, at(1), "1002"}, // started exactly at since
		{alice, at(1).Add(time.Millisecond), ""},
		{bob, at(0), "1003"},
		{"+15559999", time.Time{}, ""},
		{"", time.Time{}, ""}, // anonymous callers are not sticky
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s since %v", tt.caller, tt.since.Format(time.TimeOnly)), func(t *testing.T) {
			got, err := s.LastAgentForCaller(ctx, tt.caller, tt.since)
			if err != nil || got != tt.want {
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	explainUses(t, s, "calls_by_caller", lastAgentSQL, alice, t0.UnixMilli())
}

func TestAgentEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ev := func(ms int, agent, to string) AgentEvent {
		return AgentEvent{At: t0.Add(time.Duration(ms)*time.Millisecond + 300*time.Microsecond), AgentID: agent,
			From: "available", To: to, Reason: "r" + to, Source: "acd", Device: "sip:" + agent, CallID: "c" + to}
	}
	// e3 and e4 share a millisecond: the later recorded comes first.
	events := []AgentEvent{ev(0, "1001", "ringing"), ev(1000, "1002", "ringing"), ev(2000, "1001", "talking"), ev(2000, "1001", "wrap-up")}
	for _, e := range events {
		must(t, s.RecordAgentEvent(ctx, e))
	}
	read := func(i int) AgentEvent {
		e := events[i]
		e.At = e.At.Truncate(time.Millisecond).UTC()
		return e
	}
	tests := []struct {
		name  string
		agent string
		since time.Time
		limit int
		want  []AgentEvent
	}{
		{"all", "", time.Time{}, 0, []AgentEvent{read(3), read(2), read(1), read(0)}},
		{"one agent", "1001", time.Time{}, 0, []AgentEvent{read(3), read(2), read(0)}},
		{"since", "", t0.Add(time.Second), 0, []AgentEvent{read(3), read(2), read(1)}},
		{"agent and since", "1001", t0.Add(time.Millisecond), 0, []AgentEvent{read(3), read(2)}},
		{"limit", "", time.Time{}, 2, []AgentEvent{read(3), read(2)}},
		{"unknown agent", "9999", time.Time{}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AgentEvents(ctx, tt.agent, tt.since, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}

	if err := s.RecordAgentEvent(ctx, AgentEvent{To: "available"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("event without agent = %v, want ErrInvalid", err)
	}
	if err := s.RecordAgentEventAsync(AgentEvent{To: "available"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("async event without agent = %v, want ErrInvalid", err)
	}
	// A zero At is stamped now.
	before := time.Now().Truncate(time.Millisecond)
	must(t, s.RecordAgentEvent(ctx, AgentEvent{AgentID: "now"}))
	got, err := s.AgentEvents(ctx, "now", time.Time{}, 0)
	if err != nil || len(got) != 1 || got[0].At.Before(before) || got[0].At.After(time.Now()) || got[0].At.Location() != time.UTC {
		t.Errorf("stamped event: %+v, %v", got, err)
	}
}

func TestAgentEventsIndexed(t *testing.T) {
	s, _ := openTemp(t)
	for _, tt := range []struct {
		agent string
		since time.Time
		index string
	}{
		{"1001", t0, "agent_events_by_agent"},
		{"1001", time.Time{}, "agent_events_by_agent"},
		{"", t0, "agent_events_by_at"},
		{"", time.Time{}, "agent_events_by_at"},
	} {
		query, args := agentEventsQuery(tt.agent, tt.since, 10)
		explainUses(t, s, tt.index, query, args...)
	}
}

func TestLimitsClamp(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const n = MaxListLimit + 10
	for i := range n {
		must(t, s.RecordAgentEventAsync(AgentEvent{At: t0.Add(time.Duration(i) * time.Millisecond), AgentID: "1001"}))
	}
	// Writes commit in queue order: once this one is done, so are those.
	must(t, s.RecordAgentEvent(ctx, AgentEvent{At: t0, AgentID: "barrier"}))
	var ids sync.Map
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range n / 4 {
				id, err := s.SaveCallback(ctx, Callback{Queue: "q", Number: "n", State: CallbackDone, QueuedAt: t0, UpdatedAt: t0})
				if err != nil {
					t.Error(err)
					return
				}
				ids.Store(id, true)
			}
		})
	}
	wg.Wait()
	tests := []struct{ limit, want int }{
		{-1, DefaultListLimit}, {0, DefaultListLimit}, {1, 1}, {7, 7},
		{MaxListLimit, MaxListLimit}, {MaxListLimit + 1, MaxListLimit}, {math.MaxInt, MaxListLimit},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			events, err := s.AgentEvents(ctx, "1001", time.Time{}, tt.limit)
			if err != nil || len(events) != tt.want {
				t.Errorf("AgentEvents: %d events, %v; want %d", len(events), err, tt.want)
			}
			cbs, err := s.ListCallbacks(ctx, CallbackDone, tt.limit)
			if err != nil || len(cbs) != tt.want {
				t.Errorf("ListCallbacks: %d callbacks, %v; want %d", len(cbs), err, tt.want)
			}
		})
	}
}

func TestConcurrentAgentEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const goroutines, each = 50, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			agent := fmt.Sprint(1000 + g)
			for i := range each {
				e := AgentEvent{At: t0.Add(time.Duration(i) * time.Millisecond), AgentID: agent, To: fmt.Sprint(i)}
				// Half the goroutines wait for their commits, half only queue.
				var err error
				if g%2 == 0 {
					err = s.RecordAgentEvent(ctx, e)
				} else {
					err = s.RecordAgentEventAsync(e)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Reads run alongside.
	wg.Go(func() {
		for range 20 {
			if _, err := s.AgentEvents(ctx, "", time.Time{}, 100); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	must(t, s.RecordAgentEvent(ctx, AgentEvent{At: t0, AgentID: "barrier"}))
	var count int
	must(t, s.readDB.QueryRow(`SELECT count(*) FROM agent_events WHERE agent_id != 'barrier'`).Scan(&count))
	if count != goroutines*each {
		t.Fatalf("%d events stored, want %d", count, goroutines*each)
	}
	for g := range goroutines {
		events, err := s.AgentEvents(ctx, fmt.Sprint(1000+g), time.Time{}, MaxListLimit)
		if err != nil || len(events) != each {
			t.Fatalf("agent %d: %d events, %v", 1000+g, len(events), err)
		}
		for i, e := range events {
			if want := fmt.Sprint(each - 1 - i); e.To != want {
				t.Fatalf("agent %d event %d: To %q, want %q", 1000+g, i, e.To, want)
			}
		}
	}
	if n := s.FailedAsyncWrites(); n != 0 {
		t.Errorf("FailedAsyncWrites = %d", n)
	}
}

// Every event that RecordAgentEventAsync accepted is on disk after Close,
// however the calls race it.
func TestAsyncEventsSurviveClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.db")
	s, err := Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := 0; ; i++ {
				err := s.RecordAgentEventAsync(AgentEvent{At: t0, AgentID: fmt.Sprint(g), To: fmt.Sprint(i)})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				accepted.Add(1)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	must(t, s.Close())
	wg.Wait()

	s, err = Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var count int64
	must(t, s.readDB.QueryRow(`SELECT count(*) FROM agent_events`).Scan(&count))
	if count != accepted.Load() || count == 0 {
		t.Errorf("%d events on disk, %d accepted", count, accepted.Load())
	}
}

func TestCandidateJSON(t *testing.T) {
	c := Candidate{AgentID: "1001", Tier: 2, Idle: 1500*time.Millisecond + 999*time.Microsecond, Stage: 1}
	b, err := json.Marshal(c)
	must(t, err)
	if want := `{"agent_id":"1001","tier":2,"idle_ms":1500,"stage":1}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	b, err = json.Marshal([]Candidate{{AgentID: "1002", Skipped: "busy"}})
	must(t, err)
	if want := `[{"agent_id":"1002","tier":0,"idle_ms":0,"stage":0,"skipped":"busy"}]`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back Candidate
	must(t, json.Unmarshal([]byte(`{"agent_id":"1001","tier":2,"idle_ms":1500,"stage":1}`), &back))
	if want := (Candidate{AgentID: "1001", Tier: 2, Idle: 1500 * time.Millisecond, Stage: 1}); back != want {
		t.Errorf("Unmarshal = %+v, want %+v", back, want)
	}
}

func TestDecisions(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	d1 := Decision{
		CallID: "c1", OfferID: 7, At: t0.Add(250*time.Millisecond + 400*time.Microsecond),
		Queue: "support", AgentID: "1001", Rule: "longest-idle", Stage: 1, Tier: 2,
		Idle: 90500 * time.Millisecond, Wait: 12 * time.Second, EffectivePriority: 5.25,
		Candidates: []Candidate{
			{AgentID: "1001", Tier: 2, Idle: 90500 * time.Millisecond, Stage: 1},
			{AgentID: "1002", Tier: 2, Idle: 10 * time.Second, Stage: 1, Skipped: "less-idle"},
			{AgentID: "1003", Tier: 3, Stage: 2, Skipped: "stage"},
		},
	}
	d2 := Decision{CallID: "c1", OfferID: 12, At: t0.Add(time.Minute), Queue: "support", AgentID: "1002", Rule: "sticky",
		EffectivePriority: math.Inf(1)}
	other := Decision{CallID: "c2", OfferID: 8, At: t0, AgentID: "1001"}
	// Recorded out of offer order.
	for _, d := range []Decision{d2, other, d1} {
		must(t, s.RecordDecision(ctx, d))
	}
	want1 := d1
	want1.At = t0.Add(250 * time.Millisecond)
	got, err := s.Decisions(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Decision{want1, d2}; !reflect.DeepEqual(got, want) {
		t.Errorf("Decisions:\n got  %+v\n want %+v", got, want)
	}
	// Candidates are a JSON array with integer milliseconds.
	var raw string
	must(t, s.readDB.QueryRow(`SELECT candidates FROM decisions WHERE call_id = 'c1' AND offer_id = 7`).Scan(&raw))
	if !strings.HasPrefix(raw, `[{"agent_id":"1001","tier":2,"idle_ms":90500,"stage":1}`) {
		t.Errorf("stored candidates %s", raw)
	}
	must(t, s.readDB.QueryRow(`SELECT candidates FROM decisions WHERE call_id = 'c1' AND offer_id = 12`).Scan(&raw))
	if raw != "[]" {
		t.Errorf("no candidates stored as %s, want []", raw)
	}

	// Recording an offer again replaces it.
	d2b := d2
	d2b.Rule, d2b.EffectivePriority = "longest-idle", -1
	must(t, s.RecordDecision(ctx, d2b))
	if got, err := s.Decisions(ctx, "c1"); err != nil || len(got) != 2 || !reflect.DeepEqual(got[1], d2b) {
		t.Errorf("after replacing: %+v, %v", got, err)
	}
	if got, err := s.Decisions(ctx, "none"); err != nil || got != nil {
		t.Errorf("unknown call: %+v, %v", got, err)
	}
	// The largest offer ID that fits round-trips.
	big := Decision{CallID: "c3", OfferID: math.MaxInt64, At: t0}
	must(t, s.RecordDecision(ctx, big))
	if got, err := s.Decisions(ctx, "c3"); err != nil || len(got) != 1 || got[0].OfferID != math.MaxInt64 {
		t.Errorf("big offer ID: %+v, %v", got, err)
	}

	for name, d := range map[string]Decision{
		"no call ID":     {OfferID: 1},
		"offer ID 1<<63": {CallID: "c", OfferID: 1 << 63},
		"NaN priority":   {CallID: "c", OfferID: 1, EffectivePriority: math.NaN()},
	} {
		if err := s.RecordDecision(ctx, d); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestCallbacks(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	save := func(cb Callback) Callback {
		t.Helper()
		id, err := s.SaveCallback(ctx, cb)
		if err != nil {
			t.Fatal(err)
		}
		if cb.ID != 0 && id != cb.ID {
			t.Fatalf("update returned ID %d, want %d", id, cb.ID)
		}
		cb.ID = id
		return cb
	}

	// Inserted out of QueuedAt order.
	late := save(Callback{Queue: "support", Number: "+15550001", Priority: 3, QueuedAt: at(30), State: CallbackPending,
		MaxAttempts: 3, OriginCallID: "in-1", UpdatedAt: at(31)})
	early := save(Callback{Queue: "support", Number: "+15550002", QueuedAt: at(10), NotBefore: at(3600),
		State: CallbackDialing, Attempts: 1, MaxAttempts: 3, LastResult: "no-answer", UpdatedAt: at(40)})
	done := save(Callback{Queue: "support", Number: "+15550003", QueuedAt: at(5), State: CallbackDone, UpdatedAt: at(50)})
	sales := save(Callback{Queue: "sales", Number: "+15550001", QueuedAt: at(20), State: CallbackPending, UpdatedAt: at(20)})
	if late.ID == 0 || early.ID == late.ID {
		t.Fatalf("IDs %d, %d", late.ID, early.ID)
	}

	got, err := s.Callback(ctx, late.ID)
	if err != nil || got != late {
		t.Errorf("Callback:\n got  %+v, %v\n want %+v", got, err, late)
	}
	if got, err := s.Callback(ctx, early.ID); err != nil || got != early || !got.NotBefore.Equal(at(3600)) {
		t.Errorf("Callback with NotBefore: %+v, %v", got, err)
	}
	if _, err := s.Callback(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown callback: %v, want ErrNotFound", err)
	}

	pending, err := s.PendingCallbacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Callback{early, sales, late}; !reflect.DeepEqual(pending, want) {
		t.Errorf("PendingCallbacks:\n got  %+v\n want %+v", pending, want)
	}

	// A second request from the same number in the same queue finds the
	// first; the same number in another queue is another callback.
	for _, tt := range []struct {
		queue, number string
		want          Callback
		ok            bool
	}{
		{"support", "+15550001", late, true},
		{"sales", "+15550001", sales, true},
		{"support", "+15550002", early, true}, // dialing still merges
		{"support", "+15550003", Callback{}, false},
		{"billing", "+15550001", Callback{}, false},
	} {
		cb, ok, err := s.PendingCallbackFor(ctx, tt.queue, tt.number)
		if err != nil || ok != tt.ok || cb != tt.want {
			t.Errorf("PendingCallbackFor(%s, %s) = %+v, %v, %v; want %+v, %v", tt.queue, tt.number, cb, ok, err, tt.want, tt.ok)
		}
	}
	explainUses(t, s, "callbacks_open_by_number", pendingCallbackForSQL, "support", "+15550001")
	// Finished callbacks are not scanned: only the open ones are looked up
	// (then sorted).
	if plan := explain(t, s, pendingCallbacksSQL); !strings.Contains(plan, "USING INDEX callbacks_by_state (state=?)") {
		t.Errorf("PendingCallbacks plan %q", plan)
	}
	explainUses(t, s, "callbacks_by_state", `SELECT `+callbackColumns+` FROM callbacks WHERE state = ?2 ORDER BY id DESC LIMIT ?1`, 10, "done")

	// The ACD merges: it updates the pending one.
	late.Priority, late.Attempts, late.UpdatedAt = 5, 1, at(60)
	late.NotBefore = at(120)
	save(late)
	if got, err := s.Callback(ctx, late.ID); err != nil || got != late {
		t.Errorf("after update: %+v, %v\n want %+v", got, err, late)
	}
	// Updating clears fields too: every field is replaced.
	late.NotBefore, late.LastResult, late.State = time.Time{}, "", CallbackCanceled
	save(late)
	if got, err := s.Callback(ctx, late.ID); err != nil || got != late {
		t.Errorf("after canceling: %+v, %v\n want %+v", got, err, late)
	}
	if _, ok, err := s.PendingCallbackFor(ctx, "support", "+15550001"); ok || err != nil {
		t.Errorf("canceled callback still open: %v, %v", ok, err)
	}
	if _, err := s.SaveCallback(ctx, Callback{ID: 9999, Queue: "q", Number: "n"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("updating an unknown callback: %v, want ErrNotFound", err)
	}

	for _, tt := range []struct {
		state CallbackState
		want  []Callback
	}{
		{"", []Callback{sales, done, early, late}},
		{CallbackPending, []Callback{sales}},
		{CallbackDone, []Callback{done}},
		{CallbackFailed, nil},
	} {
		got, err := s.ListCallbacks(ctx, tt.state, 0)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ListCallbacks(%q):\n got  %+v, %v\n want %+v", tt.state, got, err, tt.want)
		}
	}
}

func TestSaveCallbackDefaultsAndInvalid(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	before := time.Now().Truncate(time.Millisecond)
	id, err := s.SaveCallback(ctx, Callback{Queue: "q", Number: "n"})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := s.Callback(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if cb.State != CallbackPending || cb.QueuedAt.Before(before) || cb.QueuedAt.After(after) ||
		cb.UpdatedAt.Before(before) || !cb.NotBefore.IsZero() || cb.QueuedAt.Location() != time.UTC {
		t.Errorf("defaults: %+v", cb)
	}
	for name, cb := range map[string]Callback{
		"no queue":      {Number: "n"},
		"no number":     {Queue: "q"},
		"unknown state": {Queue: "q", Number: "n", State: "ringing"},
	} {
		if _, err := s.SaveCallback(ctx, cb); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestCallbackAttempts(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	id, err := s.SaveCallback(ctx, Callback{Queue: "q", Number: "n", QueuedAt: t0, UpdatedAt: t0})
	must(t, err)
	other, err := s.SaveCallback(ctx, Callback{Queue: "q", Number: "m", QueuedAt: t0, UpdatedAt: t0})
	must(t, err)
	a1 := CallbackAttempt{CallbackID: id, At: t0.Add(time.Minute + 700*time.Microsecond), AgentID: "1001", CallID: "out-1", Result: "no-answer"}
	a2 := CallbackAttempt{CallbackID: id, At: t0.Add(2 * time.Minute), AgentID: "1002", CallID: "out-2", Result: "answered"}
	for _, a := range []CallbackAttempt{a2, a1, {CallbackID: other, At: t0, Result: "busy"}} {
		must(t, s.RecordCallbackAttempt(ctx, a))
	}
	a1.At = t0.Add(time.Minute)
	got, err := s.CallbackAttempts(ctx, id)
	if want := []CallbackAttempt{a1, a2}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("CallbackAttempts:\n got  %+v, %v\n want %+v", got, err, want)
	}
	if err := s.RecordCallbackAttempt(ctx, CallbackAttempt{CallbackID: 9999, At: t0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("attempt of unknown callback: %v, want ErrNotFound", err)
	}
	if got, err := s.CallbackAttempts(ctx, 9999); err != nil || got != nil {
		t.Errorf("attempts of unknown callback: %+v, %v", got, err)
	}
}

func TestCloseDanglingResetsDialingCallbacks(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	must(t, s.CallAnswered(ctx, CDR{CallID: "live", Start: t0}))
	ids := map[CallbackState]int64{}
	for _, st := range []CallbackState{CallbackPending, CallbackDialing, CallbackDone, CallbackFailed} {
		id, err := s.SaveCallback(ctx, Callback{Queue: "q", Number: string(st), QueuedAt: t0, State: st,
			Attempts: 1, LastResult: "before", UpdatedAt: t0})
		must(t, err)
		ids[st] = id
	}
	restart := t0.Add(time.Hour)
	n, err := s.CloseDangling(ctx, "system-restart", restart)
	if err != nil || n != 1 {
		t.Fatalf("CloseDangling = %d, %v; want 1 call", n, err)
	}
	for st, id := range ids {
		cb, err := s.Callback(ctx, id)
		must(t, err)
		want := Callback{ID: id, Queue: "q", Number: string(st), QueuedAt: t0, State: st, Attempts: 1, LastResult: "before", UpdatedAt: t0}
		if st == CallbackDialing {
			want.State, want.LastResult, want.UpdatedAt = CallbackPending, "system-restart", restart
		}
		if cb != want {
			t.Errorf("%s:\n got  %+v\n want %+v", st, cb, want)
		}
	}
}

// BenchmarkRecordAgentEvent measures the audit trail under load: many
// goroutines waiting for their commits (batched), and one goroutine
// queuing without waiting (as the ACD's loop would), timed until all are
// committed.
func BenchmarkRecordAgentEvent(b *testing.B) {
	ctx := context.Background()
	ev := func(i int) AgentEvent {
		return AgentEvent{At: t0.Add(time.Duration(i) * time.Millisecond), AgentID: fmt.Sprint(1000 + i%200),
			From: "available", To: "ringing", Reason: "offer", Source: "acd", Device: "sip:1001@10.0.0.1", CallID: "call-" + fmt.Sprint(i)}
	}
	b.Run("parallel", func(b *testing.B) {
		s, _ := openTemp(b)
		var next atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.RecordAgentEvent(ctx, ev(int(next.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("async", func(b *testing.B) {
		s, _ := openTemp(b)
		b.ResetTimer()
		for i := range b.N {
			if err := s.RecordAgentEventAsync(ev(i)); err != nil {
				b.Fatal(err)
			}
		}
		// Wait until all are committed: writes commit in queue order.
		if err := s.RecordAgentEvent(ctx, ev(-1)); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkRecordDecision measures decision logging from many goroutines,
// with a realistic candidate list.
func BenchmarkRecordDecision(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	cands := make([]Candidate, 8)
	for i := range cands {
		cands[i] = Candidate{AgentID: fmt.Sprint(1000 + i), Tier: i % 3, Idle: time.Duration(i) * time.Second, Stage: 1, Skipped: "less-idle"}
	}
	var next atomic.Uint64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			d := Decision{CallID: fmt.Sprint("call-", n/4), OfferID: n, At: t0, Queue: "support", AgentID: "1000",
				Rule: "longest-idle", Stage: 1, Tier: 1, Idle: time.Minute, Wait: 20 * time.Second, EffectivePriority: 5.5, Candidates: cands}
			if err := s.RecordDecision(ctx, d); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

func TestIVRPathIsKeptAndMerged(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	must(t, s.CallAnswered(ctx, CDR{CallID: "p", Start: t0}))
	must(t, s.CallUpdated(ctx, CDR{CallID: "p", IVRPath: "welcome>support"}))
	must(t, s.CallUpdated(ctx, CDR{CallID: "p", Queue: "support"})) // no path: keeps it
	got, err := s.Call(ctx, "p")
	must(t, err)
	if got.IVRPath != "welcome>support" || got.Queue != "support" {
		t.Fatalf("CDR = %+v", got)
	}
}

func TestReasonsReport(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	for i, c := range []CDR{
		{IVRPath: "welcome>support", Queue: "support", Result: "completed"},
		{IVRPath: "welcome>support", Queue: "support", Result: "abandoned"},
		{IVRPath: "welcome>balance>bye", Result: "ivr"},
		{IVRPath: "welcome>sales", Queue: "sales", Result: "completed"},
	} {
		c.CallID = fmt.Sprintf("r%d", i)
		c.Start, c.Answer, c.End = t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Hour)
		must(t, s.CallAnswered(ctx, c))
		must(t, s.CallEnded(ctx, c))
	}
	// Outside the period.
	must(t, s.CallAnswered(ctx, CDR{CallID: "late", Start: t0.Add(48 * time.Hour), Answer: t0.Add(48 * time.Hour), IVRPath: "welcome>sales"}))
	rows, err := s.ReasonsReport(ctx, t0, t0.Add(24*time.Hour), ByMenuPath)
	must(t, err)
	want := []ReasonRow{
		{Key: "welcome>support", Calls: 2, Queued: 2, Answered: 1, Abandoned: 1},
		{Key: "welcome>balance>bye", Calls: 1, Contained: 1},
		{Key: "welcome>sales", Calls: 1, Queued: 1, Answered: 1},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows %+v\nwant %+v", rows, want)
	}
	if _, err := s.ReasonsReport(ctx, t0, t0.Add(time.Hour), "caller; DROP TABLE calls"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a made-up group: %v", err)
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSchemaVersion(t *testing.T) {
	// Migration 4 adds business_type, transfer_to, survey_score and
	// voicemail_start_ms, 5 hold_ms and holds, 6 the call_stages table, 7
	// dispositions, legal hold, recording analytics and the audit log; a
	// new migration must bump this on purpose.
	if len(migrations) != 7 {
		t.Fatalf("%d migrations, want 7", len(migrations))
	}
	s, _ := openTemp(t)
	var version int
	must(t, s.readDB.QueryRow("PRAGMA user_version").Scan(&version))
	if version != 7 {
		t.Errorf("user_version %d, want 7", version)
	}
}

// TestMigrationFromVersion3 opens a database an older hotline left at
// version 3: its rows take the new columns' defaults and can be updated.
func TestMigrationFromVersion3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	db, err := sql.Open("sqlite3", dsn(path, nil))
	must(t, err)
	for v := range 3 {
		must(t, applyMigration(ctx, db, v))
	}
	_, err = db.Exec(`INSERT INTO calls (call_id, start_ms, ivr_path, result) VALUES ('old', ?, 'welcome', 'ivr')`, t0.UnixMilli())
	must(t, err)
	must(t, db.Close())

	s, err := Open(path, discard())
	must(t, err)
	defer s.Close()
	want := CDR{CallID: "old", Start: t0, IVRPath: "welcome", Result: "ivr"}
	if got, err := s.Call(ctx, "old"); err != nil || got != want {
		t.Fatalf("old row: %+v, %v\n want %+v", got, err, want)
	}
	must(t, s.CallUpdated(ctx, CDR{CallID: "old", BusinessType: "retail", SurveyScore: 9, SurveySet: true}))
	want.BusinessType, want.SurveyScore, want.SurveySet = "retail", 9, true
	if got, err := s.Call(ctx, "old"); err != nil || got != want {
		t.Errorf("old row updated: %+v, %v\n want %+v", got, err, want)
	}
}

func TestCDRIVRFields(t *testing.T) {
	ctx := context.Background()
	start := t0.Add(789 * time.Millisecond)
	full := CDR{CallID: "c1", Start: start, BusinessType: "private_banking", TransferTo: "number +861012345678",
		SurveyScore: 8, SurveySet: true, VoicemailStart: start.Add(30*time.Second + 400*time.Microsecond)}
	read := full // reads keep milliseconds
	read.VoicemailStart = start.Add(30 * time.Second)
	with := func(f func(*CDR)) CDR { c := read; f(&c); return c }

	tests := []struct {
		name   string
		writes []CDR
		want   CDR
	}{
		{"one write", []CDR{full}, read},
		{"empty fields keep stored ones", []CDR{full, {CallID: "c1"}}, read},
		{"an update without them keeps them", []CDR{full, {CallID: "c1", Queue: "support", Result: "voicemail"}},
			with(func(c *CDR) { c.Queue, c.Result = "support", "voicemail" })},
		{"a score without SurveySet is not written", []CDR{full, {CallID: "c1", SurveyScore: 3}}, read},
		{"survey score 0 is stored", []CDR{full, {CallID: "c1", SurveyScore: 0, SurveySet: true}},
			with(func(c *CDR) { c.SurveyScore = 0 })},
		{"survey score 0 on a new row", []CDR{{CallID: "c1", Start: start, SurveySet: true}},
			CDR{CallID: "c1", Start: start, SurveySet: true}},
		{"survey score 10", []CDR{{CallID: "c1", Start: start, SurveyScore: 10, SurveySet: true}},
			CDR{CallID: "c1", Start: start, SurveyScore: 10, SurveySet: true}},
		{"later values replace", []CDR{full, {CallID: "c1", BusinessType: "retail", TransferTo: "agent 1003",
			SurveyScore: 2, SurveySet: true, VoicemailStart: start.Add(time.Minute)}},
			with(func(c *CDR) {
				c.BusinessType, c.TransferTo, c.SurveyScore, c.VoicemailStart = "retail", "agent 1003", 2, start.Add(time.Minute)
			})},
		{"no survey reads as unset", []CDR{{CallID: "c1", Start: start, BusinessType: "x"}},
			CDR{CallID: "c1", Start: start, BusinessType: "x"}},
		{"hold time and count", []CDR{full, {CallID: "c1", Hold: 12345 * time.Millisecond, Holds: 2}, {CallID: "c1", Result: "completed"}},
			with(func(c *CDR) { c.Hold, c.Holds, c.Result = 12345*time.Millisecond, 2, "completed" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			for _, w := range tt.writes {
				must(t, s.CallUpdated(ctx, w))
			}
			got, err := s.Call(ctx, "c1")
			if err != nil || got != tt.want {
				t.Errorf("Call: %v\n got  %+v\n want %+v", err, got, tt.want)
			}
			calls, err := s.ListCalls(ctx, ListOptions{})
			if err != nil || len(calls) != 1 || calls[0] != tt.want {
				t.Errorf("ListCalls: %+v, %v", calls, err)
			}
		})
	}
}

func TestSurveyScoreOutOfRange(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	stored := CDR{CallID: "c1", Start: t0, SurveyScore: 7, SurveySet: true}
	must(t, s.CallAnswered(ctx, stored))
	for _, score := range []int{-1, 11, 100} {
		err := s.CallUpdated(ctx, CDR{CallID: "c1", SurveyScore: score, SurveySet: true, Queue: "support"})
		if !errors.Is(err, ErrInvalidCDR) {
			t.Errorf("score %d: %v, want ErrInvalidCDR", score, err)
		}
		// A new row with a bad score is not created either.
		if err := s.CallAnswered(ctx, CDR{CallID: "new", Start: t0, SurveyScore: score, SurveySet: true}); !errors.Is(err, ErrInvalidCDR) {
			t.Errorf("new row with score %d: %v", score, err)
		}
	}
	if got, err := s.Call(ctx, "c1"); err != nil || got != stored {
		t.Errorf("after refused writes: %+v, %v; want %+v", got, err, stored)
	}
	if _, err := s.Call(ctx, "new"); !errors.Is(err, ErrNotFound) {
		t.Errorf("row with a bad score: %v", err)
	}

	// The database refuses such a score too, whoever writes it, and the
	// writer goes on.
	for _, q := range []string{
		`UPDATE calls SET survey_score = 11 WHERE call_id = 'c1'`,
		`UPDATE calls SET survey_score = -1 WHERE call_id = 'c1'`,
		`INSERT INTO calls (call_id, start_ms, survey_score) VALUES ('raw', 0, 42)`,
	} {
		_, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
			_, err := tx.Exec(q)
			return 0, err
		})
		if err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("%s: %v, want a CHECK constraint failure", q, err)
		}
	}
	must(t, s.CallUpdated(ctx, CDR{CallID: "c1", SurveySet: true}))
	stored.SurveyScore = 0
	if got, err := s.Call(ctx, "c1"); err != nil || got != stored {
		t.Errorf("after the DB refused: %+v, %v; want %+v", got, err, stored)
	}
}

// endedCall writes a finished, answered call.
func endedCall(t *testing.T, s *Store, c CDR) {
	t.Helper()
	ctx := context.Background()
	if c.Answer.IsZero() {
		c.Answer = c.Start
	}
	if c.End.IsZero() {
		c.End = c.Start.Add(time.Minute)
	}
	must(t, s.CallAnswered(ctx, CDR{CallID: c.CallID, Start: c.Start, Answer: c.Answer}))
	must(t, s.CallEnded(ctx, c))
}

func TestReasonsReportByBusinessType(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	for i, c := range []CDR{
		{BusinessType: "retail", Queue: "support", Result: "completed"},
		{BusinessType: "retail", Result: "ivr"},
		{BusinessType: "private_banking", Queue: "vip", Result: "abandoned"},
		{Result: "ivr"},
		{Queue: "support", Result: "completed"},
	} {
		c.CallID, c.Start = fmt.Sprintf("b%d", i), t0.Add(time.Duration(i)*time.Minute)
		endedCall(t, s, c)
	}
	rows, err := s.ReasonsReport(ctx, t0, t0.Add(24*time.Hour), ByBusinessType)
	must(t, err)
	want := []ReasonRow{
		{Key: "", Calls: 2, Contained: 1, Queued: 1, Answered: 1},
		{Key: "retail", Calls: 2, Contained: 1, Queued: 1, Answered: 1},
		{Key: "private_banking", Calls: 1, Queued: 1, Abandoned: 1},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows %+v\nwant %+v", rows, want)
	}
}

func TestNPSReport(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	for i, c := range []CDR{
		{AgentID: "1001", Queue: "support", BusinessType: "retail", SurveyScore: 10, SurveySet: true},
		{AgentID: "1001", Queue: "support", BusinessType: "retail", SurveyScore: 9, SurveySet: true},
		{AgentID: "1002", Queue: "support", BusinessType: "private_banking", SurveyScore: 8, SurveySet: true},
		{AgentID: "1002", Queue: "sales", SurveyScore: 3, SurveySet: true},
		{AgentID: "1002", Queue: "sales"},                 // no answer: not counted
		{Queue: "sales", SurveyScore: 0, SurveySet: true}, // 0 counts, no agent
		{AgentID: "1001", Queue: "support", SurveyScore: 6, SurveySet: true, // outside the period
			Start: t0.Add(48 * time.Hour)},
	} {
		c.CallID = fmt.Sprintf("n%d", i)
		if c.Start.IsZero() {
			c.Start = t0.Add(time.Duration(i) * time.Minute)
		}
		endedCall(t, s, c)
	}
	from, to := t0, t0.Add(24*time.Hour)
	for _, tt := range []struct {
		group NPSGroup
		want  []NPSRow
	}{
		{NPSByAgent, []NPSRow{
			{Key: "1001", Responses: 2, Promoters: 2, ScoreSum: 19},
			{Key: "1002", Responses: 2, Passives: 1, Detractors: 1, ScoreSum: 11},
			{Key: "", Responses: 1, Detractors: 1},
		}},
		{NPSByQueue, []NPSRow{
			{Key: "support", Responses: 3, Promoters: 2, Passives: 1, ScoreSum: 27},
			{Key: "sales", Responses: 2, Detractors: 2, ScoreSum: 3},
		}},
		{NPSByBusinessType, []NPSRow{
			{Key: "", Responses: 2, Detractors: 2, ScoreSum: 3},
			{Key: "retail", Responses: 2, Promoters: 2, ScoreSum: 19},
			{Key: "private_banking", Responses: 1, Passives: 1, ScoreSum: 8},
		}},
	} {
		rows, err := s.NPSReport(ctx, from, to, tt.group)
		must(t, err)
		// Equal counts sort by key; "" first.
		if !slices.Equal(rows, tt.want) {
			t.Errorf("by %s:\n got  %+v\n want %+v", tt.group, rows, tt.want)
		}
	}
	if _, err := s.NPSReport(ctx, from, to, "caller; DROP TABLE calls"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a made-up group: %v", err)
	}
	if rows, err := s.NPSReport(ctx, to, to.Add(time.Hour), NPSByAgent); err != nil || len(rows) != 0 {
		t.Errorf("an empty period: %+v, %v", rows, err)
	}
}

func TestNPSArithmetic(t *testing.T) {
	var total NPSRow
	for _, r := range []NPSRow{
		{Responses: 2, Promoters: 2, ScoreSum: 19}, // 10, 9
		{Responses: 1, Passives: 1, ScoreSum: 8},   // 8
		{Responses: 1, Detractors: 1, ScoreSum: 3}, // 3
	} {
		total = total.Add(r)
	}
	want := NPSRow{Responses: 4, Promoters: 2, Passives: 1, Detractors: 1, ScoreSum: 30}
	if total != want {
		t.Fatalf("total %+v, want %+v", total, want)
	}
	if nps, ok := total.NPS(); !ok || nps != 25 {
		t.Errorf("NPS = %v, %v; want 25", nps, ok)
	}
	if avg, ok := total.Average(); !ok || avg != 7.5 {
		t.Errorf("Average = %v, %v; want 7.5", avg, ok)
	}
	if nps, ok := (NPSRow{Responses: 3, Detractors: 3}).NPS(); !ok || nps != -100 {
		t.Errorf("all detractors: %v, %v", nps, ok)
	}
	if _, ok := (NPSRow{}).NPS(); ok {
		t.Error("NPS of no responses is known")
	}
	if _, ok := (NPSRow{}).Average(); ok {
		t.Error("Average of no responses is known")
	}
}

func TestListVoicemails(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	// v0..v3 are voicemails one minute apart; x is not.
	for i, q := range []string{"support", "sales", "support", "support"} {
		start := t0.Add(time.Duration(i) * time.Minute)
		endedCall(t, s, CDR{CallID: fmt.Sprintf("v%d", i), Caller: "+1555010" + fmt.Sprint(i), Called: "100",
			Queue: q, BusinessType: "retail", Start: start, Answer: start.Add(time.Second),
			VoicemailStart: start.Add(21 * time.Second), End: start.Add(36 * time.Second),
			Result: ResultVoicemail, RecordingPath: fmt.Sprintf("rec/v%d.wav", i)})
	}
	endedCall(t, s, CDR{CallID: "x", Start: t0.Add(90 * time.Second), Queue: "support", Result: "completed"})
	// A voicemail whose start was not recorded, still going (no end).
	must(t, s.CallAnswered(ctx, CDR{CallID: "live", Start: t0.Add(10 * time.Minute), Answer: t0.Add(10 * time.Minute)}))
	must(t, s.CallUpdated(ctx, CDR{CallID: "live", Result: ResultVoicemail, Queue: "sales"}))

	ids := func(vs []Voicemail) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.CallID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		q    VoicemailQuery
		want []string
	}{
		{"all, newest first", VoicemailQuery{}, []string{"live", "v3", "v2", "v1", "v0"}},
		{"one queue", VoicemailQuery{Queue: "support"}, []string{"v3", "v2", "v0"}},
		{"from", VoicemailQuery{From: t0.Add(2 * time.Minute)}, []string{"live", "v3", "v2"}},
		{"to is exclusive", VoicemailQuery{To: t0.Add(2 * time.Minute)}, []string{"v1", "v0"}},
		{"from and to", VoicemailQuery{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, []string{"v2", "v1"}},
		{"limit", VoicemailQuery{Limit: 2}, []string{"live", "v3"}},
		{"offset", VoicemailQuery{Limit: 2, Offset: 2}, []string{"v2", "v1"}},
		{"past the end", VoicemailQuery{Offset: 10}, nil},
		{"unknown queue", VoicemailQuery{Queue: "nope"}, nil},
	} {
		got, err := s.ListVoicemails(ctx, tt.q)
		if err != nil || !slices.Equal(ids(got), tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.name, ids(got), err, tt.want)
		}
	}

	vs, err := s.ListVoicemails(ctx, VoicemailQuery{Queue: "sales"})
	must(t, err)
	start := t0.Add(time.Minute)
	want := Voicemail{CallID: "v1", Caller: "+15550101", Called: "100", Queue: "sales", BusinessType: "retail",
		Start: start, Answer: start.Add(time.Second), VoicemailStart: start.Add(21 * time.Second),
		End: start.Add(36 * time.Second), RecordingPath: "rec/v1.wav"}
	if len(vs) != 2 || vs[1] != want {
		t.Fatalf("sales voicemails %+v\n want [live, %+v]", vs, want)
	}
	v := vs[1]
	if d, ok := v.Duration(); !ok || d != 15*time.Second {
		t.Errorf("Duration = %v, %v", d, ok)
	}
	if o, ok := v.Offset(); !ok || o != 20*time.Second {
		t.Errorf("Offset = %v, %v", o, ok)
	}
	if !v.At().Equal(start.Add(21 * time.Second)) {
		t.Errorf("At = %v", v.At())
	}
	live := vs[0]
	if _, ok := live.Duration(); ok {
		t.Error("a voicemail without start or end has a duration")
	}
	if _, ok := live.Offset(); ok {
		t.Error("a voicemail without start has an offset")
	}
	if !live.At().Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("At of a live voicemail = %v", live.At())
	}
	if ended := (Voicemail{Start: t0, End: t0.Add(time.Minute)}); !ended.At().Equal(t0.Add(time.Minute)) {
		t.Errorf("At without a voicemail start = %v, want the end", ended.At())
	}

	for _, q := range []VoicemailQuery{{Offset: -1}, {From: t0, To: t0}, {From: t0.Add(time.Hour), To: t0}} {
		if _, err := s.ListVoicemails(ctx, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", q, err)
		}
	}
}

func TestVoicemailAndBusinessTypeIndexes(t *testing.T) {
	s, _ := openTemp(t)
	explainUses(t, s, "calls_voicemails", `SELECT call_id, caller, recording_path FROM calls WHERE result = 'voicemail' AND start_ms >= ? AND start_ms < ?
		ORDER BY start_ms DESC, call_id DESC LIMIT 50 OFFSET 0`, 0, 1)
	if plan := explain(t, s, `SELECT call_id FROM calls WHERE business_type = ? AND start_ms >= ? AND start_ms < ?`, "retail", 0, 1); !strings.Contains(plan, "calls_by_business_type") {
		t.Errorf("plan %q does not use calls_by_business_type", plan)
	}
	// The reports scan the period by start time, not the whole table.
	for _, col := range []string{"business_type", "agent_id"} {
		plan := explain(t, s, `SELECT `+col+`, COUNT(*) FROM calls WHERE start_ms >= ? AND start_ms < ? AND answer_ms IS NOT NULL GROUP BY `+col, 0, 1)
		if !strings.Contains(plan, "calls_by_start") {
			t.Errorf("report by %s: plan %q does not scan calls_by_start", col, plan)
		}
	}
}

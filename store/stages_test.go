package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// stagesOf fails the test unless Stages answers want for callID.
func stagesOf(t *testing.T, s *Store, callID string, want []Stage) {
	t.Helper()
	got, err := s.Stages(context.Background(), callID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stages(%s):\n got  %+v\n want %+v", callID, got, want)
	}
}

func TestStagesOpenThenClosed(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	queue := Stage{CallID: "c1", Seq: 2, Kind: StageQueue, Start: t0.Add(5 * time.Second), Queue: "support"}
	ring := Stage{CallID: "c1", Seq: 3, Kind: StageRing, Start: t0.Add(6 * time.Second), Parent: 2, AgentID: "1001", Queue: "support"}
	must(t, s.StagesRecorded(ctx, []Stage{queue, ring}))
	stagesOf(t, s, "c1", []Stage{queue, ring})

	// Closing both and opening talk is one write; the times keep their
	// milliseconds and come back in UTC.
	answered := t0.Add(9*time.Second + 250*time.Millisecond + 999*time.Microsecond).In(time.FixedZone("CET", 3600))
	queue.End, queue.Result = answered, "answered"
	ring.End, ring.Result = answered, "answered"
	talk := Stage{CallID: "c1", Seq: 4, Kind: StageTalk, Start: answered, AgentID: "1001", Queue: "support", Detail: "recorded"}
	must(t, s.StagesRecorded(ctx, []Stage{queue, ring, talk}))
	stored := t0.Add(9*time.Second + 250*time.Millisecond)
	queue.End, ring.End, talk.Start = stored, stored, stored
	stagesOf(t, s, "c1", []Stage{queue, ring, talk})
}

func TestStagesInSeqOrder(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	var want []Stage
	for seq, kind := range []string{StageIVR, StageQueue, StageRing, StageTalk, StageHold, StageConsult,
		StageTransfer, StageConference, StageSurvey, StageVoicemail, StageWrapUp} {
		at := t0.Add(time.Duration(seq) * time.Second)
		want = append(want, Stage{CallID: "c1", Seq: seq + 1, Kind: kind, Start: at, End: at.Add(time.Second)})
	}
	// Written out of order, across writes and with another call between.
	for _, i := range []int{7, 0, 10, 3, 1, 9, 2, 8, 4, 6, 5} {
		must(t, s.StagesRecorded(ctx, []Stage{want[i]}))
		if i == 3 {
			must(t, s.StagesRecorded(ctx, []Stage{{CallID: "c2", Seq: 1, Kind: StageIVR, Start: t0}}))
		}
	}
	stagesOf(t, s, "c1", want)
	stagesOf(t, s, "unknown", nil)
}

func TestStagesRecordedInvalid(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	valid := Stage{CallID: "c1", Seq: 1, Kind: StageIVR, Start: t0}
	tests := []struct {
		name   string
		change func(*Stage)
	}{
		{"no call ID", func(st *Stage) { st.CallID = "" }},
		{"zero seq", func(st *Stage) { st.Seq = 0 }},
		{"negative seq", func(st *Stage) { st.Seq = -1 }},
		{"no kind", func(st *Stage) { st.Kind = "" }},
		{"no start", func(st *Stage) { st.Start = time.Time{} }},
		{"ends before start", func(st *Stage) { st.End = t0.Add(-time.Millisecond) }},
		{"negative parent", func(st *Stage) { st.Parent = -1 }},
		{"own parent", func(st *Stage) { st.Parent = st.Seq }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := valid
			tt.change(&bad)
			// The valid stage beside it is not written either.
			if err := s.StagesRecorded(ctx, []Stage{valid, bad}); !errors.Is(err, ErrInvalidCDR) {
				t.Errorf("got %v, want ErrInvalidCDR", err)
			}
			stagesOf(t, s, "c1", nil)
		})
	}
	instant := valid
	instant.End = instant.Start
	must(t, s.StagesRecorded(ctx, []Stage{instant}))
	must(t, s.StagesRecorded(ctx, nil))
	stagesOf(t, s, "c1", []Stage{instant})
}

func TestCloseDanglingClosesOpenStages(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	must(t, s.CallAnswered(ctx, CDR{CallID: "live", Start: t0, Answer: t0}))
	must(t, s.CallEnded(ctx, fullCDR("ended", t0)))
	liveIVR := Stage{CallID: "live", Seq: 1, Kind: StageIVR, Start: t0, End: t0.Add(time.Second), Result: "queued"}
	liveQueue := Stage{CallID: "live", Seq: 2, Kind: StageQueue, Start: t0.Add(time.Second), Queue: "support"}
	liveRing := Stage{CallID: "live", Seq: 3, Kind: StageRing, Start: t0.Add(2 * time.Second), Parent: 2, AgentID: "1001", Result: "known"}
	// A stage left open on a call that ended is not the restart's doing.
	endedOpen := Stage{CallID: "ended", Seq: 1, Kind: StageTalk, Start: t0}
	must(t, s.StagesRecorded(ctx, []Stage{liveIVR, liveQueue, liveRing, endedOpen}))

	restart := t0.Add(time.Hour)
	if n, err := s.CloseDangling(ctx, "system-restart", restart); err != nil || n != 1 {
		t.Fatalf("CloseDangling = %d, %v; want 1 call", n, err)
	}
	liveQueue.End, liveQueue.Result = restart, "system-restart"
	liveRing.End = restart
	stagesOf(t, s, "live", []Stage{liveIVR, liveQueue, liveRing})
	stagesOf(t, s, "ended", []Stage{endedOpen})
}

// TestMigrationFromVersion5 opens a database an older hotline left at
// version 5: its calls are kept and their stages can be recorded.
func TestMigrationFromVersion5(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	db, err := sql.Open("sqlite3", dsn(path, nil))
	must(t, err)
	for v := range 5 {
		must(t, applyMigration(ctx, db, v))
	}
	_, err = db.Exec(`INSERT INTO calls (call_id, start_ms, answer_ms, hold_ms, holds) VALUES ('old', ?, ?, 3000, 1)`,
		t0.UnixMilli(), t0.UnixMilli())
	must(t, err)
	must(t, db.Close())

	s, err := Open(path, discard())
	must(t, err)
	defer s.Close()
	var version int
	must(t, s.readDB.QueryRow("PRAGMA user_version").Scan(&version))
	if version != len(migrations) {
		t.Errorf("user_version %d, want %d", version, len(migrations))
	}
	want := CDR{CallID: "old", Start: t0, Answer: t0, Hold: 3 * time.Second, Holds: 1}
	if got, err := s.Call(ctx, "old"); err != nil || got != want {
		t.Fatalf("old row: %+v, %v\n want %+v", got, err, want)
	}
	stagesOf(t, s, "old", nil)
	talk := Stage{CallID: "old", Seq: 1, Kind: StageTalk, Start: t0}
	must(t, s.StagesRecorded(ctx, []Stage{talk}))
	stagesOf(t, s, "old", []Stage{talk})
}

// TestQAFields: disposition, legal hold, analytics and the deletion mark
// are written by their own methods, read back with the call, and refused
// for a call that does not exist.
func TestQAFields(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	must(t, s.CallAnswered(ctx, CDR{CallID: "c1", Start: t0, Answer: t0}))
	must(t, s.SetDisposition(ctx, "c1", "resolved"))
	must(t, s.SetLegalHold(ctx, "c1", true))
	a := Analytics{CallerSpeech: 3 * time.Second, AgentSpeech: 5 * time.Second, SilenceRatio: 0.25,
		Overtalk: 400 * time.Millisecond, LongestSilence: 2 * time.Second, Hook: `{"text":"hello"}`}
	must(t, s.RecordingAnalyzed(ctx, "c1", a))
	must(t, s.RecordingDeleted(ctx, "c1", t0.Add(time.Hour)))
	// A merging write keeps them.
	must(t, s.CallEnded(ctx, CDR{CallID: "c1", End: t0.Add(time.Minute), Result: "completed"}))
	c, err := s.Call(ctx, "c1")
	must(t, err)
	if c.Disposition != "resolved" || !c.LegalHold || c.Analytics != a || !c.RecordingDeleted.Equal(t0.Add(time.Hour)) {
		t.Errorf("read back %+v", c)
	}
	for name, err := range map[string]error{
		"disposition": s.SetDisposition(ctx, "nope", "x"),
		"legal hold":  s.SetLegalHold(ctx, "nope", true),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of an unknown call: %v, want ErrNotFound", name, err)
		}
	}
}

// TestWrapUpRecorded: the wrap-up is nested under the agent's last stage
// (not counted in the call's own), numbered above AfterCallSeq so the
// call's own numbering never meets it; a call with no timeline gets none.
func TestWrapUpRecorded(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	must(t, s.StagesRecorded(ctx, []Stage{
		{CallID: "c1", Seq: 1, Kind: StageQueue, Start: at(0), End: at(5)},
		{CallID: "c1", Seq: 2, Kind: StageRing, Start: at(3), End: at(5), Parent: 1, AgentID: "1001"},
		{CallID: "c1", Seq: 3, Kind: StageTalk, Start: at(5), End: at(60), AgentID: "1001"},
		{CallID: "c1", Seq: 4, Kind: StageSurvey, Start: at(60), End: at(70)},
	}))
	must(t, s.WrapUpRecorded(ctx, "c1", "1001", at(60), at(90)))
	must(t, s.WrapUpRecorded(ctx, "none", "1001", at(60), at(90)))
	got, err := s.Stages(ctx, "c1")
	must(t, err)
	want := Stage{CallID: "c1", Seq: AfterCallSeq + 1, Kind: StageWrapUp, Start: at(60), End: at(90), Parent: 3, AgentID: "1001"}
	if len(got) != 5 || got[4] != want {
		t.Errorf("stages %+v; want the wrap-up %+v last", got, want)
	}
	// The call goes on numbering its own stages (a caller transferred
	// while the first agent wraps up): nothing is overwritten.
	must(t, s.StagesRecorded(ctx, []Stage{{CallID: "c1", Seq: 5, Kind: StageTalk, Start: at(70), End: at(80), AgentID: "1002"}}))
	must(t, s.WrapUpRecorded(ctx, "c1", "1002", at(80), at(95)))
	got, err = s.Stages(ctx, "c1")
	must(t, err)
	if len(got) != 7 || got[5].Kind != StageWrapUp || got[5].AgentID != "1001" || got[6].Seq != AfterCallSeq+2 || got[6].Parent != 5 {
		t.Errorf("after more stages: %+v", got)
	}
	if none, err := s.Stages(ctx, "none"); err != nil || len(none) != 0 {
		t.Errorf("a call without a timeline got %+v (%v)", none, err)
	}
}

// TestStagesRecordedAsync: queued stage writes are committed in order
// before a later write, and an invalid stage is refused at once.
func TestStagesRecordedAsync(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	st := Stage{CallID: "c1", Seq: 1, Kind: StageTalk, Start: t0}
	must(t, s.StagesRecordedAsync([]Stage{st}))
	st.End = t0.Add(time.Minute)
	must(t, s.StagesRecordedAsync([]Stage{st}))
	// A waited-for write after them: they are committed by its return.
	must(t, s.CallAnswered(ctx, CDR{CallID: "c1", Start: t0, Answer: t0}))
	got, err := s.Stages(ctx, "c1")
	must(t, err)
	if len(got) != 1 || !got[0].End.Equal(t0.Add(time.Minute)) {
		t.Errorf("stages %+v; want the closed talk", got)
	}
	if err := s.StagesRecordedAsync([]Stage{{CallID: "c1"}}); !errors.Is(err, ErrInvalidCDR) {
		t.Errorf("invalid stage: %v", err)
	}
	if n := s.FailedAsyncWrites(); n != 0 {
		t.Errorf("%d failed async writes", n)
	}
}

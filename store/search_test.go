package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// saveCalls writes each CDR in one merging write, as is (no defaults).
func saveCalls(t testing.TB, s *Store, calls ...CDR) {
	t.Helper()
	for _, c := range calls {
		must(t, s.CallUpdated(context.Background(), c))
	}
}

// recordedCall is a finished call of a minute, answered by agent 1001 in
// queue support, with a recording.
func recordedCall(id string, start time.Time) CDR {
	return CDR{CallID: id, Caller: "+15550100", Start: start, Answer: start, End: start.Add(time.Minute),
		Queue: "support", AgentID: "1001", Talk: 50 * time.Second, Result: "completed",
		RecordingPath: "/rec/" + id + ".wav"}
}

func callIDs(calls []CDR) []string {
	ids := make([]string, 0, len(calls))
	for _, c := range calls {
		ids = append(ids, c.CallID)
	}
	return ids
}

func intPtr(n int) *int    { return &n }
func boolPtr(b bool) *bool { return &b }

func TestSearchRecordingsFilters(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	with := func(c CDR, change func(*CDR)) CDR { change(&c); return c }

	saveCalls(t, s,
		recordedCall("plain", at(0)),
		with(recordedCall("card", at(1)), func(c *CDR) { c.BusinessType = "card" }),
		with(recordedCall("sales", at(2)), func(c *CDR) { c.Queue = "sales" }),
		with(recordedCall("agent2", at(3)), func(c *CDR) { c.AgentID = "1002" }),
		with(recordedCall("caller2", at(4)), func(c *CDR) { c.Caller = "+15550222" }),
		with(recordedCall("flow2", at(5)), func(c *CDR) { c.FlowVersion = "v2" }),
		with(recordedCall("abandoned", at(6)), func(c *CDR) { c.Result = "abandoned" }),
		with(recordedCall("long", at(7)), func(c *CDR) { c.End = c.Start.Add(10 * time.Minute); c.Talk = 9 * time.Minute }),
		with(recordedCall("score3", at(8)), func(c *CDR) { c.SurveyScore, c.SurveySet = 3, true }),
		with(recordedCall("score10", at(9)), func(c *CDR) { c.SurveyScore, c.SurveySet = 10, true }),
		recordedCall("held", at(10)),
		recordedCall("disposed", at(11)),
		// Never listed: no recording, a deleted one, a live call's for
		// the duration filters only.
		with(recordedCall("unrecorded", at(12)), func(c *CDR) { c.RecordingPath = "" }),
		recordedCall("deleted", at(13)),
		with(recordedCall("live", at(14)), func(c *CDR) { c.End = time.Time{} }),
	)
	must(t, s.SetLegalHold(ctx, "held", true))
	must(t, s.SetDisposition(ctx, "disposed", "resolved"))
	must(t, s.RecordingDeleted(ctx, "deleted", at(20)))

	everyListed := []string{"live", "disposed", "held", "score10", "score3", "long", "abandoned", "flow2",
		"caller2", "agent2", "sales", "card", "plain"}
	for _, tt := range []struct {
		name string
		q    RecordingQuery
		want []string
	}{
		{"none", RecordingQuery{}, everyListed},
		{"business type", RecordingQuery{BusinessType: "card"}, []string{"card"}},
		{"queue", RecordingQuery{Queue: "sales"}, []string{"sales"}},
		{"agent", RecordingQuery{AgentID: "1002"}, []string{"agent2"}},
		{"caller", RecordingQuery{Caller: "+15550222"}, []string{"caller2"}},
		{"disposition", RecordingQuery{Disposition: "resolved"}, []string{"disposed"}},
		{"flow version", RecordingQuery{FlowVersion: "v2"}, []string{"flow2"}},
		{"result", RecordingQuery{Result: "abandoned"}, []string{"abandoned"}},
		{"from", RecordingQuery{From: at(11)}, []string{"live", "disposed"}},
		{"to", RecordingQuery{To: at(1)}, []string{"plain"}},
		{"from and to", RecordingQuery{From: at(1), To: at(3)}, []string{"sales", "card"}},
		{"min duration", RecordingQuery{MinDuration: 2 * time.Minute}, []string{"long"}},
		{"max duration", RecordingQuery{MaxDuration: time.Minute, From: at(9)}, []string{"disposed", "held", "score10"}},
		{"min talk", RecordingQuery{MinTalk: time.Minute}, []string{"long"}},
		{"max talk inclusive", RecordingQuery{MaxTalk: 50 * time.Second, From: at(9)}, []string{"live", "disposed", "held", "score10"}},
		{"min score", RecordingQuery{MinScore: intPtr(4)}, []string{"score10"}},
		{"max score", RecordingQuery{MaxScore: intPtr(3)}, []string{"score3"}},
		{"score 0..10 leaves out calls without one", RecordingQuery{MinScore: intPtr(0), MaxScore: intPtr(10)}, []string{"score10", "score3"}},
		{"legal hold", RecordingQuery{LegalHold: boolPtr(true)}, []string{"held"}},
		{"no legal hold", RecordingQuery{LegalHold: boolPtr(false), From: at(10)}, []string{"live", "disposed"}},
		{"several", RecordingQuery{AgentID: "1001", Queue: "support", MinTalk: time.Minute}, []string{"long"}},
		{"nothing matches", RecordingQuery{AgentID: "nobody"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls, next, err := s.SearchRecordings(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := callIDs(calls); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if next != "" {
				t.Errorf("next cursor %q on the only page", next)
			}
		})
	}
}

func TestSearchRecordingsPagesWithoutGapsOrDuplicates(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	var want []string
	// 23 calls, three in each millisecond, so that pages end inside a
	// millisecond; the calls of agent 1002 are left out by the filter.
	for i := range 30 {
		c := recordedCall(fmt.Sprintf("c%02d", i), t0.Add(time.Duration(i/3)*time.Millisecond))
		if i%4 == 3 {
			c.AgentID = "1002"
		} else {
			want = append(want, c.CallID)
		}
		saveCalls(t, s, c)
	}
	slices.Reverse(want)
	for _, limit := range []int{1, 2, 5, 7, len(want), len(want) + 1} {
		var got []string
		q := RecordingQuery{AgentID: "1001", Limit: limit}
		for pages := 1; ; pages++ {
			calls, next, err := s.SearchRecordings(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) > limit || (next != "" && len(calls) != limit) {
				t.Fatalf("limit %d: page %d has %d calls, next %q", limit, pages, len(calls), next)
			}
			got = append(got, callIDs(calls)...)
			if next == "" {
				break
			}
			if pages > len(want) {
				t.Fatalf("limit %d: more pages than calls", limit)
			}
			q.Cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: paged through\n %v\nwant\n %v", limit, got, want)
		}
	}
}

func TestSearchRecordingsRefusesBadQueries(t *testing.T) {
	s, _ := openTemp(t)
	for name, q := range map[string]RecordingQuery{
		"cursor not base64":     {Cursor: "!!"},
		"cursor without id":     {Cursor: recordingCursor{startMs: 5}.String()},
		"cursor not a time":     {Cursor: "eC95"}, // "x/y"
		"from after to":         {From: t0, To: t0},
		"min talk > max talk":   {MinTalk: time.Minute, MaxTalk: time.Second},
		"min dur > max dur":     {MinDuration: time.Minute, MaxDuration: time.Second},
		"min score > max score": {MinScore: intPtr(5), MaxScore: intPtr(4)},
	} {
		if _, _, err := s.SearchRecordings(context.Background(), q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	_, _, err := s.SearchRecordings(context.Background(), RecordingQuery{Cursor: "!!"})
	if !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: err %v, want ErrBadCursor", err)
	}
}

// TestSearchRecordingsUsesIndexes: the filters the QA screen uses most
// are served by an index, never by a scan of every call.
func TestSearchRecordingsUsesIndexes(t *testing.T) {
	s, _ := openTemp(t)
	cursor := recordingCursor{startMs: t0.UnixMilli(), callID: "x"}.String()
	for _, tt := range []struct {
		q     RecordingQuery
		index string
	}{
		{RecordingQuery{}, "calls_by_start"},
		{RecordingQuery{Cursor: cursor, From: t0.Add(-time.Hour)}, "calls_by_start"},
		{RecordingQuery{AgentID: "1001", Cursor: cursor}, "calls_by_agent"},
		{RecordingQuery{BusinessType: "card", From: t0.Add(-time.Hour), Cursor: cursor}, "calls_by_business_type"},
	} {
		query, args, err := tt.q.sql(51)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.readDB.Query("EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			must(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX "+tt.index) {
			t.Errorf("%+v: plan %q, want it to use %s", tt.q, p, tt.index)
		}
	}
}

func TestReaderSearchesBesideAndAfterTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.db")
	s, err := Open(path, discard())
	must(t, err)
	saveCalls(t, s, recordedCall("c1", t0))

	search := func() {
		t.Helper()
		r, err := OpenReader(path)
		must(t, err)
		defer r.Close()
		calls, _, err := r.SearchRecordings(context.Background(), RecordingQuery{})
		if err != nil || !slices.Equal(callIDs(calls), []string{"c1"}) {
			t.Errorf("search: %v, %v", callIDs(calls), err)
		}
	}
	search()
	must(t, s.Close())
	search()

	if _, err := OpenReader(filepath.Join(t.TempDir(), "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing database: %v, want os.ErrNotExist", err)
	}
}

package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// answered is a finished call agent took in queue, from caller on
// businessType.
func answered(id, caller, businessType, agent, queue string, start time.Time) CDR {
	return CDR{CallID: id, Caller: caller, BusinessType: businessType, AgentID: agent, Queue: queue,
		Start: start, Answer: start, End: start.Add(time.Minute), Result: "completed"}
}

// ivrOnly is a finished call that never reached an agent.
func ivrOnly(id, caller, businessType string, start time.Time) CDR {
	return CDR{CallID: id, Caller: caller, BusinessType: businessType, Start: start, Answer: start,
		End: start.Add(time.Minute), Result: "ivr"}
}

func TestFCRReportWindowEdges(t *testing.T) {
	s, _ := openTemp(t)
	const window = 48 * time.Hour
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	callback := answered("callback-dial", "+8", "card", "1002", "sales", at(9*time.Minute))
	callback.CallbackID = 7
	saveCalls(t, s,
		callback,
		// Repeated just inside the window: not resolved.
		answered("inside", "+1", "card", "1001", "support", at(0)),
		ivrOnly("inside-repeat", "+1", "card", at(window-time.Millisecond)),
		// Repeated exactly at the window's end: a repeat, not resolved.
		answered("edge", "+2", "card", "1001", "support", at(time.Minute)),
		ivrOnly("edge-repeat", "+2", "card", at(time.Minute+window)),
		// Repeated just after: resolved.
		answered("outside", "+3", "card", "1002", "support", at(2*time.Minute)),
		ivrOnly("outside-repeat", "+3", "card", at(2*time.Minute+window+time.Millisecond)),
		// Called again on another business type: resolved; the second call
		// (in the period, answered) is resolved too.
		answered("type-a", "+4", "card", "1002", "sales", at(3*time.Minute)),
		answered("type-b", "+4", "loan", "1002", "sales", at(4*time.Minute)),
		// Both without a business type: the same one, so a repeat.
		answered("untyped", "+5", "", "1001", "sales", at(5*time.Minute)),
		ivrOnly("untyped-repeat", "+5", "", at(6*time.Minute)),
		// Anonymous callers cannot be matched: left out, repeat or not.
		answered("anonymous", "", "card", "1001", "support", at(7*time.Minute)),
		ivrOnly("anonymous-again", "", "card", at(8*time.Minute)),
		answered("withheld", "Anonymous", "card", "1001", "support", at(7*time.Minute)),
		ivrOnly("withheld-again", "anonymous", "card", at(8*time.Minute)),
		// A callback hotline dialed is no call from the customer: neither
		// counted nor a repeat of the call before it.
		answered("called-back", "+8", "card", "1002", "sales", at(8*time.Minute)),
		// Not answered by an agent: not counted, though it was repeated.
		ivrOnly("unanswered", "+6", "card", at(9*time.Minute)),
		ivrOnly("unanswered-repeat", "+6", "card", at(10*time.Minute)),
		// Before the period, repeated in it: the repeat counts, resolved.
		answered("before", "+7", "card", "1001", "support", at(-time.Hour)),
		answered("in-period-repeat", "+7", "card", "1001", "support", at(11*time.Minute)),
	)
	q := KPIQuery{From: t0, To: t0.Add(time.Hour)}
	rows, err := s.FCRReport(context.Background(), q, window)
	must(t, err)
	// inside, edge, outside, type-a, type-b, untyped, called-back,
	// in-period-repeat; resolved: outside, type-a, type-b, called-back,
	// in-period-repeat.
	want := []FCRRow{{Calls: 8, Resolved: 5}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got %+v, want %+v", rows, want)
	}

	q.GroupBy = KPIByAgent
	rows, err = s.FCRReport(context.Background(), q, window)
	must(t, err)
	want = []FCRRow{{KPIKey: KPIKey{Group: "1001"}, Calls: 4, Resolved: 1}, {KPIKey: KPIKey{Group: "1002"}, Calls: 4, Resolved: 4}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("by agent: got %+v, want %+v", rows, want)
	}
	if rate, ok := want[0].Rate(); !ok || rate != 0.25 {
		t.Errorf("rate %v %v", rate, ok)
	}
}

func TestAHTReport(t *testing.T) {
	s, _ := openTemp(t)
	a := answered("a", "+1", "", "1001", "support", t0)
	a.Talk, a.Hold, a.WrapUp = 100*time.Second, 20*time.Second, 10*time.Second
	b := answered("b", "+2", "", "1001", "support", t0.Add(time.Minute))
	b.Talk, b.WrapUp = 50*time.Second, 30*time.Second
	live := answered("live", "+3", "", "1001", "support", t0.Add(2*time.Minute))
	live.End, live.Talk = time.Time{}, time.Hour
	noAgent := ivrOnly("ivr", "+4", "", t0)
	noAgent.Talk = time.Hour
	saveCalls(t, s, a, b, live, noAgent)

	rows, err := s.AHTReport(context.Background(), KPIQuery{From: t0, To: t0.Add(time.Hour), GroupBy: KPIByQueue})
	must(t, err)
	want := []AHTRow{{KPIKey: KPIKey{Group: "support"}, Calls: 2, Talk: 150 * time.Second, Hold: 20 * time.Second, WrapUp: 40 * time.Second}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got %+v, want %+v", rows, want)
	}
	// Hold is part of talk: the handle time is talk + wrap-up.
	if aht, ok := rows[0].Mean(rows[0].HandleTime()); !ok || aht != 95 {
		t.Errorf("aht %v %v, want 95 s", aht, ok)
	}
	if _, ok := (AHTRow{}).Mean(0); ok {
		t.Error("a mean of no calls is known")
	}
}

func TestSLAndRatesReports(t *testing.T) {
	s, _ := openTemp(t)
	call := func(id, queue, agent, result, sl, transfer string, minute int) CDR {
		c := answered(id, "+1", "", agent, queue, t0.Add(time.Duration(minute)*time.Minute))
		c.Result, c.SLOutcome, c.TransferTo = result, sl, transfer
		return c
	}
	saveCalls(t, s,
		call("met1", "support", "1001", "completed", SLMet, "", 0),
		call("met2", "support", "1001", "transferred", SLMet, "extension 2000", 1),
		call("missed", "support", "", "abandoned", SLMissed, "", 2),
		call("short", "support", "", "abandoned", SLExcluded, "", 3),
		call("sales", "sales", "1002", "completed", SLMissed, "", 4),
		// Never queued: no service level, not offered.
		call("ivr", "", "", "transferred", "", "number +861012345678", 5),
	)
	ctx := context.Background()
	q := KPIQuery{From: t0, To: t0.Add(time.Hour), GroupBy: KPIByQueue}
	sl, err := s.SLReport(ctx, q)
	must(t, err)
	wantSL := []SLRow{{KPIKey: KPIKey{Group: "sales"}, Met: 0, Missed: 1}, {KPIKey: KPIKey{Group: "support"}, Met: 2, Missed: 1}}
	if !reflect.DeepEqual(sl, wantSL) {
		t.Errorf("sl: got %+v, want %+v", sl, wantSL)
	}
	rates, err := s.RatesReport(ctx, q)
	must(t, err)
	wantRates := []RatesRow{
		{KPIKey: KPIKey{Group: "sales"}, Offered: 1, Answered: 1},
		{KPIKey: KPIKey{Group: "support"}, Offered: 4, Answered: 2, Abandoned: 2, Transferred: 1},
	}
	if !reflect.DeepEqual(rates, wantRates) {
		t.Errorf("rates: got %+v, want %+v", rates, wantRates)
	}
	if r, ok := rates[1].AbandonRate(); !ok || r != 0.5 {
		t.Errorf("abandon rate %v %v", r, ok)
	}
	if _, ok := (RatesRow{}).AnswerRate(); ok {
		t.Error("a rate of nothing offered is known")
	}
}

func TestKPIIntervalsAlignToTheHour(t *testing.T) {
	s, _ := openTemp(t)
	at := func(d time.Duration) time.Time { return t0.Add(d) } // t0 is 09:00 UTC
	saveCalls(t, s,
		answered("a", "+1", "", "1001", "q", at(0)),
		answered("b", "+2", "", "1002", "q", at(15*time.Minute-time.Millisecond)),
		answered("c", "+3", "", "1001", "q", at(15*time.Minute)),
		answered("d", "+4", "", "1001", "q", at(59*time.Minute)),
		answered("e", "+5", "", "1001", "q", at(61*time.Minute)),
	)
	rows := func(q KPIQuery) []RatesRow {
		t.Helper()
		r, err := s.RatesReport(context.Background(), q)
		must(t, err)
		return r
	}
	bucket := func(d time.Duration, group string, offered int) RatesRow {
		return RatesRow{KPIKey: KPIKey{Group: group, IntervalStart: at(d)}, Offered: offered, Answered: offered}
	}
	// A period that starts off the hour, in another zone, still buckets
	// on the UTC quarter hours.
	from := at(-7 * time.Minute).In(time.FixedZone("+0530", 5*3600+1800))
	got := rows(KPIQuery{From: from, To: at(2 * time.Hour), Interval: 15 * time.Minute})
	want := []RatesRow{bucket(0, "", 2), bucket(15*time.Minute, "", 1), bucket(45*time.Minute, "", 1), bucket(time.Hour, "", 1)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("15m: got %+v\nwant %+v", got, want)
	}
	got = rows(KPIQuery{From: from, To: at(2 * time.Hour), Interval: time.Hour, GroupBy: KPIByAgent})
	want = []RatesRow{bucket(0, "1001", 3), bucket(0, "1002", 1), bucket(time.Hour, "1001", 1)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("60m by agent: got %+v\nwant %+v", got, want)
	}
}

func TestKPIReportsRefuseBadQueries(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	ok := KPIQuery{From: t0, To: t0.Add(time.Hour)}
	for name, q := range map[string]KPIQuery{
		"group":                   {From: ok.From, To: ok.To, GroupBy: "tags"},
		"empty period":            {From: t0, To: t0},
		"interval not in an hour": {From: ok.From, To: ok.To, Interval: 7 * time.Minute},
		"interval over an hour":   {From: ok.From, To: ok.To, Interval: 2 * time.Hour},
		"interval in seconds":     {From: ok.From, To: ok.To, Interval: 90 * time.Second},
	} {
		if _, err := s.SLReport(ctx, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.FCRReport(ctx, ok, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("no window: err %v, want ErrInvalid", err)
	}
}

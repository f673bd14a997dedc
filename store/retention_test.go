package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// retentionDays is the policy of the retention tests: card 180 days,
// complaint 1095, marketing for ever, anything else 365.
func retentionDays(businessType string) int {
	switch businessType {
	case "card":
		return 180
	case "complaint":
		return 1095
	case "marketing":
		return 0
	}
	return 365
}

// endedWithRecording writes a finished, recorded call of businessType that
// ended at end.
func endedWithRecording(t *testing.T, s *Store, id, businessType string, end time.Time) {
	t.Helper()
	ctx := context.Background()
	start := end.Add(-time.Minute)
	if err := s.CallAnswered(ctx, CDR{CallID: id, Start: start, Answer: start}); err != nil {
		t.Fatal(err)
	}
	if err := s.CallEnded(ctx, CDR{CallID: id, End: end, BusinessType: businessType, RecordingPath: "/rec/" + id + ".wav"}); err != nil {
		t.Fatal(err)
	}
}

func expiredIDs(t *testing.T, s *Store, now time.Time, limit int) []string {
	t.Helper()
	calls, err := s.ExpiredRecordings(context.Background(), now, retentionDays, limit)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range calls {
		ids = append(ids, c.CallID)
	}
	return ids
}

// TestExpiredRecordingsRetentionEdges: a recording expires one millisecond
// after its business type's retention has run out, not at that instant.
func TestExpiredRecordingsRetentionEdges(t *testing.T) {
	s, _ := openTemp(t)
	end := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	for _, bt := range []string{"card", "complaint", "marketing", "", "other"} {
		endedWithRecording(t, s, "c-"+bt, bt, end)
	}
	at := func(days int, ms int) time.Time {
		return end.Add(time.Duration(days)*24*time.Hour + time.Duration(ms)*time.Millisecond)
	}
	for _, tt := range []struct {
		now  time.Time
		want []string
	}{
		{at(180, 0), nil},
		{at(180, 1), []string{"c-card"}},
		{at(365, 0), []string{"c-card"}},
		{at(365, 1), []string{"c-", "c-card", "c-other"}},
		{at(1095, 0), []string{"c-", "c-card", "c-other"}},
		{at(1095, 1), []string{"c-", "c-card", "c-complaint", "c-other"}},
		{at(100*365, 0), []string{"c-", "c-card", "c-complaint", "c-other"}}, // marketing: for ever
	} {
		got := expiredIDs(t, s, tt.now, 0)
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("at %s: expired %v, want %v", tt.now.Format(time.RFC3339Nano), got, tt.want)
		}
	}
}

// TestExpiredRecordingsSkipsHeldDeletedLiveAndUnrecorded: only recordings
// still on disk, of ended calls, off legal hold are candidates, oldest
// first, limit at a time.
func TestExpiredRecordingsSkipsHeldDeletedLiveAndUnrecorded(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	end := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	endedWithRecording(t, s, "old2", "", end.Add(time.Second))
	endedWithRecording(t, s, "old1", "", end)
	endedWithRecording(t, s, "held", "", end)
	endedWithRecording(t, s, "deleted", "", end)
	if err := s.SetLegalHold(ctx, "held", true); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordingDeleted(ctx, "deleted", end.Add(400*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CallAnswered(ctx, CDR{CallID: "live", Start: end, Answer: end, RecordingPath: "/rec/live.wav"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CallEnded(ctx, CDR{CallID: "unrecorded", Start: end, End: end}); err != nil {
		t.Fatal(err)
	}
	now := end.Add(1000 * 24 * time.Hour)
	if got := expiredIDs(t, s, now, 0); !slices.Equal(got, []string{"old1", "old2"}) {
		t.Errorf("expired %v, want [old1 old2], oldest first", got)
	}
	if got := expiredIDs(t, s, now, 1); !slices.Equal(got, []string{"old1"}) {
		t.Errorf("limit 1: %v", got)
	}
	if got, err := s.ExpiredRecordings(ctx, now, func(string) int { return 0 }, 0); err != nil || got != nil {
		t.Errorf("everything kept for ever: %v, %v", got, err)
	}
}

// TestClaimExpiredRecordingLosesToLegalHold: a hold set after the listing
// keeps the recording; a claim is undone only by its own release.
func TestClaimExpiredRecordingLosesToLegalHold(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	end := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	now := end.Add(400 * 24 * time.Hour)
	endedWithRecording(t, s, "held", "", end)
	endedWithRecording(t, s, "free", "", end)
	if err := s.SetLegalHold(ctx, "held", true); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimExpiredRecording(ctx, "held", now); ok || err != nil {
		t.Errorf("claim of a held recording: %v, %v", ok, err)
	}
	if ok, err := s.ClaimExpiredRecording(ctx, "free", now); !ok || err != nil {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	if ok, _ := s.ClaimExpiredRecording(ctx, "free", now); ok {
		t.Error("claimed twice")
	}
	if c, _ := s.Call(ctx, "free"); !c.RecordingDeleted.Equal(now) {
		t.Errorf("RecordingDeleted = %v, want %v", c.RecordingDeleted, now)
	}
	if err := s.ReleaseExpiredRecording(ctx, "free", now.Add(time.Millisecond)); !errors.Is(err, ErrNotFound) {
		t.Errorf("release of another claim: %v, want ErrNotFound", err)
	}
	if err := s.ReleaseExpiredRecording(ctx, "free", now); err != nil {
		t.Fatal(err)
	}
	if got := expiredIDs(t, s, now, 0); !slices.Equal(got, []string{"free"}) {
		t.Errorf("after release: expired %v, want [free]", got)
	}
}

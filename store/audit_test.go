package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestAuditEntriesFilters(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, e := range []AuditEntry{
		{Token: "qa", Role: "qa", Action: AuditRecordingDownload, CallID: "c1"},
		{Token: "qa", Role: "qa", Action: AuditRecordingDownload, CallID: "c1", Detail: "bytes=0-99"},
		{Token: "sup", Role: "supervisor", Action: AuditLegalHoldSet, CallID: "c1", Detail: "case 7"},
		{Token: "sup", Role: "supervisor", Action: AuditRecordingDownload, CallID: "c2"},
	} {
		e.At = t0.Add(time.Duration(i) * time.Minute)
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		q    AuditQuery
		want []string // detail or action, newest first
	}{
		{"all", AuditQuery{}, []string{"c2", "c1 case 7", "c1 bytes=0-99", "c1 "}},
		{"call", AuditQuery{CallID: "c1"}, []string{"c1 case 7", "c1 bytes=0-99", "c1 "}},
		{"token", AuditQuery{Token: "sup"}, []string{"c2", "c1 case 7"}},
		{"from to", AuditQuery{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, []string{"c1 case 7", "c1 bytes=0-99"}},
		{"limit", AuditQuery{Limit: 1}, []string{"c2"}},
	} {
		got, err := s.AuditEntries(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range got {
			k := e.CallID
			if e.CallID == "c1" {
				k += " " + e.Detail
			}
			keys = append(keys, k)
		}
		if !slices.Equal(keys, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, keys, tt.want)
		}
	}
	got, _ := s.AuditEntries(ctx, AuditQuery{Token: "sup", CallID: "c1"})
	if len(got) != 1 || got[0].Role != "supervisor" || got[0].Action != AuditLegalHoldSet || !got[0].At.Equal(t0.Add(2*time.Minute)) || got[0].ID == 0 {
		t.Errorf("entry read back: %+v", got)
	}
	if err := s.Audit(ctx, AuditEntry{At: t0, Action: AuditRecordingDownload}); !errors.Is(err, ErrInvalid) {
		t.Errorf("entry without token: %v, want ErrInvalid", err)
	}
}

// TestSetLegalHoldAuditedWritesBothOrNothing: the hold and its audit row
// are one change; an unknown call gets neither.
func TestSetLegalHoldAuditedWritesBothOrNothing(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if err := s.CallAnswered(ctx, CDR{CallID: "c1", Start: t0}); err != nil {
		t.Fatal(err)
	}
	entry := func(action string) AuditEntry {
		return AuditEntry{At: t0, Token: "sup", Role: "supervisor", Action: action, CallID: "c1"}
	}
	if err := s.SetLegalHoldAudited(ctx, "c1", true, entry(AuditLegalHoldSet)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Call(ctx, "c1"); !c.LegalHold {
		t.Error("hold not set")
	}
	if err := s.SetLegalHoldAudited(ctx, "c1", false, entry(AuditLegalHoldClear)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Call(ctx, "c1"); c.LegalHold {
		t.Error("hold not cleared")
	}
	if err := s.SetLegalHoldAudited(ctx, "nope", true, entry(AuditLegalHoldSet)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown call: %v, want ErrNotFound", err)
	}
	got, _ := s.AuditEntries(ctx, AuditQuery{})
	if len(got) != 2 || got[0].Action != AuditLegalHoldClear || got[1].Action != AuditLegalHoldSet {
		t.Errorf("audit rows: %+v, want clear then set (newest first) and nothing for the unknown call", got)
	}
}

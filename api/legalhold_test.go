package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// TestLegalHoldEndpoints: admin and supervisor tokens put a call's
// recording on legal hold and take it off; each change is audited with
// its reason; other tokens get 403, unknown calls 404.
func TestLegalHoldEndpoints(t *testing.T) {
	a := newTestAPI(t)
	a.recordedCall("c1", "1001")
	held := func() bool {
		c, err := a.store.Call(context.Background(), "c1")
		if err != nil {
			t.Fatal(err)
		}
		return c.LegalHold
	}

	rec := a.request("PUT", "/api/v1/calls/c1/legal-hold", supToken, `{"reason":"case 2026-17"}`)
	var got LegalHoldJSON
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got != (LegalHoldJSON{CallID: "c1", LegalHold: true}) || !held() {
		t.Fatalf("PUT: %d %s, held %v", rec.Code, rec.Body, held())
	}
	if call := a.want("/api/v1/calls/c1", qaToken, 200); call["legal_hold"] != true {
		t.Errorf("call shows legal_hold %v", call["legal_hold"])
	}
	for _, token := range []string{qaToken, agentToken} {
		if rec := a.request("DELETE", "/api/v1/calls/c1/legal-hold", token, ""); rec.Code != 403 || !held() {
			t.Errorf("DELETE by %s: %d, held %v", token, rec.Code, held())
		}
	}
	if rec := a.request("DELETE", "/api/v1/calls/c1/legal-hold", adminToken, ""); rec.Code != 200 || held() {
		t.Errorf("DELETE: %d %s, held %v", rec.Code, rec.Body, held())
	}
	// Once retention deleted the recording there is nothing to hold.
	if err := a.store.RecordingDeleted(context.Background(), "c1", t0); err != nil {
		t.Fatal(err)
	}
	if rec := a.request("PUT", "/api/v1/calls/c1/legal-hold", supToken, ""); rec.Code != 409 || held() {
		t.Errorf("PUT on a deleted recording: %d %s, held %v; want 409", rec.Code, rec.Body, held())
	}
	for _, tt := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/api/v1/calls/none/legal-hold", "", 404},
		{"DELETE", "/api/v1/calls/none/legal-hold", "", 404},
		{"PUT", "/api/v1/calls/c1/legal-hold", `{"why":"x"}`, 400},
		{"PUT", "/api/v1/calls/c1/legal-hold", `{"reason":"` + strings.Repeat("x", maxHoldReason+1) + `"}`, 400},
		{"POST", "/api/v1/calls/c1/legal-hold", "", 405},
	} {
		if rec := a.request(tt.method, tt.path, adminToken, tt.body); rec.Code != tt.status {
			t.Errorf("%s %s %.20s: %d, want %d", tt.method, tt.path, tt.body, rec.Code, tt.status)
		}
	}

	entries := a.auditEntries(store.AuditQuery{})
	want := []store.AuditEntry{
		{Token: "ops", Role: "admin", Action: store.AuditLegalHoldClear, CallID: "c1"},
		{Token: "sup", Role: "supervisor", Action: store.AuditLegalHoldSet, CallID: "c1", Detail: "case 2026-17"},
	}
	if len(entries) != len(want) {
		t.Fatalf("audit %+v, want %d rows (refused changes write none)", entries, len(want))
	}
	for i, e := range entries {
		if e.At.IsZero() {
			t.Errorf("entry %d has no time", i)
		}
		e.ID, e.At = 0, time.Time{}
		if e != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, e, want[i])
		}
	}
}

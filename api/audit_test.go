package api

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// request sends method path with token, an optional JSON body and extra
// headers (name, value pairs).
func (a *testAPI) request(method, path, token, body string, headers ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

// recordedCall writes a finished call of agent with a small WAV file.
func (a *testAPI) recordedCall(id, agent string) {
	a.t.Helper()
	path := filepath.Join(a.t.TempDir(), id+".wav")
	wav := make([]byte, 44+1600)
	copy(wav, "RIFF")
	binary.LittleEndian.PutUint32(wav[4:], uint32(len(wav)-8))
	copy(wav[8:], "WAVEfmt ")
	if err := os.WriteFile(path, wav, 0o600); err != nil {
		a.t.Fatal(err)
	}
	a.call(store.CDR{CallID: id, Start: t0, AgentID: agent, RecordingPath: path})
}

func (a *testAPI) auditEntries(q store.AuditQuery) []store.AuditEntry {
	a.t.Helper()
	entries, err := a.store.AuditEntries(context.Background(), q)
	if err != nil {
		a.t.Fatal(err)
	}
	return entries
}

// TestAccessAgentReadsOnlyOwnCalls: an agent's token sees its own calls and
// is refused everyone else's with 403 in every view; unknown calls stay 404.
func TestAccessAgentReadsOnlyOwnCalls(t *testing.T) {
	a := newTestAPI(t)
	a.recordedCall("mine", "1001")
	a.recordedCall("theirs", "1002")
	a.call(store.CDR{CallID: "nobodys", Start: t0.Add(time.Minute)})

	body := a.want("/api/v1/calls", agentToken, 200)
	if calls, _ := body["calls"].([]any); len(calls) != 1 || calls[0].(map[string]any)["call_id"] != "mine" {
		t.Errorf("agent lists %v, want only its own call", body["calls"])
	}
	if calls, _ := a.want("/api/v1/calls", qaToken, 200)["calls"].([]any); len(calls) != 3 {
		t.Errorf("qa lists %d calls, want all 3", len(calls))
	}
	for _, view := range []string{"", "/timeline", "/decisions"} {
		a.want("/api/v1/calls/mine"+view, agentToken, 200)
		a.want("/api/v1/calls/theirs"+view, agentToken, 403)
		a.want("/api/v1/calls/nobodys"+view, agentToken, 403)
		a.want("/api/v1/calls/none"+view, agentToken, 404)
		for _, token := range []string{adminToken, supToken, qaToken} {
			a.want("/api/v1/calls/theirs"+view, token, 200)
		}
	}
	if rec := a.request("GET", "/api/v1/recordings/mine", agentToken, ""); rec.Code != 200 {
		t.Errorf("own recording: %d %s", rec.Code, rec.Body)
	}
	a.want("/api/v1/recordings/theirs", agentToken, 403)
	a.want("/api/v1/recordings/none", agentToken, 404)
	if entries := a.auditEntries(store.AuditQuery{}); len(entries) != 1 || entries[0].CallID != "mine" {
		t.Errorf("audit %+v, want only the one download served", entries)
	}
}

// TestAuditRecordingDownloads: each GET of a recording, whole or a Range,
// writes one audit row with the token's name and role; HEAD sends no audio
// and writes none.
func TestAuditRecordingDownloads(t *testing.T) {
	a := newTestAPI(t)
	a.recordedCall("c1", "1001")
	if rec := a.request("GET", "/api/v1/recordings/c1", qaToken, ""); rec.Code != 200 || rec.Body.Len() != 44+1600 {
		t.Fatalf("download: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := a.request("GET", "/api/v1/recordings/c1", supToken, "", "Range", "bytes=0-99"); rec.Code != 206 || rec.Body.Len() != 100 {
		t.Fatalf("range: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := a.request("HEAD", "/api/v1/recordings/c1", qaToken, ""); rec.Code != 200 {
		t.Fatalf("HEAD: %d", rec.Code)
	}
	entries := a.auditEntries(store.AuditQuery{CallID: "c1"})
	if len(entries) != 2 {
		t.Fatalf("audit %+v, want 2 rows", entries)
	}
	want := []store.AuditEntry{
		{Token: "sup", Role: "supervisor", Action: store.AuditRecordingDownload, CallID: "c1", Detail: "bytes=0-99"},
		{Token: "qa", Role: "qa", Action: store.AuditRecordingDownload, CallID: "c1"},
	}
	for i, e := range entries {
		if e.At.IsZero() || time.Since(e.At) > time.Minute {
			t.Errorf("entry %d at %v", i, e.At)
		}
		e.At, e.ID = time.Time{}, 0
		if e != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, e, want[i])
		}
	}
}

// TestAuditEndpoint: GET /api/v1/audit filters and is for admin and
// supervisor tokens only.
func TestAuditEndpoint(t *testing.T) {
	a := newTestAPI(t)
	a.recordedCall("c1", "1001")
	a.recordedCall("c2", "1002")
	for _, id := range []string{"c1", "c2", "c1"} {
		a.request("GET", "/api/v1/recordings/"+id, qaToken, "")
	}
	a.request("PUT", "/api/v1/calls/c2/legal-hold", supToken, "")

	entries, _ := a.want("/api/v1/audit?call_id=c1", adminToken, 200)["entries"].([]any)
	if len(entries) != 2 {
		t.Fatalf("c1 entries: %v", entries)
	}
	first := entries[0].(map[string]any)
	if first["token"] != "qa" || first["role"] != "qa" || first["action"] != "recording.download" || first["call_id"] != "c1" {
		t.Errorf("entry %v", first)
	}
	if entries, _ := a.want("/api/v1/audit?token=sup", supToken, 200)["entries"].([]any); len(entries) != 1 ||
		entries[0].(map[string]any)["action"] != "legal_hold.set" {
		t.Errorf("sup's entries: %v", entries)
	}
	if entries, _ := a.want("/api/v1/audit?limit=3", adminToken, 200)["entries"].([]any); len(entries) != 3 {
		t.Errorf("limit 3: %d entries", len(entries))
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if entries, _ := a.want("/api/v1/audit?from="+future, adminToken, 200)["entries"].([]any); len(entries) != 0 {
		t.Errorf("from the future: %v", entries)
	}
	if entries, _ := a.want("/api/v1/audit?to="+future, adminToken, 200)["entries"].([]any); len(entries) != 4 {
		t.Errorf("to the future: %d entries, want 4", len(entries))
	}
	a.want("/api/v1/audit?from=yesterday", adminToken, 400)
	a.want("/api/v1/audit", qaToken, 403)
	a.want("/api/v1/audit", agentToken, 403)
	a.want("/api/v1/audit", "", 401)
}

// TestRecordingGoneAfterRetention: a recording retention deleted answers
// 410 Gone, and writes no audit row.
func TestRecordingGoneAfterRetention(t *testing.T) {
	a := newTestAPI(t)
	a.recordedCall("c1", "1001")
	ctx := context.Background()
	if ok, err := a.store.ClaimExpiredRecording(ctx, "c1", t0.Add(400*24*time.Hour)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	body := a.want("/api/v1/recordings/c1", qaToken, 410)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "deleted by retention") {
		t.Errorf("error %q", msg)
	}
	if call := a.want("/api/v1/calls/c1", qaToken, 200); call["recording_url"] != nil {
		t.Errorf("deleted recording still has a URL: %v", call["recording_url"])
	}
	if entries := a.auditEntries(store.AuditQuery{}); len(entries) != 0 {
		t.Errorf("audit %+v", entries)
	}
	if rec := a.request("GET", "/api/v1/recordings/c1", agentToken, ""); rec.Code != http.StatusGone {
		t.Errorf("own deleted recording: %d", rec.Code)
	}
}

// TestAuditDetailIsBounded: a client's huge Range header is cut short in
// the audit row.
func TestAuditDetailIsBounded(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	e := auditEntry(req, store.AuditRecordingDownload, "c1", strings.Repeat("bytes=0-1,", 1000))
	if len(e.Detail) > maxAuditDetail+len("…") || !strings.HasSuffix(e.Detail, "…") {
		t.Errorf("detail of %d bytes", len(e.Detail))
	}
}

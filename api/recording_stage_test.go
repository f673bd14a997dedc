package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// testRecording writes a recording of seconds of audio whose every
// 16-bit sample holds its frame number modulo 65536 (both channels), so
// any byte range says where it came from.
func testRecording(t *testing.T, seconds int) (string, []byte) {
	t.Helper()
	frames := seconds * 8000
	data := make([]byte, frames*4)
	for i := range frames {
		binary.LittleEndian.PutUint16(data[i*4:], uint16(i))
		binary.LittleEndian.PutUint16(data[i*4+2:], uint16(i))
	}
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 2)
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 32000)
	binary.LittleEndian.PutUint16(h[32:], 4)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	path := filepath.Join(t.TempDir(), "c.wav")
	if err := os.WriteFile(path, append(h, data...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// fetch GETs path with token ("" none) and an optional Range.
func (a *testAPI) fetch(path, token, rng string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

// TestRecordingByStage: ?stage=talk serves the talk stages one after the
// other as a WAV, ?seq=N one stage; ranges are byte-exact within the
// slice; a stage the call never had is 404.
func TestRecordingByStage(t *testing.T) {
	a := newTestAPI(t)
	path, data := testRecording(t, 10)
	a.call(store.CDR{CallID: "c1", Start: t0, Answer: t0, End: t0.Add(10 * time.Second), AgentID: "1001", RecordingPath: path})
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	a.stages(
		store.Stage{CallID: "c1", Seq: 1, Kind: store.StageIVR, Start: at(0), End: at(2)},
		store.Stage{CallID: "c1", Seq: 2, Kind: store.StageTalk, Start: at(2), End: at(5), AgentID: "1001"},
		store.Stage{CallID: "c1", Seq: 3, Kind: store.StageHold, Start: at(5), End: at(6), AgentID: "1001"},
		store.Stage{CallID: "c1", Seq: 4, Kind: store.StageTalk, Start: at(6), End: at(10), AgentID: "1001"},
	)
	sec := func(s int) int { return s * 32000 }
	talk := append(append([]byte{}, data[sec(2):sec(5)]...), data[sec(6):sec(10)]...)

	rec := a.fetch("/api/v1/recordings/c1?stage=talk", qaToken, "")
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes()[44:], talk) || binary.LittleEndian.Uint32(rec.Body.Bytes()[40:]) != uint32(len(talk)) {
		t.Fatalf("stage=talk: %d, %d bytes; want the two talks, %d bytes of audio", rec.Code, rec.Body.Len(), len(talk))
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, "c1-talk.wav") {
		t.Errorf("Content-Disposition %q", cd)
	}
	// The first talk is 3 s (96,000 bytes after the 44-byte header): this
	// range straddles the seam between the two talks.
	whole := append(make([]byte, 44), talk...)
	rec = a.fetch("/api/v1/recordings/c1?stage=talk", qaToken, "bytes=96030-96059")
	if rec.Code != 206 || !bytes.Equal(rec.Body.Bytes(), whole[96030:96060]) {
		t.Errorf("range across the seam: %d % x, want % x", rec.Code, rec.Body.Bytes(), whole[96030:96060])
	}
	rec = a.fetch("/api/v1/recordings/c1?seq=3", qaToken, "")
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes()[44:], data[sec(5):sec(6)]) {
		t.Errorf("seq=3 (the hold): %d, %d bytes", rec.Code, rec.Body.Len())
	}
	a.want("/api/v1/recordings/c1?stage=survey", qaToken, 404)
	a.want("/api/v1/recordings/c1?seq=zero", qaToken, 400)
}

// TestSignedRecordingLink: a token asks for a link; the link plays (with
// ranges) without the token, as that token for the audit trail, until it
// expires; a changed link, one for another call or one whose token is
// gone does not play.
func TestSignedRecordingLink(t *testing.T) {
	a := newTestAPI(t)
	path, data := testRecording(t, 2)
	a.call(store.CDR{CallID: "c1", Start: t0, Answer: t0, End: t0.Add(2 * time.Second), AgentID: "1001", RecordingPath: path})
	a.call(store.CDR{CallID: "c2", Start: t0, Answer: t0, End: t0.Add(2 * time.Second), AgentID: "1002", RecordingPath: path})
	link := func(id, token string) (int, string) {
		req := httptest.NewRequest("POST", "/api/v1/recordings/"+id+"/link", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		var out struct{ URL string }
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out.URL
	}
	if code, _ := link("c2", agentToken); code != http.StatusForbidden {
		t.Errorf("an agent's link to another agent's call: %d, want 403", code)
	}
	code, u := link("c1", agentToken)
	if code != 200 || !strings.HasPrefix(u, "/api/v1/recordings/c1?") {
		t.Fatalf("link: %d %q", code, u)
	}
	rec := a.fetch(u, "", "bytes=44-47")
	if rec.Code != 206 || !bytes.Equal(rec.Body.Bytes(), data[:4]) {
		t.Errorf("the link with a range: %d % x", rec.Code, rec.Body.Bytes())
	}
	entries, err := a.store.AuditEntries(t.Context(), store.AuditQuery{CallID: "c1"})
	if err != nil || len(entries) != 1 || entries[0].Token != "1001" {
		t.Errorf("audit of the link's use: %+v (%v); want one row by 1001", entries, err)
	}
	parsed, _ := url.Parse(u)
	q := parsed.Query()
	for name, bad := range map[string]string{
		"another call":  strings.Replace(u, "/c1?", "/c2?", 1),
		"a longer life": "/api/v1/recordings/c1?" + withParam(q, "expires", "9999999999"),
		"another token": "/api/v1/recordings/c1?" + withParam(q, "by", "ops"),
		"another stage": "/api/v1/recordings/c1?" + withParam(q, "seq", "1"),
	} {
		if rec := a.fetch(bad, "", ""); rec.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, rec.Code)
		}
	}
	defer func() { linkNow = time.Now }()
	linkNow = func() time.Time { return time.Now().Add(recordingLinkTTL + time.Minute) }
	if rec := a.fetch(u, "", ""); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "expired") {
		t.Errorf("an expired link: %d %s", rec.Code, rec.Body)
	}
}

func withParam(q url.Values, k, v string) string {
	c := url.Values{}
	for key, vs := range q {
		c[key] = vs
	}
	c.Set(k, v)
	return c.Encode()
}

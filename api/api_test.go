package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/config"
)

func TestRouteMethods(t *testing.T) {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"method": r.Method}) }
	route(mux, "/things/{id}", methods{"GET": ok, "DELETE": ok})
	route(mux, "/things/{id}/state", methods{"PUT": ok})
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/things/1", 200, ""},
		{"HEAD", "/things/1", 200, ""},
		{"DELETE", "/things/1", 200, ""},
		{"POST", "/things/1", 405, "DELETE, GET, HEAD"},
		{"PUT", "/things/1/state", 200, ""},
		{"GET", "/things/1/state", 405, "PUT"},
		{"HEAD", "/things/1/state", 405, "PUT"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"), tt.status, tt.allow)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, ct)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	type body struct {
		State string `json:"state"`
		N     int    `json:"n"`
	}
	for _, tt := range []struct {
		name, body, contentType string
		optional                bool
		status                  int // 0: accepted
		errorHas                string
	}{
		{"ok", `{"state":"x","n":2}`, "application/json", false, 0, ""},
		{"ok with charset", `{"state":"x"}`, "application/json; charset=utf-8", false, 0, ""},
		{"no content type", `{"state":"x"}`, "", false, 0, ""},
		{"trailing space", "{\"state\":\"x\"}\n\n", "", false, 0, ""},
		{"empty, optional", "", "", true, 0, ""},
		{"empty", "", "", false, 400, "JSON object"},
		{"form", `state=x`, "application/x-www-form-urlencoded", false, 415, "application/json"},
		{"syntax", `{"state":x}`, "", false, 400, "malformed JSON at byte"},
		{"cut short", `{"state":"x"`, "", false, 400, "unexpected end"},
		{"unknown field", `{"state":"x","extra":1}`, "", false, 400, `unknown field "extra"`},
		{"wrong type", `{"n":"two"}`, "", false, 400, `field "n" must be a whole number`},
		{"array", `[1]`, "", false, 400, "JSON object"},
		{"two objects", `{"state":"x"}{"state":"y"}`, "", false, 400, "trailing data"},
		{"too big", `{"state":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "", false, 413, "larger"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("PUT", "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			var b body
			accepted := decodeBody(rec, req, &b, tt.optional)
			if tt.status == 0 {
				if !accepted {
					t.Fatalf("refused: %d %s", rec.Code, rec.Body)
				}
				return
			}
			if accepted || rec.Code != tt.status {
				t.Fatalf("accepted %v, status %d, want refusal with %d", accepted, rec.Code, tt.status)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, tt.errorHas) {
				t.Errorf("error %q (%v), want it to mention %q", e.Error, err, tt.errorHas)
			}
		})
	}
}

func TestValidNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"100": true, "+15551234": true, "12345678901234567890": true, "+12345678901234567890": true,
		"": false, "12": false, "+12": false, "123456789012345678901": false, "555-1234": false,
		"++123": false, "123+": false, " 123": false, "１２３": false,
	} {
		if got := validNumber(s); got != want {
			t.Errorf("validNumber(%q) = %v", s, got)
		}
	}
}

func TestPrincipalRoles(t *testing.T) {
	for _, tt := range []struct {
		p            principal
		agent        string
		change, mgmt bool
	}{
		{principal{"ops", config.RoleAdmin}, "1001", true, true},      // admin
		{principal{"sup", config.RoleSupervisor}, "1001", true, true}, // supervisor
		{principal{"qa", config.RoleQA}, "1001", false, false},        // qa
		{principal{"1001", config.RoleAgent}, "1001", true, false},    // agent, self
		{principal{"1001", config.RoleAgent}, "1002", false, false},   // agent, another
		{principal{"1001", config.RoleUnknown}, "1001", false, false}, // unknown role
		{principal{"10011", config.RoleAgent}, "1001", false, false},  // no prefix matching
	} {
		if got := tt.p.mayChangeAgent(tt.agent); got != tt.change {
			t.Errorf("%+v mayChangeAgent(%s) = %v", tt.p, tt.agent, got)
		}
		if got := tt.p.mayManage(); got != tt.mgmt {
			t.Errorf("%+v mayManage = %v", tt.p, got)
		}
	}
}

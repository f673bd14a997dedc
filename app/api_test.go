package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAPIErrorsAreJSON: every refusal of the HTTP API is a 4xx with a JSON error.
func TestAPIErrorsAreJSON(t *testing.T) {
	t.Parallel()
	h := startHotline(t, nil)
	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		{"no token", "GET", "/api/v1/calls", "", 401},
		{"wrong token", "GET", "/api/v1/calls", "nope", 401},
		{"limit not a number", "GET", "/api/v1/calls?limit=abc", h.token, 400},
		{"limit too large", "GET", "/api/v1/calls?limit=100000", h.token, 400},
		{"bad before", "GET", "/api/v1/calls?before=yesterday", h.token, 400},
		{"unknown call", "GET", "/api/v1/calls/nosuch", h.token, 404},
		{"unknown recording", "GET", "/api/v1/recordings/..%2f..%2fetc%2fpasswd", h.token, 404},
		{"unknown path", "GET", "/api/v2/everything", h.token, 404},
		{"wrong method", "POST", "/api/v1/calls", h.token, 405},
		{"ok", "GET", "/api/v1/queues", h.token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, h.url(tt.path), strings.NewReader("{}"))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var body map[string]any
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if _, hasErr := body["error"]; hasErr != (tt.want >= 400) {
				t.Fatalf("body %v", body)
			}
		})
	}
	if res, err := http.Get(h.url("/healthz")); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
}

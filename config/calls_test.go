package config

import (
	"strings"
	"testing"
	"time"
)

func TestCallsSessionTimers(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    Calls
		wantErr string
	}{
		{"defaults", "", Calls{SessionExpires: 30 * time.Minute, MinSE: 90 * time.Second}, ""},
		{"set", "calls: { session_expires: 10m, min_se: 2m }\n", Calls{SessionExpires: 10 * time.Minute, MinSE: 2 * time.Minute}, ""},
		{"off", "calls: { session_expires: 0s }\n", Calls{SessionExpires: 0, MinSE: 90 * time.Second}, ""},
		{"interval under RFC 4028's 90 s", "calls: { session_expires: 60s }\n", Calls{}, `s.yaml:1:27: calls.session_expires: must be at least 1m30s (or 0s for no session timers), got "60s"`},
		{"min_se under 90 s", "calls:\n  min_se: 30s\n", Calls{}, `s.yaml:2:11: calls.min_se: must be at least 1m30s, got "30s"`},
		{"min_se cannot be off", "calls:\n  min_se: 0s\n", Calls{}, `s.yaml:2:11: calls.min_se: must be at least 1m30s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("s.yaml", []byte(tt.yaml+securityBase))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Calls.SessionExpires != tt.want.SessionExpires || c.Calls.MinSE != tt.want.MinSE {
				t.Fatalf("calls %+v, want %+v", c.Calls, tt.want)
			}
		})
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/store"
)

// recordingsDataDir makes a data directory whose database holds three
// recorded calls and one without a recording, written through the store.
func recordingsDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hotline.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for i, c := range []store.CDR{
		{CallID: "card-1003", BusinessType: "card", AgentID: "1003", Queue: "support", Talk: 90 * time.Second},
		{CallID: "card-short", BusinessType: "card", AgentID: "1003", Queue: "support", Talk: 20 * time.Second},
		{CallID: "loan-1001", BusinessType: "loan", AgentID: "1001", Queue: "sales", Talk: 5 * time.Minute},
		{CallID: "unrecorded", BusinessType: "card", AgentID: "1003", Queue: "support", Talk: 90 * time.Second},
	} {
		c.Caller, c.Result = "+15550100", "completed"
		c.Start = t0.Add(time.Duration(i) * time.Minute)
		c.Answer, c.End = c.Start, c.Start.Add(10*time.Minute)
		if c.CallID != "unrecorded" {
			c.RecordingPath = filepath.Join(dir, "recordings", c.CallID+".wav")
		}
		if err := st.CallUpdated(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetDisposition(ctx, "card-1003", "resolved"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRecordingsSearchPrintsATable(t *testing.T) {
	dir := recordingsDataDir(t)
	code, stdout, stderr := runCLI(t, "recordings", "search", "-data", dir,
		"--business-type", "card", "--agent", "1003", "--min-talk", "60s", "--from", "2026-11-23T08:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and one row:\n%s", stdout)
	}
	for _, want := range []string{"CALL_ID", "START", "AGENT", "QUEUE", "BUSINESS_TYPE", "TALK", "DISPOSITION", "RECORDING"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	if got := strings.Fields(lines[1]); len(got) != 8 || got[0] != "card-1003" || got[1] != "2026-11-23T09:00:00Z" ||
		got[2] != "1003" || got[5] != "1m30s" || got[6] != "resolved" || !strings.HasSuffix(got[7], "card-1003.wav") {
		t.Errorf("row %q", lines[1])
	}
}

func TestRecordingsSearchJSONLinesAndPages(t *testing.T) {
	dir := recordingsDataDir(t)
	// -config's data_dir names the directory.
	cfgPath := filepath.Join(t.TempDir(), "hotline.yaml")
	cfg := strings.Replace(string(config.DemoYAML), "data_dir: ./data", "data_dir: "+strconv.Quote(dir), 1)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var ids []string
	args := []string{"recordings", "search", "-config", cfgPath, "--json", "--limit", "2"}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cursor, ok := strings.CutPrefix(strings.TrimSpace(stderr), "more: add --cursor ")
	if !ok {
		t.Fatalf("stderr %q, want the next page's cursor", stderr)
	}
	code, more, stderr := runCLI(t, append(args, "--cursor", cursor)...)
	if code != 0 || stderr != "" {
		t.Fatalf("second page: exit %d: %s", code, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout+more), "\n") {
		var rec struct {
			CallID string  `json:"call_id"`
			Talk   float64 `json:"talk_seconds"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ids = append(ids, rec.CallID)
	}
	if got := strings.Join(ids, " "); got != "loan-1001 card-short card-1003" {
		t.Errorf("calls %s, want the recorded ones, newest first", got)
	}
}

func TestRecordingsSearchWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "recordings", "search", "-data", dir)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "no database at "+filepath.Join(dir, "hotline.db")) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and where the database was looked for", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "hotline.db")); !os.IsNotExist(err) {
		t.Errorf("the search created a database: %v", err)
	}
}

func TestRecordingsSearchRefusesBadFlags(t *testing.T) {
	dir := recordingsDataDir(t)
	for _, args := range [][]string{
		{"recordings"},
		{"recordings", "list"},
		{"recordings", "search", "-data", dir, "--from", "yesterday"},
		{"recordings", "search", "-data", dir, "--limit", "0"},
		{"recordings", "search", "-data", dir, "--min-talk", "sixty"},
		{"recordings", "search", "-data", dir, "-config", "x.yaml"},
		{"recordings", "search", "-data", dir, "--min-talk", "2m", "--max-talk", "1m"},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 || !strings.Contains(stderr, "usage") && !strings.Contains(stderr, "recordings search") {
			t.Errorf("%v: exit %d, stderr %q; want 2 with the problem", args, code, stderr)
		}
	}
}

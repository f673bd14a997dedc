package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/store"
)

const recordingsUsage = "usage: hotline recordings search [-config FILE | -data DIR] [--business-type T] [--agent ID] [--queue Q] [--caller N] [--disposition D] [--result R] [--from RFC3339] [--to RFC3339] [--min-talk 60s] [--max-talk D] [--min-duration D] [--max-duration D] [--limit 50] [--cursor C] [--json]"

// cmdRecordings runs the recording tools: `recordings search`.
func cmdRecordings(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "search" {
		fmt.Fprintln(stderr, recordingsUsage)
		return 2
	}
	return recordingsSearch(args[1:], stdout, stderr)
}

// recordingsSearch lists the recordings that match the flags, newest
// first, straight from the database (read-only, so it can run beside a
// live hotline, or on a copy).
func recordingsSearch(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("recordings search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file whose data_dir holds the database")
	dataDir := fs.String("data", "", "data directory holding hotline.db (default: the configuration's data_dir, else ./data)")
	var q store.RecordingQuery
	for _, f := range []struct {
		dst        *string
		name, help string
	}{
		{&q.BusinessType, "business-type", "the IVR's business type"},
		{&q.AgentID, "agent", "the agent's ID"},
		{&q.Queue, "queue", "the queue"},
		{&q.Caller, "caller", "the caller's number"},
		{&q.Disposition, "disposition", "the wrap-up code's name"},
		{&q.Result, "result", "the call's result (completed, abandoned, ...)"},
		{&q.Cursor, "cursor", "continue after the page that printed this cursor"},
	} {
		fs.StringVar(f.dst, f.name, "", f.help)
	}
	from := fs.String("from", "", "calls that started at or after this RFC 3339 time")
	to := fs.String("to", "", "calls that started before this RFC 3339 time")
	fs.DurationVar(&q.MinTalk, "min-talk", 0, "at least this much talk, e.g. 60s")
	fs.DurationVar(&q.MaxTalk, "max-talk", 0, "at most this much talk")
	fs.DurationVar(&q.MinDuration, "min-duration", 0, "calls at least this long, start to end")
	fs.DurationVar(&q.MaxDuration, "max-duration", 0, "calls at most this long")
	fs.IntVar(&q.Limit, "limit", store.DefaultRecordingLimit, fmt.Sprintf("how many, 1 to %d", store.MaxRecordingLimit))
	asJSON := fs.Bool("json", false, "print one JSON object per line instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var problem string
	for _, t := range []struct {
		flag, value string
		dst         *time.Time
	}{{"from", *from, &q.From}, {"to", *to, &q.To}} {
		if t.value == "" {
			continue
		}
		var err error
		if *t.dst, err = time.Parse(time.RFC3339, t.value); err != nil {
			problem = fmt.Sprintf("--%s %q: want RFC 3339, e.g. 2026-10-01T09:00:00+08:00", t.flag, t.value)
		}
	}
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case *configPath != "" && *dataDir != "":
		problem = "give -config or -data, not both"
	case q.Limit < 1 || q.Limit > store.MaxRecordingLimit:
		problem = fmt.Sprintf("--limit %d: want 1 to %d", q.Limit, store.MaxRecordingLimit)
	case q.MinTalk < 0 || q.MaxTalk < 0 || q.MinDuration < 0 || q.MaxDuration < 0:
		problem = "durations must not be negative"
	}
	if problem != "" {
		fmt.Fprintln(stderr, "hotline recordings search:", problem)
		fmt.Fprintln(stderr, recordingsUsage)
		return 2
	}
	dir, err := resolveDataDir(*configPath, *dataDir)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	path := filepath.Join(dir, "hotline.db")
	next, err := searchAndPrint(path, q, *asJSON, stdout)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(stderr, "hotline recordings search: no database at %s (give the data directory with -data or -config)\n", path)
		return 1
	case errors.Is(err, store.ErrInvalid):
		fmt.Fprintln(stderr, "hotline recordings search:", err)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "hotline recordings search:", err)
		return 1
	case next != "":
		fmt.Fprintf(stderr, "more: add --cursor %s\n", next)
	}
	return 0
}

// searchAndPrint runs the search on the database at path and prints the
// page, returning the next page's cursor.
func searchAndPrint(path string, q store.RecordingQuery, asJSON bool, stdout io.Writer) (string, error) {
	db, err := store.OpenReader(path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	calls, next, err := db.SearchRecordings(context.Background(), q)
	if err != nil {
		return "", err
	}
	if asJSON {
		return next, printRecordingsJSON(stdout, calls)
	}
	return next, printRecordingsTable(stdout, calls)
}

// resolveDataDir is the -data directory, else the configuration's
// data_dir, else the default.
func resolveDataDir(configPath, dataDir string) (string, error) {
	switch {
	case dataDir != "":
		return dataDir, nil
	case configPath != "":
		cfg, err := config.Load(configPath)
		if err != nil {
			return "", err
		}
		return cfg.DataDir, nil
	}
	return config.DefaultDataDir, nil
}

func printRecordingsTable(w io.Writer, calls []store.CDR) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL_ID\tSTART\tAGENT\tQUEUE\tBUSINESS_TYPE\tTALK\tDISPOSITION\tRECORDING")
	for _, c := range calls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.CallID, c.Start.UTC().Format(time.RFC3339),
			orDash(c.AgentID), orDash(c.Queue), orDash(c.BusinessType), c.Talk.Round(time.Second),
			orDash(c.Disposition), c.RecordingPath)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recordingLine is one line of `recordings search --json`.
type recordingLine struct {
	CallID        string    `json:"call_id"`
	Start         time.Time `json:"start"`
	Caller        string    `json:"caller"`
	AgentID       string    `json:"agent_id"`
	Queue         string    `json:"queue"`
	BusinessType  string    `json:"business_type"`
	Result        string    `json:"result"`
	TalkSec       float64   `json:"talk_seconds"`
	Disposition   string    `json:"disposition"`
	LegalHold     bool      `json:"legal_hold"`
	SurveyScore   *int      `json:"survey_score"`
	RecordingPath string    `json:"recording_path"`
}

func printRecordingsJSON(w io.Writer, calls []store.CDR) error {
	enc := json.NewEncoder(w)
	for _, c := range calls {
		line := recordingLine{CallID: c.CallID, Start: c.Start.UTC(), Caller: c.Caller, AgentID: c.AgentID,
			Queue: c.Queue, BusinessType: c.BusinessType, Result: c.Result, TalkSec: c.Talk.Seconds(),
			Disposition: c.Disposition, LegalHold: c.LegalHold, RecordingPath: c.RecordingPath}
		if c.SurveySet {
			score := c.SurveyScore
			line.SurveyScore = &score
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

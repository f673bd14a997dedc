package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/config"
)

// The example flows live at the repository root so that docs, the CLI and
// the config fuzzer share them. Tests chdir there (t.Chdir) and pass paths
// relative to it, so that goldens hold the paths an admin running
// `hotline ivr check testdata/ivr/bad/x.yaml` from the root would see.
const (
	repoRoot      = "../.."
	ivrExamples   = "testdata/ivr"
	ivrBadExample = "testdata/ivr/bad"
)

// ivrCheckOutput runs `hotline ivr check path` in-process with stdout and
// stderr in one buffer, as a terminal shows them, and appends the exit
// status the way a shell transcript would.
func ivrCheckOutput(path string) (string, int) {
	var out bytes.Buffer
	code := cmdIVR([]string{"check", path}, &out, &out)
	fmt.Fprintf(&out, "exit status %d\n", code)
	return out.String(), code
}

// TestIVRCheckGolden pins what `hotline ivr check` prints for every broken
// example in testdata/ivr/bad: X.yaml has its transcript in X.golden.
// Rewrite them with
//
//	go test ./cmd/hotline -run TestIVRCheckGolden -update
//
// and review the diff.
func TestIVRCheckGolden(t *testing.T) {
	t.Chdir(repoRoot)
	files, err := filepath.Glob(filepath.Join(ivrBadExample, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("%d files in %s, want one per problem family (at least 15)", len(files), ivrBadExample)
	}
	// A golden whose input was removed or renamed would rot unnoticed.
	goldens, _ := filepath.Glob(filepath.Join(ivrBadExample, "*.golden"))
	for _, g := range goldens {
		if !slices.Contains(files, strings.TrimSuffix(g, ".golden")+".yaml") {
			t.Errorf("%s has no %s.yaml; delete it or restore the input", g, strings.TrimSuffix(filepath.Base(g), ".golden"))
		}
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			got, code := ivrCheckOutput(file)
			if code != 1 {
				t.Errorf("exit status %d, want 1 for a broken file", code)
			}
			// Every problem is file:line[:col]: message. YAML syntax
			// errors have a line but no column (config.Pos).
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			problem := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:[1-9]\d*(:[1-9]\d*)?: \S`)
			for _, line := range lines[:len(lines)-1] {
				if !problem.MatchString(line) {
					t.Errorf("line %q is not %s:line:col: message", line, file)
				}
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/hotline -run TestIVRCheckGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("hotline ivr check %s differs from %s (-want +got):\n%s", file, golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff returns a unified-style listing of want and got, line by line:
// common lines indented, removed ones with "-", added ones with "+". The
// files are small, so a quadratic longest-common-subsequence is fine.
func lineDiff(want, got string) string {
	a := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	b := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	// lcs[i][j] is the length of the LCS of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			fmt.Fprintf(&out, "  %s\n", a[i])
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&out, "- %s\n", a[i])
			i++
		default:
			fmt.Fprintf(&out, "+ %s\n", b[j])
			j++
		}
	}
	return out.String()
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\n", "a\nx\nc\nd\n")
	want := "  a\n- b\n+ x\n  c\n+ d\n"
	if got != want {
		t.Errorf("lineDiff:\n%s\nwant:\n%s", got, want)
	}
}

// TestIVRCheckExamples: every testdata/ivr/*.yaml is a complete, valid
// configuration: `ivr check` accepts it, `ivr graph` draws each of its
// flows in both formats, and `ivr simulate` runs each flow to an end.
// Between them the examples use every node kind.
func TestIVRCheckExamples(t *testing.T) {
	t.Chdir(repoRoot)
	files, err := filepath.Glob(filepath.Join(ivrExamples, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d examples in %s, want at least 4", len(files), ivrExamples)
	}
	kinds := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			got, code := ivrCheckOutput(file)
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatalf("config.Load: %v", err)
			}
			if want := fmt.Sprintf("%s: ok (%d flows)\nexit status 0\n", file, len(cfg.Flows)); code != 0 || got != want {
				t.Fatalf("ivr check:\n%s\nwant:\n%s", got, want)
			}
			for _, f := range cfg.Flows {
				for _, n := range f.Nodes {
					kinds[n.Kind.String()] = true
				}
				for _, format := range []string{"dot", "mermaid"} {
					var out, errOut bytes.Buffer
					code := cmdIVR([]string{"graph", "-format", format, "-flow", f.Name, file}, &out, &errOut)
					start := map[string]string{"dot": fmt.Sprintf("digraph %q {", f.Name), "mermaid": "flowchart "}[format]
					if code != 0 || errOut.Len() != 0 || !strings.HasPrefix(out.String(), start) {
						t.Errorf("ivr graph -format %s -flow %s: exit %d\nstdout:\n%s\nstderr:\n%s", format, f.Name, code, out.String(), errOut.String())
					}
				}
				// A caller who presses 1, then 2, then keys a number.
				for _, digits := range []string{"", "1", "2,1", "1,123456#"} {
					var out, errOut bytes.Buffer
					args := []string{"simulate", file, "-flow", f.Name, "-caller", "5550123", "-at", "2026-10-12T10:00:00+08:00"}
					if digits != "" {
						args = append(args, "-digits", digits)
					}
					// Data dips answer from the example's fixture: a test
					// sends nothing to the addresses an example names.
					args = append(args, "-http-fixture", fixtureFor(file))
					code := cmdIVR(args, &out, &errOut)
					if code != 0 || errOut.Len() != 0 || !strings.HasPrefix(out.String(), "flow "+f.Name+" (version ") ||
						!strings.Contains(out.String(), "\nresult: ") || strings.Contains(out.String(), "result: none") {
						t.Errorf("ivr simulate -flow %s -digits %q: exit %d\nstdout:\n%s\nstderr:\n%s", f.Name, digits, code, out.String(), errOut.String())
					}
				}
			}
		})
	}
	for _, kind := range []string{"menu", "play", "queue", "hangup", "goto", "set", "branch", "collect", "schedule", "voicemail", "callback",
		"http", "say", "transfer", "survey", "subflow", "return"} {
		if !kinds[kind] {
			t.Errorf("no example in %s uses a %s node", ivrExamples, kind)
		}
	}
}

// TestIVRSimulateExamples pins where a few callers of the examples end up:
// the examples are documentation, and must keep doing what their comments
// say.
func TestIVRSimulateExamples(t *testing.T) {
	t.Chdir(repoRoot)
	cases := []struct {
		file string
		args []string
		want []string // lines of the transcript: the result, the variables
	}{
		// Main menu 2 (cards), then 1 (lost card): the priority queue with
		// the card specialist first.
		{"bank_menu", []string{"-called", "8005551234", "-digits", "2,1"}, []string{"result: queue cards, priority 50, tags lost_card urgent, agent 2003 (waits up to 20s)"}},
		// 1 accounts, 1 balance (played, back to accounts), 0 main, 9 goodbye.
		{"bank_menu", []string{"-called", "8005551234", "-digits", "1,1,0,9"}, []string{"result: hang up (caller chose to leave)"}},
		// Silence everywhere: the operator, through a goto.
		{"bank_menu", []string{"-called", "8005551234"}, []string{"result: queue general"}},
		// A listed private-banking caller skips the account number; the
		// queue reads the variables set on the way (vip, priority, ...).
		{"collect_branch", []string{"-caller", "5550100"}, []string{
			"vars: business_type=private_banking called= caller=5550100 dedicated_agent=3001 priority=40 vip=true",
			"result: queue private, tags identified",
		}},
		// An account number starting with 9 is private banking too.
		{"collect_branch", []string{"-caller", "5550999", "-digits", "9123456#"}, []string{
			"vars: account=9123456 business_type=private_banking called= caller=5550999 dedicated_agent=3001 priority=40 vip=true",
			"result: queue private, tags identified",
		}},
		// Berlin callers key their account and get the German retail type.
		{"collect_branch", []string{"-caller", "4930111", "-digits", "123456#"}, []string{
			"vars: account=123456 business_type=retail_de called= caller=4930111 language=de priority=-5",
			"result: queue retail",
		}},
		// Too short, a leading 0, too short twice: the retries run out.
		{"collect_branch", []string{"-caller", "5550999", "-digits", "12#,0123456#,1#,1#"}, []string{
			"vars: called= caller=5550999",
			"result: queue retail",
		}},
		// A national holiday, a make-up workday (Sunday), a Sunday night.
		{"schedule_holidays", []string{"-at", "2026-10-01T10:00:00+08:00"}, []string{"result: voicemail"}},
		{"schedule_holidays", []string{"-at", "2026-10-11T10:00:00+08:00", "-digits", "1"}, []string{"result: queue support"}},
		{"schedule_holidays", []string{"-at", "2026-10-11T20:00:00+08:00"}, []string{"result: hang up (closed)"}},
		// Lunch break on a weekday.
		{"schedule_holidays", []string{"-at", "2026-10-12T12:30:00+08:00"}, []string{"result: hang up (closed)"}},
		{"voicemail_callback", []string{"-called", "8005551000", "-digits", "2"}, []string{"result: callback offer in queue callbacks"}},
		{"voicemail_callback", []string{"-called", "8005552001", "-digits", "3"}, []string{"result: voicemail"}},
		{"voicemail_callback", []string{"-called", "8005551000"}, []string{"result: voicemail"}},
		// The CRM knows a rich caller who speaks Chinese: VIP, the balance
		// in Chinese, and option 1 rings their advisor.
		{"crm_survey", []string{"-called", "4008001000", "-caller", "13800000000", "-digits", "1"}, []string{
			"vars: advisor=5001 balance=250000.5 business_type=cards called=4008001000 caller=13800000000 http_status=200 language=zh name=Li Lei priority=30 vip=true",
			"result: transfer to agent 5001",
			"survey after the agent hangs up first: nps",
		}},
		// The advisor cannot come: the cards queue.
		{"crm_survey", []string{"-called", "4008001000", "-caller", "13900000000", "-digits", "1", "-transfer-result", "busy"}, []string{
			"result: queue cards",
		}},
		// The CRM does not answer in time: the caller keys their card's
		// last digits in the identify subflow, and the balance is skipped.
		{"crm_survey", []string{"-called", "4008001000", "-caller", "13700000000", "-digits", "1234,2"}, []string{
			"vars: called=4008001000 caller=13700000000 card_last4=1234 http_status=timeout",
			"result: queue cards",
		}},
		// Any other number runs the general flow, through the same subflow.
		{"crm_survey", []string{"-called", "4008002000", "-digits", "1234"}, []string{"result: queue cards"}},
	}
	var all bytes.Buffer
	for _, tc := range cases {
		t.Run(tc.file+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			file := filepath.Join(ivrExamples, tc.file+".yaml")
			args := append([]string{"simulate", file, "-at", "2026-10-12T10:00:00+08:00", "-http-fixture", fixtureFor(file)}, tc.args...)
			if code := cmdIVR(args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, errOut.String())
			}
			for _, want := range tc.want {
				if !strings.Contains(out.String(), "\n"+want+"\n") {
					t.Errorf("want %q in the transcript:\n%s", want, out.String())
				}
			}
			fmt.Fprintf(&all, "$ hotline ivr simulate %s %s\n%s\n", tc.file, strings.Join(tc.args, " "), out.String())
		})
	}
	// The whole transcripts, as a golden file: prompts, keys, silences and
	// data dips, line by line.
	golden := filepath.Join(ivrExamples, "simulate.golden")
	if *update {
		if err := os.WriteFile(golden, all.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/hotline -run TestIVRSimulateExamples -update creates it)", err)
	}
	if !bytes.Equal(all.Bytes(), want) {
		t.Errorf("transcripts differ from %s (-update rewrites it after review):\n%s", golden, all.String())
	}
}

// fixtureFor returns the HTTP fixture of an example: fixtures/NAME.yaml
// beside it, or an empty one (every data dip fails, nothing is sent).
func fixtureFor(example string) string {
	f := filepath.Join(filepath.Dir(example), "fixtures", filepath.Base(example))
	if _, err := os.Stat(f); err != nil {
		return filepath.Join(filepath.Dir(example), "fixtures", "none.yaml")
	}
	return f
}

// TestIVRSimulateLive sends the example's data dip for real, to a CRM on
// loopback, only when asked to with -http-live.
func TestIVRSimulateLive(t *testing.T) {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("phone") != "13800000000" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"customer": {"name": "Li Lei", "balance": 12, "language": "en", "advisor": "5002"}}`)
	}))
	defer crm.Close()
	src, err := os.ReadFile(filepath.Join(repoRoot, ivrExamples, "crm_survey.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "crm.yaml")
	if err := os.WriteFile(file, bytes.ReplaceAll(src, []byte("http://127.0.0.1:8099"), []byte(crm.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	simulate := func(extra ...string) string {
		var out, errOut bytes.Buffer
		args := append([]string{"simulate", file, "-called", "4008001000", "-caller", "13800000000", "-digits", "2"}, extra...)
		if code := cmdIVR(args, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		return out.String()
	}
	if out := simulate("-http-live"); !strings.Contains(out, "data dip answered 200") || !strings.Contains(out, "balance=12 ") {
		t.Errorf("live dip:\n%s", out)
	}
	if out := simulate(); !strings.Contains(out, "data dip not sent") || !strings.Contains(out, "identify.ask") {
		t.Errorf("without -http-live:\n%s", out)
	}
}

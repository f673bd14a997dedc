package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCLI runs the command line in-process and returns the exit code and both outputs.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersionPrintsVersionAndExitsZero(t *testing.T) {
	for _, arg := range []string{"version", "-version", "--version"} {
		t.Run(arg, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, arg)
			if code != 0 {
				t.Fatalf("exit %d, want 0 (stderr %q)", code, stderr)
			}
			if want := "hotline " + version + "\n"; stdout != want {
				t.Errorf("stdout %q, want %q", stdout, want)
			}
			if stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
		})
	}
}

func TestUnknownCommandExitsTwoWithUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown command": {"frobnicate"},
		"no command":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing (usage goes to stderr)", stdout)
			}
			if !strings.Contains(stderr, "usage:") || !strings.Contains(stderr, "hotline check -config FILE") {
				t.Errorf("stderr does not carry the usage:\n%s", stderr)
			}
			if len(args) > 0 && !strings.Contains(stderr, `unknown command "frobnicate"`) {
				t.Errorf("stderr does not name the unknown command:\n%s", stderr)
			}
		})
	}
}

func TestCheckAcceptsDemoConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.yaml")
	if err := os.WriteFile(path, config.DemoYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "check", "-config", path)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", code, stderr)
	}
	if want := path + ": ok ("; !strings.HasPrefix(stdout, want) {
		t.Errorf("stdout %q, want it to start with %q", stdout, want)
	}
	if stderr != "" {
		t.Errorf("stderr %q, want nothing", stderr)
	}
}

// demoWith is the demo configuration with old replaced by new once; the test fails
// if old is not in the file, so a change to demo.yaml cannot silently turn a broken
// case into a good one.
func demoWith(t *testing.T, old, new string) string {
	t.Helper()
	demo := string(config.DemoYAML)
	if strings.Count(demo, old) != 1 {
		t.Fatalf("demo.yaml holds %q %d times, want once", old, strings.Count(demo, old))
	}
	return strings.Replace(demo, old, new, 1)
}

// TestCheckReportsEveryErrorAsFileLineCol: a broken file exits 1 and every line of
// stderr is `FILE:line:col: message` (STYLE.md §5).
func TestCheckReportsEveryErrorAsFileLineCol(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // substrings the messages must hold, in order
	}{
		{
			name: "unknown key",
			yaml: demoWith(t, "  realm: hotline\n", "  realm: hotline\n  relam: typo\n"),
			want: []string{`unknown key "relam"`},
		},
		{
			name: "bad CIDR",
			yaml: demoWith(t, "acl: [127.0.0.0/8]", "acl: [127.0.0.0/33]"),
			want: []string{`invalid CIDR "127.0.0.0/33"`},
		},
		{
			name: "unknown queue reference",
			yaml: demoWith(t, "queue: { name: sales }", "queue: { name: sails }"),
			want: []string{`unknown queue "sails"`},
		},
		{
			name: "flow with unknown prompt",
			yaml: demoWith(t, "prompt: welcome #", "prompt: welcomee #"),
			want: []string{`"welcomee"`},
		},
		{
			name: "several problems at once",
			yaml: demoWith(t, "register_min_expires: 60s", "register_min_expires: soon") +
				"  - name: extra\n    start: nowhere\n    nodes: {}\n",
			want: []string{"register_min_expires", `"nowhere"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "broken.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, "check", "-config", path)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing for a broken file", stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			re := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:\d+:\d+: \S`)
			for _, line := range lines {
				if !re.MatchString(line) {
					t.Errorf("line %q is not %s:line:col: message", line, path)
				}
			}
			i := 0
			for _, line := range lines {
				if i < len(tc.want) && strings.Contains(line, tc.want[i]) {
					i++
				}
			}
			if i < len(tc.want) {
				t.Errorf("no line says %q in:\n%s", tc.want[i], stderr)
			}
		})
	}
}

// TestCheckMultiErrorGolden pins the whole report for one file with problems in
// every section; rewrite it with `go test ./cmd/hotline -run Golden -update`.
func TestCheckMultiErrorGolden(t *testing.T) {
	const input = "testdata/multi_error.yaml"
	const golden = "testdata/multi_error.golden"
	code, stdout, stderr := runCLI(t, "check", "-config", input)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if *update {
		if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if stderr != string(want) {
		t.Errorf("check %s: stderr differs from %s\n--- got:\n%s--- want:\n%s", input, golden, stderr, want)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) < 4 {
		t.Errorf("%d problems reported, want every problem of the file (at least 4)", len(lines))
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(input) + `:\d+:\d+: \S`)
	for _, line := range lines {
		if !re.MatchString(line) {
			t.Errorf("line %q is not %s:line:col: message", line, input)
		}
	}
}

func TestCheckWithoutConfigExitsTwo(t *testing.T) {
	code, _, stderr := runCLI(t, "check")
	if code != 2 || !strings.Contains(stderr, "usage: hotline check -config FILE") {
		t.Errorf("exit %d, stderr %q; want 2 and the usage", code, stderr)
	}
}

func TestCheckMissingFileExitsOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	code, _, stderr := runCLI(t, "check", "-config", path)
	if code != 1 || !strings.Contains(stderr, "absent.yaml") {
		t.Errorf("exit %d, stderr %q; want 1 and the file named", code, stderr)
	}
}

// TestRunRejectsBadFlags: each bad flag value stops `hotline run` with exit 2 and a
// message naming the flag, before anything is bound or written.
func TestRunRejectsBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"rtp ports not a range", []string{"-rtp-ports", "20000"}, `-rtp-ports "20000"`},
		{"rtp ports not numbers", []string{"-rtp-ports", "a-b"}, `-rtp-ports "a-b"`},
		{"rtp ports reversed", []string{"-rtp-ports", "30000-20000"}, `-rtp-ports "30000-20000"`},
		{"rtp ports privileged", []string{"-rtp-ports", "80-2000"}, `-rtp-ports "80-2000"`},
		{"rtp ports above 65535", []string{"-rtp-ports", "60000-70000"}, `-rtp-ports "60000-70000"`},
		{"sip without port", []string{"-sip", "127.0.0.1"}, `-sip "127.0.0.1": want IP:PORT`},
		{"sip host name", []string{"-sip", "localhost:5060"}, `-sip "localhost:5060": want IP:PORT`},
		{"advertise host name", []string{"-advertise", "sip.example.com"}, `-advertise "sip.example.com": want an IP address`},
		{"advertise with port", []string{"-advertise", "192.0.2.10:5060"}, `-advertise "192.0.2.10:5060": want an IP address`},
		{"log level", []string{"-log-level", "loud"}, `-log-level "loud"`},
		{"unknown flag", []string{"-sipp", "127.0.0.1:5060"}, "flag provided but not defined: -sipp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			args := append([]string{"run", "-data", data, "-http", "127.0.0.1:0"}, tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want it to say %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q: nothing may start", stdout)
			}
			if entries, _ := os.ReadDir(data); len(entries) != 0 {
				t.Errorf("data directory has %d entries: hotline started despite the bad flag", len(entries))
			}
		})
	}
}

// TestIVRCheckAndGraph: `ivr check` takes several files and fails on any
// broken one with file:line:col; `ivr graph` draws a flow as DOT or Mermaid
// and names the known flows when asked for another.
func TestIVRCheckAndGraph(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, config.DemoYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(demoWith(t, `"2": support`, `"2": suport`)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "ivr", "check", good, bad)
	if code != 1 || !strings.Contains(stdout, good+": ok (1 flows)") ||
		!regexp.MustCompile(regexp.QuoteMeta(bad)+`:\d+:\d+: .*"suport"`).MatchString(stderr) {
		t.Fatalf("ivr check: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if code, stdout, stderr = runCLI(t, "ivr", "graph", good); code != 0 || !strings.HasPrefix(stdout, `digraph "main" {`) ||
		!strings.Contains(stdout, `"welcome" -> "sales" [label="1"];`) {
		t.Fatalf("ivr graph: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if code, stdout, _ = runCLI(t, "ivr", "graph", "-format", "mermaid", "-flow", "main", good); code != 0 || !strings.HasPrefix(stdout, "flowchart LR\n") {
		t.Fatalf("ivr graph mermaid: exit %d\n%s", code, stdout)
	}
	if code, _, stderr = runCLI(t, "ivr", "graph", "-flow", "nope", good); code != 1 || !strings.Contains(stderr, `no flow "nope" (flows: main)`) {
		t.Fatalf("ivr graph of an unknown flow: exit %d, stderr %s", code, stderr)
	}
	if code, _, _ = runCLI(t, "ivr", "draw"); code != 2 {
		t.Fatalf("unknown ivr command: exit %d, want 2", code)
	}
}

// TestIVRSimulate: the demo menu with a caller who presses 1 after the
// prompt goes to sales; the flow comes from the trunk of the called number.
func TestIVRSimulate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.yaml")
	if err := os.WriteFile(path, config.DemoYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "ivr", "simulate", path, "-called", "8005551000", "-caller", "+15550100", "-digits", "1", "-at", "2026-10-01T09:00:00+08:00")
	if code != 0 || !strings.HasPrefix(stdout, `flow main (version `) || !strings.Contains(stdout, "caller presses 1") ||
		!strings.HasSuffix(stdout, "result: queue sales\ndigits: \"1\"\n") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if code, _, stderr = runCLI(t, "ivr", "simulate", path, "-at", "tomorrow"); code != 2 || !strings.Contains(stderr, "RFC 3339") {
		t.Errorf("bad -at: exit %d, stderr %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, "ivr", "simulate", path, "-flow", "nope"); code != 1 || !strings.Contains(stderr, `no flow "nope"`) {
		t.Errorf("unknown flow: exit %d, stderr %s", code, stderr)
	}
}

package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// statCSV builds a SIPp -trace_stat file with the columns the bench reads; SIPp's
// own has about 90 more, which parseStatCSV keys by name all the same.
func statCSV(rows ...[]string) string {
	header := "StartTime;CurrentTime;TotalCallCreated;SuccessfulCall(C);FailedCall(C);FailedMaxUDPRetrans(C);FailedTimeoutOnRecv(C);" +
		"OutOfCallMsgs(C);Retransmissions(C);ResponseTime1(C);ResponseTimeRepartition1_<100;ResponseTimeRepartition1_<200;" +
		"ResponseTimeRepartition1_<500;ResponseTimeRepartition1_>=500;"
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, ";") + ";\n")
	}
	return b.String()
}

func stamp(epoch string) string { return "2026-11-23\t10:15:05.931371\t" + epoch }

func TestStatCSVGivesCountsFailuresAndAnswerTime(t *testing.T) {
	csv := statCSV(
		[]string{stamp("1000.0"), stamp("1000.0"), "0", "0", "0", "0", "0", "0", "0", "00:00:00:000000", "0", "0", "0", "0"},
		[]string{stamp("1000.0"), stamp("1001.0"), "100", "0", "0", "0", "0", "0", "0", "00:00:00:000000", "0", "0", "0", "0"},
		[]string{stamp("1000.0"), stamp("1002.0"), "200", "60", "0", "0", "0", "0", "3", "00:00:00:004000", "50", "5", "4", "1"},
		[]string{stamp("1000.0"), stamp("1004.5"), "200", "197", "3", "1", "2", "4", "7", "00:00:00:012000", "180", "10", "7", "3"},
	)
	rows, err := parseStatCSV([]byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	var st step
	st.Calls = 200
	st.fillFromStats(rows)
	if st.Created != 200 || st.Success != 197 || st.Failed != 3 || st.Retrans != 7 {
		t.Errorf("counts = created %d, ok %d, failed %d, retrans %d; want 200, 197, 3, 7", st.Created, st.Success, st.Failed, st.Retrans)
	}
	if st.AnswerAvg != 12*time.Millisecond {
		t.Errorf("answer = %s, want 12ms", st.AnswerAvg)
	}
	if st.SlowCalls != 10 { // [200, 500) and ≥ 500
		t.Errorf("slow answers = %d, want 10", st.SlowCalls)
	}
	want := map[string]int{"MaxUDPRetrans": 1, "TimeoutOnRecv": 2, "(OutOfCallMsgs)": 4}
	if len(st.Failures) != len(want) {
		t.Errorf("failures = %v, want %v", st.Failures, want)
	}
	for k, v := range want {
		if st.Failures[k] != v {
			t.Errorf("failures[%s] = %d, want %d", k, st.Failures[k], v)
		}
	}
	// 200 calls were reached exactly at the row 2 s after the start.
	if math.Abs(st.Achieved-100) > 0.01 {
		t.Errorf("achieved = %.3f cps, want 100", st.Achieved)
	}
}

func TestAchievedRateInterpolatesBetweenRows(t *testing.T) {
	csv := statCSV(
		[]string{stamp("1000.0"), stamp("1000.5"), "40", "0", "0", "0", "0", "0", "0", "", "0", "0", "0", "0"},
		[]string{stamp("1000.0"), stamp("1001.0"), "80", "0", "0", "0", "0", "0", "0", "", "0", "0", "0", "0"},
		[]string{stamp("1000.0"), stamp("1001.5"), "100", "0", "0", "0", "0", "0", "0", "", "0", "0", "0", "0"},
	)
	rows, err := parseStatCSV([]byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	// 90 calls: halfway between 80 (1.0 s) and 100 (1.5 s), at 1.25 s: 72 cps.
	if got := achievedRate(rows, 90); math.Abs(got-72) > 0.01 {
		t.Errorf("achievedRate = %.3f, want 72", got)
	}
	// Never reached: the rate so far.
	if got := achievedRate(rows, 500); math.Abs(got-100/1.5) > 0.01 {
		t.Errorf("achievedRate of an unfinished run = %.3f, want %.3f", got, 100/1.5)
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name string
		st   step
		want verdict
	}{
		{"clean", step{Rate: 100, Calls: 500, Created: 500, Success: 500, Achieved: 99}, verdictOK},
		{"a failed call", step{Rate: 100, Calls: 500, Created: 500, Success: 499, Failed: 1, Achieved: 99, ExitCode: 1}, verdictFailed},
		{"SIPp below 90% of the rate", step{Rate: 100, Calls: 500, Created: 500, Success: 500, Achieved: 85}, verdictGenerator},
		{"SIPp stopped early", step{Rate: 100, Calls: 500, Created: 300, Success: 300, Achieved: 99, ExitCode: 255}, verdictError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.st.judge(0.9)
			if tc.st.Verdict != tc.want {
				t.Errorf("verdict = %s, want %s", tc.st.Verdict, tc.want)
			}
		})
	}
}

func TestParseSIPpDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:00:00:000000": 0,
		"00:00:01:008000": time.Second + 8*time.Millisecond,
		"01:02:03:000004": time.Hour + 2*time.Minute + 3*time.Second + 4*time.Microsecond,
		"garbage":         0,
	} {
		if got := parseSIPpDuration(in); got != want {
			t.Errorf("parseSIPpDuration(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseScreenMessagesReadsCountsAndRetransmissions(t *testing.T) {
	screen := `------------------------------ Scenario Screen -------- [1-9]: Change Screen --
                                 Messages  Retrans   Timeout   Unexpected-Msg
              [ NOP ]
      INVITE ---------->  B-RTD1 4000      40        0
         100 <----------         3971      0         0         0
         200 <----------  E-RTD1 4000      5         0         0
         ACK ---------->         4000      5
       Pause [    $hold]         4000                          0
         BYE ---------->         4000      22        0
         200 <----------         4000      0         0         0

                                 Messages  Retrans   Timeout   Unexpected-Msg
      INVITE ---------->  B-RTD1 9        9         0
`
	got := parseScreenMessages(screen)
	want := map[string][2]int{"INVITE>": {4000, 40}, "100<": {3971, 0}, "200<": {4000, 5}, "ACK>": {4000, 5}, "BYE>": {4000, 22}, "200<#2": {4000, 0}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	st := step{Messages: got}
	if st.sent("ACK") != 4005 {
		t.Errorf("ACKs sent = %d, want 4005", st.sent("ACK"))
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP hotline_media_rtp_packets_total RTP packets.
# TYPE hotline_media_rtp_packets_total counter
hotline_media_rtp_packets_total{direction="in"} 0
hotline_media_rtp_packets_total{direction="out"} 2020
hotline_calls_active 3
hotline_sip_responses_total{code="200",method="INVITE"} 20
weird{label="a b}c"} 1.5e+06 1700000000
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`hotline_media_rtp_packets_total{direction="out"}`:        2020,
		`hotline_calls_active`:                                    3,
		`hotline_sip_responses_total{code="200",method="INVITE"}`: 20,
		`weird{label="a b}c"}`:                                    1.5e6,
	} {
		if m[series] != want {
			t.Errorf("%s = %v, want %v", series, m[series], want)
		}
	}
	if got := labelValue(`hotline_sip_responses_total{code="503",method="INVITE"}`, "code"); got != "503" {
		t.Errorf("labelValue = %q, want 503", got)
	}
}

func TestParseProcNetUDPFindsTheLoopbackSocket(t *testing.T) {
	table := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:AA6B 00000000:0000 07 00000000:00033F80 00:00000000 00000000     0        0 123456 2 0000000000000000 3524
  124: 00000000:AA6B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123457 2 0000000000000000 9
`
	got := parseProcNetUDP(table, 0xAA6B)
	if !got.ok || got.rxQueue != 0x33F80 || got.drops != 3524 {
		t.Errorf("got %+v, want rx 0x33F80, drops 3524", got)
	}
	if parseProcNetUDP(table, 5060).ok {
		t.Error("found a socket on a port nobody has")
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Performance\n\nby hand\n\n" + sippBegin + "\nold\n" + sippEnd + "\n\nmore by hand\n"
	got := replaceSection(doc, sippBegin, sippEnd, "## SIPp", "new table\n\n")
	want := "# Performance\n\nby hand\n\n" + sippBegin + "\nnew table\n" + sippEnd + "\n\nmore by hand\n"
	if got != want {
		t.Errorf("replaced:\n%s\nwant:\n%s", got, want)
	}
	got = replaceSection("# Performance\n", goBegin, goEnd, "## Go benchmarks", "rows")
	want = "# Performance\n\n## Go benchmarks\n\n" + goBegin + "\nrows\n" + goEnd + "\n"
	if got != want {
		t.Errorf("appended:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/hotline-cc/hotline/media
cpu: Oxide Virtual Turin-like Processor
BenchmarkPacerTick-2   	     163	   7073753 ns/op	       0 B/op	       0 allocs/op
PASS
pkg: github.com/hotline-cc/hotline/acd
BenchmarkStep/agents=1000/queues=100-2         	 3725940	       286.9 ns/op	       810.6 ns/decision	      23 B/op	       0 allocs/op
`
	gb := parseGoBench(out)
	if gb.CPU != "Oxide Virtual Turin-like Processor" || len(gb.Results) != 2 {
		t.Fatalf("got %+v", gb)
	}
	r := gb.Results[1]
	if r.Pkg != "acd" || r.Name != "Step/agents=1000/queues=100" || r.Procs != "2" || r.Iterations != 3725940 {
		t.Errorf("result = %+v", r)
	}
	if r.metric("ns/op") != "286.9" || r.metric("B/op") != "23" || strings.Join(r.others(), ",") != "810.6 ns/decision" {
		t.Errorf("metrics = %+v", r.Metrics)
	}
}

func TestSummarizeLogCountsSlogMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.stderr")
	log := `time=2026-11-23T10:23:17.1Z level=WARN msg="answer failed" call_id=1 err="answer 1: No ACK received"
time=2026-11-23T10:23:17.2Z level=WARN msg="answer failed" call_id=2 err="answer 2: No ACK received"
time=2026-11-23T10:23:18.0Z level=ERROR msg=boom call_id=3
panic: something
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	s := summarizeLog(path)
	if s.Lines != 4 || s.ByLevel["WARN"] != 2 || s.ByLevel["ERROR"] != 1 || s.ByLevel["OTHER"] != 1 {
		t.Errorf("summary = %+v", s)
	}
	if len(s.Top) == 0 || s.Top[0] != "2× WARN answer failed" {
		t.Errorf("top = %q", s.Top)
	}
}

func TestCoresFromProcSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := procSample{at: t0, cpuTicks: 1000, ok: true}
	b := procSample{at: t0.Add(2 * time.Second), cpuTicks: 1300, ok: true}
	if got := cores(a, b); math.Abs(got-1.5) > 1e-9 {
		t.Errorf("cores = %v, want 1.5", got)
	}
	if got := cores(a, procSample{}); got != 0 {
		t.Errorf("cores to a dead process = %v, want 0", got)
	}
}

func TestReadProcSeesThisProcess(t *testing.T) {
	s := readProc(os.Getpid())
	if !s.ok || s.rssBytes <= 0 {
		t.Errorf("readProc(self) = %+v", s)
	}
	if !readBoxCPU().ok {
		t.Error("readBoxCPU failed")
	}
}

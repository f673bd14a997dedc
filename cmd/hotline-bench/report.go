package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// targetCPS is the goal of the issue that asked for `make bench`: 1,000 IVR calls a
// second on 2 cores. asteriskCPS is the figure for Asterisk on the same box;
// this tool does not measure Asterisk.
const (
	targetCPS   = 1000
	asteriskCPS = 190
)

func (st step) progressLine() string {
	s := fmt.Sprintf("%5d cps: %d/%d ok, %d failed, %d retrans, achieved %.1f cps, answer %s, server %.2f cores, SIPp %.2f cores, box %.2f cores",
		st.Rate, st.Success, st.Calls, st.Failed, st.Retrans, st.Achieved, ms(st.AnswerAvg), st.ServerCores, st.SIPpCores, st.BoxCores)
	if st.ServerRSS > 0 {
		s += ", RSS " + formatBytes(st.ServerRSS)
	}
	if st.RTPExpected > 0 {
		s += fmt.Sprintf(", RTP out %s (%.0f%%)", thousands(st.RTPOut), 100*st.RTPOut/st.RTPExpected)
	}
	if st.Requests != nil {
		s += fmt.Sprintf(", ACK in %s of %s sent, heap peak %s, %0.f goroutines", thousands(st.Requests["ACK"]), thousands(float64(st.sent("ACK"))),
			formatBytes(int64(st.PeakHeap)), st.PeakGor)
	}
	s += fmt.Sprintf(", SIP socket drops %d (backlog peak %s)", st.ServerDrops, formatBytes(st.ServerRxPeak))
	s += " → " + st.Verdict.String()
	if d := st.failureText(); d != "" {
		s += ": " + d
	}
	if st.Note != "" {
		s += " (" + st.Note + ")"
	}
	return s
}

// sent is how many times SIPp sent msg, retransmissions included.
func (st step) sent(msg string) int {
	m := st.Messages[msg+">"]
	return m[0] + m[1]
}

// failureText says what went wrong in a step, from SIPp's counters and hotline's.
func (st step) failureText() string {
	var parts []string
	if len(st.Failures) > 0 {
		parts = append(parts, "SIPp "+countsText(st.Failures))
	}
	if n := st.Ended["failed"]; n > 0 {
		parts = append(parts, fmt.Sprintf("hotline ended %.0f calls as failed", n))
	}
	if len(st.Responses) > 0 {
		parts = append(parts, "hotline sent "+countsTextF(st.Responses))
	}
	if st.Verdict == verdictGenerator {
		parts = append(parts, fmt.Sprintf("SIPp started calls at %.0f of %d cps", st.Achieved, st.Rate))
	}
	return strings.Join(parts, "; ")
}

func countsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

func countsTextF(m map[string]float64) string {
	c := map[string]int{}
	for k, v := range m {
		c[k] = int(v)
	}
	return countsText(c)
}

// best is the index of the highest clean step (-1 if none); stopper the step that
// ended the climb (nil if the ladder ran to its top clean).
func best(steps []step) int {
	b := -1
	for i, st := range steps {
		if st.Verdict == verdictOK {
			b = i
		}
	}
	return b
}

func stopper(steps []step) *step {
	if len(steps) == 0 || steps[len(steps)-1].Verdict == verdictOK {
		return nil
	}
	return &steps[len(steps)-1]
}

func (r *report) title() string {
	return fmt.Sprintf("hotline bench — %s, %s, %d cores, %s, SIPp %s",
		r.When.Format("2006-01-02"), r.Machine.CPUModel, r.Machine.Cores, r.GoVersion, r.SIPp)
}

type summaryRow struct {
	Scenario, MaxRate, NoRetrans, Calls, Answer, ServerCPU, SIPpCPU, BoxCPU, RSS, RTP, Next string
}

func (r *report) summaryRows() []summaryRow {
	rows := []summaryRow{r.summaryRow("IVR answer+prompt+hangup", r.IVR, r.IVRErr, true)}
	if r.Opts.calibrate {
		rows = append(rows, r.summaryRow("calibration SIPp→SIPp uas", r.Calib, r.CalibErr, false))
	}
	return rows
}

func (r *report) summaryRow(name string, steps []step, runErr string, isHotline bool) summaryRow {
	row := summaryRow{Scenario: name, MaxRate: "none", NoRetrans: "none", Calls: "-", Answer: "-", ServerCPU: "-", SIPpCPU: "-", BoxCPU: "-", RSS: "-", RTP: "-"}
	for _, st := range steps {
		if st.Verdict == verdictOK && st.Retrans == 0 {
			row.NoRetrans = fmt.Sprintf("%d cps", st.Rate)
		}
	}
	if b := best(steps); b >= 0 {
		st := steps[b]
		row.MaxRate = fmt.Sprintf("%d cps", st.Rate)
		row.Calls = fmt.Sprint(st.Success)
		row.Answer = ms(st.AnswerAvg)
		row.ServerCPU = fmt.Sprintf("%.2f cores", st.ServerCores)
		if !isHotline {
			row.ServerCPU = fmt.Sprintf("uas %.2f cores", st.ServerCores)
		}
		row.SIPpCPU = fmt.Sprintf("%.2f cores", st.SIPpCores)
		row.BoxCPU = fmt.Sprintf("%.2f of %d", st.BoxCores, r.Machine.Cores)
		if isHotline {
			row.RSS = formatBytes(st.ServerRSS)
			row.RTP = fmt.Sprintf("%s (%.0f%%)", thousands(st.RTPOut), pct(st.RTPOut, st.RTPExpected))
		}
	}
	switch s := stopper(steps); {
	case runErr != "":
		row.Next = "run error: " + runErr
	case s != nil:
		row.Next = fmt.Sprintf("%d cps: %s", s.Rate, s.Verdict)
		if d := s.failureText(); d != "" {
			row.Next += " (" + d + ")"
		}
	case len(steps) < len(r.Opts.rates):
		row.Next = "time budget spent"
	default:
		row.Next = "top of the ladder, none failed"
	}
	return row
}

func printSummary(w io.Writer, r *report) {
	fmt.Fprintln(w, r.title())
	if len(r.Media) > 0 {
		printMediaSummary(w, r)
	}
	if !r.Opts.rows["ivr"] {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "scenario\tmax rate w/o failures\tw/o retransmissions\tcalls\tanswer (mean)\tserver CPU\tSIPp CPU\tbox CPU\tRSS\tRTP out pkts\tnext rate")
	for _, row := range r.summaryRows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			row.Scenario, row.MaxRate, row.NoRetrans, row.Calls, row.Answer, row.ServerCPU, row.SIPpCPU, row.BoxCPU, row.RSS, row.RTP, row.Next)
	}
	tw.Flush()
	fmt.Fprintf(w, "hotline stderr: %s; logs and SIPp traces in %s\n", r.HotlineLog, r.WorkDir)
}

// Markdown.

const (
	sippBegin = "<!-- BEGIN hotline-bench: SIPp ladder (generated by cmd/hotline-bench -write; edits inside are overwritten) -->"
	sippEnd   = "<!-- END hotline-bench: SIPp ladder -->"
	goBegin   = "<!-- BEGIN hotline-bench: Go benchmarks (generated by cmd/hotline-bench -gobench; edits inside are overwritten) -->"
	goEnd     = "<!-- END hotline-bench: Go benchmarks -->"
)

const docTemplate = `# Performance

How fast hotline is, measured with ` + "`make bench`" + ` on a named machine. The sections
between the BEGIN/END markers are written by ` + "`cmd/hotline-bench -write`" + `; the rest is
by hand.

## SIPp load: IVR answer, prompt, hang-up

` + sippBegin + `
` + sippEnd + `

## Go benchmarks

` + goBegin + `
` + goEnd + `
`

// updateDoc rewrites the generated sections of path, creating it if needed.
func updateDoc(path string, r *report) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = []byte(docTemplate), nil
	}
	if err != nil {
		return err
	}
	doc := string(b)
	if r.Opts.rows["ivr"] {
		doc = replaceSection(doc, sippBegin, sippEnd, "## SIPp load: IVR answer, prompt, hang-up", r.sippMarkdown())
	}
	if len(r.Media) > 0 {
		doc = replaceSection(doc, mediaBegin, mediaEnd, "## SIPp load: calls held up, RTP at a sink (playback, bridged)", r.mediaMarkdown())
	}
	if r.GoBench != nil && len(r.GoBench.Results) > 0 {
		doc = replaceSection(doc, goBegin, goEnd, "## Go benchmarks", r.goBenchMarkdown())
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// replaceSection puts body between the begin and end markers, or appends a new
// section with heading and markers when the document has none.
func replaceSection(doc, begin, end, heading, body string) string {
	body = strings.TrimRight(body, "\n") + "\n"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + heading + "\n\n" + begin + "\n" + body + end + "\n"
	}
	return doc[:i+len(begin)] + "\n" + body + doc[j:]
}

func (r *report) machineLine() string {
	return fmt.Sprintf("%s, %d cores, %s RAM, Linux %s", r.Machine.CPUModel, r.Machine.Cores, formatBytes(r.Machine.MemBytes), r.Machine.Kernel)
}

func (r *report) sippMarkdown() string {
	var b strings.Builder
	o := r.Opts
	fmt.Fprintf(&b, "Measured %s on %s.\n", r.When.UTC().Format("2006-01-02 15:04 MST"), r.machineLine())
	fmt.Fprintf(&b, "Bench run by %s; hotline built with %s; SIPp %s. Load average before the run: %s.\n\n", r.GoVersion, r.HotlineGo, r.SIPp, r.LoadBefore)
	fmt.Fprintf(&b, "Command: `%s` (`make bench` runs it after building bin/hotline and running the Go benchmarks).\n\n", r.Command)
	fmt.Fprintf(&b, "Each call (`testdata/sipp/bench_ivr.xml`): INVITE with PCMU and telephone-event 101, 100, 200, ACK, "+
		"%s of the IVR menu prompt streamed by hotline's pacer to SIPp's media port, BYE, 200. Each rate is offered "+
		"for %s (calls = rate × %d) and must finish with zero failed calls, SIPp starting calls at ≥ %.0f%% of the rate. "+
		"Rates tried: %s cps. hotline runs the embedded demo configuration with `-log-level warn`, recording every call; "+
		"the calibration row is the same SIPp client against `sipp -sn uas` (no media).\n\n",
		o.hold, o.seconds, int(o.seconds/time.Second), 100*o.minAchieved, joinInts(o.rates))

	b.WriteString("| scenario | max rate w/o failures | w/o retransmissions | calls | answer (mean) | server CPU | SIPp CPU | box CPU | RSS | RTP out pkts | next rate |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.summaryRows() {
		fmt.Fprintf(&b, "| %s | **%s** | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			row.Scenario, row.MaxRate, row.NoRetrans, row.Calls, row.Answer, row.ServerCPU, row.SIPpCPU, row.BoxCPU, row.RSS, row.RTP, mdEscape(row.Next))
	}
	b.WriteString("\nThe figures are those of the highest rate without failures. CPU is in cores (1.00 = one core busy), from " +
		"`/proc/PID/stat` (server, SIPp) and `/proc/stat` (box: every process and the kernel) over the steady part of each step, " +
		"from one call length after the first INVITE to the last INVITE; RSS is the largest VmRSS seen. The box figure comes from " +
		"the kernel's tick-sampled counters and reads low when the load is light and bursty. SIPp keeps response " +
		"times in whole milliseconds. A rate fails when SIPp counts a failed call or hotline ends a call as failed " +
		"(`hotline_calls_total{result=\"failed\"}`).\n")

	b.WriteString("\n### Ladder: IVR answer + prompt + hang-up (hotline)\n\n")
	writeLadder(&b, r.IVR, true)
	b.WriteString("\nWhat hotline and the kernel saw in the same steps: SIP requests hotline's handlers got against what SIPp sent " +
		"(retransmissions included; an INVITE or BYE retransmission is absorbed by the transaction layer, every ACK reaches the handler), " +
		"datagrams the kernel dropped at each SIP socket for a full receive buffer, Go heap and goroutines at the step's peak and " +
		"once its calls had ended, and garbage collections.\n\n")
	writeDiagnostics(&b, r.IVR)
	if r.IVRErr != "" {
		fmt.Fprintf(&b, "\nThe ladder stopped with an error: %s\n", mdEscape(r.IVRErr))
	}
	if o.calibrate {
		b.WriteString("\n### Ladder: calibration, SIPp against SIPp's built-in uas\n\n")
		writeLadder(&b, r.Calib, false)
		if r.CalibErr != "" {
			fmt.Fprintf(&b, "\nThe ladder stopped with an error: %s\n", mdEscape(r.CalibErr))
		}
	}
	b.WriteString("\n### Reading (generated)\n\n")
	for _, l := range r.reading() {
		b.WriteString("- " + l + "\n")
	}
	return b.String()
}

func writeLadder(b *strings.Builder, steps []step, isHotline bool) {
	if len(steps) == 0 {
		b.WriteString("No step ran.\n")
		return
	}
	if isHotline {
		b.WriteString("| rate (cps) | calls | ok | failed | retrans | achieved cps | answer mean | answers ≥ 200 ms | hotline CPU | SIPp CPU | box CPU | RSS | peak calls | RTP out (of expected) | result |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	} else {
		b.WriteString("| rate (cps) | calls | ok | failed | retrans | achieved cps | answer mean | answers ≥ 200 ms | uas CPU | SIPp CPU | box CPU | result |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	}
	for _, st := range steps {
		result := st.Verdict.String()
		if d := st.failureText(); d != "" {
			result += ": " + d
		}
		if st.Note != "" {
			result += " (" + st.Note + ")"
		}
		fmt.Fprintf(b, "| %d | %d | %d | %d | %d | %.1f | %s | %d | %.2f | %.2f | %.2f |",
			st.Rate, st.Calls, st.Success, st.Failed, st.Retrans, st.Achieved, ms(st.AnswerAvg), st.SlowCalls, st.ServerCores, st.SIPpCores, st.BoxCores)
		if isHotline {
			fmt.Fprintf(b, " %s | %.0f | %s (%.0f%%) |", formatBytes(st.ServerRSS), st.PeakActive, thousands(st.RTPOut), pct(st.RTPOut, st.RTPExpected))
		}
		fmt.Fprintf(b, " %s |\n", mdEscape(result))
	}
}

func writeDiagnostics(b *strings.Builder, steps []step) {
	if len(steps) == 0 {
		return
	}
	b.WriteString("| rate (cps) | INVITE in / sent | ACK in / sent | BYE in / sent | hotline SIP socket drops | its backlog peak | SIPp SIP socket drops | heap peak / idle | goroutines peak / idle | GCs (pause) | calls ended by hotline | other responses |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, st := range steps {
		other := "none"
		if len(st.Responses) > 0 {
			other = countsTextF(st.Responses)
		}
		ended := "none"
		if len(st.Ended) > 0 {
			ended = countsTextF(st.Ended)
		}
		fmt.Fprintf(b, "| %d | %s / %d | %s / %d | %s / %d | %d | %s | %d | %s / %s | %.0f / %.0f | %.0f (%.1f ms) | %s | %s |\n",
			st.Rate, thousands(st.Requests["INVITE"]), st.sent("INVITE"), thousands(st.Requests["ACK"]), st.sent("ACK"),
			thousands(st.Requests["BYE"]), st.sent("BYE"), st.ServerDrops, formatBytes(st.ServerRxPeak), st.ClientDrops,
			formatBytes(int64(st.PeakHeap)), formatBytes(int64(st.IdleHeap)), st.PeakGor, st.IdleGor, st.GCs, 1000*st.GCPause, mdEscape(ended), mdEscape(other))
	}
}

// reading is the generated interpretation: what the numbers say limited each ladder.
func (r *report) reading() []string {
	var out []string
	cores := float64(r.Machine.Cores)
	ib, cb := best(r.IVR), best(r.Calib)
	hold := r.Opts.hold.Seconds()
	if ib >= 0 {
		st := r.IVR[ib]
		out = append(out, fmt.Sprintf("hotline took **%d calls/s** with zero failures: %d calls, about %.0f up at once (peak %s seen), "+
			"hotline at %.2f of %d cores, SIPp at %.2f, the box at %.2f; hotline sent %s RTP packets (%.0f%% of %s expected for %s of prompt per call).",
			st.Rate, st.Success, float64(st.Rate)*hold, fmt.Sprintf("%.0f", st.PeakActive), st.ServerCores, r.Machine.Cores, st.SIPpCores, st.BoxCores,
			thousands(st.RTPOut), pct(st.RTPOut, st.RTPExpected), thousands(st.RTPExpected), r.Opts.hold))
	} else if len(r.IVR) > 0 {
		out = append(out, fmt.Sprintf("hotline failed already at the lowest rate, %d calls/s.", r.IVR[0].Rate))
	}
	out = append(out, onsets(r.IVR, r.Opts.hold)...)
	if s := stopper(r.IVR); s != nil {
		out = append(out, r.diagnose("hotline", s, cores, true)...)
	} else if len(r.IVR) == len(r.Opts.rates) {
		out = append(out, fmt.Sprintf("No IVR rate failed up to the top of the ladder (%d cps); raise -rates to find the limit.", r.Opts.rates[len(r.Opts.rates)-1]))
	}
	if r.Opts.calibrate {
		if cb >= 0 {
			st := r.Calib[cb]
			out = append(out, fmt.Sprintf("SIPp against SIPp's uas ran **%d calls/s** clean (uas %.2f cores, SIPp client %.2f cores): the load generator's own ceiling on this box is at least that.",
				st.Rate, st.ServerCores, st.SIPpCores))
		}
		if s := stopper(r.Calib); s != nil {
			out = append(out, r.diagnose("the uas", s, cores, false)...)
		} else if len(r.Calib) == len(r.Opts.rates) {
			out = append(out, "The calibration ladder ran to its top clean, so within these rates SIPp is not what limits the IVR row.")
		}
		if ib >= 0 && cb >= 0 {
			out = append(out, fmt.Sprintf("hotline reached %.0f%% of the calibration rate.", 100*float64(r.IVR[ib].Rate)/float64(r.Calib[cb].Rate)))
		}
	}
	goal := "not met"
	if ib >= 0 && r.IVR[ib].Rate >= targetCPS {
		goal = "met"
	}
	maxRate := 0
	if ib >= 0 {
		maxRate = r.IVR[ib].Rate
	}
	out = append(out, fmt.Sprintf("Target of the issue, ≥ %d calls/s on 2 cores: %s (%d). The issue quotes Asterisk at about %d calls/s on the same box; this tool does not measure Asterisk.",
		targetCPS, goal, maxRate, asteriskCPS))
	if r.HotlineLog.Lines > 0 {
		out = append(out, fmt.Sprintf("hotline's stderr (warn and above): %s; most frequent: %s.", r.HotlineLog, mdEscape(strings.Join(r.HotlineLog.Top, "; "))))
	} else {
		out = append(out, "hotline logged no warning or error during the run.")
	}
	for _, n := range r.HotlineLog.Notes {
		out = append(out, mdEscape(n)+".")
	}
	return out
}

// onsets names the first rate at which each sign of strain appeared in a ladder,
// failed or not: they show where the limit is coming before calls fail.
func onsets(steps []step, hold time.Duration) []string {
	type sign struct {
		what string
		hit  func(step) bool
		show func(step) string
	}
	signs := []sign{
		{"SIPp retransmitted requests", func(s step) bool { return s.Retrans > 0 },
			func(s step) string {
				return fmt.Sprintf("%d retransmissions (INVITE %d, ACK %d, BYE %d)", s.Retrans, s.Messages["INVITE>"][1], s.Messages["ACK>"][1], s.Messages["BYE>"][1])
			}},
		{"the mean answer time passed 20 ms", func(s step) bool { return s.AnswerAvg >= 20*time.Millisecond },
			func(s step) string { return "mean " + ms(s.AnswerAvg) }},
		{"hotline's handlers got fewer ACKs than SIPp sent", func(s step) bool { return s.Requests != nil && int(s.Requests["ACK"]) < s.sent("ACK") },
			func(s step) string { return fmt.Sprintf("%.0f of %d", s.Requests["ACK"], s.sent("ACK")) }},
		{"the kernel dropped datagrams at hotline's SIP socket", func(s step) bool { return s.ServerDrops > 0 },
			func(s step) string {
				return fmt.Sprintf("%d dropped, backlog peak %s", s.ServerDrops, formatBytes(s.ServerRxPeak))
			}},
		{"calls streamed more than 110% of the prompt packets their hold needs (hotline ended them late)", func(s step) bool { return s.RTPExpected > 0 && s.RTPOut > 1.1*s.RTPExpected },
			func(s step) string {
				return fmt.Sprintf("%.0f%%, about %.1f s per call instead of %s", pct(s.RTPOut, s.RTPExpected), hold.Seconds()*s.RTPOut/s.RTPExpected, hold)
			}},
		{"hotline's pacer sent less than 95% of the prompt packets", func(s step) bool { return s.RTPExpected > 0 && s.RTPOut < 0.95*s.RTPExpected },
			func(s step) string { return fmt.Sprintf("%.0f%%", pct(s.RTPOut, s.RTPExpected)) }},
	}
	var out []string
	for _, sg := range signs {
		for _, s := range steps {
			if sg.hit(s) {
				out = append(out, fmt.Sprintf("From %d calls/s on, %s: %s.", s.Rate, sg.what, sg.show(s)))
				break
			}
		}
	}
	return out
}

// diagnose explains the step that stopped a ladder from what was measured in it.
func (r *report) diagnose(who string, s *step, cores float64, isHotline bool) []string {
	var out []string
	head := fmt.Sprintf("At %d calls/s: %s", s.Rate, s.Verdict)
	if s.Failed > 0 {
		head += fmt.Sprintf(", %d of %d calls failed at SIPp", s.Failed, s.Calls)
	}
	if d := s.failureText(); d != "" {
		head += " (" + d + ")"
	}
	out = append(out, mdEscape(head)+".")
	var why []string
	switch {
	case s.ServerCores >= 0.85*cores:
		why = append(why, fmt.Sprintf("%s used %.2f of %.0f cores: CPU-bound", who, s.ServerCores, cores))
	case s.BoxCores >= 0.85*cores:
		why = append(why, fmt.Sprintf("the box was CPU-bound: %.2f of %.0f cores busy (%s %.2f, SIPp %.2f, the rest kernel and other processes)", s.BoxCores, cores, who, s.ServerCores, s.SIPpCores))
	default:
		why = append(why, fmt.Sprintf("the box was not CPU-bound: %.2f of %.0f cores busy (%s %.2f, SIPp %.2f)", s.BoxCores, cores, who, s.ServerCores, s.SIPpCores))
	}
	if s.SIPpCores >= 0.85 {
		why = append(why, fmt.Sprintf("the SIPp client used %.2f cores; it runs its calls on one thread", s.SIPpCores))
	}
	if s.Retrans > 0 {
		why = append(why, fmt.Sprintf("SIPp retransmitted %d times: responses came later than T1 (500 ms) or were lost", s.Retrans))
	}
	if s.AnswerAvg >= 100*time.Millisecond || s.SlowCalls > 0 {
		why = append(why, fmt.Sprintf("answers took %s on average, %d of them 200 ms or more", ms(s.AnswerAvg), s.SlowCalls))
	}
	if isHotline && s.RTPExpected > 0 && s.RTPOut < 0.95*s.RTPExpected {
		why = append(why, fmt.Sprintf("hotline sent only %.0f%% of the expected prompt packets, so its 20 ms pacer fell behind", pct(s.RTPOut, s.RTPExpected)))
	}
	if s.ServerDrops > 0 {
		why = append(why, fmt.Sprintf("the kernel dropped %d datagrams at %s's SIP socket (receive buffer full, backlog peak %s)", s.ServerDrops, who, formatBytes(s.ServerRxPeak)))
	}
	if s.ClientDrops > 0 {
		why = append(why, fmt.Sprintf("the kernel dropped %d datagrams at SIPp's SIP socket", s.ClientDrops))
	}
	if isHotline && s.Requests != nil && s.sent("ACK") > 0 && int(s.Requests["ACK"]) < s.sent("ACK") {
		why = append(why, fmt.Sprintf("hotline's handlers got %.0f of the %d ACKs SIPp sent (retransmissions included)", s.Requests["ACK"], s.sent("ACK")))
		if n := s.Ended["failed"]; n > 0 && float64(s.Calls)-s.Requests["ACK"] > 0 {
			why = append(why, fmt.Sprintf("%.0f calls got no ACK at all before their BYE, and hotline ended %.0f calls as failed "+
				"(its Answer waits for the ACK; a BYE first makes it return \"No ACK received\", so the call had no prompt, no recording and no CDR row)",
				float64(s.Calls)-s.Requests["ACK"], n))
		}
	}
	if s.EventsDrop > 0 {
		why = append(why, fmt.Sprintf("hotline dropped %.0f media events", s.EventsDrop))
	}
	if len(s.ErrLines) > 0 {
		why = append(why, "SIPp's error log: "+strings.Join(s.ErrLines, " / "))
	}
	out = append(out, mdEscape("Measured at that rate: "+strings.Join(why, "; "))+".")
	return out
}

func (r *report) goBenchMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s (go test reports: %s), %s.\n\n", r.When.UTC().Format("2006-01-02 15:04 MST"), r.machineLine(), r.GoBench.CPU, r.GoVersion)
	b.WriteString("Command: `go test -run '^$' -bench . -benchmem ./...` (run by `make bench`; the benchmarks live in media, recorder, acd and store).\n\n")
	b.WriteString("| package | benchmark | GOMAXPROCS | iterations | ns/op | B/op | allocs/op | other |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, res := range r.GoBench.Results {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", res.Pkg, mdEscape(res.Name), res.Procs, res.Iterations,
			res.metric("ns/op"), res.metric("B/op"), res.metric("allocs/op"), strings.Join(res.others(), ", "))
	}
	return b.String()
}

// Formatting helpers.

// ms formats SIPp's response times, which it keeps in whole milliseconds.
func ms(d time.Duration) string {
	if d < time.Millisecond {
		return "< 1 ms"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * a / b
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// mdEscape keeps text from breaking a markdown table row.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/app"
	"github.com/hotline-cc/hotline/call"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
)

// cmdIVR runs the flow tools: `ivr check` and `ivr graph`.
func cmdIVR(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: hotline ivr check FILE... | graph [-flow NAME] [-format dot|mermaid] FILE | simulate FILE [-caller N] [-called N] [-digits 2,1234#] [-at TIME] [-http-fixture FILE | -http-live]")
		return 2
	}
	switch args[0] {
	case "check":
		return ivrCheck(args[1:], stdout, stderr)
	case "graph":
		return ivrGraph(args[1:], stdout, stderr)
	case "simulate":
		return ivrSimulate(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "hotline ivr: unknown command %q (check, graph, simulate)\n", args[0])
	return 2
}

// ivrCheck validates every file as hotline would load it (flows compiled,
// prompts looked up) and prints each problem as file:line:col: message.
func ivrCheck(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "usage: hotline ivr check FILE...")
		return 2
	}
	status := 0
	for _, path := range files {
		cfg, err := config.Load(path)
		if err == nil {
			_, err = app.LoadRuntime(cfg)
		}
		if err != nil {
			printConfigError(stderr, err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d flows)\n", path, len(cfg.Flows))
	}
	return status
}

func ivrGraph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ivr graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flow := fs.String("flow", "", "the flow to draw (default: every flow)")
	format := fs.String("format", "dot", "dot (Graphviz) or mermaid")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*format != "dot" && *format != "mermaid") {
		fmt.Fprintln(stderr, "usage: hotline ivr graph [-flow NAME] [-format dot|mermaid] FILE")
		return 2
	}
	cfg, err := config.Load(fs.Arg(0))
	var flows map[string]*ivr.Graph
	if err == nil {
		var rt *call.Runtime
		if rt, err = app.LoadRuntime(cfg); err == nil {
			flows = rt.Flows
		}
	}
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	names := make([]string, 0, len(cfg.Flows))
	for _, f := range cfg.Flows {
		if *flow == "" || f.Name == *flow {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		known := make([]string, 0, len(cfg.Flows))
		for _, f := range cfg.Flows {
			known = append(known, f.Name)
		}
		slices.Sort(known)
		fmt.Fprintf(stderr, "hotline ivr graph: no flow %q (flows: %s)\n", *flow, strings.Join(known, ", "))
		return 1
	}
	for _, name := range names {
		g := flows[name]
		if *format == "mermaid" {
			err = g.WriteMermaid(stdout)
		} else {
			err = g.WriteDOT(stdout)
		}
		if err != nil {
			fmt.Fprintln(stderr, "hotline ivr graph:", err)
			return 1
		}
	}
	return 0
}

// ivrSimulate runs a flow for a pretend caller and prints the transcript:
// prompts (with their real lengths), keys, silences and where the call
// ends up. The flow is the one the trunk taking -called from -caller runs,
// unless -flow names one.
func ivrSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ivr simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flow := fs.String("flow", "", "the flow to run (default: the trunk's flow for -called)")
	caller := fs.String("caller", "", "the caller's number")
	called := fs.String("called", "", "the number dialed (chooses the trunk, hence the flow)")
	digits := fs.String("digits", "", "keys pressed, in groups separated by commas: each group when the flow next waits (an empty group lets that wait pass)")
	at := fs.String("at", "", "when the call starts, RFC 3339 (default now)")
	fixtures := fs.String("http-fixture", "", "a YAML file of canned answers to data dips")
	live := fs.Bool("http-live", false, "send data dips for real (they may change things: a POST creates what it creates)")
	transferResult := fs.String("transfer-result", "", "how transfers go: empty connects them; busy, no-answer, ... takes the failed way")
	// The file may come first, as in `hotline ivr simulate FILE -digits 2`.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" {
		fmt.Fprintln(stderr, "usage: hotline ivr simulate FILE [-flow NAME] [-caller N] [-called N] [-digits 2,1234#] [-at 2026-10-01T09:00:00+08:00] [-http-fixture FILE | -http-live] [-transfer-result busy]")
		return 2
	}
	start := time.Now()
	if *at != "" {
		var err error
		if start, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintf(stderr, "hotline ivr simulate: -at %q: want RFC 3339, e.g. 2026-10-01T09:00:00+08:00\n", *at)
			return 2
		}
	}
	cfg, err := config.Load(file)
	var rt *call.Runtime
	if err == nil {
		rt, err = app.LoadRuntime(cfg)
	}
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	name := *flow
	if name == "" {
		for i := range cfg.Trunks {
			if cfg.Trunks[i].AcceptsNumber(*called) {
				name = cfg.Trunks[i].FlowFor(*called)
				break
			}
		}
	}
	g := rt.Flows[name]
	if g == nil {
		fmt.Fprintf(stderr, "hotline ivr simulate: no flow %q for called number %q (use -flow)\n", name, *called)
		return 1
	}
	var groups []string
	if *digits != "" {
		groups = strings.Split(*digits, ",")
	}
	vars := map[string]string{"caller": *caller, "called": *called}
	var fetch func(ivr.Fetch) ivr.FetchResult
	if *live {
		fetch = liveFetch
	}
	if *fixtures != "" {
		list, err := loadFixtures(*fixtures)
		if err != nil {
			fmt.Fprintln(stderr, "hotline ivr simulate: -http-fixture:", err)
			return 2
		}
		fetch = func(f ivr.Fetch) ivr.FetchResult { return fixtureAnswer(list, f, *fixtures) }
	}
	tr := ivr.Simulate(g, ivr.SimOptions{At: start, Digits: groups, Vars: vars, Fetch: fetch, TransferResult: *transferResult, PromptLength: func(p string) time.Duration {
		if pr := rt.Prompts[p]; pr != nil {
			return pr.Duration()
		}
		return 0
	}})
	fmt.Fprintf(stdout, "flow %s (version %s), caller %q, called %q, at %s\n", g.Name(), g.Version(), *caller, *called, start.Format(time.RFC3339))
	fmt.Fprint(stdout, tr.String())
	return 0
}

package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hotline-cc/hotline/app"
	"github.com/hotline-cc/hotline/call"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
)

// cmdIVR runs the flow tools: `ivr check` and `ivr graph`.
func cmdIVR(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: hotline ivr check FILE... | hotline ivr graph [-flow NAME] [-format dot|mermaid] FILE")
		return 2
	}
	switch args[0] {
	case "check":
		return ivrCheck(args[1:], stdout, stderr)
	case "graph":
		return ivrGraph(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "hotline ivr: unknown command %q (check, graph)\n", args[0])
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

package main

import (
	"strconv"
	"strings"
)

// goBench is the parsed output of `go test -run '^$' -bench . -benchmem`.
type goBench struct {
	CPU     string
	Results []goBenchResult
}

type goBenchResult struct {
	Pkg        string // import path without the module prefix
	Name       string // without the Benchmark prefix and the -GOMAXPROCS suffix
	Procs      string
	Iterations int64
	Metrics    []goBenchMetric // in the order go test printed them
}

type goBenchMetric struct {
	Value string
	Unit  string
}

const modulePath = "github.com/hotline-cc/hotline/"

func parseGoBench(out string) *goBench {
	gb := &goBench{}
	pkg := ""
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), modulePath)
		case strings.HasPrefix(line, "cpu: "):
			gb.CPU = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) < 4 || len(f)%2 != 0 {
				continue // "BenchmarkX" alone (a sub-benchmark parent) or a log line
			}
			iters, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				continue
			}
			r := goBenchResult{Pkg: pkg, Iterations: iters}
			r.Name, r.Procs = splitProcs(strings.TrimPrefix(f[0], "Benchmark"))
			for i := 2; i+1 < len(f); i += 2 {
				r.Metrics = append(r.Metrics, goBenchMetric{Value: f[i], Unit: f[i+1]})
			}
			gb.Results = append(gb.Results, r)
		}
	}
	return gb
}

// splitProcs splits "Step/agents=1000-2" into "Step/agents=1000" and "2".
func splitProcs(name string) (string, string) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, ""
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// metric returns the value printed with unit, or "".
func (r goBenchResult) metric(unit string) string {
	for _, m := range r.Metrics {
		if m.Unit == unit {
			return m.Value
		}
	}
	return ""
}

// others returns the custom metrics (b.ReportMetric), "value unit" each.
func (r goBenchResult) others() []string {
	var out []string
	for _, m := range r.Metrics {
		switch m.Unit {
		case "ns/op", "B/op", "allocs/op":
			continue
		}
		out = append(out, m.Value+" "+m.Unit)
	}
	return out
}

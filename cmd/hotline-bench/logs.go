package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// logSummary condenses hotline's stderr (slog text, -log-level warn) for the report.
type logSummary struct {
	Path    string
	Lines   int
	ByLevel map[string]int
	Top     []string // "count× LEVEL msg", most frequent first
	Notes   []string
}

func summarizeLog(path string) logSummary {
	s := logSummary{Path: path, ByLevel: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		s.Notes = append(s.Notes, err.Error())
		return s
	}
	defer f.Close()
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		s.Lines++
		level, msg := slogField(line, "level"), slogField(line, "msg")
		if level == "" {
			level, msg = "OTHER", line // a panic trace or a line not from slog
			if len(msg) > 120 {
				msg = msg[:120] + "…"
			}
		}
		s.ByLevel[level]++
		count[level+" "+msg]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if count[keys[i]] != count[keys[j]] {
			return count[keys[i]] > count[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for i, k := range keys {
		if i == 6 {
			break
		}
		s.Top = append(s.Top, fmt.Sprintf("%d× %s", count[k], k))
	}
	return s
}

// slogField returns the value of key in a log/slog text line (key=value or
// key="quoted value").
func slogField(line, key string) string {
	i := 0
	for {
		j := strings.Index(line[i:], key+"=")
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || line[j-1] == ' ' {
			rest := line[j+len(key)+1:]
			if strings.HasPrefix(rest, `"`) {
				if v, err := strconv.QuotedPrefix(rest); err == nil {
					u, _ := strconv.Unquote(v)
					return u
				}
				return rest
			}
			if k := strings.IndexByte(rest, ' '); k >= 0 {
				return rest[:k]
			}
			return rest
		}
		i = j + len(key) + 1
	}
}

func (s logSummary) String() string {
	if s.Lines == 0 {
		return "no warnings or errors"
	}
	levels := make([]string, 0, len(s.ByLevel))
	for l, n := range s.ByLevel {
		levels = append(levels, fmt.Sprintf("%d %s", n, l))
	}
	sort.Strings(levels)
	return fmt.Sprintf("%d lines (%s)", s.Lines, strings.Join(levels, ", "))
}

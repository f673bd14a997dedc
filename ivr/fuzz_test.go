package ivr

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// byteReader hands out fuzz bytes, then zeros.
type byteReader []byte

func (b *byteReader) next() int {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return int(v)
}

var fuzzPrompts = []string{"welcome", "invalid", "goodbye", "nosuch"}

// flowFromBytes builds a flow of up to 8 nodes of any kind, wired at random,
// including flows Compile must refuse.
func flowFromBytes(shape []byte) *config.Flow {
	b := byteReader(shape)
	n := 1 + b.next()%8
	name := func(i int) string { return fmt.Sprintf("n%d", i%n) }
	optional := func() config.Ref {
		if v := b.next(); v%(n+1) != n {
			return config.Ref{Name: name(v)}
		}
		return config.Ref{}
	}
	prompts := func(min int) []config.Ref {
		var refs []config.Ref
		for range min + b.next()%2 {
			refs = append(refs, config.Ref{Name: fuzzPrompts[b.next()%len(fuzzPrompts)]})
		}
		return refs
	}
	f := &config.Flow{Name: "fuzz", Start: config.Ref{Name: name(b.next())}}
	for i := range n {
		node := config.Node{Name: name(i)}
		switch b.next() % 12 {
		case 0:
			node.Kind = config.NodeMenu
			m := &config.MenuNode{
				Prompts:        prompts(1),
				Timeout:        time.Duration(b.next()%3) * time.Second,
				NoInputPrompts: prompts(0),
				NoInputRetries: b.next() % 3,
				NoInput:        optional(),
				InvalidPrompts: prompts(0),
				InvalidRetries: b.next() % 3,
				Invalid:        optional(),
			}
			for range 1 + b.next()%3 {
				m.Choices = append(m.Choices, config.Choice{Digit: "0123456789*#ABCDx"[b.next()%17], Target: optional()})
			}
			node.Menu = m
		case 1:
			node.Kind = config.NodePlay
			node.Play = &config.PlayNode{Prompts: prompts(1), Next: optional()}
		case 2:
			node.Kind = config.NodeQueue
			node.Queue = &config.QueueNode{Queue: config.Ref{Name: "sales"}}
		case 3:
			node.Kind = config.NodeHangup
			node.Hangup = &config.HangupNode{Prompts: prompts(0)}
		case 4:
			node.Kind = config.NodeGoto
			node.Goto = &config.GotoNode{Target: optional()}
		case 5:
			node.Kind = config.NodeSet
			node.Set = &config.SetNode{Vars: []config.VarValue{{Name: "v", Value: strconv.Itoa(b.next() % 3)}}, Next: optional()}
		case 6:
			node.Kind = config.NodeBranch
			node.Branch = &config.BranchNode{
				Cases: []config.BranchCase{{Var: "v", Equals: strconv.Itoa(b.next() % 3), HasEquals: true, Next: optional()}},
				Else:  optional(),
			}
		case 7:
			node.Kind = config.NodeCollect
			lo := 1 + b.next()%3
			node.Collect = &config.CollectNode{
				Prompts: prompts(1), Var: "d", Min: lo, Max: lo + b.next()%3, Terminator: "\x00#"[b.next()%2],
				Timeout: time.Duration(b.next()%3) * time.Second, DigitTimeout: time.Second,
				InvalidPrompts: prompts(0), Retries: b.next() % 3, Next: optional(), Invalid: optional(),
			}
		case 8:
			node.Kind = config.NodeHTTP
			url, _ := config.ParseTemplate("http://crm.test/c/${v}")
			node.HTTP = &config.HTTPNode{Method: "GET", URL: url, Timeout: time.Duration(1+b.next()%3) * time.Second,
				Vars: []config.HTTPVar{{Name: "v", Path: "a.b"}}, Next: optional(), Fallback: optional()}
		case 9:
			node.Kind = config.NodeSay
			value, _ := config.ParseTemplate("${v}")
			node.Say = &config.SayNode{Value: value, As: []string{"number", "digits", "amount", "date", "agent_id"}[b.next()%5], Next: optional()}
		case 10:
			node.Kind = config.NodeTransfer
			number, _ := config.ParseTemplate("${v}")
			node.Transfer = &config.TransferNode{Number: number, Allow: []string{"1*"}, Timeout: time.Second, Failed: optional()}
		case 11:
			node.Kind = config.NodeSurvey
			node.Survey = &config.SurveyNode{Flow: config.Ref{Name: "nps"}, Next: optional()}
		}
		f.Nodes = append(f.Nodes, node)
	}
	return f
}

// FuzzCompileAndStep builds random flows and drives the ones that compile
// with random events: nothing may panic, and after every step the run is
// either done or waiting for something its owner will deliver.
func FuzzCompileAndStep(f *testing.F) {
	f.Add([]byte{0}, []byte{0, 1, 2, 3})
	f.Add([]byte{3, 0, 0, 1, 0, 1, 1, 2, 0, 3, 1, 0, 2, 0, 3, 2, 1}, []byte{5, 9, 13, 2, 0, 6, 2, 3})
	f.Add([]byte{2, 0, 1, 0, 0, 4, 0}, []byte{1, 1, 1})
	f.Add([]byte{7, 1, 0, 0, 1, 1, 2, 1, 1, 0, 2, 3, 4, 0, 5, 2, 1, 1, 0, 0}, []byte{0, 0, 2, 2, 1, 5, 9})
	f.Fuzz(func(t *testing.T, shape, events []byte) {
		g, errs := Compile(flowFromBytes(shape), hasPromptOrSay)
		if g == nil {
			if len(errs) == 0 {
				t.Fatal("no graph and no errors")
			}
			return
		}
		if len(errs) != 0 {
			t.Fatalf("graph with errors: %v", errs)
		}
		now := t0
		r, actions := Start(g, now)
		var lastFetch uint64
		check := func(where string, actions []Action) {
			for i, a := range actions {
				if h, ok := a.(Hangup); ok && strings.Contains(h.Reason, "loop") {
					t.Fatalf("%s: compiled flow looped: %s", where, h.Reason)
				}
				switch a := a.(type) {
				case Hangup, Enqueue:
					if i != len(actions)-1 || !r.Done() {
						t.Fatalf("%s: %#v is not the last action of a done run: %#v", where, a, actions)
					}
				case Play:
					if len(a.Prompts) == 0 {
						t.Fatalf("%s: Play without prompts", where)
					}
				case Fetch:
					lastFetch = a.Seq
				}
			}
			if !r.Done() && !r.waiting() {
				t.Fatalf("%s: run at %q is stuck: neither done nor waiting", where, r.Node())
			}
		}
		check("start", actions)
		for i, e := range events {
			var ev Event
			switch e % 7 {
			case 0:
				ev = EventPlaybackDone{}
			case 1:
				ev = EventDigit{Digit: "0123456789*#ABCDabz"[int(e/4)%19]}
			case 2:
				// The owner's timer fires on time.
				if d := r.Deadline(); !d.IsZero() {
					now = d
				}
				ev = EventTimeout{}
			case 3:
				now = now.Add(time.Duration(e) * 100 * time.Millisecond)
				ev = EventTimeout{}
			case 4:
				// A dip's answer: the latest one's, or a stale one's.
				bodies := []string{`{"a": {"b": "1"}}`, `{"a": {"b": 12.5}}`, `not json`, `{"a": [1]}`}
				ev = EventFetched{Seq: lastFetch - uint64(e/7%2), Status: []int{200, 404, 500}[int(e/14)%3], Body: []byte(bodies[int(e/7)%4])}
			case 5:
				ev = EventTransferDone{Connected: e/7%3 == 0, Result: "busy"}
			case 6:
				ev = EventFetched{Seq: lastFetch, Err: fmt.Errorf("refused")}
			}
			check(fmt.Sprintf("event %d (%#v)", i, ev), r.Step(ev, now))
		}
	})
}

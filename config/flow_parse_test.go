package config

import "testing"

// callNodesHead is a valid configuration around which the cases below put
// one flow; its lines keep the flow's positions the same in every case.
const callNodesHead = `agents: [{id: "1001", password: p}]
queues: [{name: q, agents: ["1001"]}]
trunks: [{name: t, acl: 127.0.0.1, flow: f}]
flows:
  - name: sub
    start: a
    nodes:
      a: {return: {}}
  - name: f
    start: s
    nodes:
`

func TestCallNodeErrors(t *testing.T) {
	runErrorCases(t, []errorCase{
		{name: "http", yaml: callNodesHead + `      s: {http: {url: "http://${host}/x", next: s2}}
      s2: {http: {url: "ftp://crm/x", method: PUT, body: "{}", next: s, fallback: s, timeout: 1m, headers: {"Bad Header": x}, vars: {v: "a..b"}}}
      s3: {http: {url: "https://crm/c?n=${caller", next: s, fallback: s}}
      s4: {http: {url: "https://crm/c", body: "x", next: s, fallback: s}}
`, want: []string{
			`12:17: flow "f": node "s": http: next and fallback are required (where the call goes when the service answers, and when it does not)`,
			`12:23: flow "f": node "s": http: url: variables may only follow the host: write the scheme, host and the / after it out (got "http://${host}/x")`,
			`13:18: flow "f": node "s2": http: a GET has no body; use method: POST`,
			`13:24: flow "f": node "s2": http: url: must start with http:// or https://, got "ftp://crm/x"`,
			`13:47: flow "f": node "s2": http: method must be GET or POST, got "PUT"`,
			`13:95: flow "f": node "s2": http: timeout: must be at most 30s, got "1m"`,
			`13:109: flow "f": node "s2": http: headers: invalid header name "Bad Header"`,
			`13:137: flow "f": node "s2": http: vars: v: invalid JSON path "a..b" (dot-separated keys, e.g. customer.tier)`,
			`14:24: flow "f": node "s3": http: url: unclosed ${ at byte 16 of "https://crm/c?n=${caller"`,
			`15:18: flow "f": node "s4": http: a GET has no body; use method: POST`,
		}},
		{name: "say", yaml: callNodesHead + `      s: {say: {value: "${n}", as: amount, language: fr, next: s2}}
      s2: {say: {value: "$5", as: money, next: s}}
      s3: {say: {as: number}}
`, want: []string{
			`12:54: flow "f": node "s": say: language: no prompt set for "fr" (known: en, zh)`,
			`13:25: flow "f": node "s2": say: value: lone $ at byte 0 of "$5" (write ${name} for a variable, $$ for a dollar sign)`,
			`13:35: flow "f": node "s2": say: as: unknown kind "money" (known: agent_id, amount, date, digits, number)`,
			`14:17: flow "f": node "s3": say: value is required (e.g. "${balance}")`,
		}},
		{name: "transfer", yaml: callNodesHead + `      s: {transfer: {number: "+15551234", agent: "1001", failed: s2}}
      s2: {transfer: {agent: "9999", failed: s3}}
      s3: {transfer: {number: "${n}"}}
      s4: {transfer: {extension: "2000", trunk: t, timeout: 10m}}
`, want: []string{
			`12:7: flow "f": node "s": a transfer to a number needs a trunk with outbound (the carrier's ip:port)`,
			`12:21: flow "f": node "s": transfer: needs exactly one of number, extension or agent`,
			`13:22: flow "f": node "s2": transfer: agent: unknown agent "9999" (known: 1001)`,
			`14:7: flow "f": node "s3": a transfer to a number needs a trunk with outbound (the carrier's ip:port)`,
			`14:22: flow "f": node "s3": transfer: a number made of variables needs allow (the numbers it may become, e.g. ["400*", "+8610*"]): anything else could be a toll call`,
			`15:49: flow "f": node "s4": transfer: trunk is only for a number`,
			`15:61: flow "f": node "s4": transfer: timeout: must be at most 5m, got "10m"`,
		}},
		{name: "survey, subflow and routes", yaml: `agents: [{id: "1001", password: p}]
queues: [{name: q, agents: ["1001"]}]
trunks: [{name: t, acl: 127.0.0.1, flow: f, routes: {"400*": g, "4001": nope, "4 1": f}}]
flows:
  - name: f
    start: s
    nodes:
      s: {survey: {flow: nps, next: s2}}
      s2: {subflow: {flow: g, next: s3}}
      s3: {subflow: {flow: f}}
  - name: g
    start: a
    nodes:
      a: {subflow: {flow: f, next: b}}
      b: {return: {}}
`, want: []string{
			`3:73: trunk "t": routes: 4001: unknown flow "nope" (known: f, g)`,
			`3:79: trunk "t": routes: invalid pattern "4 1" (use "*", a prefix ending in *, or an exact number)`,
			`5:5: flow "f" calls itself through subflows (f > g > f); a subflow must return without calling back`,
			`8:26: flow "f": node "s": unknown flow "nps" (known: f, g)`,
			`10:21: flow "f": node "s3": subflow: flow and next are required (the flow to run, and where to go when it returns)`,
			`11:5: flow "g" calls itself through subflows (g > f > g); a subflow must return without calling back`,
		}},
	})
}

func TestTrunkRoutesChooseTheFlow(t *testing.T) {
	c, err := Parse("r.yaml", []byte(`agents: [{id: "1001", password: p}]
queues: [{name: q, agents: ["1001"]}]
trunks: [{name: t, acl: 127.0.0.1, flow: main, routes: {"400*": cards, "4001*": loans, "40012": complaints}}]
flows:
  - {name: main, start: s, nodes: {s: {queue: q}}}
  - {name: cards, start: s, nodes: {s: {queue: q}}}
  - {name: loans, start: s, nodes: {s: {queue: q}}}
  - {name: complaints, start: s, nodes: {s: {queue: q}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	tr := c.Trunk("t")
	for called, want := range map[string]string{
		"5551234": "main", "4009": "cards", "40011": "loans", "40012": "complaints", "400123": "loans",
	} {
		if got := tr.FlowFor(called); got != want {
			t.Errorf("FlowFor(%q) = %q, want %q", called, got, want)
		}
	}
}

func TestTemplates(t *testing.T) {
	tpl, err := ParseTemplate("a ${x} $$ ${y-2}${x}")
	if err != nil {
		t.Fatal(err)
	}
	got := tpl.Expand(map[string]string{"x": "1", "y-2": "two"}, nil)
	if got != "a 1 $ two1" {
		t.Errorf("Expand = %q", got)
	}
	if vars := tpl.Vars(); len(vars) != 3 || vars[1] != "y-2" {
		t.Errorf("Vars = %q", vars)
	}
	for _, bad := range []string{"${", "${}", "${a b}", "$x", "a$"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
}

func TestBranchCaseErrors(t *testing.T) {
	runErrorCases(t, []errorCase{{name: "branch", yaml: callNodesHead + `      s:
        branch:
          cases:
            - {var: x, greater_than: many, next: s}
            - {var: x, time: "09:00-10:00", next: s}
            - {time: "10:00-09:00", days: "fri-mon", timezone: Mars/Olympus, next: s}
            - {var: x, timezone: UTC, next: s}
            - {var: x, equals: "1", less_than: 3, next: s}
          else: s
`, want: []string{
		"15:38: flow \"f\": node \"s\": branch: case #1: greater_than: expected a number, got \"many\"",
		"16:15: flow \"f\": node \"s\": branch: case #2: a case tests either the time (time, days) or a variable, not both; use two branch nodes",
		"17:22: flow \"f\": node \"s\": branch: case #3: time: hours \"10:00-09:00\" end before they start; hours cannot cross midnight (write \"22:00-24:00\" on one day and \"00:00-06:00\" on the next)",
		"17:43: flow \"f\": node \"s\": branch: case #3: days: day range \"fri-mon\" runs backwards; ranges go from mon to sun (write e.g. \"sat,sun,mon\")",
		"17:64: flow \"f\": node \"s\": branch: case #3: timezone: unknown time zone \"Mars/Olympus\" (an IANA name such as Asia/Shanghai)",
		"18:15: flow \"f\": node \"s\": branch: case #4: timezone needs time or days",
		"19:15: flow \"f\": node \"s\": branch: case #5: needs exactly one test: equals, prefix, in, or greater_than/less_than",
	}}})
}

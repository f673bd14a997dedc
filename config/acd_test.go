package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestACDDefaults(t *testing.T) {
	c, err := Parse("min.yaml", []byte(`
skills: [sales]
agents:
  - {id: "7", pin: "1234"}
queues:
  - {name: q, skills: {sales: 1}}
dedicated_agents:
  - {caller: "555*", agent: "7"}
calendars:
  - {name: c, weekly: {mon: "09:00-17:00"}, workdays: ["2026-10-10"]}
flows:
  - {name: f, start: q, nodes: {q: {queue: q}}}
trunks: [{name: t, acl: "::1", flow: f}]
`))
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queue("q")
	want := DefaultQueue("q")
	want.Pos, want.Skills = q.Pos, q.Skills
	if !reflect.DeepEqual(*q, want) {
		t.Errorf("queue =\n%+v\nwant\n%+v", *q, want)
	}
	if q.Strategy != StrategyBestSkilled || q.WrapUp != 0 || q.Priority != 0 || q.AgingPerMinute != 1 ||
		q.ServiceLevel != (ServiceLevel{Threshold: 20 * time.Second, Target: 80, ShortAbandon: 5 * time.Second}) ||
		q.Sticky != (StickyAgent{Days: 0, Wait: 20 * time.Second}) || len(q.Escalation) != 0 ||
		q.MaxWait != 0 || q.MaxWaitDest.Kind != DestNone || q.MaxWaiting != 0 || q.FullDest.Kind != DestNone ||
		q.Hours != "" || q.ClosedDest.Kind != DestNone || q.PositionEvery != 0 || q.Whisper || q.AnnounceAgent ||
		q.CallbackKey != "" || q.CallbackMaxAttempts != 3 || q.CallbackRetry != 5*time.Minute ||
		q.RingTimeout != 15*time.Second || q.Music != "moh" {
		t.Errorf("queue defaults = %+v", q)
	}
	if a := c.Agent("7"); a.Password != "" || a.PIN != "1234" {
		t.Errorf("agent = %+v, want a PIN and no password", a)
	}
	wantStates := AgentStates{
		NotReadyReasons: []Reason{
			{Code: "1", Name: "break"}, {Code: "2", Name: "lunch"}, {Code: "3", Name: "training"},
			{Code: "4", Name: "meeting"}, {Code: "9", Name: "other"},
		},
		MissedBeforeNotReady: 3,
	}
	if !reflect.DeepEqual(c.AgentStates, wantStates) {
		t.Errorf("AgentStates = %+v", c.AgentStates)
	}
	if c.FeatureCodes != (FeatureCodes{Login: "*20", Ready: "*21", NotReady: "*22", Logout: "*23", Listen: "*31", Whisper: "*32", Barge: "*33", Disposition: "*24"}) {
		t.Errorf("FeatureCodes = %+v", c.FeatureCodes)
	}
	if da := c.DedicatedAgents[0]; da.Wait != 30*time.Second {
		t.Errorf("dedicated agent = %+v, want wait 30s", da)
	}
	if tr := c.Trunk("t"); tr.Priority != 0 {
		t.Errorf("trunk priority = %d", tr.Priority)
	}
	cal := c.Calendar("c")
	if cal.Location != time.UTC || len(cal.Workdays) != 1 || cal.Workdays[0] != (Workday{Date: Date{2026, time.October, 10}, As: time.Monday}) {
		t.Errorf("calendar = %+v, want UTC and a workday as Monday", cal)
	}
	if len(c.Phones) != 0 || len(c.Priorities) != 0 {
		t.Errorf("phones %v, priorities %v, want none", c.Phones, c.Priorities)
	}
}

// TestDemoShowsTheContactCenterFeatures checks the demo's contact-center
// settings, and that they leave routing as the end-to-end tests expect it:
// the same members, longest-idle, no wrap-up, nothing that moves or refuses
// a call within minutes.
func TestDemoShowsTheContactCenterFeatures(t *testing.T) {
	c := Demo()
	if !slices.Equal(c.Skills, []string{"sales", "support", "english", "cards"}) {
		t.Errorf("skills = %v", c.Skills)
	}
	for _, a := range c.Agents {
		if len(a.PIN) < 4 || len(a.Skills) == 0 || a.Password == "" {
			t.Errorf("agent %s = %+v, want a password, a pin and skills", a.ID, a)
		}
	}
	if a := c.Agent("1001"); a.Level("sales") != 8 || a.Level("english") != 5 || a.Level("support") != 0 {
		t.Errorf("agent 1001 skills = %+v", a.Skills)
	}
	for _, q := range c.Queues {
		if got := c.Members(&q); !slices.Equal(got, q.Agents) {
			t.Errorf("queue %s: skills add members %v to %v", q.Name, got, q.Agents)
		}
		if q.Strategy != StrategyLongestIdle || q.WrapUp != 0 || q.MaxWait != 0 || q.MaxWaiting != 0 ||
			q.PositionEvery != 0 && q.PositionEvery < time.Minute || q.Whisper || q.CallbackKey != "" || q.Sticky.Days != 0 {
			t.Errorf("queue %s would change routing: %+v", q.Name, q)
		}
		for _, step := range q.Escalation {
			if step.Queue != "" && step.After < 5*time.Minute {
				t.Errorf("queue %s moves calls after %s", q.Name, step.After)
			}
		}
		if q.Hours != "" {
			cal := c.Calendar(q.Hours)
			now := time.Date(2026, time.March, 29, 1, 30, 0, 0, time.UTC)
			if !cal.Open(now) || !cal.NextChange(now).IsZero() {
				t.Errorf("queue %s: calendar %s is not always open", q.Name, q.Hours)
			}
		}
		if q.ServiceLevel.Target != 85 || q.ServiceLevel.Threshold != 20*time.Second {
			t.Errorf("queue %s service level = %+v", q.Name, q.ServiceLevel)
		}
	}
	if s := c.Queue("support").Escalation; len(s) != 1 || s[0].After != 5*time.Minute || s[0].Skills[0] != (SkillLevel{Skill: "support", Level: 1, Pos: s[0].Skills[0].Pos}) {
		t.Errorf("support escalation = %+v", s)
	}
	if p, rules := c.CallPriority("carrier", "5550100", "8005551000"); p != 10 || !slices.Equal(rules, []string{"vip"}) {
		t.Errorf("VIP priority = %d %v", p, rules)
	}
	if p, _ := c.CallPriority("carrier", "+15550100", "8005551000"); p != 0 {
		t.Errorf("the end-to-end tests' caller gets priority %d", p)
	}
	if da, ok := c.DedicatedFor("5550199"); !ok || da.Agent != "1003" || da.Wait != 30*time.Second {
		t.Errorf("dedicated agent = %+v %v", da, ok)
	}
	states := c.AgentStates
	zeroPositions(&states)
	if !reflect.DeepEqual(states, DefaultAgentStates()) {
		t.Errorf("agent states = %+v, want the defaults spelled out", c.AgentStates)
	}
	if c.FeatureCodes != DefaultFeatureCodes() {
		t.Errorf("feature codes = %+v", c.FeatureCodes)
	}
	if p := c.Phone("desk1"); p == nil || p.Password != "demo-desk1" {
		t.Errorf("phone desk1 = %+v", p)
	}
}

func TestCallPriority(t *testing.T) {
	c := &Config{
		Trunks: []Trunk{{Name: "gold", Priority: 20}, {Name: "plain"}, {Name: "low", Priority: -5}},
		Priorities: []PriorityRule{
			{Name: "vip", Callers: []string{"5550100", "5550101"}, Priority: 10},
			{Name: "hotline", Called: []string{"800*"}, Priority: 5},
			{Name: "vip-hotline", Callers: []string{"555*"}, Called: []string{"8005551000"}, Priority: 30},
			{Name: "nuisance", Callers: []string{"999*"}, Priority: -20},
			{Name: "broken"},
		},
	}
	tests := []struct {
		name                  string
		trunk, caller, called string
		want                  int
		rules                 []string
	}{
		{"nothing matches", "plain", "123", "456", 0, nil},
		{"unknown trunk and no rule", "nope", "123", "456", 0, nil},
		{"trunk priority alone", "gold", "123", "456", 20, nil},
		{"negative trunk priority alone", "low", "123", "456", -5, nil},
		{"caller rule", "plain", "5550101", "456", 10, []string{"vip"}},
		{"called rule", "plain", "123", "8001", 5, []string{"hotline"}},
		{"the highest of several rules", "plain", "5550100", "8005551000", 30, []string{"vip", "hotline", "vip-hotline"}},
		{"both patterns must match", "plain", "5550100", "8009999", 10, []string{"vip", "hotline"}},
		{"trunk beats a lower rule", "gold", "5550100", "456", 20, []string{"vip"}},
		{"a negative rule cannot lower the trunk", "plain", "9991", "456", 0, []string{"nuisance"}},
		{"a negative rule on an unknown trunk", "nope", "9991", "456", -20, []string{"nuisance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rules := c.CallPriority(tt.trunk, tt.caller, tt.called)
			if got != tt.want || !slices.Equal(rules, tt.rules) {
				t.Errorf("CallPriority(%q, %q, %q) = %d %q, want %d %q", tt.trunk, tt.caller, tt.called, got, rules, tt.want, tt.rules)
			}
		})
	}
}

func TestDedicatedForPrefersTheMostSpecificPattern(t *testing.T) {
	c := &Config{DedicatedAgents: []DedicatedAgent{
		{Caller: "*", Agent: "any"},
		{Caller: "555*", Agent: "short"},
		{Caller: "5550*", Agent: "long"},
		{Caller: "5550199", Agent: "exact"},
		{Caller: "5551234", Agent: "other-exact"},
	}}
	tests := []struct {
		caller string
		want   string
	}{
		{"5550199", "exact"},
		{"5550198", "long"},
		{"5559999", "short"},
		{"555", "short"},
		{"123", "any"},
		{"", "any"},
		{"5551234", "other-exact"},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			got, ok := c.DedicatedFor(tt.caller)
			if !ok || got.Agent != tt.want {
				t.Errorf("DedicatedFor(%q) = %+v %v, want agent %s", tt.caller, got, ok, tt.want)
			}
		})
	}
	c.DedicatedAgents = c.DedicatedAgents[1:]
	if got, ok := c.DedicatedFor("123"); ok {
		t.Errorf("DedicatedFor(123) without \"*\" = %+v, want none", got)
	}
}

func TestReasonByCode(t *testing.T) {
	c := &Config{AgentStates: DefaultAgentStates()}
	tests := []struct {
		code, want string
		ok         bool
	}{
		{"1", "break", true},
		{"9", "other", true},
		{"5", "", false},
		{"01", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, ok := c.ReasonByCode(tt.code)
			if ok != tt.ok || got.Name != tt.want {
				t.Errorf("ReasonByCode(%q) = %+v %v, want %q %v", tt.code, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestQueueServesListedAgentsAndSkilledOnes(t *testing.T) {
	c := &Config{Agents: []Agent{
		{ID: "1", Skills: []SkillLevel{{Skill: "english", Level: 3}, {Skill: "sales", Level: 8}}},
		{ID: "2", Skills: []SkillLevel{{Skill: "sales", Level: 4}}},
		{ID: "3"},
	}}
	tests := []struct {
		name  string
		queue Queue
		want  []string
	}{
		{"listed only", Queue{Agents: []string{"3"}}, []string{"3"}},
		{"one skill", Queue{Skills: []SkillLevel{{Skill: "sales", Level: 4}}}, []string{"1", "2"}},
		{"level too low", Queue{Skills: []SkillLevel{{Skill: "sales", Level: 5}}}, []string{"1"}},
		{"all skills needed", Queue{Skills: []SkillLevel{{Skill: "english", Level: 1}, {Skill: "sales", Level: 1}}}, []string{"1"}},
		{"listed and skilled", Queue{Agents: []string{"3"}, Skills: []SkillLevel{{Skill: "sales", Level: 8}}}, []string{"1", "3"}},
		{"nobody", Queue{Skills: []SkillLevel{{Skill: "cards", Level: 1}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Members(&tt.queue); !slices.Equal(got, tt.want) {
				t.Errorf("Members = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestACDEnumsAndDestinations(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"strategy zero", Strategy(0).String(), "best-skilled"},
		{"strategy longest idle", StrategyLongestIdle.String(), "longest-idle"},
		{"strategy out of range", Strategy(9).String(), "Strategy(9)"},
		{"destination kind none", DestNone.String(), ""},
		{"destination kind busy", DestBusy.String(), "busy"},
		{"destination kind out of range", DestinationKind(9).String(), "DestinationKind(9)"},
		{"no destination", Destination{}.String(), ""},
		{"queue destination", Destination{Kind: DestQueue, Target: "sales"}.String(), "queue:sales"},
		{"flow destination", Destination{Kind: DestFlow, Target: "main"}.String(), "flow:main"},
		{"callback destination", Destination{Kind: DestCallback}.String(), "callback"},
		{"hangup destination", Destination{Kind: DestHangup}.String(), "hangup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	for _, name := range []string{"best-skilled", "longest-idle"} {
		if s, ok := ParseStrategy(name); !ok || s.String() != name {
			t.Errorf("ParseStrategy(%q) = %v %v", name, s, ok)
		}
	}
	if s, ok := ParseStrategy("random"); ok || s != StrategyBestSkilled {
		t.Errorf("ParseStrategy(random) = %v %v", s, ok)
	}
}

// TestACDErrors lists every problem the contact-center settings can have,
// each with its position and message.
func TestACDErrors(t *testing.T) {
	runErrorCases(t, []errorCase{
		{name: "agent needs a password or a pin", yaml: `
agents:
  - {id: "1001"}
  - {id: "1002", pin: "1234"}
  - {id: "1003", password: p}
`, want: []string{
			`3:5: agent "1001": needs a password (own phone) or a pin (hot-desking)`,
		}},
		{name: "pin is 4 to 12 digits", yaml: `
agents:
  - {id: "1001", pin: "123"}
  - {id: "1002", pin: "12a4"}
  - {id: "1003", pin: "1234567890123"}
  - {id: "1004", pin: [1, 2]}
`, want: []string{
			`3:23: agent "1001": pin must be 4 to 12 digits`,
			`4:23: agent "1002": pin must be 4 to 12 digits`,
			`5:23: agent "1003": pin must be 4 to 12 digits`,
			`6:23: agent "1004": pin: expected a string, got a list`,
		}},
		{name: "skills must be declared", yaml: `
agents:
  - {id: "1001", password: p, skills: {sales: 5}}
`, want: []string{
			`3:40: agent "1001": unknown skill "sales" (no skills are declared; list every skill under the top-level skills:)`,
		}},
		{name: "unknown skill with hint", yaml: `
skills: [sales, support]
agents:
  - {id: "1001", password: p, skills: {suport: 5, sales: 3}}
queues:
  - {name: q, skills: {sales: 2, billing: 1}}
`, want: []string{
			`4:40: agent "1001": unknown skill "suport" (known: sales, support)`,
			`6:34: queue "q": unknown skill "billing" (known: sales, support)`,
		}},
		{name: "skill levels are 1 to 10", yaml: `
skills: [sales, support, cards]
agents:
  - {id: "1001", password: p, skills: {sales: 0, support: 11, cards: expert}}
`, want: []string{
			`4:47: agent "1001": skills: sales: must be between 1 and 10, got 0`,
			`4:59: agent "1001": skills: support: must be between 1 and 10, got 11`,
			`4:70: agent "1001": skills: cards: expected a whole number, got "expert"`,
		}},
		{name: "skills are a mapping", yaml: `
skills: [sales]
agents:
  - {id: "1001", password: p, skills: [sales]}
  - {id: "1002", password: p, skills: sales}
`, want: []string{
			`4:39: agent "1001": skills: expected a mapping of skill: level (1-10), e.g. {sales: 5}, got a list`,
			`5:39: agent "1002": skills: expected a mapping of skill: level (1-10), e.g. {sales: 5}, got "sales"`,
		}},
		{name: "declared skills are names, once each", yaml: `
skills: [sales, "bad name", sales, {x: 1}]
`, want: []string{
			`2:17: skills: invalid skill name "bad name" (use letters, digits, _ and -, at most 64)`,
			`2:29: skills: "sales" is listed twice (first at line 2)`,
			`2:36: skills: expected a string, got a mapping`,
		}},
		{name: "skills is a list", yaml: `
skills: sales
`, want: []string{
			`2:9: skills: expected a list, got "sales"`,
		}},
		{name: "phones", yaml: `
agents: [{id: "1001", password: p}]
phones:
  - {user: "1001", password: x}
  - {user: "desk 1", password: x}
  - {user: desk1, password: x}
  - {user: desk1, password: y}
  - {user: desk2}
  - {password: x}
  - {user: desk3, password: "", pin: "1234"}
`, want: []string{
			`4:12: phone "1001": user is also agent "1001"'s ID (the agent's own phone); give the hot-desk phone another name`,
			`5:12: phone "desk 1": invalid user (use letters, digits, _, - and ., at most 64)`,
			`7:12: duplicate phone "desk1" (first at line 6)`,
			`8:5: phone "desk2": password is required (the phone's SIP digest password)`,
			`9:5: phone #6: user is required (the SIP user name the phone registers as)`,
			`10:29: phone "desk3": password: must not be empty`,
			`10:33: phone "desk3": unknown key "pin" (known: password, user)`,
		}},
		{name: "queue needs agents or skills", yaml: `
skills: [sales]
queues:
  - {name: a}
  - {name: b, agents: []}
  - {name: c, skills: {}}
  - {name: d, skills: {sales: 1}}
`, want: []string{
			`4:5: queue "a": no agents and no skills; nobody could serve it`,
			`5:5: queue "b": no agents and no skills; nobody could serve it`,
			`6:5: queue "c": no agents and no skills; nobody could serve it`,
		}},
		{name: "queue values out of range", yaml: `
agents: [{id: "1", password: p}]
queues:
  - name: q
    agents: ["1"]
    strategy: round-robin
    wrap_up: 11m
    priority: 101
    aging_per_minute: 1001
    position_every: 5s
    callback_key: "12"
    callback_max_attempts: 0
    callback_retry: 10s
    whisper: "yes"
    announce_agent: 1
  - name: r
    agents: ["1"]
    strategy: best_skilled
    wrap_up: -1s
    priority: high
    aging_per_minute: fast
    position_every: 1
    callback_key: x
    callback_max_attempts: 11
    callback_retry: 0s
`, want: []string{
			`6:15: queue "q": unknown strategy "round-robin" (known: best-skilled, longest-idle)`,
			`7:14: queue "q": wrap_up: must be at most 10m, got "11m"`,
			`8:15: queue "q": priority: must be between -100 and 100, got 101`,
			`9:23: queue "q": aging_per_minute: must be between 0 and 1000, got 1001`,
			`10:21: queue "q": position_every: must be at least 10s (or 0s for never), got "5s"`,
			`11:19: queue "q": callback_key must be one of 0-9, * or # (quote * and #), got "12"`,
			`12:28: queue "q": callback_max_attempts: must be between 1 and 10, got 0`,
			`13:21: queue "q": callback_retry: must be at least 30s, got "10s"`,
			`14:14: queue "q": whisper: expected true or false, got "yes"`,
			`15:21: queue "q": announce_agent: expected true or false, got the number 1`,
			`18:15: queue "r": unknown strategy "best_skilled" (known: best-skilled, longest-idle)`,
			`19:14: queue "r": wrap_up: duration must not be negative, got "-1s"`,
			`20:15: queue "r": priority: expected a whole number, got "high"`,
			`21:23: queue "r": aging_per_minute: expected a number, got "fast"`,
			`22:21: queue "r": position_every: duration "1" needs a unit, e.g. "1s"`,
			`23:19: queue "r": callback_key must be one of 0-9, * or # (quote * and #), got "x"`,
			`24:28: queue "r": callback_max_attempts: must be between 1 and 10, got 11`,
			`25:21: queue "r": callback_retry: must be at least 30s, got "0s"`,
		}},
		{name: "service level", yaml: `
agents: [{id: "1", password: p}]
queues:
  - name: q
    agents: ["1"]
    service_level: {threshold: 0s, target: 0, short_abandon: -1s, ignore_abandons: maybe, goal: 1}
  - name: r
    agents: ["1"]
    service_level: {target: "101%"}
  - name: s
    agents: ["1"]
    service_level: {target: high}
  - name: u
    agents: ["1"]
    service_level: 80
`, want: []string{
			`6:32: queue "q": service_level: threshold: duration must be more than zero, got "0s"`,
			`6:44: queue "q": service_level: target: must be between 1 and 100, got 0`,
			`6:62: queue "q": service_level: short_abandon: duration must not be negative, got "-1s"`,
			`6:84: queue "q": service_level: ignore_abandons: expected true or false, got "maybe"`,
			`6:91: queue "q": service_level: unknown key "goal" (known: ignore_abandons, short_abandon, target, threshold)`,
			`9:29: queue "r": service_level: target: must be between 1 and 100, got 101`,
			`12:29: queue "s": service_level: target: expected a number, got "high"`,
			`15:20: queue "u": service_level: expected a mapping, got the number 80`,
		}},
		{name: "sticky", yaml: `
agents: [{id: "1", password: p}]
queues:
  - {name: q, agents: ["1"], sticky: {days: 366, wait: 11m, for: 1}}
  - {name: r, agents: ["1"], sticky: {days: -1, wait: 0s}}
`, want: []string{
			`4:45: queue "q": sticky: days: must be between 0 and 365, got 366`,
			`4:56: queue "q": sticky: wait: must be at most 10m, got "11m"`,
			`4:61: queue "q": sticky: unknown key "for" (known: days, wait)`,
			`5:45: queue "r": sticky: days: must be between 0 and 365, got -1`,
			`5:55: queue "r": sticky: wait: duration must be more than zero, got "0s"`,
		}},
		{name: "limits need destinations and destinations need limits", yaml: `
agents: [{id: "1", password: p}]
calendars: [{name: office, weekly: {mon-fri: "09:00-17:00"}}]
queues:
  - {name: q, agents: ["1"], max_wait: 5m, max_waiting: 10, hours: office}
  - {name: r, agents: ["1"], max_wait_dest: busy, full_dest: busy, closed_dest: hangup}
  - {name: s, agents: ["1"], max_wait: 0s, max_wait_dest: busy, max_waiting: 0, full_dest: busy}
`, want: []string{
			`5:40: queue "q": max_wait needs max_wait_dest (where callers go after waiting 5m)`,
			`5:57: queue "q": max_waiting needs full_dest (where callers go when 10 are waiting)`,
			`5:68: queue "q": hours needs closed_dest (where callers go while "office" is closed)`,
			`6:45: queue "r": max_wait_dest needs max_wait (how long callers wait before going there)`,
			`6:62: queue "r": full_dest needs max_waiting (how many callers may wait)`,
			`6:81: queue "r": closed_dest needs hours (the calendar of opening hours)`,
		}},
		{name: "hours names a calendar", yaml: `
agents: [{id: "1", password: p}]
queues:
  - {name: q, agents: ["1"], hours: office, closed_dest: hangup}
`, want: []string{
			`4:37: queue "q": unknown calendar "office" (no calendars are defined; add it under the top-level calendars:)`,
		}},
		{name: "hours with a hint", yaml: `
agents: [{id: "1", password: p}]
calendars: [{name: office, weekly: {mon-fri: "09:00-17:00"}}]
queues:
  - {name: q, agents: ["1"], hours: ofice, closed_dest: hangup}
`, want: []string{
			`5:37: queue "q": unknown calendar "ofice" (known: office)`,
		}},
		{name: "destinations", yaml: `
agents: [{id: "1", password: p}]
queues:
  - {name: q, agents: ["1"], max_wait: 1m, max_wait_dest: mailbox}
  - {name: r, agents: ["1"], max_wait: 1m, max_wait_dest: "queue:"}
  - {name: s, agents: ["1"], max_wait: 1m, max_wait_dest: "busy:now"}
  - {name: t, agents: ["1"], max_wait: 1m, max_wait_dest: "queue:t"}
  - {name: u, agents: ["1"], max_wait: 1m, max_wait_dest: "flow:nope"}
  - {name: v, agents: ["1"], max_wait: 1m, max_wait_dest: "queue:nope"}
  - {name: w, agents: ["1"], max_wait: 1m, max_wait_dest: [busy]}
`, want: []string{
			`4:59: queue "q": max_wait_dest: invalid destination "mailbox" (use queue:NAME, flow:NAME, callback, voicemail, busy or hangup)`,
			`5:59: queue "r": max_wait_dest: queue needs a name, e.g. "queue:NAME"`,
			`6:59: queue "s": max_wait_dest: busy takes no name, got "busy:now"`,
			`7:59: queue "t": max_wait_dest: queue:t is this queue; name another queue`,
			`8:59: queue "u": max_wait_dest: unknown flow "nope"`,
			`9:59: queue "v": max_wait_dest: unknown queue "nope" (known: q, r, s, t, u, v, w)`,
			`10:59: queue "w": max_wait_dest: expected a string, got a list`,
		}},
		{name: "escalation steps", yaml: `
skills: [sales]
agents: [{id: "1", password: p}]
queues:
  - name: q
    agents: ["1"]
    escalation:
      - {skills: {sales: 1}}
      - {after: 2m, skills: {sales: 1}}
      - {after: 1m, skills: {sales: 1}}
      - {after: 3m, skills: {sales: 1}, queue: r}
      - {after: 4m}
      - {after: 5m, skills: {}}
      - {after: 6m, queue: r}
      - {after: 7m, skills: {saels: 1}}
      - {after: 8m, queue: q}
      - {after: 9m, queue: nope, wait: 1}
  - {name: r, agents: ["1"]}
`, want: []string{
			`8:9: queue "q": escalation step #1: after is required (how long the call has waited, e.g. 2m)`,
			`10:17: queue "q": escalation step #3: after (1m) must be later than the step before's (2m)`,
			`11:48: queue "q": escalation step #4: give skills or queue, not both (make them two steps)`,
			`12:9: queue "q": escalation step #5: give skills (who else may take the call) or queue (where the call moves)`,
			`13:29: queue "q": escalation step #6: skills must name at least one skill`,
			`14:28: queue "q": escalation step #7: a queue step must be the last step (the call leaves this queue)`,
			`15:30: queue "q": escalation step #8: unknown skill "saels" (known: sales)`,
			`16:9: queue "q": escalation: at most 8 steps`,
			`16:28: queue "q": escalation step #9: queue "q" is this queue; name another queue`,
			`16:28: queue "q": escalation step #9: a queue step must be the last step (the call leaves this queue)`,
			`17:28: queue "q": escalation step #10: unknown queue "nope" (known: q, r)`,
			`17:34: queue "q": escalation step #10: unknown key "wait" (known: after, queue, skills)`,
		}},
		{name: "at most 8 escalation steps", yaml: `
skills: [sales]
agents: [{id: "1", password: p}]
queues:
  - name: q
    agents: ["1"]
    escalation:
      - {after: 1m, skills: {sales: 1}}
      - {after: 2m, skills: {sales: 1}}
      - {after: 3m, skills: {sales: 1}}
      - {after: 4m, skills: {sales: 1}}
      - {after: 5m, skills: {sales: 1}}
      - {after: 6m, skills: {sales: 1}}
      - {after: 7m, skills: {sales: 1}}
      - {after: 8m, skills: {sales: 1}}
      - {after: 9m, skills: {sales: 1}}
      - {after: 10m, skills: {sales: 1}}
`, want: []string{
			`16:9: queue "q": escalation: at most 8 steps`,
		}},
		{name: "loops between queues", yaml: `
agents: [{id: "1", password: p}]
calendars: [{name: office, weekly: {mon-fri: "09:00-17:00"}}]
queues:
  - {name: a, agents: ["1"], escalation: [{after: 5m, queue: b}]}
  - {name: b, agents: ["1"], max_wait: 1m, max_wait_dest: "queue:a"}
  - {name: c, agents: ["1"], max_waiting: 5, full_dest: "queue:d"}
  - {name: d, agents: ["1"], hours: office, closed_dest: "queue:e"}
  - {name: e, agents: ["1"], max_wait: 1m, max_wait_dest: "queue:c"}
  - {name: f, agents: ["1"], max_wait: 1m, max_wait_dest: "queue:a"}
`, want: []string{
			`6:59: queue "b": max_wait_dest: queue "a" makes a loop: a -> b (escalation step #1) -> a (max_wait_dest); a call could move between these queues forever`,
			`9:59: queue "e": max_wait_dest: queue "c" makes a loop: c -> d (full_dest) -> e (closed_dest) -> c (max_wait_dest); a call could move between these queues forever`,
		}},
		{name: "trunk priority", yaml: `
agents: [{id: "1", password: p}]
queues: [{name: q, agents: ["1"]}]
flows: [{name: f, start: q, nodes: {q: {queue: q}}}]
trunks:
  - {name: t, acl: 10.0.0.0/8, flow: f, priority: 200}
  - {name: u, acl: 10.0.0.0/8, flow: f, priority: -101}
`, want: []string{
			`6:51: trunk "t": priority: must be between -100 and 100, got 200`,
			`7:51: trunk "u": priority: must be between -100 and 100, got -101`,
		}},
		{name: "priority rules", yaml: `
priorities:
  - {name: vip, callers: ["5550100"], priority: 10}
  - {name: vip, called: ["800*"], priority: 5}
  - {callers: "555*", priority: 1}
  - {name: "bad name", callers: "1", priority: 1}
  - {name: nobody, priority: 3}
  - {name: nothing, callers: ["5*5"]}
  - {name: toohigh, called: "*", priority: 101}
  - {name: typo, caller: "1", priority: 1}
  - {name: empty, callers: [], called: [], priority: 1}
`, want: []string{
			`4:12: duplicate priority rule "vip" (first at line 3)`,
			`5:5: priority rule #3: name is required`,
			`6:12: priority rule "bad name": invalid name (use letters, digits, _ and -, at most 64)`,
			`7:5: priority rule "nobody": needs callers, called or both (the numbers it applies to)`,
			`8:5: priority rule "nothing": priority is required (-100 to 100)`,
			`8:31: priority rule "nothing": callers: invalid pattern "5*5" (use "*", a prefix ending in *, or an exact number)`,
			`9:44: priority rule "toohigh": priority: must be between -100 and 100, got 101`,
			`10:5: priority rule "typo": needs callers, called or both (the numbers it applies to)`,
			`10:18: priority rule "typo": unknown key "caller" (known: called, callers, name, priority)`,
			`11:5: priority rule "empty": needs callers, called or both (the numbers it applies to)`,
		}},
		{name: "dedicated agents", yaml: `
agents: [{id: "1001", password: p}, {id: "1002", password: p}]
dedicated_agents:
  - {caller: "5550199", agent: "1003"}
  - {caller: "5550199", agent: "1001"}
  - {caller: "55 5", agent: "1001"}
  - {caller: "555*", agent: "1001", wait: 11m}
  - {agent: "1001"}
  - {caller: "556*"}
  - {caller: "557*", agent: "1001", wait: 0s, queue: x}
`, want: []string{
			`4:32: dedicated agent for "5550199": unknown agent "1003" (known: 1001, 1002)`,
			`5:14: duplicate dedicated agent for "5550199" (first at line 4)`,
			`6:14: dedicated agent for "55 5": caller: invalid pattern "55 5" (use "*", a prefix ending in *, or an exact number)`,
			`7:43: dedicated agent for "555*": wait: must be at most 10m, got "11m"`,
			`8:5: dedicated agent #5: caller is required (a number pattern: exact, "555*" or "*")`,
			`9:5: dedicated agent for "556*": agent is required (the agent's ID)`,
			`10:43: dedicated agent for "557*": wait: duration must be more than zero, got "0s"`,
			`10:47: dedicated agent for "557*": unknown key "queue" (known: agent, caller, wait)`,
		}},
		{name: "agent states", yaml: `
agent_states:
  not_ready_reasons:
    - {code: "1", name: break}
    - {code: "1", name: lunch}
    - {code: "1234", name: training}
    - {code: "4", name: break}
    - {code: "5", name: missed}
    - {code: "6", name: "bad name"}
    - {name: nocode}
    - {code: "7"}
    - {code: x1, name: other, label: x}
  missed_offers_before_not_ready: 101
  away: true
`, want: []string{
			`5:14: agent_states: reason "lunch": code "1" is taken (first at line 4)`,
			`6:14: agent_states: reason "training": code must be 1 to 3 digits (agents key it in on their phone)`,
			`7:25: agent_states: duplicate reason "break" (first at line 4)`,
			`8:25: agent_states: reason "missed": the name "missed" is reserved: the ACD gives it after missed offers (see missed_offers_before_not_ready)`,
			`9:25: agent_states: reason "bad name": invalid name (use letters, digits, _ and -, at most 64)`,
			`10:7: agent_states: reason "nocode": code is required (1 to 3 digits)`,
			`11:7: agent_states: reason #8: name is required`,
			`12:14: agent_states: reason "other": code must be 1 to 3 digits (agents key it in on their phone)`,
			`12:31: agent_states: reason "other": unknown key "label" (known: code, name)`,
			`13:35: agent_states: missed_offers_before_not_ready: must be between 0 and 100, got 101`,
			`14:3: agent_states: unknown key "away" (known: missed_offers_before_not_ready, not_ready_reasons)`,
		}},
		{name: "no reasons at all", yaml: `
agent_states: {not_ready_reasons: [], missed_offers_before_not_ready: -1}
`, want: []string{
			`2:35: agent_states: not_ready_reasons: give at least one reason (or leave the key out for the defaults)`,
			`2:71: agent_states: missed_offers_before_not_ready: must be between 0 and 100, got -1`,
		}},
		{name: "feature codes", yaml: `
feature_codes:
  login: "20"
  ready: "*12345"
  not_ready: "*21"
  logout: "*2"
  pause: "*30"
`, want: []string{
			`3:10: feature_codes.login: must be * and 1 to 4 digits, e.g. "*20" (quote it), got "20"`,
			`4:10: feature_codes.ready: must be * and 1 to 4 digits, e.g. "*20" (quote it), got "*12345"`,
			`6:11: feature_codes: logout "*2" is the start of not_ready "*21"; one of them could never be dialed`,
			`6:11: feature_codes: logout "*2" is the start of disposition "*24"; one of them could never be dialed (the default for disposition)`,
			`7:3: feature_codes: unknown key "pause" (known: barge, disposition, listen, login, logout, not_ready, ready, whisper)`,
		}},
		{name: "feature codes equal to each other or to a default", yaml: `
feature_codes:
  ready: "*20"
  logout: "*22"
`, want: []string{
			`3:10: feature_codes: login and ready are both "*20" (the default for login)`,
			`4:11: feature_codes: not_ready and logout are both "*22" (the default for not_ready)`,
		}},
	})
}

// zeroPositions clears every Pos in *v, so that parsed values compare with
// values written in a test.
func zeroPositions(v any) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() && v.Elem().Kind() == reflect.Struct {
				walk(v.Elem())
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[Pos]() {
				v.SetZero()
				return
			}
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(v))
}

// TestFullContactCenterFile parses a file that sets every contact-center
// key and compares what comes out, field by field.
func TestFullContactCenterFile(t *testing.T) {
	c, err := Parse("full.yaml", []byte(`
skills: [sales, support, english, cards]
agents:
  - {id: "1001", name: Alice, password: pw1, pin: "4321", skills: {sales: 8, english: 5}}
  - {id: "1002", pin: "000012345678", skills: {support: 10, cards: 1}}
phones:
  - {user: desk.1_a-b, password: pw-desk}
calendars:
  - name: bank
    timezone: Asia/Shanghai
    weekly:
      mon-fri: ["13:00-20:00", "08:00-12:00"]
      sat: "09:00-14:00"
      sun: closed
    holidays: ["2026-10-02", 2026-10-01]
    workdays: [2026-10-10, {date: "2026-10-11", as: fri}]
queues:
  - name: sales
    agents: ["1001"]
    skills: {english: 3, sales: 5}
    strategy: longest-idle
    wrap_up: 30s
    priority: -7
    aging_per_minute: 2.5
    service_level: {threshold: 30s, target: 90.5%, short_abandon: 0s, ignore_abandons: true}
    escalation:
      - {after: 1m, skills: {sales: 1}}
      - {after: 2m, skills: {cards: 1}}
      - {after: 10m, queue: overflow}
    sticky: {days: 30, wait: 15s}
    max_wait: 20m
    max_wait_dest: callback
    max_waiting: 50
    full_dest: "queue:overflow"
    hours: bank
    closed_dest: flow:closed
    position_every: 45s
    whisper: true
    announce_agent: true
    callback_key: "*"
    callback_max_attempts: 5
    callback_retry: 10m
  - name: overflow
    agents: ["1002"]
    max_wait: 30m
    max_wait_dest: busy
flows:
  - {name: main, start: q, nodes: {q: {queue: sales}}}
  - {name: closed, start: bye, nodes: {bye: {hangup: {}}}}
trunks:
  - {name: carrier, acl: 192.0.2.0/24, flow: main, priority: 3, outbound: "192.0.2.1:5060"}
priorities:
  - {name: vip, callers: ["5550100", "5550101"], priority: 10}
  - {name: hotline, called: "800*", priority: -2}
  - {name: both, callers: "555*", called: ["8005551000"], priority: 100}
dedicated_agents:
  - {caller: "5550199", agent: "1001"}
  - {caller: "4930*", agent: "1002", wait: 10m}
agent_states:
  not_ready_reasons:
    - {code: "10", name: coaching}
    - {code: "999", name: system_down}
  missed_offers_before_not_ready: 0
feature_codes: {login: "*9", ready: "*80", not_ready: "*81", logout: "*8200"}
`))
	if err != nil {
		t.Fatal(err)
	}
	zeroPositions(c)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	sl := func(skill string, level int) SkillLevel { return SkillLevel{Skill: skill, Level: level} }
	weekdays := []Span{{From: 8 * 60, To: 12 * 60}, {From: 13 * 60, To: 20 * 60}}
	checks := []struct {
		name      string
		got, want any
	}{
		{"skills", c.Skills, []string{"sales", "support", "english", "cards"}},
		{"agents", c.Agents, []Agent{
			{ID: "1001", Name: "Alice", Password: "pw1", PIN: "4321", Skills: []SkillLevel{sl("english", 5), sl("sales", 8)}},
			{ID: "1002", Name: "1002", PIN: "000012345678", Skills: []SkillLevel{sl("cards", 1), sl("support", 10)}},
		}},
		{"phones", c.Phones, []Phone{{User: "desk.1_a-b", Password: "pw-desk"}}},
		{"calendars", c.Calendars, []Calendar{{
			Name:     "bank",
			Location: shanghai,
			Weekly: [7][]Span{
				time.Monday: weekdays, time.Tuesday: weekdays, time.Wednesday: weekdays, time.Thursday: weekdays,
				time.Friday: weekdays, time.Saturday: {{From: 9 * 60, To: 14 * 60}},
			},
			Holidays: []Date{{2026, time.October, 1}, {2026, time.October, 2}},
			Workdays: []Workday{{Date: Date{2026, time.October, 10}, As: time.Monday}, {Date: Date{2026, time.October, 11}, As: time.Friday}},
		}}},
		{"queue sales", *c.Queue("sales"), Queue{
			Name: "sales", Agents: []string{"1001"}, RingTimeout: 15 * time.Second, Music: "moh",
			Skills:         []SkillLevel{sl("english", 3), sl("sales", 5)},
			Strategy:       StrategyLongestIdle,
			WrapUp:         30 * time.Second,
			Priority:       -7,
			AgingPerMinute: 2.5,
			ServiceLevel:   ServiceLevel{Threshold: 30 * time.Second, Target: 90.5, ShortAbandon: 0, IgnoreAbandons: true},
			Escalation: []EscalationStep{
				{After: time.Minute, Skills: []SkillLevel{sl("sales", 1)}},
				{After: 2 * time.Minute, Skills: []SkillLevel{sl("cards", 1)}},
				{After: 10 * time.Minute, Queue: "overflow"},
			},
			Sticky:              StickyAgent{Days: 30, Wait: 15 * time.Second},
			MaxWait:             20 * time.Minute,
			MaxWaitDest:         Destination{Kind: DestCallback},
			MaxWaiting:          50,
			FullDest:            Destination{Kind: DestQueue, Target: "overflow"},
			Hours:               "bank",
			ClosedDest:          Destination{Kind: DestFlow, Target: "closed"},
			PositionEvery:       45 * time.Second,
			Whisper:             true,
			AnnounceAgent:       true,
			CallbackKey:         "*",
			CallbackMaxAttempts: 5,
			CallbackRetry:       10 * time.Minute,
		}},
		{"queue overflow", c.Queue("overflow").MaxWaitDest, Destination{Kind: DestBusy}},
		{"trunk priority", c.Trunk("carrier").Priority, 3},
		{"priorities", c.Priorities, []PriorityRule{
			{Name: "vip", Callers: []string{"5550100", "5550101"}, Priority: 10},
			{Name: "hotline", Called: []string{"800*"}, Priority: -2},
			{Name: "both", Callers: []string{"555*"}, Called: []string{"8005551000"}, Priority: 100},
		}},
		{"dedicated agents", c.DedicatedAgents, []DedicatedAgent{
			{Caller: "5550199", Agent: "1001", Wait: 30 * time.Second},
			{Caller: "4930*", Agent: "1002", Wait: 10 * time.Minute},
		}},
		{"agent states", c.AgentStates, AgentStates{
			NotReadyReasons:      []Reason{{Code: "10", Name: "coaching"}, {Code: "999", Name: "system_down"}},
			MissedBeforeNotReady: 0,
		}},
		{"feature codes", c.FeatureCodes, FeatureCodes{Login: "*9", Ready: "*80", NotReady: "*81", Logout: "*8200", Listen: "*31", Whisper: "*32", Barge: "*33", Disposition: "*24"}},
	}
	for _, check := range checks {
		if !reflect.DeepEqual(check.got, check.want) {
			t.Errorf("%s =\n%+v\nwant\n%+v", check.name, check.got, check.want)
		}
	}
}

func TestCallbacksNeedAnOutboundTrunk(t *testing.T) {
	src := `agents: [{id: "1", password: p}]
queues:
  - {name: q, agents: ["1"], callback_key: "1"}
  - {name: r, agents: ["1"], max_wait: 1m, max_wait_dest: callback}
  - {name: s, agents: ["1"]}
flows: [{name: f, start: n, nodes: {n: {queue: q}}}]
trunks: [{name: t, acl: 127.0.0.1, flow: f}]
`
	_, err := Parse("cb.yaml", []byte(src))
	for _, want := range []string{
		`cb.yaml:3:5: queue "q": callbacks need a trunk with outbound`,
		`cb.yaml:4:5: queue "r": callbacks need a trunk with outbound`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v, want %s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), `queue "s"`) {
		t.Errorf("a queue without callbacks was refused: %v", err)
	}
	fixed := strings.Replace(src, "flow: f}]", `flow: f, outbound: "127.0.0.1:5090", numbers: ["8005551000", "800*"]}]`, 1)
	c, err := Parse("cb.yaml", []byte(fixed))
	if err != nil {
		t.Fatal(err)
	}
	if tr := c.OutboundTrunk(); tr == nil || tr.Outbound != "127.0.0.1:5090" || tr.OutboundCallerID() != "8005551000" {
		t.Fatalf("outbound trunk %+v", tr)
	}
}

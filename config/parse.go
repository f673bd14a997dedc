package config

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults for everything a configuration file may leave out.
const (
	DefaultSIPListen              = "127.0.0.1:5060"
	DefaultRealm                  = "hotline"
	DefaultNonceTTL               = 5 * time.Minute
	DefaultRegisterMinExpires     = 60 * time.Second
	DefaultRegisterMaxExpires     = 3600 * time.Second
	DefaultRegisterDefaultExpires = 600 * time.Second
	DefaultUserAgent              = "hotline"
	DefaultHTTPListen             = "127.0.0.1:8080"
	DefaultDataDir                = "./data"
	DefaultRTPPortLow             = 20000
	DefaultRTPPortHigh            = 29999
	DefaultRingTimeout            = 15 * time.Second
	DefaultMusic                  = "moh"
	DefaultMenuTimeout            = 5 * time.Second
	// DefaultMenuRetries gives a caller three tries in all, like FreeSWITCH's
	// max-timeouts and max-failures.
	DefaultMenuRetries = 2
)

// minRTPPorts is the smallest usable RTP range: one bridged call needs an
// RTP/RTCP pair for each of its two legs.
const minRTPPorts = 4

// maxRetries bounds menu retries; more is a typo, not a design.
const maxRetries = 100

// Load reads and parses the configuration file at path. Problems with the
// content come back as Errors; a file that cannot be read as a wrapped
// os error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a configuration; filename is used in error
// positions and as Config.Source. On any problem it returns a nil Config and
// Errors listing every problem found.
func Parse(filename string, data []byte) (*Config, error) {
	root, err := parseYAML(filename, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: filename}
	c := d.config(root)
	c.Source = filename
	if err := d.errs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// yamlLine matches the position yaml.v3 puts in its syntax errors; it gives
// a line but never a column.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// unknownAnchor matches yaml.v3's error for an alias without an anchor.
var unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// parseYAML reads exactly one YAML document into a node tree.
func parseYAML(filename string, data []byte) (root *yaml.Node, err error) {
	fileErr := func(line int, format string, args ...any) error {
		return Errors{{Pos: Pos{File: filename, Line: line}, Msg: fmt.Sprintf(format, args...)}}
	}
	defer func() {
		// yaml.v3 turns its own failures into errors; anything else escaping
		// it is a parser bug, and a reload must not take the process down.
		if r := recover(); r != nil {
			root, err = nil, fileErr(0, "YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil, fileErr(0, "file is empty")
	case err != nil:
		return nil, yamlError(filename, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(filename, data, err)
	case extra.Line > 0:
		return nil, fileErr(extra.Line, "more than one YAML document; put everything in one")
	default:
		line, col := endOf(data)
		return nil, Errors{{Pos: Pos{File: filename, Line: line, Col: col}, Msg: "more than one YAML document; put everything in one"}}
	}
	if len(doc.Content) != 1 {
		return nil, fileErr(0, "file is empty")
	}
	return doc.Content[0], nil
}

// yamlError positions a yaml.v3 syntax error.
func yamlError(filename string, data []byte, err error) error {
	msg := err.Error()
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		// yaml.v3 says which anchor but not where; the first use of it
		// is where it is wrong.
		if at := bytes.Index(data, []byte("*"+m[1])); at >= 0 {
			line := 1 + bytes.Count(data[:at], []byte("\n"))
			col := at - bytes.LastIndexByte(data[:at], '\n')
			return Errors{{Pos: Pos{File: filename, Line: line, Col: col}, Msg: fmt.Sprintf("unknown anchor %q", m[1])}}
		}
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Errors{{Pos: Pos{File: filename, Line: line}, Msg: strings.TrimPrefix(msg[len(m[0]):], "yaml: ")}}
	}
	// yaml.v3 gives no line for what it finds at the end of the input
	// (an unclosed quote or bracket): that is where it is noticed.
	line, col := endOf(data)
	return Errors{{Pos: Pos{File: filename, Line: line, Col: col}, Msg: strings.TrimPrefix(msg, "yaml: ") + " (at the end of the file)"}}
}

// endOf returns the line and column just past the last character of data.
func endOf(data []byte) (line, col int) {
	body := bytes.TrimRight(data, "\n")
	line = 1 + bytes.Count(body, []byte("\n"))
	col = len(body) - bytes.LastIndexByte(body, '\n')
	return line, col
}

func defaultConfig() *Config {
	return &Config{
		SIP: SIP{
			Listen:                 DefaultSIPListen,
			Realm:                  DefaultRealm,
			NonceTTL:               DefaultNonceTTL,
			RegisterMinExpires:     DefaultRegisterMinExpires,
			RegisterMaxExpires:     DefaultRegisterMaxExpires,
			RegisterDefaultExpires: DefaultRegisterDefaultExpires,
			UserAgent:              DefaultUserAgent,
		},
		HTTP:         HTTP{Listen: DefaultHTTPListen},
		DataDir:      DefaultDataDir,
		RTP:          RTP{PortLow: DefaultRTPPortLow, PortHigh: DefaultRTPPortHigh},
		AgentStates:  DefaultAgentStates(),
		FeatureCodes: DefaultFeatureCodes(),
		Recordings: Recordings{RetentionDays: map[string]int{}, SweepEvery: DefaultSweepEvery,
			MinFreeBytes: DefaultMinFreeBytes, AnalyticsHook: AnalyticsHook{Timeout: DefaultHookTimeout}},
		Reports:  Reports{FCRWindow: DefaultFCRWindow},
		Calls:    Calls{RTPTimeout: DefaultRTPTimeout, MaxDuration: DefaultMaxDuration, Drain: DefaultDrain, SessionExpires: DefaultSessionExpires, MinSE: MinSessionExpires},
		Security: DefaultSecurity(),
	}
}

func (d *decoder) config(root *yaml.Node) *Config {
	c := defaultConfig()
	var sip, trunks, agents, queues, flows, skills, phones, priorities, dedicated, calendars, transfers *yaml.Node
	keep := func(dst **yaml.Node) field { return func(n *yaml.Node) { *dst = n } }
	if root = d.resolve(root); root != nil && root.Kind != yaml.MappingNode {
		d.errorf(root, "expected a mapping of sections (sip, http, trunks, ...), got %s", describe(root))
		return c
	}
	d.fields(root, "", map[string]field{
		"sip":      keep(&sip),
		"http":     func(n *yaml.Node) { d.http(n, &c.HTTP) },
		"data_dir": d.nonEmpty(&c.DataDir, "data_dir"),
		"rtp":      func(n *yaml.Node) { d.rtp(n, &c.RTP) },
		"prompts": func(n *yaml.Node) {
			d.fields(n, "prompts", map[string]field{"dir": d.str(&c.Prompts.Dir, "prompts.dir")})
		},
		"agent_states":  func(n *yaml.Node) { d.agentStates(n, &c.AgentStates) },
		"feature_codes": func(n *yaml.Node) { d.featureCodes(n, &c.FeatureCodes) },
		// Sections that refer to each other are decoded in dependency order
		// below, whatever order the file has them in.
		"trunks":           keep(&trunks),
		"agents":           keep(&agents),
		"queues":           keep(&queues),
		"flows":            keep(&flows),
		"skills":           keep(&skills),
		"phones":           keep(&phones),
		"priorities":       keep(&priorities),
		"dedicated_agents": keep(&dedicated),
		"calendars":        keep(&calendars),
		"transfers":        keep(&transfers),
		"recordings":       func(n *yaml.Node) { d.recordings(n, &c.Recordings) },
		"reports":          func(n *yaml.Node) { d.reports(n, &c.Reports) },
		"dispositions":     func(n *yaml.Node) { c.Dispositions = d.dispositions(n) },
		"calls":            func(n *yaml.Node) { d.calls(n, &c.Calls) },
		"security":         func(n *yaml.Node) { d.security(n, root, &c.Security) },
	})
	// sip runs even when the section is missing: Advertise defaults from
	// Listen.
	d.sip(sip, &c.SIP)
	c.Skills = d.skills(skills)
	c.Calendars = d.calendars(calendars)
	d.knownCalendars = c.Calendars
	c.Agents = d.agents(agents, c)
	for _, a := range c.Agents {
		d.agentIDs = append(d.agentIDs, a.ID)
	}
	c.Phones = d.phones(phones, c)
	c.Queues = d.queues(queues, c)
	c.Flows = d.flows(flows, c)
	// Queues refer to each other and to flows, in any order.
	d.queueLinks(c)
	c.Trunks = d.trunks(trunks, c)
	d.callbacksNeedOutbound(c)
	d.flowLinks(c)
	c.Priorities = d.priorities(priorities)
	c.DedicatedAgents = d.dedicatedAgents(dedicated, c)
	d.transfers(transfers, c) // after trunks: it names one
	c.Transfers.FailedReturn = cmp.Or(c.Transfers.FailedReturn, FailedReturnAgent)
	return c
}

// isEmpty reports whether n is nothing, an empty list or an empty mapping;
// a value of the wrong type is not empty (it is reported where it is read).
func isEmpty(n *yaml.Node) bool {
	return n == nil || isNull(n) || (n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode) && len(n.Content) == 0
}

// nonEmpty stores a scalar that must not be blank.
func (d *decoder) nonEmpty(dst *string, ctx string) field {
	return func(n *yaml.Node) {
		s, ok := d.scalar(n, ctx)
		if !ok {
			return
		}
		if strings.TrimSpace(s) == "" {
			d.errorf(d.resolve(n), "%s: must not be empty", ctx)
			return
		}
		*dst = s
	}
}

func (d *decoder) sip(n *yaml.Node, s *SIP) {
	var listenNode, advertiseNode, minNode, maxNode, defaultNode, tlsListenNode *yaml.Node
	// expires reads a registration lifetime; the Expires header counts whole
	// seconds (RFC 3261 §20.19).
	expires := func(dst *Duration, at **yaml.Node, key string) field {
		return func(v *yaml.Node) {
			var dur Duration
			d.duration(&dur, "sip."+key)(v)
			switch {
			case dur == 0:
			case dur%time.Second != 0:
				d.errorf(d.resolve(v), "sip.%s: must be a whole number of seconds, got %s", key, dur)
			default:
				*dst, *at = dur, d.resolve(v)
			}
		}
	}
	d.fields(n, "sip", map[string]field{
		"listen": func(v *yaml.Node) {
			if addr, ok := d.addrPort(v, "sip.listen"); ok {
				s.Listen, listenNode = addr, d.resolve(v)
			}
		},
		"advertise": func(v *yaml.Node) {
			if ip, ok := d.ip(v, "sip.advertise"); ok {
				s.Advertise, advertiseNode = ip, d.resolve(v)
			}
		},
		"realm":                    d.nonEmpty(&s.Realm, "sip.realm"),
		"nonce_ttl":                d.duration(&s.NonceTTL, "sip.nonce_ttl"),
		"user_agent":               d.nonEmpty(&s.UserAgent, "sip.user_agent"),
		"register_min_expires":     expires(&s.RegisterMinExpires, &minNode, "register_min_expires"),
		"register_max_expires":     expires(&s.RegisterMaxExpires, &maxNode, "register_max_expires"),
		"register_default_expires": expires(&s.RegisterDefaultExpires, &defaultNode, "register_default_expires"),
		"tls":                      func(v *yaml.Node) { s.TLS, tlsListenNode = d.sipTLS(v) },
	})
	if s.TLS != nil && tlsListenNode != nil {
		d.checkSIPTLSListen(s, tlsListenNode)
	}
	if s.RegisterMinExpires > s.RegisterMaxExpires {
		d.errorf(orNode(minNode, maxNode, n),
			"sip: register_min_expires (%s) is more than register_max_expires (%s)", s.RegisterMinExpires, s.RegisterMaxExpires)
	} else if s.RegisterDefaultExpires < s.RegisterMinExpires || s.RegisterDefaultExpires > s.RegisterMaxExpires {
		d.errorf(orNode(defaultNode, minNode, maxNode, n),
			"sip: register_default_expires (%s) must be between register_min_expires (%s) and register_max_expires (%s)",
			s.RegisterDefaultExpires, s.RegisterMinExpires, s.RegisterMaxExpires)
	}
	switch {
	case advertiseNode != nil:
		if ip := netip.MustParseAddr(s.Advertise); ip.IsUnspecified() {
			d.errorf(advertiseNode, "sip.advertise: must be an address peers can reach, not %s", s.Advertise)
		}
	default:
		listen, err := netip.ParseAddrPort(s.Listen)
		switch {
		case err != nil:
			// Reported where Listen was read.
		case listen.Addr().IsUnspecified():
			// Phones and carriers cannot send anything to 0.0.0.0.
			d.errorf(orNode(listenNode, n), "sip: advertise is required when listen is a wildcard address (%s)", s.Listen)
		default:
			s.Advertise = listen.Addr().String()
		}
	}
}

// orNode returns the first non-nil node, for placing a problem that involves
// several keys where at least one of them is written.
func orNode(nodes ...*yaml.Node) *yaml.Node {
	for _, n := range nodes {
		if n != nil {
			return n
		}
	}
	return &yaml.Node{}
}

// addrPort reads an "ip:port" listen address.
func (d *decoder) addrPort(n *yaml.Node, ctx string) (string, bool) {
	s, ok := d.scalar(n, ctx)
	if !ok {
		return "", false
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		d.errorf(d.resolve(n), "%s: invalid address %q (want ip:port, e.g. 127.0.0.1:5060 or [::1]:5060)", ctx, s)
		return "", false
	}
	return ap.String(), true
}

// ip reads a bare IP address.
func (d *decoder) ip(n *yaml.Node, ctx string) (string, bool) {
	s, ok := d.scalar(n, ctx)
	if !ok {
		return "", false
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		d.errorf(d.resolve(n), "%s: invalid IP address %q", ctx, s)
		return "", false
	}
	return ip.String(), true
}

func (d *decoder) http(n *yaml.Node, h *HTTP) {
	d.fields(n, "http", map[string]field{
		"listen": func(v *yaml.Node) {
			if addr, ok := d.addrPort(v, "http.listen"); ok {
				h.Listen = addr
			}
		},
		"tokens": func(v *yaml.Node) { h.Tokens = d.tokens(v) },
		"tls":    func(v *yaml.Node) { h.TLS = d.certFiles(v, "http.tls", nil) },
	})
}

func (d *decoder) tokens(n *yaml.Node) []Token {
	var tokens []Token
	names := map[string]Pos{}
	secrets := map[[32]byte]string{}
	for i, item := range d.items(n, "http.tokens") {
		ctx := fmt.Sprintf("token #%d", i+1)
		if name := d.lookup(item, "name"); name != nil {
			ctx = fmt.Sprintf("token %q", name.Value)
		}
		t := Token{Pos: d.pos(item)}
		var secretNode, roleNode *yaml.Node
		d.fields(item, ctx, map[string]field{
			"name": d.nonEmpty(&t.Name, ctx+": name"),
			"token": func(v *yaml.Node) {
				secretNode = d.resolve(v)
				d.nonEmpty(&t.Token, ctx+": token")(v)
			},
			"token_sha256": func(v *yaml.Node) {
				s, ok := d.scalar(v, ctx+": token_sha256")
				if !ok {
					return
				}
				secretNode = d.resolve(v)
				if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
					d.errorf(secretNode, "%s: token_sha256 must be 64 hex digits (the output of `printf %%s SECRET | sha256sum`)", ctx)
					return
				}
				t.TokenSHA256 = strings.ToLower(s)
			},
			"role": func(v *yaml.Node) {
				roleNode = d.resolve(v)
				s, ok := d.scalar(v, ctx+": role")
				if !ok {
					return
				}
				if t.Role = ParseRole(s); t.Role == RoleUnknown {
					d.errorf(d.resolve(v), "%s: unknown role %q (known: admin, supervisor, qa, agent)", ctx, s)
				}
			},
		})
		if item.Kind == yaml.MappingNode {
			if d.lookup(item, "name") == nil {
				d.errorf(item, "%s: name is required", ctx)
			}
			if roleNode == nil {
				d.errorf(item, "%s: role is required (admin, supervisor, qa or agent)", ctx)
			}
		}
		switch {
		case t.Token != "" && t.TokenSHA256 != "":
			d.errorf(secretNode, "%s: give token or token_sha256, not both", ctx)
		case secretNode == nil && item.Kind == yaml.MappingNode:
			d.errorf(item, "%s: token_sha256 (or, for testing, token) is required", ctx)
		}
		if t.Name != "" {
			if first, dup := names[t.Name]; dup {
				d.errorf(item, "%s: duplicate token name (first at line %d)", ctx, first.Line)
			} else {
				names[t.Name] = t.Pos
			}
		}
		if t.Token != "" || t.TokenSHA256 != "" {
			digest := t.Digest()
			if other, dup := secrets[digest]; dup {
				d.errorf(secretNode, "%s: same secret as token %q; every token needs its own", ctx, other)
			} else {
				secrets[digest] = t.Name
			}
		}
		tokens = append(tokens, t)
	}
	return tokens
}

// rtpPorts matches "20000-29999".
var rtpPorts = regexp.MustCompile(`^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$`)

func (d *decoder) rtp(n *yaml.Node, r *RTP) {
	d.fields(n, "rtp", map[string]field{
		"ports": func(v *yaml.Node) {
			s, ok := d.scalar(v, "rtp.ports")
			if !ok {
				return
			}
			v = d.resolve(v)
			m := rtpPorts.FindStringSubmatch(s)
			if m == nil {
				d.errorf(v, "rtp.ports: expected a range like \"20000-29999\", got %q", s)
				return
			}
			low, _ := strconv.Atoi(m[1])
			high, _ := strconv.Atoi(m[2])
			switch {
			case low < 1024 || high > 65535:
				d.errorf(v, "rtp.ports: %d-%d is outside 1024-65535", low, high)
			case low >= high:
				d.errorf(v, "rtp.ports: low port %d must be below high port %d", low, high)
			case low%2 != 0:
				// RTP takes the even port and RTCP the odd one above it
				// (RFC 3550 §11).
				d.errorf(v, "rtp.ports: low port %d must be even (RTP uses even ports, RTCP the next odd one)", low)
			case high-low+1 < minRTPPorts:
				d.errorf(v, "rtp.ports: %d-%d has %d ports; a bridged call needs at least %d", low, high, high-low+1, minRTPPorts)
			default:
				r.PortLow, r.PortHigh = low, high
			}
		},
		"bind_ip": func(v *yaml.Node) {
			if ip, ok := d.ip(v, "rtp.bind_ip"); ok {
				r.BindIP = ip
			}
		},
	})
}

// namePattern is what names of trunks, queues, flows and nodes may look like:
// they appear in metrics labels, API paths and CDRs.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// name reads the "name" of a list element and reports missing, malformed
// and duplicate names; seen maps names to where they were first defined.
func (d *decoder) name(item *yaml.Node, what string, index int, key string, seen map[string]Pos) (string, string) {
	ctx := fmt.Sprintf("%s #%d", what, index+1)
	v := d.lookup(item, key)
	if v == nil {
		if item.Kind == yaml.MappingNode {
			d.errorf(item, "%s: %s is required", ctx, key)
		}
		return "", ctx
	}
	ctx = fmt.Sprintf("%s %q", what, v.Value)
	if !namePattern.MatchString(v.Value) {
		d.errorf(v, "%s: invalid %s (use letters, digits, _ and -, at most 64)", ctx, key)
		return "", ctx
	}
	if first, dup := seen[v.Value]; dup {
		d.errorf(v, "duplicate %s %q (first at line %d)", what, v.Value, first.Line)
		return "", ctx
	}
	seen[v.Value] = d.pos(v)
	return v.Value, ctx
}

// agentID is an agent's extension: digits, because phones dial it.
var agentID = regexp.MustCompile(`^[0-9]{1,20}$`)

// pinPattern is a hot-desking PIN: keyed in on a phone's keypad.
var pinPattern = regexp.MustCompile(`^[0-9]{4,12}$`)

func (d *decoder) agents(n *yaml.Node, c *Config) []Agent {
	var agents []Agent
	seen := map[string]Pos{}
	for i, item := range d.items(n, "agents") {
		ctx := fmt.Sprintf("agent #%d", i+1)
		a := Agent{Pos: d.pos(item)}
		if v := d.lookup(item, "id"); v != nil {
			ctx = fmt.Sprintf("agent %q", v.Value)
			switch first, dup := seen[v.Value]; {
			case !agentID.MatchString(v.Value):
				d.errorf(v, "%s: id must be digits (it is the extension the phone registers as)", ctx)
			case dup:
				d.errorf(v, "duplicate agent %q (first at line %d)", v.Value, first.Line)
			default:
				seen[v.Value] = d.pos(v)
			}
		} else if item.Kind == yaml.MappingNode {
			d.errorf(item, "%s: id is required", ctx)
		}
		var hasPassword, hasPIN bool
		d.fields(item, ctx, map[string]field{
			"id":   d.str(&a.ID, ctx+": id"),
			"name": d.str(&a.Name, ctx+": name"),
			"password": func(v *yaml.Node) {
				hasPassword = true
				d.nonEmpty(&a.Password, ctx+": password")(v)
			},
			"pin": func(v *yaml.Node) {
				hasPIN = true
				s, ok := d.scalar(v, ctx+": pin")
				if !ok {
					return
				}
				if !pinPattern.MatchString(s) {
					d.errorf(d.resolve(v), "%s: pin must be 4 to 12 digits", ctx)
					return
				}
				a.PIN = s
			},
			"skills":     func(v *yaml.Node) { a.Skills = d.skillLevels(v, ctx, c.Skills) },
			"supervisor": d.boolean(&a.Supervisor, ctx+": supervisor"),
		})
		if !hasPassword && !hasPIN && item.Kind == yaml.MappingNode {
			d.errorf(item, "%s: needs a password (own phone) or a pin (hot-desking)", ctx)
		}
		if a.Name == "" {
			a.Name = a.ID
		}
		agents = append(agents, a)
	}
	return agents
}

func (d *decoder) queues(n *yaml.Node, c *Config) []Queue {
	var queues []Queue
	seen := map[string]Pos{}
	known := make([]string, len(c.Agents))
	for i, a := range c.Agents {
		known[i] = a.ID
	}
	calendarNames := make([]string, len(c.Calendars))
	for i, cal := range c.Calendars {
		calendarNames[i] = cal.Name
	}
	for i, item := range d.items(n, "queues") {
		name, ctx := d.name(item, "queue", i, "name", seen)
		q := DefaultQueue(name)
		q.Pos = d.pos(item)
		var agentsWritten, skillsWritten bool
		var maxWaitNode, maxWaitingNode, hoursNode *yaml.Node
		destNodes := map[string]*yaml.Node{}
		dest := func(dst *Destination, key string) field {
			return func(v *yaml.Node) {
				destNodes[key] = d.resolve(v)
				d.destination(dst, ctx, key, q.Name)(v)
			}
		}
		d.fields(item, ctx, map[string]field{
			"name":         func(*yaml.Node) {},
			"ring_timeout": d.duration(&q.RingTimeout, ctx+": ring_timeout"),
			"music": func(v *yaml.Node) {
				if s, ok := d.scalar(v, ctx+": music"); ok {
					q.Music, q.MusicPos = s, d.pos(d.resolve(v))
				}
			},
			"announce": func(v *yaml.Node) {
				if s, ok := d.scalar(v, ctx+": announce"); ok {
					q.Announce, q.AnnouncePos = s, d.pos(d.resolve(v))
				}
			},
			"agents": func(v *yaml.Node) {
				agentsWritten = !isEmpty(d.resolve(v))
				members := map[string]bool{}
				for _, ref := range d.refs(v, ctx+": agents") {
					switch {
					case members[ref.Name]:
						d.errs.Add(ref.Pos, "%s: agent %q listed twice", ctx, ref.Name)
					case c.Agent(ref.Name) == nil:
						d.errs.Add(ref.Pos, "%s: unknown agent %q%s", ctx, ref.Name, hint(ref.Name, known, false))
					default:
						members[ref.Name] = true
						q.Agents = append(q.Agents, ref.Name)
					}
				}
			},
			"skills": func(v *yaml.Node) {
				skillsWritten = !isEmpty(d.resolve(v))
				q.Skills = d.skillLevels(v, ctx, c.Skills)
			},
			"strategy": func(v *yaml.Node) {
				s, ok := d.scalar(v, ctx+": strategy")
				if !ok {
					return
				}
				strategy, ok := ParseStrategy(s)
				if !ok {
					d.errorf(d.resolve(v), "%s: unknown strategy %q%s", ctx, s, hint(s, strategyNames[:], true))
					return
				}
				q.Strategy = strategy
			},
			"wrap_up":          d.durationIn(&q.WrapUp, ctx+": wrap_up", 0, MaxWrapUp, "none"),
			"priority":         d.integer(&q.Priority, ctx+": priority", MinPriority, MaxPriority),
			"aging_per_minute": d.number(&q.AgingPerMinute, ctx+": aging_per_minute", 0, MaxAgingPerMinute, false),
			"service_level":    func(v *yaml.Node) { d.serviceLevel(v, ctx+": service_level", &q.ServiceLevel) },
			"escalation":       func(v *yaml.Node) { q.Escalation = d.escalation(v, ctx, &q, c) },
			"sticky": func(v *yaml.Node) {
				d.fields(v, ctx+": sticky", map[string]field{
					"days": d.integer(&q.Sticky.Days, ctx+": sticky: days", 0, MaxStickyDays),
					"wait": d.durationIn(&q.Sticky.Wait, ctx+": sticky: wait", 0, MaxStickyWait, ""),
				})
			},
			"max_wait": func(v *yaml.Node) {
				maxWaitNode = d.resolve(v)
				d.durationIn(&q.MaxWait, ctx+": max_wait", 0, 0, "no limit")(v)
			},
			"max_wait_dest": dest(&q.MaxWaitDest, "max_wait_dest"),
			"max_waiting": func(v *yaml.Node) {
				maxWaitingNode = d.resolve(v)
				d.integer(&q.MaxWaiting, ctx+": max_waiting", 0, maxWaiting)(v)
			},
			"full_dest": dest(&q.FullDest, "full_dest"),
			"hours": func(v *yaml.Node) {
				s, ok := d.scalar(v, ctx+": hours")
				if !ok {
					return
				}
				hoursNode = d.resolve(v)
				switch {
				case len(c.Calendars) == 0:
					d.errorf(hoursNode, "%s: unknown calendar %q (no calendars are defined; add it under the top-level calendars:)", ctx, s)
				case c.Calendar(s) == nil:
					d.errorf(hoursNode, "%s: unknown calendar %q%s", ctx, s, hint(s, calendarNames, false))
				default:
					q.Hours = s
				}
			},
			"closed_dest":    dest(&q.ClosedDest, "closed_dest"),
			"position_every": d.durationIn(&q.PositionEvery, ctx+": position_every", MinPositionEvery, 0, "never"),
			"whisper":        d.boolean(&q.Whisper, ctx+": whisper"),
			"announce_agent": d.boolean(&q.AnnounceAgent, ctx+": announce_agent"),
			"callback_key": func(v *yaml.Node) {
				s, ok := d.scalar(v, ctx+": callback_key")
				if !ok {
					return
				}
				if len(s) != 1 || !strings.Contains("0123456789*#", s) {
					d.errorf(d.resolve(v), "%s: callback_key must be one of 0-9, * or # (quote * and #), got %q", ctx, s)
					return
				}
				q.CallbackKey = s
			},
			"callback_max_attempts": d.integer(&q.CallbackMaxAttempts, ctx+": callback_max_attempts", 1, MaxCallbackAttempts),
			"callback_retry":        d.durationIn(&q.CallbackRetry, ctx+": callback_retry", MinCallbackRetry, 0, ""),
		})
		if item.Kind != yaml.MappingNode {
			queues = append(queues, q)
			continue
		}
		if q.Music == "" {
			d.errorf(item, "%s: music must name a prompt", ctx)
		}
		if !agentsWritten && !skillsWritten {
			d.errorf(item, "%s: no agents and no skills; nobody could serve it", ctx)
		}
		d.destinationNeeds(ctx, maxWaitNode, q.MaxWait > 0, destNodes["max_wait_dest"], "max_wait", "max_wait_dest",
			fmt.Sprintf("where callers go after waiting %s", fmtDuration(q.MaxWait)), "how long callers wait before going there")
		d.destinationNeeds(ctx, maxWaitingNode, q.MaxWaiting > 0, destNodes["full_dest"], "max_waiting", "full_dest",
			fmt.Sprintf("where callers go when %d are waiting", q.MaxWaiting), "how many callers may wait")
		d.destinationNeeds(ctx, hoursNode, q.Hours != "", destNodes["closed_dest"], "hours", "closed_dest",
			fmt.Sprintf("where callers go while %q is closed", q.Hours), "the calendar of opening hours")
		queues = append(queues, q)
	}
	return queues
}

func (d *decoder) trunks(n *yaml.Node, c *Config) []Trunk {
	var trunks []Trunk
	seen := map[string]Pos{}
	flowNames := make([]string, len(c.Flows))
	for i, f := range c.Flows {
		flowNames[i] = f.Name
	}
	for i, item := range d.items(n, "trunks") {
		name, ctx := d.name(item, "trunk", i, "name", seen)
		t := Trunk{Name: name, Pos: d.pos(item)}
		var flowSet, aclSet bool
		d.fields(item, ctx, map[string]field{
			"name":     func(*yaml.Node) {},
			"priority": d.integer(&t.Priority, ctx+": priority", MinPriority, MaxPriority),
			"outbound": func(v *yaml.Node) {
				if ap, ok := d.addrPort(v, ctx+": outbound"); ok {
					t.Outbound = ap
				}
			},
			"acl": func(v *yaml.Node) {
				aclSet = true
				for _, ref := range d.refs(v, ctx+": acl") {
					p, err := parsePrefix(ref.Name)
					if err != nil {
						d.errs.Add(ref.Pos, "%s: acl: %v", ctx, err)
						continue
					}
					t.ACL = append(t.ACL, p)
				}
			},
			"numbers": func(v *yaml.Node) {
				for _, ref := range d.refs(v, ctx+": numbers") {
					if err := checkNumberPattern(ref.Name); err != nil {
						d.errs.Add(ref.Pos, "%s: numbers: %v", ctx, err)
						continue
					}
					t.Numbers = append(t.Numbers, ref.Name)
				}
			},
			"routes": func(v *yaml.Node) {
				for key, value := range d.pairs(v, ctx+": routes") {
					if err := checkNumberPattern(key.Value); err != nil {
						d.errorf(key, "%s: routes: %v", ctx, err)
						continue
					}
					flow, ok := d.scalar(value, ctx+": routes: "+key.Value)
					if !ok {
						continue
					}
					if c.Flow(flow) == nil {
						d.errorf(d.resolve(value), "%s: routes: %s: unknown flow %q%s", ctx, key.Value, flow, hint(flow, flowNames, false))
						continue
					}
					t.Routes = append(t.Routes, Route{Number: key.Value, Flow: flow, Pos: d.pos(key)})
				}
			},
			"flow": func(v *yaml.Node) {
				s, ok := d.scalar(v, ctx+": flow")
				if !ok {
					return
				}
				flowSet = true
				if c.Flow(s) == nil {
					d.errorf(d.resolve(v), "%s: unknown flow %q%s", ctx, s, hint(s, flowNames, false))
					return
				}
				t.Flow = s
			},
		})
		if item.Kind == yaml.MappingNode {
			if !aclSet {
				d.errorf(item, "%s: acl is required (the carrier's source addresses; 0.0.0.0/0 and ::/0 accept anyone)", ctx)
			}
			if !flowSet {
				d.errorf(item, "%s: flow is required%s", ctx, hint("", flowNames, true))
			}
		}
		if len(t.Numbers) == 0 {
			t.Numbers = []string{"*"}
		}
		trunks = append(trunks, t)
	}
	return trunks
}

// parsePrefix reads a CIDR, or a bare IP as a single host.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid address %q (want a CIDR such as 192.0.2.0/24 or an IP)", s)
		}
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q (want e.g. 192.0.2.0/24 or 2001:db8::/32)", s)
	}
	// Like Asterisk's permit=, 10.1.2.3/8 means 10.0.0.0/8.
	return p.Masked(), nil
}

// checkNumberPattern accepts "*", "prefix*" and exact numbers; SIP user parts
// may hold letters and '+', but never spaces, and '*' only at the end.
func checkNumberPattern(s string) error {
	body := strings.TrimSuffix(s, "*")
	switch {
	case s == "*":
		return nil
	case s == "":
		return errors.New("empty number pattern")
	case strings.ContainsAny(body, "* \t"):
		return fmt.Errorf("invalid pattern %q (use \"*\", a prefix ending in *, or an exact number)", s)
	}
	return nil
}

func (d *decoder) flows(n *yaml.Node, c *Config) []Flow {
	var flows []Flow
	seen := map[string]Pos{}
	queueNames := make([]string, len(c.Queues))
	for i, q := range c.Queues {
		queueNames[i] = q.Name
	}
	for i, item := range d.items(n, "flows") {
		name, ctx := d.name(item, "flow", i, "name", seen)
		f := Flow{Name: name, Pos: d.pos(item)}
		var nodesNode *yaml.Node
		d.fields(item, ctx, map[string]field{
			"name":  func(*yaml.Node) {},
			"start": d.ref(&f.Start, ctx+": start"),
			"nodes": func(v *yaml.Node) { nodesNode = v; f.Nodes = d.nodes(v, ctx) },
		})
		if item.Kind != yaml.MappingNode {
			continue
		}
		if len(f.Nodes) == 0 && nodesNode == nil {
			d.errorf(item, "%s: nodes is required", ctx)
		}
		nodeNames := make([]string, len(f.Nodes))
		for i, node := range f.Nodes {
			nodeNames[i] = node.Name
		}
		checkNode := func(r Ref, what string) {
			if r.Name != "" && f.Node(r.Name) == nil {
				d.errs.Add(r.Pos, "%s: %sunknown node %q%s", ctx, what, r.Name, hint(r.Name, nodeNames, false))
			}
		}
		if f.Start.Name == "" {
			if d.lookup(item, "start") == nil {
				d.errorf(item, "%s: start is required (the first node's name)", ctx)
			}
		} else {
			checkNode(f.Start, "start: ")
		}
		for _, node := range f.Nodes {
			for _, target := range node.Targets() {
				checkNode(target, fmt.Sprintf("node %q: ", node.Name))
			}
			var queueRef Ref
			switch {
			case node.Kind == NodeQueue && node.Queue != nil:
				queueRef = node.Queue.Queue
				if strings.Contains(queueRef.Name, "${") {
					queueRef = node.Queue.Default
					node.Queue.Known = queueNames
				}
			case node.Kind == NodeCallback && node.Callback != nil:
				queueRef = node.Callback.Queue
			}
			if r := queueRef; r.Name != "" && c.Queue(r.Name) == nil {
				d.errs.Add(r.Pos, "%s: node %q: unknown queue %q%s", ctx, node.Name, r.Name, hint(r.Name, queueNames, false))
			}
		}
		flows = append(flows, f)
	}
	return flows
}

// nodeKinds decodes each node kind's settings. A new kind adds an entry.
var nodeKinds = map[string]func(d *decoder, v *yaml.Node, ctx string, node *Node){
	"menu":      (*decoder).menuNode,
	"play":      (*decoder).playNode,
	"queue":     (*decoder).queueNode,
	"hangup":    (*decoder).hangupNode,
	"goto":      (*decoder).gotoNode,
	"set":       (*decoder).setNode,
	"branch":    (*decoder).branchNode,
	"collect":   (*decoder).collectNode,
	"schedule":  (*decoder).scheduleNode,
	"voicemail": (*decoder).voicemailNode,
	"callback":  (*decoder).callbackNode,
	"http":      (*decoder).httpNode,
	"say":       (*decoder).sayNode,
	"transfer":  (*decoder).transferNode,
	"survey":    (*decoder).surveyNode,
	"subflow":   (*decoder).subflowNode,
	"return":    (*decoder).returnNode,
}

func (d *decoder) nodes(n *yaml.Node, flowCtx string) []Node {
	var nodes []Node
	kindNames := make([]string, 0, len(nodeKinds))
	for k := range nodeKinds {
		kindNames = append(kindNames, k)
	}
	slices.Sort(kindNames)
	for key, value := range d.pairs(n, flowCtx+": nodes") {
		ctx := fmt.Sprintf("%s: node %q", flowCtx, key.Value)
		node := Node{Name: key.Value, Pos: d.pos(key)}
		if !namePattern.MatchString(key.Value) {
			d.errorf(key, "%s: invalid node name (use letters, digits, _ and -, at most 64)", ctx)
		}
		if value.Kind != yaml.MappingNode {
			d.errorf(value, "%s: expected a mapping with one of %s, got %s", ctx, strings.Join(kindNames, ", "), describe(value))
			continue
		}
		for kindKey, settings := range d.pairs(value, ctx) {
			decode, ok := nodeKinds[kindKey.Value]
			switch {
			case !ok:
				d.errorf(kindKey, "%s: unknown node kind %q%s", ctx, kindKey.Value, hint(kindKey.Value, kindNames, true))
			case node.Kind != NodeUnknown:
				d.errorf(kindKey, "%s: a node has one kind, but this one has %s and %s; split it into two nodes", ctx, node.Kind, kindKey.Value)
			default:
				decode(d, settings, ctx+": "+kindKey.Value, &node)
			}
		}
		if node.Kind == NodeUnknown && len(value.Content) == 0 {
			d.errorf(value, "%s: missing node kind (one of %s)", ctx, strings.Join(kindNames, ", "))
		}
		nodes = append(nodes, node)
	}
	return nodes
}

func (d *decoder) menuNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeMenu
	m := &MenuNode{Timeout: DefaultMenuTimeout, NoInputRetries: DefaultMenuRetries, InvalidRetries: DefaultMenuRetries}
	node.Menu = m
	var hasChoices bool
	d.fields(v, ctx, map[string]field{
		"prompt":           func(v *yaml.Node) { m.Prompts = d.refs(v, ctx+": prompt") },
		"timeout":          d.duration(&m.Timeout, ctx+": timeout"),
		"no_input_prompt":  func(v *yaml.Node) { m.NoInputPrompts = d.refs(v, ctx+": no_input_prompt") },
		"no_input_retries": d.integer(&m.NoInputRetries, ctx+": no_input_retries", 0, maxRetries),
		"no_input":         d.ref(&m.NoInput, ctx+": no_input"),
		"invalid_prompt":   func(v *yaml.Node) { m.InvalidPrompts = d.refs(v, ctx+": invalid_prompt") },
		"invalid_retries":  d.integer(&m.InvalidRetries, ctx+": invalid_retries", 0, maxRetries),
		"invalid":          d.ref(&m.Invalid, ctx+": invalid"),
		"choices": func(v *yaml.Node) {
			hasChoices = true
			digits := map[byte]int{}
			for key, target := range d.pairs(v, ctx+": choices") {
				digit := strings.ToUpper(key.Value)
				if len(digit) != 1 || !IsDTMF(digit[0]) {
					d.errorf(key, "%s: choice %q is not a DTMF digit (0-9, *, #, A-D; quote * and #)", ctx, key.Value)
					continue
				}
				if line, dup := digits[digit[0]]; dup {
					d.errorf(key, "%s: digit %s chosen twice (first at line %d)", ctx, digit, line)
					continue
				}
				digits[digit[0]] = key.Line
				var r Ref
				d.ref(&r, ctx+": choices: "+digit)(target)
				if r.Name != "" {
					m.Choices = append(m.Choices, Choice{Digit: digit[0], Target: r, Pos: d.pos(key)})
				}
			}
		},
	})
	if len(m.Prompts) == 0 {
		d.errorf(v, "%s: prompt is required", ctx)
	}
	if !hasChoices {
		d.errorf(v, "%s: choices is required (e.g. choices: {\"1\": sales})", ctx)
	}
}

func (d *decoder) playNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodePlay
	p := &PlayNode{}
	node.Play = p
	var hasPrompt, hasNext bool
	d.fields(v, ctx, map[string]field{
		"prompt": func(v *yaml.Node) { hasPrompt = true; p.Prompts = d.refs(v, ctx+": prompt") },
		"next":   func(v *yaml.Node) { hasNext = true; d.ref(&p.Next, ctx+": next")(v) },
	})
	if !hasPrompt {
		d.errorf(v, "%s: prompt is required", ctx)
	}
	if !hasNext {
		d.errorf(v, "%s: next is required (the node after the prompt)", ctx)
	}
}

// queueNode accepts "queue: sales" as short for "queue: {name: sales}".
func (d *decoder) queueNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeQueue
	q := &QueueNode{}
	node.Queue = q
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		d.ref(&q.Queue, ctx)(v)
		return
	}
	var waitSet bool
	d.fields(v, ctx, map[string]field{
		"name":    d.ref(&q.Queue, ctx+": name"),
		"default": d.ref(&q.Default, ctx+": default"),
		"priority": func(n *yaml.Node) {
			q.HasPriority = true
			d.integer(&q.Priority, ctx+": priority", MinPriority, MaxPriority)(n)
		},
		"tags": func(n *yaml.Node) {
			for _, ref := range d.refs(n, ctx+": tags") {
				if !namePattern.MatchString(ref.Name) {
					d.errs.Add(ref.Pos, "%s: tags: invalid tag %q (use letters, digits, _ and -)", ctx, ref.Name)
					continue
				}
				q.Tags = append(q.Tags, ref.Name)
			}
		},
		"agent": func(n *yaml.Node) {
			s, ok := d.scalar(n, ctx+": agent")
			if !ok {
				return
			}
			if !slices.Contains(d.agentIDs, s) {
				d.errorf(d.resolve(n), "%s: agent: unknown agent %q%s", ctx, s, hint(s, d.agentIDs, false))
				return
			}
			q.Agent = s
		},
		"agent_wait": func(n *yaml.Node) {
			waitSet = true
			d.durationIn(&q.AgentWait, ctx+": agent_wait", 0, MaxDedicatedWait, "")(n)
		},
	})
	if q.Agent != "" && !waitSet {
		q.AgentWait = DefaultDedicatedWait
	}
	switch {
	case q.Queue.Name == "":
		d.errorf(v, "%s: name is required (the queue to wait in)", ctx)
	case strings.Contains(q.Queue.Name, "${"):
		if _, err := ParseTemplate(q.Queue.Name); err != nil {
			d.errs.Add(q.Queue.Pos, "%s: name: %v", ctx, err)
		}
		if q.Default.Name == "" {
			d.errorf(v, "%s: a name made of variables needs default (the queue for a value that names none)", ctx)
		}
	case q.Default.Name != "":
		d.errs.Add(q.Default.Pos, "%s: default is only for a name made of variables", ctx)
	}
}

// hangupNode accepts "hangup: {}" (or an empty "hangup:") for no prompt.
func (d *decoder) hangupNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeHangup
	h := &HangupNode{}
	node.Hangup = h
	d.fields(v, ctx, map[string]field{
		"prompt": func(v *yaml.Node) { h.Prompts = d.refs(v, ctx+": prompt") },
		"reason": d.str(&h.Reason, ctx+": reason"),
	})
	if h.Reason == "" {
		h.Reason = "hangup at node " + node.Name
	}
}

func (d *decoder) gotoNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeGoto
	g := &GotoNode{}
	node.Goto = g
	d.ref(&g.Target, ctx)(v)
}

// callbacksNeedOutbound refuses callbacks that could never be placed: a
// queue that offers them (callback_key, a callback destination) needs a
// trunk with an outbound address to call the customer through.
func (d *decoder) callbacksNeedOutbound(c *Config) {
	if c.OutboundTrunk() != nil {
		return
	}
	for _, q := range c.Queues {
		uses := q.CallbackKey != ""
		for _, dest := range []Destination{q.MaxWaitDest, q.FullDest, q.ClosedDest} {
			uses = uses || dest.Kind == DestCallback
		}
		if uses {
			d.errs.Add(q.Pos, "queue %q: callbacks need a trunk with outbound (the carrier's ip:port to call customers back through)", q.Name)
		}
	}
	for _, f := range c.Flows {
		for _, n := range f.Nodes {
			if n.Kind == NodeCallback {
				d.errs.Add(n.Pos, "flow %q: node %q: callbacks need a trunk with outbound (the carrier's ip:port to call customers back through)", f.Name, n.Name)
			}
		}
	}
}

func (d *decoder) setNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeSet
	sn := &SetNode{}
	node.Set = sn
	var hasVars bool
	d.fields(v, ctx, map[string]field{
		"vars": func(n *yaml.Node) {
			hasVars = true
			for key, value := range d.pairs(n, ctx+": vars") {
				val, ok := d.scalar(value, ctx+": vars: "+key.Value)
				if !ok {
					continue
				}
				if !d.varName(key, key.Value, ctx+": vars") {
					continue
				}
				if msg := checkWellKnownVar(key.Value, val, d.agentIDs); msg != "" {
					d.errorf(d.resolve(value), "%s: vars: %s", ctx, msg)
					continue
				}
				sn.Vars = append(sn.Vars, VarValue{Name: key.Value, Value: val, Pos: d.pos(key)})
			}
		},
		"next": d.ref(&sn.Next, ctx+": next"),
	})
	if !hasVars {
		d.errorf(v, "%s: vars is required (name: value, ...)", ctx)
	}
	if sn.Next.Name == "" {
		d.errorf(v, "%s: next is required (the node after)", ctx)
	}
}

// checkWellKnownVar checks the variables the queue reads; others take any
// value.
func checkWellKnownVar(name, value string, agentIDs []string) string {
	switch name {
	case "priority":
		if n, err := strconv.Atoi(value); err != nil || n < MinPriority || n > MaxPriority {
			return fmt.Sprintf("priority must be a whole number from %d to %d, got %q", MinPriority, MaxPriority, value)
		}
	case "vip":
		if value != "true" && value != "false" {
			return fmt.Sprintf("vip must be true or false, got %q", value)
		}
	case "dedicated_agent":
		if !slices.Contains(agentIDs, value) {
			return fmt.Sprintf("dedicated_agent: unknown agent %q%s", value, hint(value, agentIDs, false))
		}
	case "business_type":
		if !namePattern.MatchString(value) {
			return fmt.Sprintf("business_type must be a name (letters, digits, _ and -), got %q", value)
		}
	}
	return ""
}

// maxCompared bounds the numbers a branch compares variables with.
const maxCompared = 1e15

func (d *decoder) branchNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeBranch
	b := &BranchNode{}
	node.Branch = b
	d.fields(v, ctx, map[string]field{
		"cases": func(n *yaml.Node) {
			for i, item := range d.items(n, ctx+": cases") {
				cctx := fmt.Sprintf("%s: case #%d", ctx, i+1)
				c := BranchCase{Pos: d.pos(item)}
				tests := 0
				timeKeys := false
				d.fields(item, cctx, map[string]field{
					"var": d.str(&c.Var, cctx+": var"),
					"equals": func(n *yaml.Node) {
						tests++
						c.HasEquals = true
						d.str(&c.Equals, cctx+": equals")(n)
					},
					"prefix": func(n *yaml.Node) {
						tests++
						d.nonEmpty(&c.Prefix, cctx+": prefix")(n)
					},
					"in": func(n *yaml.Node) {
						tests++
						for _, ref := range d.refs(n, cctx+": in") {
							c.In = append(c.In, ref.Name)
						}
					},
					"greater_than": func(n *yaml.Node) {
						if !c.HasLessThan {
							tests++
						}
						c.HasGreaterThan = true
						d.number(&c.GreaterThan, cctx+": greater_than", -maxCompared, maxCompared, false)(n)
					},
					"less_than": func(n *yaml.Node) {
						if !c.HasGreaterThan {
							tests++
						}
						c.HasLessThan = true
						d.number(&c.LessThan, cctx+": less_than", -maxCompared, maxCompared, false)(n)
					},
					"time": func(n *yaml.Node) {
						timeKeys = true
						s, ok := d.scalar(n, cctx+": time")
						if !ok {
							return
						}
						span, err := parseSpan(s)
						if err != nil {
							d.errorf(d.resolve(n), "%s: time: %v", cctx, err)
							return
						}
						c.Time = &span
					},
					"days": func(n *yaml.Node) {
						timeKeys = true
						s, ok := d.scalar(n, cctx+": days")
						if !ok {
							return
						}
						days, err := parseDays(s)
						if err != nil {
							d.errorf(d.resolve(n), "%s: days: %v", cctx, err)
							return
						}
						c.Days = days
					},
					"timezone": func(n *yaml.Node) {
						s, ok := d.scalar(n, cctx+": timezone")
						if !ok {
							return
						}
						loc, err := time.LoadLocation(s)
						if err != nil {
							d.errorf(d.resolve(n), "%s: timezone: unknown time zone %q (an IANA name such as Asia/Shanghai)", cctx, s)
							return
						}
						c.Location = loc
					},
					"next": d.ref(&c.Next, cctx+": next"),
				})
				timeTest := timeKeys
				if c.HasGreaterThan && c.HasLessThan && c.GreaterThan >= c.LessThan {
					d.errorf(item, "%s: greater_than %g and less_than %g leave no number between them", cctx, c.GreaterThan, c.LessThan)
				}
				if timeTest && c.Location == nil {
					c.Location = time.UTC
				}
				switch {
				case timeTest && (c.Var != "" || tests > 0):
					d.errorf(item, "%s: a case tests either the time (time, days) or a variable, not both; use two branch nodes", cctx)
				case c.Location != nil && !timeTest:
					d.errorf(item, "%s: timezone needs time or days", cctx)
				case c.Var == "" && !timeTest:
					d.errorf(item, "%s: var is required (caller, called, or a variable set before), or time/days", cctx)
				case c.Var != "" && tests != 1:
					d.errorf(item, "%s: needs exactly one test: equals, prefix, in, or greater_than/less_than", cctx)
				case c.Next.Name == "":
					d.errorf(item, "%s: next is required", cctx)
				}
				b.Cases = append(b.Cases, c)
			}
		},
		"else": d.ref(&b.Else, ctx+": else"),
	})
	if len(b.Cases) == 0 {
		d.errorf(v, "%s: cases is required", ctx)
	}
	if b.Else.Name == "" {
		d.errorf(v, "%s: else is required (where a call goes when no case holds)", ctx)
	}
}

func (d *decoder) collectNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeCollect
	c := &CollectNode{Min: 1, Max: 20, Timeout: DefaultMenuTimeout, DigitTimeout: 3 * time.Second, Retries: DefaultMenuRetries}
	node.Collect = c
	d.fields(v, ctx, map[string]field{
		"prompt": func(v *yaml.Node) { c.Prompts = d.refs(v, ctx+": prompt") },
		"var": func(v *yaml.Node) {
			if s, ok := d.scalar(v, ctx+": var"); ok && d.varName(d.resolve(v), s, ctx+": var") {
				c.Var = s
			}
		},
		"min":           d.integer(&c.Min, ctx+": min", 1, 64),
		"max":           d.integer(&c.Max, ctx+": max", 1, 64),
		"timeout":       d.duration(&c.Timeout, ctx+": timeout"),
		"digit_timeout": d.duration(&c.DigitTimeout, ctx+": digit_timeout"),
		"terminator": func(v *yaml.Node) {
			s, ok := d.scalar(v, ctx+": terminator")
			if !ok {
				return
			}
			if len(s) != 1 || (s[0] != '#' && s[0] != '*') {
				d.errorf(d.resolve(v), "%s: terminator must be \"#\" or \"*\", got %q", ctx, s)
				return
			}
			c.Terminator = s[0]
		},
		"pattern": func(v *yaml.Node) {
			s, ok := d.scalar(v, ctx+": pattern")
			if !ok {
				return
			}
			if _, err := regexp.Compile(s); err != nil {
				d.errorf(d.resolve(v), "%s: pattern: %v", ctx, err)
				return
			}
			c.Pattern, c.PatternPos = s, d.pos(d.resolve(v))
		},
		"invalid_prompt": func(v *yaml.Node) { c.InvalidPrompts = d.refs(v, ctx+": invalid_prompt") },
		"retries":        d.integer(&c.Retries, ctx+": retries", 0, maxRetries),
		"next":           d.ref(&c.Next, ctx+": next"),
		"invalid":        d.ref(&c.Invalid, ctx+": invalid"),
	})
	switch {
	case len(c.Prompts) == 0:
		d.errorf(v, "%s: prompt is required", ctx)
	case c.Var == "":
		d.errorf(v, "%s: var is required (where the digits go)", ctx)
	case c.Next.Name == "":
		d.errorf(v, "%s: next is required (where a good input goes)", ctx)
	case c.Min > c.Max:
		d.errorf(v, "%s: min (%d) is more than max (%d)", ctx, c.Min, c.Max)
	}
}

func (d *decoder) scheduleNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeSchedule
	sc := &ScheduleNode{}
	node.Schedule = sc
	d.fields(v, ctx, map[string]field{
		"calendar": d.ref(&sc.Calendar, ctx+": calendar"),
		"open":     d.ref(&sc.Open, ctx+": open"),
		"closed":   d.ref(&sc.Closed, ctx+": closed"),
		"holiday":  d.ref(&sc.Holiday, ctx+": holiday"),
	})
	switch {
	case sc.Calendar.Name == "":
		d.errorf(v, "%s: calendar is required (a name under calendars)", ctx)
	case sc.Open.Name == "" || sc.Closed.Name == "":
		d.errorf(v, "%s: open and closed are required", ctx)
	}
	if sc.Calendar.Name != "" {
		names := make([]string, 0, len(d.knownCalendars))
		for i := range d.knownCalendars {
			names = append(names, d.knownCalendars[i].Name)
			if d.knownCalendars[i].Name == sc.Calendar.Name {
				sc.Cal = &d.knownCalendars[i]
			}
		}
		if sc.Cal == nil {
			d.errs.Add(sc.Calendar.Pos, "%s: calendar: unknown calendar %q%s", ctx, sc.Calendar.Name, hint(sc.Calendar.Name, names, true))
		}
	}
}

// voicemailNode accepts "voicemail: {}" (or an empty "voicemail:").
func (d *decoder) voicemailNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeVoicemail
	node.Voicemail = &VoicemailNode{}
	if !isNull(v) {
		d.fields(v, ctx, map[string]field{})
	}
}

func (d *decoder) callbackNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeCallback
	cb := &CallbackNode{}
	node.Callback = cb
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		d.ref(&cb.Queue, ctx)(v)
		return
	}
	d.fields(v, ctx, map[string]field{"queue": d.ref(&cb.Queue, ctx+": queue")})
	if cb.Queue.Name == "" {
		d.errorf(v, "%s: queue is required (where the callback waits)", ctx)
	}
}

// varName checks a call variable's name, reporting a bad one at n.
func (d *decoder) varName(n *yaml.Node, name, ctx string) bool {
	if !namePattern.MatchString(name) {
		d.errorf(n, "%s: invalid variable name %q (use letters, digits, _ and -)", ctx, name)
		return false
	}
	return true
}

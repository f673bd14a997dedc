package config

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in YAML as "5s", "1m30s" or "250ms".
type Duration = time.Duration

// Config is one parsed, validated configuration. A running call keeps the
// values it started with; a reload builds a new Config.
type Config struct {
	// Source is the file the configuration was read from.
	Source string

	SIP     SIP
	HTTP    HTTP
	DataDir string
	RTP     RTP
	Trunks  []Trunk
	Agents  []Agent
	Queues  []Queue
	Flows   []Flow
	Prompts Prompts

	// Skills are the skill names agents and queues may use.
	Skills []string
	// Phones are hot-desk devices: they register, and an agent logs in on
	// one with a feature code and a PIN.
	Phones []Phone
	// Priorities raise (or lower) the priority of calls by number.
	Priorities []PriorityRule
	// DedicatedAgents route key customers to their own advisor first.
	DedicatedAgents []DedicatedAgent
	AgentStates     AgentStates
	FeatureCodes    FeatureCodes
	// Calendars are opening hours, referenced by Queue.Hours.
	Calendars []Calendar
	// Transfers rules agents' transfers to numbers and failed transfers.
	Transfers Transfers
	// Recordings: retention, free-space floor, analytics hook.
	Recordings Recordings
	// Reports: KPI settings (the FCR window).
	Reports Reports
	// Dispositions are the wrap-up codes agents may give a call.
	Dispositions []Disposition
	// Calls bounds calls: the RTP timeout and the longest call.
	Calls Calls
	// Security keeps abusive SIP traffic out: rate limits, scanners,
	// digest lockouts, call limits (docs/security.md).
	Security Security
}

// SIP configures the SIP user agent, its registrar and digest authentication.
type SIP struct {
	// Listen is the "ip:port" hotline listens on, for both UDP and TCP.
	Listen string
	// Advertise is the IP written into Contact headers and SDP. Parse sets it
	// to Listen's IP when the file leaves it out; code that overrides Listen
	// after parsing must set Advertise as well.
	Advertise string
	// Realm is the digest authentication realm (RFC 3261 §22.4).
	Realm string
	// NonceTTL is how long a digest nonce stays valid.
	NonceTTL Duration
	// RegisterMinExpires is the shortest registration accepted; shorter ones
	// get 423 Interval Too Brief (RFC 3261 §10.3 step 7).
	RegisterMinExpires Duration
	// RegisterMaxExpires caps the registration lifetime granted.
	RegisterMaxExpires Duration
	// RegisterDefaultExpires is granted when a REGISTER asks for none.
	RegisterDefaultExpires Duration
	// UserAgent is sent in User-Agent and Server headers.
	UserAgent string
	// TLS, when set, adds SIP over TLS on a listener of its own; nil
	// means none (the demo).
	TLS *SIPTLS
}

// SIPTLS is SIP over TLS (RFC 3261 §26.2): a listener of its own with a
// certificate, optionally verifying phones' client certificates.
type SIPTLS struct {
	// Listen is the "ip:port" of the TLS listener (5061 by convention,
	// RFC 3261 §19.1.2).
	Listen string
	CertFiles
	// ClientCA is a PEM file of the CAs that verify client certificates;
	// empty asks clients for none.
	ClientCA string
	// VerifyClients refuses clients without a certificate ClientCA
	// verifies; without it, a client certificate is verified when sent.
	VerifyClients bool
}

// CertFiles are a TLS listener's certificate chain and private key, PEM
// files that Parse has loaded once to check they match. A listener reads
// them again when they change (a renewal), without a restart.
type CertFiles struct {
	Cert string
	Key  string
}

// HTTP configures the HTTP API listener and who may call it.
type HTTP struct {
	// Listen is the "ip:port" of /healthz, /metrics and /api/v1.
	Listen string
	Tokens []Token
	// TLS, when set, serves the API over HTTPS on Listen; nil means plain
	// HTTP.
	TLS *CertFiles
}

// Role is what an API token may do.
type Role uint8

// Roles, from most to least privileged.
const (
	RoleUnknown Role = iota
	RoleAdmin
	RoleSupervisor
	RoleQA
	RoleAgent
)

var roleNames = [...]string{
	RoleUnknown:    "unknown",
	RoleAdmin:      "admin",
	RoleSupervisor: "supervisor",
	RoleQA:         "qa",
	RoleAgent:      "agent",
}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// ParseRole returns the role spelled s in a configuration file, or
// RoleUnknown.
func ParseRole(s string) Role {
	for r, name := range roleNames {
		if r != int(RoleUnknown) && name == s {
			return Role(r)
		}
	}
	return RoleUnknown
}

// Token is a bearer token for the HTTP API. Exactly one of Token and
// TokenSHA256 is set.
type Token struct {
	// Name identifies the token in logs and audit records; never the secret.
	Name string
	// Token is the secret in plain text (fine for the demo, not production).
	Token string
	// TokenSHA256 is the lower-case hex SHA-256 of the secret.
	TokenSHA256 string
	Role        Role
	Pos         Pos
}

// Digest returns the SHA-256 of the token's secret, whichever way the
// configuration gave it, so that the API compares digests in constant time
// and never needs the plaintext.
func (t *Token) Digest() [sha256.Size]byte {
	if t.TokenSHA256 == "" {
		return sha256.Sum256([]byte(t.Token))
	}
	var sum [sha256.Size]byte
	// Parse has checked the hex; a hand-built bad value yields a digest no
	// secret matches.
	if n, err := hex.Decode(sum[:], []byte(t.TokenSHA256)); err != nil || n != len(sum) {
		return [sha256.Size]byte{}
	}
	return sum
}

// RTP configures the media ports.
type RTP struct {
	// PortLow and PortHigh bound the UDP ports used for RTP (even) and RTCP
	// (the odd port above, RFC 3550 §11). PortLow is even.
	PortLow  int
	PortHigh int
	// BindIP is the local IP media sockets bind to; empty means the SIP
	// advertise address.
	BindIP string
}

// Trunk is a carrier that may send calls in.
type Trunk struct {
	Name string
	// ACL lists the source networks calls from this trunk come from. A bare
	// IP in the file becomes a /32 or /128.
	ACL []netip.Prefix
	// Numbers are the called numbers this trunk may reach: "*" is any,
	// "800*" any number starting with 800, anything else an exact number.
	// Empty means any.
	Numbers []string
	// Flow is the IVR flow calls from this trunk run, unless Routes gives
	// their called number another.
	Flow string
	// Routes map called numbers (exact, or a prefix ending in *) to flows:
	// one trunk carrying several service numbers (cards, loans, the
	// complaints line), each with its own IVR.
	Routes []Route
	// Priority is the base priority of calls from this trunk, -100..100;
	// see Config.CallPriority.
	Priority int
	// Outbound is the carrier's "ip:port" (UDP) for calls hotline places,
	// such as callbacks; empty means the trunk takes no outbound calls.
	Outbound string
	Pos      Pos
}

// OutboundCallerID is the number hotline's outbound calls show: the
// trunk's first exact number (the center's own), else "anonymous" (RFC
// 3323).
func (t *Trunk) OutboundCallerID() string {
	for _, n := range t.Numbers {
		if !strings.HasSuffix(n, "*") {
			return n
		}
	}
	return "anonymous"
}

// OutboundTrunk returns the trunk that places outbound calls (callbacks):
// the first with an outbound address, or nil.
func (c *Config) OutboundTrunk() *Trunk {
	for i := range c.Trunks {
		if c.Trunks[i].Outbound != "" {
			return &c.Trunks[i]
		}
	}
	return nil
}

// Allows reports whether a call from addr may come in on this trunk.
func (t *Trunk) Allows(addr netip.Addr) bool {
	// An IPv4 peer seen on a dual-stack socket arrives as ::ffff:a.b.c.d.
	addr = addr.Unmap()
	for _, p := range t.ACL {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// AcceptsNumber reports whether the trunk may call the number called.
func (t *Trunk) AcceptsNumber(called string) bool {
	if len(t.Numbers) == 0 {
		return true
	}
	for _, pattern := range t.Numbers {
		if numberMatches(pattern, called) {
			return true
		}
	}
	return false
}

// Route sends calls to a called number (or prefix) to a flow.
type Route struct {
	Number, Flow string
	Pos          Pos
}

// FlowFor returns the flow a call to called runs: the route whose number
// matches it most closely (an exact number, else the longest prefix), else
// the trunk's Flow.
func (t *Trunk) FlowFor(called string) string {
	best, bestLen := t.Flow, -1
	for _, r := range t.Routes {
		if !numberMatches(r.Number, called) {
			continue
		}
		n := len(r.Number)
		if !strings.HasSuffix(r.Number, "*") {
			n = 1 << 30 // exact beats any prefix
		}
		if n > bestLen {
			best, bestLen = r.Flow, n
		}
	}
	return best
}

// NumberMatches reports whether number matches pattern: "*" any, "400*" a
// prefix, anything else exactly.
func NumberMatches(pattern, number string) bool { return numberMatches(pattern, number) }

func numberMatches(pattern, called string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(called, prefix)
	}
	return pattern == called
}

// Agent is a person who takes calls on a SIP phone registered as ID.
type Agent struct {
	// ID is the agent's extension: digits only, also the SIP user name.
	ID   string
	Name string
	// Password authenticates the agent's own phone (SIP digest). Empty
	// means the agent has no phone of their own and logs in on a hot-desk
	// phone with PIN; Parse requires one of the two.
	Password string
	// PIN is 4 to 12 digits, for logging in from any phone (hot-desking,
	// with a feature code or through the API). Empty means no hot-desking.
	PIN string
	// Supervisor lets the agent listen to, whisper to and barge into other
	// agents' calls (the listen, whisper and barge feature codes).
	Supervisor bool
	// Skills are the agent's skills, sorted by name.
	Skills []SkillLevel
	Pos    Pos
}

// Queue is where callers wait for an agent.
type Queue struct {
	Name string
	// Agents are the IDs of the agents who serve this queue.
	Agents []string
	// RingTimeout is how long an agent's phone rings before the call is
	// offered to the next agent.
	RingTimeout Duration
	// Music is the prompt looped while the caller waits.
	Music    string
	MusicPos Pos
	// Announce is played once when the caller enters the queue; empty means
	// none.
	Announce    string
	AnnouncePos Pos

	// Skills are requirements: agents with all of them at the given level
	// or higher serve the queue too, besides those listed in Agents.
	Skills []SkillLevel
	// Strategy picks among the agents free to take a call.
	Strategy Strategy
	// WrapUp is the after-call work time an agent gets after each call
	// from this queue before the next offer; 0 means none.
	WrapUp Duration
	// Priority is the base priority of calls entering this queue, -100..100.
	Priority int
	// AgingPerMinute is how much a waiting call's effective priority grows
	// per minute waited, so that low-priority callers are not starved;
	// 0 means strict priority.
	AgingPerMinute float64
	ServiceLevel   ServiceLevel
	// Escalation widens who may take a call, or moves it, as it waits;
	// steps are in increasing order of After.
	Escalation []EscalationStep
	Sticky     StickyAgent

	// MaxWait is the longest a caller waits before going to MaxWaitDest;
	// 0 means no limit.
	MaxWait     Duration
	MaxWaitDest Destination
	// MaxWaiting is how many callers may wait at once; the next one goes to
	// FullDest. 0 means no limit.
	MaxWaiting int
	FullDest   Destination
	// Hours names the calendar of opening hours; empty means always open.
	// Callers arriving while it is closed go to ClosedDest.
	Hours      string
	ClosedDest Destination

	// PositionEvery is how often a waiting caller hears their position and
	// estimated wait; 0 means never.
	PositionEvery Duration
	// Whisper plays the queue name (and VIP, tags) to the agent before the
	// caller is bridged.
	Whisper bool
	// AnnounceAgent tells the caller the ID of the agent who answers.
	AnnounceAgent bool
	// CallbackKey is the DTMF digit a waiting caller presses to be called
	// back instead; empty means the offer is off.
	CallbackKey string
	// CallbackMaxAttempts and CallbackRetry govern calling back, whether
	// asked for with CallbackKey or sent by a DestCallback destination.
	CallbackMaxAttempts int
	CallbackRetry       Duration

	Pos Pos
}

// Prompts configures where audio prompts come from beyond the built-in set.
type Prompts struct {
	// Dir is a folder of 8 kHz mono WAV files; "name.wav" adds or replaces
	// the prompt "name". Empty means only the built-in prompts.
	Dir string
}

// Queue returns the queue called name, or nil.
func (c *Config) Queue(name string) *Queue {
	for i := range c.Queues {
		if c.Queues[i].Name == name {
			return &c.Queues[i]
		}
	}
	return nil
}

// Agent returns the agent with the given ID, or nil.
func (c *Config) Agent(id string) *Agent {
	for i := range c.Agents {
		if c.Agents[i].ID == id {
			return &c.Agents[i]
		}
	}
	return nil
}

// Flow returns the flow called name, or nil.
func (c *Config) Flow(name string) *Flow {
	for i := range c.Flows {
		if c.Flows[i].Name == name {
			return &c.Flows[i]
		}
	}
	return nil
}

// Trunk returns the trunk called name, or nil.
func (c *Config) Trunk(name string) *Trunk {
	for i := range c.Trunks {
		if c.Trunks[i].Name == name {
			return &c.Trunks[i]
		}
	}
	return nil
}

// CheckPrompts reports queue music and announcements that name no prompt.
// Flow prompts are checked by ivr.Compile; `hotline check` runs both once the
// prompt set (built-in plus Prompts.Dir) is known.
func (c *Config) CheckPrompts(hasPrompt func(name string) bool) Errors {
	var errs Errors
	for _, q := range c.Queues {
		if q.Music != "" && !hasPrompt(q.Music) {
			errs.Add(q.MusicPos, "queue %q: unknown prompt %q for music", q.Name, q.Music)
		}
		if q.Announce != "" && !hasPrompt(q.Announce) {
			errs.Add(q.AnnouncePos, "queue %q: unknown prompt %q for announce", q.Name, q.Announce)
		}
	}
	return errs
}

package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDemoParses(t *testing.T) {
	c := Demo()
	if got := c.Trunk("carrier"); got == nil || got.Flow != "main" {
		t.Fatalf("trunk carrier = %+v, want flow main", got)
	}
	for _, q := range []struct{ name, agents string }{
		{"sales", "1001,1002"},
		{"support", "1003,1004"},
	} {
		got := c.Queue(q.name)
		if got == nil {
			t.Fatalf("queue %s missing", q.name)
		}
		if a := strings.Join(got.Agents, ","); a != q.agents || got.Music != "moh" || got.Announce != "please_hold" || got.RingTimeout != 15*time.Second {
			t.Errorf("queue %s = %+v", q.name, got)
		}
	}
	for _, id := range []string{"1001", "1002", "1003", "1004"} {
		if a := c.Agent(id); a == nil || a.Password != "demo"+id || a.Name == id {
			t.Errorf("agent %s = %+v, want password demo%s and a name", id, a, id)
		}
	}
	if len(c.HTTP.Tokens) != 1 || c.HTTP.Tokens[0].Role != RoleAdmin || c.HTTP.Tokens[0].Token != "demo-token" {
		t.Errorf("tokens = %+v", c.HTTP.Tokens)
	}
	m := c.Flow("main").Node("welcome").Menu
	if m == nil || m.Timeout != 5*time.Second || m.NoInputRetries != 1 || m.NoInput.Name != "support" ||
		m.InvalidRetries != 2 || m.Invalid.Name != "support" || len(m.Choices) != 2 {
		t.Errorf("menu welcome = %+v", m)
	}
	if c.Source != "demo.yaml" {
		t.Errorf("Source = %q", c.Source)
	}
}

func TestDefaultsFillWhatTheFileLeavesOut(t *testing.T) {
	c, err := Parse("min.yaml", []byte(`
agents: [{id: "7", password: p}]
queues: [{name: q, agents: ["7"]}]
flows:
  - name: f
    start: m
    nodes:
      m: {menu: {prompt: welcome, choices: {"1": q}}}
      q: {queue: q}
      bye: {hangup: }
trunks: [{name: t, acl: "::1", flow: f}]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := SIP{
		Listen: "127.0.0.1:5060", Advertise: "127.0.0.1", Realm: "hotline", NonceTTL: 5 * time.Minute,
		RegisterMinExpires: 60 * time.Second, RegisterMaxExpires: time.Hour, RegisterDefaultExpires: 10 * time.Minute,
		UserAgent: "hotline",
	}
	if c.SIP != want {
		t.Errorf("SIP = %+v\nwant %+v", c.SIP, want)
	}
	if c.HTTP.Listen != "127.0.0.1:8080" || c.DataDir != "./data" || c.RTP.PortLow != 20000 || c.RTP.PortHigh != 29999 {
		t.Errorf("HTTP/DataDir/RTP = %+v %q %+v", c.HTTP, c.DataDir, c.RTP)
	}
	q := c.Queue("q")
	if q.RingTimeout != 15*time.Second || q.Music != "moh" || q.Announce != "" {
		t.Errorf("queue = %+v", q)
	}
	m := c.Flow("f").Node("m").Menu
	if m.Timeout != 5*time.Second || m.NoInputRetries != 2 || m.InvalidRetries != 2 || m.NoInput.Name != "" {
		t.Errorf("menu = %+v", m)
	}
	if h := c.Flow("f").Node("bye").Hangup; h == nil || h.Reason != "hangup at node bye" {
		t.Errorf("hangup = %+v", h)
	}
	tr := c.Trunk("t")
	if len(tr.Numbers) != 1 || tr.Numbers[0] != "*" || tr.ACL[0] != netip.MustParsePrefix("::1/128") {
		t.Errorf("trunk = %+v", tr)
	}
	if c.Agent("7").Name != "7" {
		t.Errorf("agent name defaults to its ID, got %q", c.Agent("7").Name)
	}
}

func TestTrunkAllows(t *testing.T) {
	tr := Trunk{ACL: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("198.51.100.7/32"),
	}}
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{"inside v4 network", "192.0.2.200", true},
		{"outside v4 network", "192.0.3.1", false},
		{"single host", "198.51.100.7", true},
		{"next to single host", "198.51.100.8", false},
		{"v4-mapped v6 from dual-stack socket", "::ffff:192.0.2.1", true},
		{"inside v6 network", "2001:db8::1", true},
		{"outside v6 network", "2001:db9::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tr.Allows(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Allows(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestTrunkAcceptsNumber(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		called   string
		want     bool
	}{
		{"star accepts anything", []string{"*"}, "+4930123", true},
		{"no patterns accept anything", nil, "123", true},
		{"exact match", []string{"8005551000"}, "8005551000", true},
		{"exact is not a prefix", []string{"8005551000"}, "80055510001", false},
		{"prefix match", []string{"800*"}, "8005551000", true},
		{"prefix alone", []string{"800*"}, "800", true},
		{"prefix mismatch", []string{"800*"}, "8885551000", false},
		{"second pattern", []string{"900", "800*"}, "8001", true},
		{"empty called number", []string{"800*"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := Trunk{Numbers: tt.patterns}
			if got := tr.AcceptsNumber(tt.called); got != tt.want {
				t.Errorf("AcceptsNumber(%q) with %q = %v, want %v", tt.called, tt.patterns, got, tt.want)
			}
		})
	}
}

func TestTokenDigestIsTheSameForPlainAndHashed(t *testing.T) {
	sum := sha256.Sum256([]byte("s3cret"))
	tests := []struct {
		name  string
		token Token
		want  [32]byte
	}{
		{"plaintext", Token{Token: "s3cret"}, sum},
		{"hex lower", Token{TokenSHA256: hex.EncodeToString(sum[:])}, sum},
		{"bad hex matches nothing", Token{TokenSHA256: "zz"}, [32]byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.token.Digest(); got != tt.want {
				t.Errorf("Digest() = %x, want %x", got, tt.want)
			}
		})
	}
}

func TestTokenSHA256IsNormalizedToLowerCase(t *testing.T) {
	sum := sha256.Sum256([]byte("s3cret"))
	upper := strings.ToUpper(hex.EncodeToString(sum[:]))
	c, err := Parse("t.yaml", []byte("http: {tokens: [{name: ops, role: supervisor, token_sha256: "+upper+"}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	tok := c.HTTP.Tokens[0]
	if tok.TokenSHA256 != strings.ToLower(upper) || tok.Digest() != sum || tok.Role != RoleSupervisor {
		t.Errorf("token = %+v", tok)
	}
}

func TestEnumsHaveUnknownZeroAndNames(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"role zero", Role(0).String(), "unknown"},
		{"role admin", RoleAdmin.String(), "admin"},
		{"role qa", RoleQA.String(), "qa"},
		{"role out of range", Role(99).String(), "Role(99)"},
		{"parse role agent", ParseRole("agent").String(), "agent"},
		{"parse role unknown", ParseRole("unknown").String(), "unknown"},
		{"parse role typo", ParseRole("admn").String(), "unknown"},
		{"node kind zero", NodeKind(0).String(), "unknown"},
		{"node kind menu", NodeMenu.String(), "menu"},
		{"node kind goto", NodeGoto.String(), "goto"},
		{"node kind out of range", NodeKind(200).String(), "NodeKind(200)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestErrorsFormatSortedWithPositions(t *testing.T) {
	errs := Errors{
		{Pos: Pos{File: "a.yaml", Line: 9, Col: 3}, Msg: "third"},
		{Pos: Pos{File: "a.yaml", Line: 2, Col: 7}, Msg: "second"},
		{Pos: Pos{File: "a.yaml", Line: 2, Col: 1}, Msg: "first"},
		{Pos: Pos{File: "a.yaml", Line: 4}, Msg: "line only"},
		{Pos: Pos{File: "a.yaml"}, Msg: "file only"},
	}
	want := "a.yaml: file only\na.yaml:2:1: first\na.yaml:2:7: second\na.yaml:4: line only\na.yaml:9:3: third"
	if got := errs.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if errs[0].Msg != "third" {
		t.Error("Error() reordered the receiver")
	}
	var none Errors
	if none.Err() != nil {
		t.Error("empty Errors.Err() is not nil")
	}
}

func TestHintSuggestsCloseNamesInLongLists(t *testing.T) {
	long := []string{"1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010", "2001"}
	tests := []struct {
		name  string
		typo  string
		known []string
		want  string
	}{
		{"short list is listed", "suport", []string{"support", "sales"}, ` (known: sales, support)`},
		{"long list suggests the closest", "2010", long, ` (did you mean "1010"?)`},
		{"long list, nothing close", "99999999", long, ``},
		{"nothing known", "x", nil, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hint(tt.typo, tt.known, false); got != tt.want {
				t.Errorf("hint(%q) = %q, want %q", tt.typo, got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(good, DemoYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load(demo copy) = %v", err)
	}
	if c.Source != good {
		t.Errorf("Source = %q, want %q", c.Source, good)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}

	broken := filepath.Join(dir, "broken.yaml")
	typo := bytes.Replace(DemoYAML, []byte("name: support\n"), []byte("name: suport\n"), 1)
	if err := os.WriteFile(broken, typo, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(broken)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load(broken) = %v, want Errors", err)
	}
	if !strings.Contains(err.Error(), broken+":") || !strings.Contains(err.Error(), `unknown queue "support" (known: sales, suport)`) {
		t.Errorf("Load(broken) = %v", err)
	}
}

// TestDocExamplesParse parses every ```yaml block in docs/*.md as a whole
// configuration; blocks fenced as ```yaml fragment only need to be YAML.
func TestDocExamplesParse(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?ms)^```(yaml[^\\n]*)\\n(.*?)^```")
	var complete int
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatchIndex(text, -1) {
			info := string(text[m[2]:m[3]])
			body := text[m[4]:m[5]]
			line := 1 + bytes.Count(text[:m[4]], []byte("\n"))
			name := filepath.Base(doc) + ":" + strings.TrimSpace(strings.TrimPrefix(info, "yaml")) + strconv.Itoa(line)
			t.Run(name, func(t *testing.T) {
				if strings.Contains(info, "fragment") {
					var n yaml.Node
					if err := yaml.Unmarshal(body, &n); err != nil {
						t.Errorf("%s:%d: fragment is not YAML: %v", doc, line, err)
					}
					return
				}
				if _, err := Parse(doc, body); err != nil {
					t.Errorf("example at %s:%d does not parse (positions are within the block):\n%v", doc, line, err)
				}
			})
			if !strings.Contains(info, "fragment") {
				complete++
			}
		}
	}
	yamlDocs, _ := filepath.Glob(filepath.Join("..", "docs", "*.yaml"))
	for _, file := range yamlDocs {
		if _, err := Load(file); err != nil {
			t.Errorf("%v", err)
		}
		complete++
	}
	if len(docs) > 0 && complete == 0 {
		t.Error("docs have no complete YAML example to check")
	}
}

// FuzzParse checks that no input makes Parse panic, and that every failure
// is an Errors with the file name in it.
func FuzzParse(f *testing.F) {
	f.Add(DemoYAML)
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without error")
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T is not a non-empty Errors: %v", err, err)
		}
		for _, e := range errs {
			if e.Pos.File != "fuzz.yaml" {
				t.Fatalf("error without file: %v", e)
			}
		}
	})
}

package say_test

import (
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/ivr/say"
	"github.com/hotline-cc/hotline/prompts"
)

// spoken renders pieces as the words they speak (prompts/generate.sh has
// the same texts), so that tables read as sentences: "一万零一十", "one
// dollar and one cent".
func spoken(t *testing.T, lang string, pieces []string) string {
	t.Helper()
	words := make([]string, len(pieces))
	for i, piece := range pieces {
		name, ok := strings.CutPrefix(piece, "say/"+lang+"/")
		word, known := pieceWords[lang][name]
		if !ok || !known {
			t.Fatalf("piece %q is not one of %s's", piece, lang)
		}
		words[i] = word
	}
	if lang == "zh" {
		return strings.Join(words, "")
	}
	return strings.Join(words, " ")
}

var pieceWords = map[string]map[string]string{
	"en": func() map[string]string {
		words := map[string]string{}
		for i, w := range strings.Fields("zero one two three four five six seven eight nine ten eleven twelve " +
			"thirteen fourteen fifteen sixteen seventeen eighteen nineteen") {
			words[strconv.Itoa(i)] = w
		}
		for i, w := range strings.Fields("twenty thirty forty fifty sixty seventy eighty ninety") {
			words[strconv.Itoa(20+10*i)] = w
		}
		for i, w := range strings.Fields("first second third fourth fifth sixth seventh eighth ninth tenth " +
			"eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth") {
			suffix := "th"
			if i < 3 {
				suffix = []string{"st", "nd", "rd"}[i]
			}
			words[strconv.Itoa(i+1)+suffix] = w
		}
		words["20th"], words["30th"] = "twentieth", "thirtieth"
		for _, w := range strings.Fields("hundred thousand million billion minus dollar dollars cent cents and oh " +
			"january february march april may june july august september october november december") {
			words[w] = w
		}
		words["agent_number"] = "agent number"
		return words
	}(),
	"zh": func() map[string]string {
		words := map[string]string{}
		for i, w := range []rune("零一二三四五六七八九") {
			words[strconv.Itoa(i)] = string(w)
		}
		for piece, w := range map[string]string{"yao": "幺", "10": "十", "100": "百", "1000": "千",
			"10000": "万", "100000000": "亿", "liang": "两", "fu": "负", "yuan": "元", "jiao": "角",
			"fen": "分", "nian": "年", "yue": "月", "ri": "日", "gonghao": "工号"} {
			words[piece] = w
		}
		return words
	}(),
}

type sayCase struct {
	lang  string
	kind  say.Kind
	value string
	want  string // spoken words; empty: an error is expected
}

func runCases(t *testing.T, tests []sayCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.kind.String()+"/"+tt.value, func(t *testing.T) {
			pieces, err := say.Pieces(tt.lang, tt.kind, tt.value)
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("Pieces = %q (%s), want an error", pieces, spoken(t, tt.lang, pieces))
			case tt.want == "":
				if !strings.Contains(err.Error(), tt.kind.String()) {
					t.Errorf("error %q does not say which kind", err)
				}
			case err != nil:
				t.Fatalf("Pieces: %v, want %s", err, tt.want)
			default:
				if got := spoken(t, tt.lang, pieces); got != tt.want {
					t.Fatalf("Pieces = %q\nspeaks %s\nwant   %s", pieces, got, tt.want)
				}
			}
		})
	}
}

func TestNumber(t *testing.T) {
	runCases(t, []sayCase{
		{"en", say.Number, "0", "zero"},
		{"en", say.Number, "7", "seven"},
		{"en", say.Number, "10", "ten"},
		{"en", say.Number, "11", "eleven"},
		{"en", say.Number, "20", "twenty"},
		{"en", say.Number, "42", "forty two"},
		{"en", say.Number, "100", "one hundred"},
		{"en", say.Number, "101", "one hundred one"},
		{"en", say.Number, "110", "one hundred ten"},
		{"en", say.Number, "1000", "one thousand"},
		{"en", say.Number, "1005", "one thousand five"},
		{"en", say.Number, "10010", "ten thousand ten"},
		{"en", say.Number, "20000", "twenty thousand"},
		{"en", say.Number, "123405", "one hundred twenty three thousand four hundred five"},
		{"en", say.Number, "200000000", "two hundred million"},
		{"en", say.Number, "100000001", "one hundred million one"},
		{"en", say.Number, "1000000000", "one billion"},
		{"en", say.Number, "999999999999", "nine hundred ninety nine billion nine hundred ninety nine million " +
			"nine hundred ninety nine thousand nine hundred ninety nine"},
		{"en", say.Number, "-15", "minus fifteen"},
		{"en", say.Number, "-0", "zero"},
		{"en", say.Number, "007", "seven"},
		{"en", say.Number, " 12\n", "twelve"},

		{"zh", say.Number, "0", "零"},
		{"zh", say.Number, "2", "二"},
		{"zh", say.Number, "10", "十"},
		{"zh", say.Number, "11", "十一"},
		{"zh", say.Number, "12", "十二"},
		{"zh", say.Number, "20", "二十"},
		{"zh", say.Number, "22", "二十二"},
		{"zh", say.Number, "100", "一百"},
		{"zh", say.Number, "101", "一百零一"},
		{"zh", say.Number, "110", "一百一十"},
		{"zh", say.Number, "112", "一百一十二"},
		{"zh", say.Number, "200", "两百"},
		{"zh", say.Number, "220", "两百二十"},
		{"zh", say.Number, "1000", "一千"},
		{"zh", say.Number, "1005", "一千零五"},
		{"zh", say.Number, "1200", "一千二百"},
		{"zh", say.Number, "2000", "两千"},
		{"zh", say.Number, "2222", "两千二百二十二"},
		{"zh", say.Number, "10002", "一万零二"},
		{"zh", say.Number, "10010", "一万零一十"},
		{"zh", say.Number, "10100", "一万零一百"},
		{"zh", say.Number, "12000", "一万两千"},
		{"zh", say.Number, "20000", "两万"},
		{"zh", say.Number, "100000", "十万"},
		{"zh", say.Number, "101000", "十万一千"},
		{"zh", say.Number, "120000", "十二万"},
		{"zh", say.Number, "200000", "二十万"},
		{"zh", say.Number, "2000000", "两百万"},
		{"zh", say.Number, "10020000", "一千零二万"},
		{"zh", say.Number, "200000000", "两亿"},
		{"zh", say.Number, "200020000", "两亿零二万"},
		{"zh", say.Number, "100000001", "一亿零一"},
		{"zh", say.Number, "100001000", "一亿零一千"},
		{"zh", say.Number, "110000000", "一亿一千万"},
		{"zh", say.Number, "1000000000", "十亿"},
		{"zh", say.Number, "999999999999", "九千九百九十九亿九千九百九十九万九千九百九十九"},
		{"zh", say.Number, "-12", "负十二"},
		{"zh", say.Number, "-0", "零"},

		{"en", say.Number, "", ""},
		{"en", say.Number, "-", ""},
		{"en", say.Number, "--1", ""},
		{"en", say.Number, "+1", ""},
		{"en", say.Number, "abc", ""},
		{"en", say.Number, "1.5", ""},
		{"en", say.Number, "1,000", ""},
		{"en", say.Number, "1 000", ""},
		{"en", say.Number, "1_000", ""},
		{"en", say.Number, "0x10", ""},
		{"en", say.Number, "1000000000000", ""},
		{"zh", say.Number, "-1000000000000", ""},
		{"zh", say.Number, "99999999999999999999999", ""},
		{"zh", say.Number, "１２", ""}, // full-width digits
	})
}

func TestDigitsAndAgentID(t *testing.T) {
	runCases(t, []sayCase{
		{"en", say.Digits, "4008123", "four zero zero eight one two three"},
		{"en", say.Digits, "0", "zero"},
		{"zh", say.Digits, "13800138000", "幺三八零零幺三八零零零"},
		{"zh", say.Digits, "007", "零零七"},
		{"en", say.AgentID, "1024", "agent number one zero two four"},
		{"zh", say.AgentID, "1024", "工号幺零二四"},
		{"zh", say.AgentID, "0711", "工号零七幺幺"},
		{"en", say.Digits, strings.Repeat("9", say.MaxDigits), strings.TrimSpace(strings.Repeat("nine ", say.MaxDigits))},

		{"en", say.Digits, "", ""},
		{"en", say.Digits, "12a", ""},
		{"en", say.Digits, "*21", ""},
		{"en", say.Digits, "12#", ""},
		{"en", say.Digits, "-1", ""},
		{"zh", say.Digits, "138 0013", ""},
		{"zh", say.Digits, strings.Repeat("1", say.MaxDigits+1), ""},
		{"en", say.AgentID, "", ""},
		{"zh", say.AgentID, "A12", ""},
	})
}

func TestAmount(t *testing.T) {
	runCases(t, []sayCase{
		{"en", say.Amount, "123.45", "one hundred twenty three dollars and forty five cents"},
		{"en", say.Amount, "1", "one dollar"},
		{"en", say.Amount, "1.01", "one dollar and one cent"},
		{"en", say.Amount, "0.45", "forty five cents"},
		{"en", say.Amount, "0.01", "one cent"},
		{"en", say.Amount, "0.5", "fifty cents"},
		{"en", say.Amount, "5", "five dollars"},
		{"en", say.Amount, "5.00", "five dollars"},
		{"en", say.Amount, "5.0", "five dollars"},
		{"en", say.Amount, "0", "zero dollars"},
		{"en", say.Amount, "0.00", "zero dollars"},
		{"en", say.Amount, "-0.00", "zero dollars"},
		{"en", say.Amount, "-3.5", "minus three dollars and fifty cents"},
		{"en", say.Amount, "-0.05", "minus five cents"},
		{"en", say.Amount, "1000000", "one million dollars"},

		{"zh", say.Amount, "123.45", "一百二十三元四角五分"},
		{"zh", say.Amount, "10.05", "十元零五分"},
		{"zh", say.Amount, "10.5", "十元五角"},
		{"zh", say.Amount, "1.05", "一元零五分"},
		{"zh", say.Amount, "0.5", "五角"},
		{"zh", say.Amount, "0.05", "五分"},
		{"zh", say.Amount, "0.55", "五角五分"},
		{"zh", say.Amount, "3", "三元"},
		{"zh", say.Amount, "3.40", "三元四角"},
		{"zh", say.Amount, "2", "两元"},
		{"zh", say.Amount, "2.22", "两元两角两分"},
		{"zh", say.Amount, "12", "十二元"},
		{"zh", say.Amount, "22", "二十二元"},
		{"zh", say.Amount, "20000.00", "两万元"},
		{"zh", say.Amount, "100.00", "一百元"},
		{"zh", say.Amount, "0", "零元"},
		{"zh", say.Amount, "-3.5", "负三元五角"},
		{"zh", say.Amount, "-0", "零元"},

		{"en", say.Amount, "", ""},
		{"en", say.Amount, "1.234", ""},
		{"en", say.Amount, ".5", ""},
		{"en", say.Amount, "5.", ""},
		{"en", say.Amount, "1.x", ""},
		{"en", say.Amount, "1.-5", ""},
		{"en", say.Amount, "1.2.3", ""},
		{"en", say.Amount, "1e3", ""},
		{"en", say.Amount, "$5", ""},
		{"zh", say.Amount, "1,000.00", ""},
		{"zh", say.Amount, "1000000000000.00", ""},
		{"zh", say.Amount, "-", ""},
	})
}

func TestDate(t *testing.T) {
	runCases(t, []sayCase{
		{"en", say.Date, "2026-10-01", "october first twenty twenty six"},
		{"en", say.Date, "2026-10-01T23:30:00-05:00", "october first twenty twenty six"},
		{"en", say.Date, "2026-10-01T23:30:00.5Z", "october first twenty twenty six"},
		{"en", say.Date, "2000-02-29", "february twenty ninth two thousand"},
		{"en", say.Date, "2005-03-03", "march third two thousand five"},
		{"en", say.Date, "2010-12-21", "december twenty first twenty ten"},
		{"en", say.Date, "2011-05-22", "may twenty second twenty eleven"},
		{"en", say.Date, "1999-07-04", "july fourth nineteen ninety nine"},
		{"en", say.Date, "1905-11-13", "november thirteenth nineteen oh five"},
		{"en", say.Date, "1900-01-20", "january twentieth nineteen hundred"},
		{"en", say.Date, "2100-08-30", "august thirtieth twenty one hundred"},
		{"en", say.Date, "2026-01-31", "january thirty first twenty twenty six"},
		{"en", say.Date, "1000-06-11", "june eleventh one thousand"},
		{"en", say.Date, "3001-09-02", "september second three thousand one"},

		{"zh", say.Date, "2026-10-01", "二零二六年十月一日"},
		{"zh", say.Date, "2026-10-01T08:00:00+08:00", "二零二六年十月一日"},
		{"zh", say.Date, "2011-02-22", "二零一一年二月二十二日"},
		{"zh", say.Date, "2000-12-31", "二零零零年十二月三十一日"},
		{"zh", say.Date, "1999-11-10", "一九九九年十一月十日"},

		{"en", say.Date, "", ""},
		{"en", say.Date, "2026-02-30", ""},
		{"en", say.Date, "2026-13-01", ""},
		{"en", say.Date, "2026-1-1", ""},
		{"en", say.Date, "20261001", ""},
		{"en", say.Date, "01/10/2026", ""},
		{"en", say.Date, "2026-10-01T25:00:00Z", ""},
		{"zh", say.Date, "0999-01-01", ""},
		{"zh", say.Date, "yesterday", ""},
	})
}

func TestPiecesRefusesUnknownLanguageAndKind(t *testing.T) {
	if _, err := say.Pieces("fr", say.Number, "1"); err == nil || !strings.Contains(err.Error(), "en, zh") {
		t.Errorf("unknown language: %v", err)
	}
	for _, kind := range []say.Kind{0, say.AgentID + 1} {
		if _, err := say.Pieces("en", kind, "1"); err == nil {
			t.Errorf("kind %d accepted", kind)
		}
	}
	if say.Required("fr") != nil {
		t.Error("Required(fr) is not nil")
	}
}

func TestKindNames(t *testing.T) {
	for _, name := range []string{"number", "digits", "amount", "date", "agent_id"} {
		kind, ok := say.ParseKind(name)
		if !ok || kind.String() != name {
			t.Errorf("ParseKind(%q) = %v, %v", name, kind, ok)
		}
	}
	for _, name := range []string{"", "Number", "agentid", "Kind(0)"} {
		if kind, ok := say.ParseKind(name); ok {
			t.Errorf("ParseKind(%q) = %v", name, kind)
		}
	}
	if s := say.Kind(0).String(); s != "Kind(0)" {
		t.Errorf("Kind(0) = %q", s)
	}
}

func TestLanguages(t *testing.T) {
	if got := say.Languages(); !slices.Equal(got, []string{"en", "zh"}) {
		t.Fatalf("Languages = %q", got)
	}
}

// The embedded prompts hold every piece a language needs, and no piece
// nothing needs (a renamed piece left behind).
func TestRequiredPiecesAreEmbedded(t *testing.T) {
	for _, lang := range say.Languages() {
		required := say.Required(lang)
		if !slices.IsSorted(required) || len(slices.Compact(slices.Clone(required))) != len(required) {
			t.Errorf("Required(%s) is not sorted and unique: %q", lang, required)
		}
		for _, name := range required {
			if _, err := fs.Stat(prompts.FS, name+".wav"); err != nil {
				t.Errorf("%s: %v", lang, err)
			}
			piece := path.Base(name)
			if _, ok := pieceWords[lang][piece]; !ok {
				t.Errorf("test table has no words for %s", name)
			}
		}
		files, err := fs.Glob(prompts.FS, "say/"+lang+"/*")
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if !slices.Contains(required, strings.TrimSuffix(file, ".wav")) {
				t.Errorf("%s is embedded but not Required(%s)", file, lang)
			}
		}
	}
}

// Every value, valid or not, gets pieces from Required or an error.
func TestPiecesAreRequired(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []string{"0", "-0", "2", "10", "20", "200", "2000", "20000", "200000000", "-1", "0.5", "1.01",
		strconv.Itoa(say.MaxNumber), "2026-02-28", "2000-01-01", "1900-12-31"}
	for range 20000 {
		values = append(values,
			strconv.FormatInt(rng.Int64N(2*say.MaxNumber+1)-say.MaxNumber, 10),
			strconv.FormatUint(rng.Uint64N(10000)*pow10(rng.IntN(9)), 10),
			strconv.Itoa(rng.IntN(10000))+"."+strconv.Itoa(rng.IntN(100)),
			strconv.Itoa(say.MinYear+rng.IntN(say.MaxYear-say.MinYear+1))+"-"+
				twoDigits(1+rng.IntN(12))+"-"+twoDigits(1+rng.IntN(31)),
		)
	}
	for _, lang := range say.Languages() {
		required := say.Required(lang)
		used := map[string]bool{}
		for _, value := range values {
			for kind := say.Number; kind <= say.AgentID; kind++ {
				pieces, err := say.Pieces(lang, kind, value)
				if err == nil && len(pieces) == 0 {
					t.Fatalf("%s %v %q: no pieces and no error", lang, kind, value)
				}
				for _, piece := range pieces {
					if _, found := slices.BinarySearch(required, piece); !found {
						t.Fatalf("%s %v %q: piece %q is not in Required", lang, kind, value, piece)
					}
					used[piece] = true
				}
			}
		}
		// And Required lists nothing these values never use.
		for _, name := range required {
			if !used[name] {
				t.Errorf("%s is Required but never spoken", name)
			}
		}
	}
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func FuzzPieces(f *testing.F) {
	for _, value := range []string{"0", "-12", "10010", "999999999999", "1000000000000", "123.45", "-0.05",
		"1.234", "2026-10-01", "2026-10-01T23:30:00-05:00", "4008123", "", "-", "1e3", "１２"} {
		f.Add("zh", uint8(say.Number), value)
		f.Add("en", uint8(say.Date), value)
	}
	required := map[string][]string{}
	for _, lang := range say.Languages() {
		required[lang] = say.Required(lang)
	}
	f.Fuzz(func(t *testing.T, lang string, kind uint8, value string) {
		pieces, err := say.Pieces(lang, say.Kind(kind), value)
		if err != nil {
			if pieces != nil {
				t.Fatalf("pieces %q with error %v", pieces, err)
			}
			return
		}
		if len(pieces) == 0 {
			t.Fatal("no pieces and no error")
		}
		for _, piece := range pieces {
			if _, found := slices.BinarySearch(required[lang], piece); !found {
				t.Fatalf("%s %v %q: piece %q is not in Required", lang, say.Kind(kind), value, piece)
			}
		}
	})
}

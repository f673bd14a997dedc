// Package say turns a value (a number, a digit string, an amount of money, a
// date, an agent's ID) into the prompts that speak it in a language: the
// grammar behind the IVR's say node.
//
// Pieces returns prompt names such as "say/en/7" or "say/zh/10000": the
// files say/LANG/NAME.wav that package prompts embeds (prompts/generate.sh
// has each piece's text) and that an administrator's prompt folder may
// override, file by file. Names are ASCII in every language ("say/zh/10000"
// is 万, "say/zh/yuan" is 元) so that they survive any file system.
//
// The package is pure: it imports only the standard library, does no I/O and
// keeps no state, so the IVR may call it from any goroutine.
package say

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what a value is spoken as.
type Kind uint8

const (
	// Number is an integer, "-1234", spoken as a quantity: "one thousand two
	// hundred thirty four", 一千二百三十四.
	Number Kind = iota + 1
	// Digits is a string of digits, "4008123", spoken one by one, the way a
	// phone number is read back (in Chinese, 1 is 幺).
	Digits
	// Amount is money, "123.45" (at most two decimals), in the language's
	// currency: dollars and cents, 元角分.
	Amount
	// Date is "2026-10-01", or an RFC 3339 time whose date part, as written
	// (in the time's own offset), is spoken.
	Date
	// AgentID is an agent's number, spoken as Digits after "agent number",
	// 工号 (工号播报).
	AgentID
)

var kindNames = [...]string{Number: "number", Digits: "digits", Amount: "amount", Date: "date", AgentID: "agent_id"}

// String returns the kind's name in configuration files ("agent_id").
func (k Kind) String() string {
	if k >= Number && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the kind named s in configuration files: "number",
// "digits", "amount", "date" or "agent_id".
func ParseKind(s string) (Kind, bool) {
	for k := Number; int(k) < len(kindNames); k++ {
		if kindNames[k] == s {
			return k, true
		}
	}
	return 0, false
}

// Limits on values, so that a say node never reads out an essay.
const (
	// MaxNumber is the largest Number, and the largest whole part of an
	// Amount, that can be spoken: the largest with English words up to
	// "billion" and Chinese up to 亿 (9999亿9999万9999 would fit, but the
	// two languages accept the same values).
	MaxNumber = 999_999_999_999
	// MaxDigits is the longest Digits or AgentID value: room for any phone
	// number (15 digits in E.164), card or account number.
	MaxDigits = 32
	// Years of a Date must be within MinYear-MaxYear: four digits, which
	// both languages read in their usual way.
	MinYear, MaxYear = 1000, 9999
)

// A language's grammar turns parsed values into piece names, without the
// "say/LANG/" prefix. Values are valid by the time they get here.
type grammar struct {
	number  func(neg bool, n uint64) []string
	digits  func(s string) []string
	amount  func(neg bool, whole uint64, cents int) []string
	date    func(year, month, day int) []string
	agentID func(id string) []string
	// pieces is every name the functions above may return.
	pieces []string
}

var grammars = map[string]*grammar{
	"en": english,
	"zh": mandarin,
}

// Languages returns the languages Pieces speaks, sorted: "en" (American
// English) and "zh" (Mandarin Chinese).
func Languages() []string {
	langs := make([]string, 0, len(grammars))
	for lang := range grammars {
		langs = append(langs, lang)
	}
	slices.Sort(langs)
	return langs
}

// Required returns every prompt name Pieces may return for lang, sorted, so
// that a configuration check can report a missing piece before a call needs
// it; nil for a language Pieces does not speak.
func Required(lang string) []string {
	g := grammars[lang]
	if g == nil {
		return nil
	}
	names := make([]string, len(g.pieces))
	for i, piece := range g.pieces {
		names[i] = promptName(lang, piece)
	}
	slices.Sort(names)
	return names
}

// Pieces returns the prompt names that, played in order, speak value as kind
// in lang. Surrounding white space in value is ignored (values often come
// from an HTTP lookup or a database). The error says why value cannot be
// spoken: an unknown language or kind, or a value that is not a kind's
// format or is out of its range; the IVR then skips the say node's audio and
// logs the error.
func Pieces(lang string, kind Kind, value string) ([]string, error) {
	g := grammars[lang]
	if g == nil {
		return nil, fmt.Errorf("say: unknown language %q (want one of %s)", lang, strings.Join(Languages(), ", "))
	}
	value = strings.TrimSpace(value)
	var pieces []string
	switch kind {
	case Number:
		neg, n, err := parseNumber(value)
		if err != nil {
			return nil, valueError(kind, value, err)
		}
		pieces = g.number(neg, n)
	case Digits, AgentID:
		if err := checkDigits(value); err != nil {
			return nil, valueError(kind, value, err)
		}
		if kind == Digits {
			pieces = g.digits(value)
		} else {
			pieces = g.agentID(value)
		}
	case Amount:
		neg, whole, cents, err := parseAmount(value)
		if err != nil {
			return nil, valueError(kind, value, err)
		}
		pieces = g.amount(neg, whole, cents)
	case Date:
		year, month, day, err := parseDate(value)
		if err != nil {
			return nil, valueError(kind, value, err)
		}
		pieces = g.date(year, month, day)
	default:
		return nil, fmt.Errorf("say: unknown kind %v", kind)
	}
	for i, piece := range pieces {
		pieces[i] = promptName(lang, piece)
	}
	return pieces, nil
}

func promptName(lang, piece string) string {
	return "say/" + lang + "/" + piece
}

func valueError(kind Kind, value string, err error) error {
	return fmt.Errorf("say: %v %q: %w", kind, value, err)
}

var (
	errEmpty      = errors.New("empty")
	errNotInteger = errors.New("not an integer")
	errTooLarge   = fmt.Errorf("larger than %d", MaxNumber)
)

// parseNumber parses "-?[0-9]+" up to MaxNumber. Leading zeros are allowed
// ("007" is 7): values come from systems that pad. -0 is 0, spoken without
// the minus.
func parseNumber(s string) (neg bool, n uint64, err error) {
	s, neg = strings.CutPrefix(s, "-")
	if s == "" {
		return false, 0, errNotInteger
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false, 0, errNotInteger
		}
	}
	n, err = strconv.ParseUint(s, 10, 64)
	if err != nil || n > MaxNumber { // only ErrRange is left
		return false, 0, errTooLarge
	}
	return neg && n != 0, n, nil
}

// checkDigits accepts 1 to MaxDigits digits 0-9. '*' and '#' are refused:
// there are no pieces for them.
func checkDigits(s string) error {
	if s == "" {
		return errEmpty
	}
	if len(s) > MaxDigits {
		return fmt.Errorf("longer than %d digits", MaxDigits)
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return fmt.Errorf("%q is not a digit", rune(c))
		}
	}
	return nil
}

// parseAmount parses "-?[0-9]+(\.[0-9]{1,2})?" with a whole part up to
// MaxNumber; cents is 0-99 ("0.5" is 50 cents). A zero amount has no minus.
func parseAmount(s string) (neg bool, whole uint64, cents int, err error) {
	wholePart, fraction, hasPoint := strings.Cut(s, ".")
	neg, whole, err = parseNumber(wholePart)
	if err != nil {
		if errors.Is(err, errNotInteger) {
			err = errors.New("not an amount like 123.45")
		}
		return false, 0, 0, err
	}
	if hasPoint {
		if len(fraction) < 1 || len(fraction) > 2 || fraction[0] < '0' || fraction[0] > '9' ||
			len(fraction) == 2 && (fraction[1] < '0' || fraction[1] > '9') {
			return false, 0, 0, errors.New("not an amount like 123.45 (at most two decimals)")
		}
		cents = int(fraction[0]-'0') * 10
		if len(fraction) == 2 {
			cents += int(fraction[1] - '0')
		}
	}
	// "-0.00" is zero; parseNumber cleared neg for a zero whole part only.
	neg = strings.HasPrefix(s, "-") && (whole != 0 || cents != 0)
	return neg, whole, cents, nil
}

// parseDate accepts "2006-01-02" or an RFC 3339 time, whose date is taken
// as written: "2026-10-01T23:30:00-05:00" is October 1st, wherever the
// server is.
func parseDate(s string) (year, month, day int, err error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		return 0, 0, 0, errors.New("not a date like 2026-10-01 or an RFC 3339 time")
	}
	if t.Year() < MinYear || t.Year() > MaxYear {
		return 0, 0, 0, fmt.Errorf("year outside %d-%d", MinYear, MaxYear)
	}
	return t.Year(), int(t.Month()), t.Day(), nil
}

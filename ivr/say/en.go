package say

import "strconv"

// english reads the way a US bank's IVR does: "one hundred twenty three"
// (no "and" inside numbers), "five dollars and one cent", "October first,
// twenty twenty six", "agent number four two".
//
// Pieces: "0" to "19", "20" to "90" by tens, "hundred", "thousand",
// "million", "billion", "minus", "dollar(s)", "cent(s)", "and", "oh" (1905,
// "nineteen oh five"), "january" to "december", the ordinals "1st" to
// "19th", "20th" and "30th" (the 21st is "20" "1st"), and "agent_number".
var english = &grammar{
	number:  enNumber,
	digits:  enDigits,
	amount:  enAmount,
	date:    enDate,
	agentID: func(id string) []string { return append([]string{"agent_number"}, enDigits(id)...) },
	pieces:  enPieces(),
}

var enMonths = [...]string{"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"}

func enPieces() []string {
	var pieces []string
	for n := range 20 {
		pieces = append(pieces, strconv.Itoa(n))
	}
	for n := 20; n < 100; n += 10 {
		pieces = append(pieces, strconv.Itoa(n))
	}
	for day := 1; day < 20; day++ {
		pieces = append(pieces, enOrdinalPiece(day))
	}
	pieces = append(pieces, "20th", "30th")
	pieces = append(pieces, enMonths[:]...)
	return append(pieces, "hundred", "thousand", "million", "billion", "minus",
		"dollar", "dollars", "cent", "cents", "and", "oh", "agent_number")
}

func enNumber(neg bool, n uint64) []string {
	var pieces []string
	if neg {
		pieces = append(pieces, "minus")
	}
	return appendEnNumber(pieces, n)
}

// appendEnNumber appends n ≤ MaxNumber in words: three-digit groups, each
// followed by its scale.
func appendEnNumber(pieces []string, n uint64) []string {
	if n == 0 {
		return append(pieces, "0")
	}
	scales := []struct {
		size uint64
		name string
	}{{1e9, "billion"}, {1e6, "million"}, {1e3, "thousand"}, {1, ""}}
	for _, scale := range scales {
		group := n / scale.size % 1000
		if group == 0 {
			continue
		}
		pieces = appendEnBelowThousand(pieces, int(group))
		if scale.name != "" {
			pieces = append(pieces, scale.name)
		}
	}
	return pieces
}

// appendEnBelowThousand appends 1 ≤ n ≤ 999: "three hundred", "forty two".
func appendEnBelowThousand(pieces []string, n int) []string {
	if n >= 100 {
		pieces = append(pieces, strconv.Itoa(n/100), "hundred")
		n %= 100
	}
	switch {
	case n == 0:
	case n < 20:
		pieces = append(pieces, strconv.Itoa(n))
	default:
		pieces = append(pieces, strconv.Itoa(n/10*10))
		if n%10 != 0 {
			pieces = append(pieces, strconv.Itoa(n%10))
		}
	}
	return pieces
}

func enDigits(s string) []string {
	pieces := make([]string, len(s))
	for i, c := range []byte(s) {
		pieces[i] = string(c)
	}
	return pieces
}

// enAmount says dollars, then "and" cents, leaving out a zero part: "five
// dollars", "forty five cents", "one dollar and one cent", "zero dollars".
func enAmount(neg bool, whole uint64, cents int) []string {
	var pieces []string
	if neg {
		pieces = append(pieces, "minus")
	}
	if whole > 0 || cents == 0 {
		pieces = appendEnNumber(pieces, whole)
		pieces = append(pieces, plural(whole == 1, "dollar", "dollars"))
	}
	if cents > 0 {
		if whole > 0 {
			pieces = append(pieces, "and")
		}
		pieces = appendEnNumber(pieces, uint64(cents))
		pieces = append(pieces, plural(cents == 1, "cent", "cents"))
	}
	return pieces
}

func plural(one bool, singular, plural string) string {
	if one {
		return singular
	}
	return plural
}

// enDate says "October first, twenty twenty six".
func enDate(year, month, day int) []string {
	pieces := []string{enMonths[month-1]}
	if day > 20 && day%10 != 0 {
		pieces = append(pieces, strconv.Itoa(day/10*10))
		day %= 10
	}
	pieces = append(pieces, enOrdinalPiece(day))
	return appendEnYear(pieces, year)
}

// enOrdinalPiece names the piece of day 1-20 or 30: "1st", "12th", "30th".
func enOrdinalPiece(day int) string {
	suffix := "th"
	switch day {
	case 1:
		suffix = "st"
	case 2:
		suffix = "nd"
	case 3:
		suffix = "rd"
	}
	return strconv.Itoa(day) + suffix
}

// appendEnYear reads a year of MinYear-MaxYear as Americans do: by its two
// halves ("nineteen eighty four", "twenty twenty six", "twenty ten"), "oh"
// before a single digit ("nineteen oh five"), "hundred" for a whole century
// ("nineteen hundred"), but "two thousand", "two thousand five" for the
// thousands and the years just after them.
func appendEnYear(pieces []string, year int) []string {
	century, rest := year/100, year%100
	switch {
	case century%10 == 0 && rest < 10: // 2000, 2005, 1000, 3001
		pieces = appendEnBelowThousand(pieces, year/1000)
		pieces = append(pieces, "thousand")
		if rest > 0 {
			pieces = append(pieces, strconv.Itoa(rest))
		}
		return pieces
	case rest == 0: // 1900, 2100
		pieces = appendEnBelowThousand(pieces, century)
		return append(pieces, "hundred")
	case rest < 10: // 1905, 2105
		pieces = appendEnBelowThousand(pieces, century)
		return append(pieces, "oh", strconv.Itoa(rest))
	default: // 1984, 2010, 2026
		pieces = appendEnBelowThousand(pieces, century)
		return appendEnBelowThousand(pieces, rest)
	}
}

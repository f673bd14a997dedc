package say

import "strconv"

// mandarin reads the way a Chinese call centre does: numbers grouped by 万
// and 亿 (一万零一十, 两百, 十二), digit strings with 幺 for 1
// (幺三八…), money in 元角分 (十元零五分), dates as 二零二六年十月一日,
// and 工号 before an agent's number.
//
// Pieces, named in ASCII: "0" to "9" (零 to 九; "0" is also the 零 inside
// numbers), "yao" (幺), "10", "100", "1000", "10000", "100000000" (十 百 千
// 万 亿), "liang" (两), "fu" (负), "yuan", "jiao", "fen" (元 角 分), "nian",
// "yue", "ri" (年 月 日) and "gonghao" (工号).
var mandarin = &grammar{
	number:  zhNumber,
	digits:  zhDigits,
	amount:  zhAmount,
	date:    zhDate,
	agentID: func(id string) []string { return append([]string{"gonghao"}, zhDigits(id)...) },
	pieces: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "yao",
		"10", "100", "1000", "10000", "100000000", "liang", "fu",
		"yuan", "jiao", "fen", "nian", "yue", "ri", "gonghao"},
}

const zhZero = "0" // 零

func zhNumber(neg bool, n uint64) []string {
	var pieces []string
	if neg {
		pieces = append(pieces, "fu")
	}
	return appendZhNumber(pieces, n)
}

// zhPlaces are the units of the four places of a 4-digit section, from the
// units up: (个), 十, 百, 千.
var zhPlaces = [4]string{"", "10", "100", "1000"}

// appendZhNumber appends n ≤ MaxNumber as Mandarin reads it: in sections of
// four digits followed by 亿 or 万, with
//   - one 零 for any run of zeros between two spoken digits, across sections
//     too (1005 一千零五, 10010 一万零一十, 100000001 一亿零一), and none
//     for trailing zeros (1000 一千, 10,1000 十万一千);
//   - 十 without 一 when it starts the number (12 十二, 100000 十万), but
//     一十 inside (112 一百一十二);
//   - 两 for a 2 at the head of a section right before 百, 千, 万 or 亿
//     (200 两百, 2000 两千, 20000 两万, 1,2000 一万两千), and 二 elsewhere
//     (2 二, 22 二十二, 20,0000 二十万, 1200 一千二百, 10002 一万零二).
func appendZhNumber(pieces []string, n uint64) []string {
	if n == 0 {
		return append(pieces, zhZero)
	}
	sections := []struct {
		size uint64
		unit string
	}{{1e8, "100000000"}, {1e4, "10000"}, {1, ""}}
	spoken := false      // a digit of the number has been spoken
	zeroPending := false // zeros since the last spoken digit: 零 before the next
	for _, section := range sections {
		value := n / section.size % 10000
		if value == 0 {
			zeroPending = spoken
			continue
		}
		// The head of a section is its thousands' place, but in the
		// first section spoken it is its first digit (2,0000 两万).
		head := 3
		if !spoken {
			head = len(strconv.FormatUint(value, 10)) - 1
		}
		for place := 3; place >= 0; place-- {
			digit := int(value / pow10[place] % 10)
			if digit == 0 {
				zeroPending = zeroPending || spoken
				continue
			}
			if zeroPending {
				pieces = append(pieces, zhZero)
				zeroPending = false
			}
			switch {
			case digit == 1 && place == 1 && !spoken: // 十二, 十万
			case digit == 2 && place == head && (place >= 2 || place == 0 && section.unit != ""):
				pieces = append(pieces, "liang")
			default:
				pieces = append(pieces, strconv.Itoa(digit))
			}
			if zhPlaces[place] != "" {
				pieces = append(pieces, zhPlaces[place])
			}
			spoken = true
		}
		// Trailing zeros of a section are not read: 十万一千, not 十万零一千.
		// The next section's leading zeros are (十万零一百).
		zeroPending = false
		if section.unit != "" {
			pieces = append(pieces, section.unit)
		}
	}
	return pieces
}

var pow10 = [4]uint64{1, 10, 100, 1000}

// zhDigits reads a digit string one by one, 1 as 幺: call centres do, so
// that 1 (yī) is not misheard as 7 (qī).
func zhDigits(s string) []string {
	pieces := make([]string, len(s))
	for i, c := range []byte(s) {
		if c == '1' {
			pieces[i] = "yao"
		} else {
			pieces[i] = string(c)
		}
	}
	return pieces
}

// zhAmount reads money in 元, 角 and 分 (123.45 一百二十三元四角五分),
// leaving out zero parts (3 三元, 0.5 五角, 3.40 三元四角) but reading 零
// for a zero 角 between 元 and 分 (10.05 十元零五分). A lone 2 before a
// unit counts, so it is 两 (两元, 两角, 两分), as 两百 is.
func zhAmount(neg bool, whole uint64, cents int) []string {
	var pieces []string
	if neg {
		pieces = append(pieces, "fu")
	}
	jiao, fen := cents/10, cents%10
	if whole > 0 || cents == 0 {
		if whole == 2 {
			pieces = append(pieces, "liang")
		} else {
			pieces = appendZhNumber(pieces, whole)
		}
		pieces = append(pieces, "yuan")
	}
	if jiao > 0 {
		pieces = append(pieces, zhCount(jiao), "jiao")
	}
	if fen > 0 {
		if whole > 0 && jiao == 0 {
			pieces = append(pieces, zhZero)
		}
		pieces = append(pieces, zhCount(fen), "fen")
	}
	return pieces
}

// zhCount is a digit 1-9 that counts something: 2 is 两.
func zhCount(digit int) string {
	if digit == 2 {
		return "liang"
	}
	return strconv.Itoa(digit)
}

// zhDate reads 2026-10-01 as 二零二六年十月一日: the year digit by digit (1
// is 一 here, not 幺), month and day as numbers (二月, not 两月).
func zhDate(year, month, day int) []string {
	pieces := make([]string, 0, 12)
	for _, c := range []byte(strconv.Itoa(year)) {
		pieces = append(pieces, string(c))
	}
	pieces = append(pieces, "nian")
	pieces = appendZhNumber(pieces, uint64(month))
	pieces = append(pieces, "yue")
	pieces = appendZhNumber(pieces, uint64(day))
	return append(pieces, "ri")
}

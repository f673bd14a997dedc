package config

import (
	"testing"
	"time"
)

// calendarFrom parses a configuration holding one calendar and returns it.
func calendarFrom(t *testing.T, src string) *Calendar {
	t.Helper()
	c, err := Parse("cal.yaml", []byte("calendars:\n"+src))
	if err != nil {
		t.Fatalf("Parse:\n%s\n%v", src, err)
	}
	return &c.Calendars[0]
}

// bankCalendar is open Monday to Friday with a lunch break and Saturday
// mornings in Berlin, closed at Christmas, with a make-up Saturday worked
// as a Monday (2026-10-10) and a Sunday worked as a Saturday (2026-12-27).
const bankCalendar = `
  - name: bank
    timezone: Europe/Berlin
    weekly:
      mon-fri: ["08:00-12:00", "13:00-20:00"]
      sat: "09:00-14:00"
    holidays: ["2026-12-24", "2026-12-25"]
    workdays: ["2026-10-10", {date: "2026-12-27", as: sat}]
`

// nightCalendar is open across midnight: Monday evening into Tuesday, using
// 24:00.
const nightCalendar = `
  - name: night
    timezone: Europe/Berlin
    weekly:
      mon: "20:00-24:00"
      tue: ["00:00-06:00"]
      sun: ["02:30-04:00"]
`

// berlin returns a wall-clock time in Berlin.
func berlin(t *testing.T, year int, month time.Month, day, hour, minute int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(year, month, day, hour, minute, 0, 0, loc)
}

func utc(year int, month time.Month, day, hour, minute int) time.Time {
	return time.Date(year, month, day, hour, minute, 0, 0, time.UTC)
}

func TestCalendarOpen(t *testing.T) {
	bank := calendarFrom(t, bankCalendar)
	night := calendarFrom(t, nightCalendar)
	tests := []struct {
		name string
		cal  *Calendar
		at   time.Time
		want bool
	}{
		{"weekday morning", bank, berlin(t, 2026, time.March, 27, 8, 0), true},
		{"just before opening", bank, berlin(t, 2026, time.March, 27, 7, 59), false},
		{"lunch break starts at 12:00", bank, berlin(t, 2026, time.March, 27, 12, 0), false},
		{"open the last minute before lunch", bank, berlin(t, 2026, time.March, 27, 11, 59).Add(59 * time.Second), true},
		{"evening close at 20:00", bank, berlin(t, 2026, time.March, 27, 20, 0), false},
		{"saturday morning", bank, berlin(t, 2026, time.March, 28, 9, 30), true},
		{"saturday afternoon", bank, berlin(t, 2026, time.March, 28, 14, 0), false},
		{"sunday", bank, berlin(t, 2026, time.March, 29, 10, 0), false},
		// 06:30 UTC is 07:30 in winter (closed) but 08:30 in summer (open):
		// opening hours follow the wall clock through DST.
		{"winter time, 06:30 UTC", bank, utc(2026, time.March, 27, 6, 30), false},
		{"summer time, 06:30 UTC", bank, utc(2026, time.March, 30, 6, 30), true},
		{"another time zone's instant", bank, time.Date(2026, time.March, 30, 2, 30, 0, 0, mustLoad(t, "America/New_York")), true},
		{"holiday on a thursday", bank, berlin(t, 2026, time.December, 24, 10, 0), false},
		{"day after the holidays is a saturday", bank, berlin(t, 2026, time.December, 26, 10, 0), true},
		{"make-up saturday has monday hours", bank, berlin(t, 2026, time.October, 10, 8, 30), true},
		{"make-up saturday keeps monday's lunch", bank, berlin(t, 2026, time.October, 10, 12, 30), false},
		{"make-up saturday until 20:00", bank, berlin(t, 2026, time.October, 10, 19, 59), true},
		{"make-up sunday as saturday", bank, berlin(t, 2026, time.December, 27, 13, 59), true},
		{"make-up sunday closes at 14:00", bank, berlin(t, 2026, time.December, 27, 14, 0), false},
		{"ordinary saturday", bank, berlin(t, 2026, time.October, 17, 8, 30), false},
		{"24:00 includes 23:59", night, berlin(t, 2026, time.March, 23, 23, 59), true},
		{"after midnight on tuesday", night, berlin(t, 2026, time.March, 24, 0, 0), true},
		{"tuesday 06:00 closes", night, berlin(t, 2026, time.March, 24, 6, 0), false},
		{"monday before 20:00", night, berlin(t, 2026, time.March, 23, 19, 59), false},
		{"hour skipped by DST: before", night, utc(2026, time.March, 29, 0, 59), false},
		{"hour skipped by DST: clock jumps into the opening", night, utc(2026, time.March, 29, 1, 0), true},
		{"hour repeated by DST: first 02:30", night, utc(2026, time.October, 25, 0, 30), true},
		{"hour repeated by DST: back to 02:00", night, utc(2026, time.October, 25, 1, 0), false},
		{"hour repeated by DST: second 02:30", night, utc(2026, time.October, 25, 1, 30), true},
		{"hand-built calendar without a location is UTC", &Calendar{Weekly: [7][]Span{time.Friday: {{From: 0, To: 60}}}}, utc(2026, time.March, 27, 0, 30), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.Open(tt.at); got != tt.want {
				t.Errorf("Open(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCalendarNextChange(t *testing.T) {
	bank := calendarFrom(t, bankCalendar)
	night := calendarFrom(t, nightCalendar)
	always := calendarFrom(t, `
  - name: always
    timezone: Europe/Berlin
    weekly: {mon-sun: "00:00-24:00"}
`)
	never := &Calendar{Name: "never"}
	tests := []struct {
		name string
		cal  *Calendar
		from time.Time
		want time.Time
	}{
		{"open until lunch", bank, berlin(t, 2026, time.March, 27, 9, 0), berlin(t, 2026, time.March, 27, 12, 0)},
		{"lunch until 13:00", bank, berlin(t, 2026, time.March, 27, 12, 0), berlin(t, 2026, time.March, 27, 13, 0)},
		{"exactly at a change, the next one", bank, berlin(t, 2026, time.March, 27, 13, 0), berlin(t, 2026, time.March, 27, 20, 0)},
		{"friday night until saturday", bank, berlin(t, 2026, time.March, 27, 20, 0), berlin(t, 2026, time.March, 28, 9, 0)},
		// The weekend of 2026-03-29 switches to summer time: Monday 08:00 is
		// 06:00 UTC, not 07:00.
		{"across the weekend and DST", bank, berlin(t, 2026, time.March, 28, 14, 0), utc(2026, time.March, 30, 6, 0)},
		{"across the autumn DST weekend", bank, berlin(t, 2026, time.October, 24, 14, 0), utc(2026, time.October, 26, 7, 0)},
		{"across two holidays", bank, berlin(t, 2026, time.December, 23, 20, 0), berlin(t, 2026, time.December, 26, 9, 0)},
		{"open into a holiday", bank, berlin(t, 2026, time.December, 23, 19, 0), berlin(t, 2026, time.December, 23, 20, 0)},
		{"make-up saturday opens at monday's time", bank, berlin(t, 2026, time.October, 9, 20, 0), berlin(t, 2026, time.October, 10, 8, 0)},
		{"make-up sunday after the holiday saturday", bank, berlin(t, 2026, time.December, 26, 14, 0), berlin(t, 2026, time.December, 27, 9, 0)},
		{"24:00 runs into tuesday without a change", night, berlin(t, 2026, time.March, 23, 21, 0), berlin(t, 2026, time.March, 24, 6, 0)},
		{"closed until the sunday opening", night, berlin(t, 2026, time.March, 24, 6, 0), utc(2026, time.March, 29, 1, 0)},
		{"closed from sunday until monday 20:00", night, berlin(t, 2026, time.March, 29, 4, 0), berlin(t, 2026, time.March, 30, 20, 0)},
		// On 2026-03-29 Berlin skips 02:00-03:00; the 02:30 opening starts
		// when the clock jumps to 03:00 CEST (01:00 UTC).
		{"opening inside the skipped hour", night, utc(2026, time.March, 29, 0, 30), utc(2026, time.March, 29, 1, 0)},
		{"closing after the skipped hour", night, utc(2026, time.March, 29, 1, 0), utc(2026, time.March, 29, 2, 0)},
		// On 2026-10-25 Berlin repeats 02:00-03:00: it opens at the first
		// 02:30, closes when the clock falls back to 02:00, and opens again
		// at the second 02:30.
		{"repeated hour: first opening", night, utc(2026, time.October, 25, 0, 0), utc(2026, time.October, 25, 0, 30)},
		{"repeated hour: clock falls back", night, utc(2026, time.October, 25, 0, 30), utc(2026, time.October, 25, 1, 0)},
		{"repeated hour: second opening", night, utc(2026, time.October, 25, 1, 0), utc(2026, time.October, 25, 1, 30)},
		{"repeated hour: closing", night, utc(2026, time.October, 25, 1, 30), utc(2026, time.October, 25, 3, 0)},
		{"always open never changes", always, berlin(t, 2026, time.March, 29, 2, 0), time.Time{}},
		{"never open never changes", never, utc(2026, time.January, 1, 0, 0), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.NextChange(tt.from)
			if !got.Equal(tt.want) {
				t.Errorf("NextChange(%v) = %v, want %v", tt.from, got, tt.want)
			}
			if got.IsZero() {
				return
			}
			if tt.cal.Open(got) == tt.cal.Open(tt.from) {
				t.Errorf("Open does not change at %v", got)
			}
		})
	}
}

// TestCalendarNextChangeMatchesAMinuteByMinuteScan checks NextChange against
// the obvious, slow answer, from many starting points across both DST
// changes of 2026, a holiday and a make-up day.
func TestCalendarNextChangeMatchesAMinuteByMinuteScan(t *testing.T) {
	cals := []*Calendar{calendarFrom(t, bankCalendar), calendarFrom(t, nightCalendar)}
	starts := []time.Time{
		utc(2026, time.March, 26, 0, 7),
		utc(2026, time.October, 8, 0, 7),
		utc(2026, time.October, 23, 0, 7),
		utc(2026, time.December, 22, 0, 7),
	}
	for _, cal := range cals {
		for _, start := range starts {
			for from := start; from.Before(start.Add(5 * 24 * time.Hour)); from = from.Add(97 * time.Minute) {
				want := scanNextChange(cal, from, 8*24*time.Hour)
				if got := cal.NextChange(from); !got.Equal(want) {
					t.Fatalf("%s: NextChange(%v) = %v, scan says %v", cal.Name, from, got, want)
				}
			}
		}
	}
}

// scanNextChange looks at every minute after from; Berlin's offsets are whole
// hours, so UTC minutes are wall-clock minutes.
func scanNextChange(cal *Calendar, from time.Time, limit time.Duration) time.Time {
	open := cal.Open(from)
	for at := from.Truncate(time.Minute).Add(time.Minute); at.Before(from.Add(limit)); at = at.Add(time.Minute) {
		if cal.Open(at) != open {
			return at
		}
	}
	return time.Time{}
}

func TestCalendarErrors(t *testing.T) {
	runErrorCases(t, []errorCase{
		{name: "name, timezone and weekly", yaml: `
calendars:
  - {timezone: UTC, weekly: {mon: "09:00-17:00"}}
  - {name: a, timezone: Mars/Olympus, weekly: {mon: "09:00-17:00"}}
  - {name: b, timezone: Local, weekly: {mon: "09:00-17:00"}}
  - {name: c}
  - {name: c, weekly: {mon: "09:00-17:00"}, open: always}
`, want: []string{
			`3:5: calendar #1: name is required`,
			`4:25: calendar "a": unknown timezone "Mars/Olympus" (use an IANA name such as Europe/Berlin, America/New_York or UTC)`,
			`5:25: calendar "b": timezone must be an IANA name such as Europe/Berlin or UTC; "Local" depends on the host`,
			`6:5: calendar "c": weekly is required (e.g. weekly: {mon-fri: "09:00-17:00"})`,
			`7:12: duplicate calendar "c" (first at line 6)`,
			`7:45: calendar "c": unknown key "open" (known: holidays, name, timezone, weekly, workdays)`,
		}},
		{name: "day keys", yaml: `
calendars:
  - name: a
    weekly:
      mon-fry: "09:00-17:00"
      fri-mon: "09:00-17:00"
      monday: "09:00-17:00"
      "sat,": "09:00-17:00"
  - name: b
    weekly:
      mon-fri: "09:00-17:00"
      wed: "09:00-12:00"
      sat,sun: "10:00-12:00"
      Sun: "10:00-12:00"
`, want: []string{
			`5:7: calendar "a": weekly: unknown day "fry" (known: mon, tue, wed, thu, fri, sat, sun; ranges like mon-fri, lists like sat,sun)`,
			`6:7: calendar "a": weekly: day range "fri-mon" runs backwards; ranges go from mon to sun (write e.g. "sat,sun,mon")`,
			`7:7: calendar "a": weekly: unknown day "monday" (known: mon, tue, wed, thu, fri, sat, sun; ranges like mon-fri, lists like sat,sun)`,
			`8:7: calendar "a": weekly: unknown day "" (known: mon, tue, wed, thu, fri, sat, sun; ranges like mon-fri, lists like sat,sun)`,
			`12:7: calendar "b": weekly: wed is given twice (first in "mon-fri" at line 11)`,
			`14:7: calendar "b": weekly: sun is given twice (first in "sat,sun" at line 13)`,
		}},
		{name: "hours", yaml: `
calendars:
  - name: a
    weekly:
      mon: "9-17"
      tue: "25:00-26:00"
      wed: "09:00-24:30"
      thu: "22:00-02:00"
      fri: "24:00-24:00"
      sat: ["09:00-12:00", "11:00-14:00", "08:00-09:30"]
      sun: {from: "09:00"}
  - name: b
    weekly:
      mon: ["09:00-12:00", [1]]
      tue: "09:00-09:00"
      wed: ~
`, want: []string{
			`5:12: calendar "a": weekly: mon: invalid hours "9-17" (want HH:MM-HH:MM, e.g. "09:00-17:30")`,
			`6:12: calendar "a": weekly: tue: invalid time 25:00 in "25:00-26:00" (00:00 to 23:59)`,
			`7:12: calendar "a": weekly: wed: invalid time 24:30 in "09:00-24:30" (00:00 to 24:00)`,
			`8:12: calendar "a": weekly: thu: hours "22:00-02:00" end before they start; hours cannot cross midnight (write "22:00-24:00" on one day and "00:00-06:00" on the next)`,
			`9:12: calendar "a": weekly: fri: invalid time 24:00 in "24:00-24:00" (00:00 to 23:59)`,
			`10:28: calendar "a": weekly: sat: hours 09:00-12:00 and 11:00-14:00 overlap`,
			`10:43: calendar "a": weekly: sat: hours 09:00-12:00 and 08:00-09:30 overlap`,
			`11:12: calendar "a": weekly: sun: expected hours like "09:00-17:00", a list of them or closed, got a mapping`,
			`14:28: calendar "b": weekly: mon: expected a string, got a list`,
			`15:12: calendar "b": weekly: tue: hours "09:00-09:00" end before they start; hours cannot cross midnight (write "22:00-24:00" on one day and "00:00-06:00" on the next)`,
			`16:12: calendar "b": weekly: wed: expected hours like "09:00-17:00", a list of them or closed, got nothing`,
		}},
		{name: "holidays and workdays", yaml: `
calendars:
  - name: a
    weekly: {mon-fri: "09:00-17:00"}
    holidays: ["2026-02-30", "2026-12-25", 2026-12-25, "tomorrow"]
    workdays:
      - "2026-12-25"
      - "2026-10-10"
      - "2026-10-10"
      - {date: "2026-10-11", as: sun}
      - {date: "2026-10-17", as: funday}
      - {as: mon}
      - {date: "2026-10-18", as: tue, hours: x}
      - "10/24/2026"
  - name: b
    weekly: {mon: "bad"}
    workdays: [{date: "2026-10-10", as: tue}]
`, want: []string{
			`5:16: calendar "a": holidays: invalid date "2026-02-30" (want YYYY-MM-DD, e.g. 2026-12-25)`,
			`5:44: calendar "a": holiday 2026-12-25 is listed twice (first at line 5)`,
			`5:56: calendar "a": holidays: invalid date "tomorrow" (want YYYY-MM-DD, e.g. 2026-12-25)`,
			`7:9: calendar "a": 2026-12-25 is both a holiday (line 5) and a workday`,
			`9:9: calendar "a": workday 2026-10-10 is listed twice (first at line 8)`,
			`10:16: calendar "a": workday 2026-10-11 takes the hours of sun, which has none; it would stay closed`,
			`11:34: calendar "a": workdays: as: unknown day "funday" (known: mon, tue, wed, thu, fri, sat, sun)`,
			`12:9: calendar "a": workdays: date is required`,
			`13:39: calendar "a": workdays: unknown key "hours" (known: as, date)`,
			`14:9: calendar "a": workdays: invalid date "10/24/2026" (want YYYY-MM-DD, e.g. 2026-12-25)`,
			`16:19: calendar "b": weekly: mon: invalid hours "bad" (want HH:MM-HH:MM, e.g. "09:00-17:30")`,
		}},
	})
}

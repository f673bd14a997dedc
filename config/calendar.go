package config

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	// A configuration must check the same on every host, including minimal
	// containers without /usr/share/zoneinfo.
	_ "time/tzdata"

	"gopkg.in/yaml.v3"
)

// Calendar is a set of opening hours: weekly hours, holidays (closed all
// day) and make-up workdays (open on a day that is normally closed). Every
// time is wall-clock time in Location, so opening hours follow daylight
// saving time.
type Calendar struct {
	Name string
	// Location is the time zone of every time in the calendar; nil means
	// UTC.
	Location *time.Location
	// Weekly holds each weekday's opening hours, indexed by time.Weekday,
	// sorted and not overlapping. A day without spans is closed.
	Weekly [7][]Span
	// Holidays are closed all day, whatever Weekly says. Sorted.
	Holidays []Date
	// Workdays are open with the hours of another weekday. Sorted by date.
	Workdays []Workday
	Pos      Pos
}

// Span is an opening time within a day, in minutes since midnight: open
// from From up to, not including, To. 0 <= From < To <= 1440.
type Span struct {
	From, To int
}

// minutesPerDay is the To of a span that lasts until midnight ("24:00").
const minutesPerDay = 24 * 60

func (s Span) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", s.From/60, s.From%60, s.To/60, s.To%60)
}

// Date is a day in a calendar's time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// String writes the date as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Weekday()
}

func (d Date) compare(e Date) int {
	return cmp.Or(cmp.Compare(d.Year, e.Year), cmp.Compare(d.Month, e.Month), cmp.Compare(d.Day, e.Day))
}

// Workday is a make-up workday: Date is open with the hours of weekday As.
type Workday struct {
	Date Date
	As   time.Weekday
}

// Calendar returns the calendar called name, or nil.
func (c *Config) Calendar(name string) *Calendar {
	for i := range c.Calendars {
		if c.Calendars[i].Name == name {
			return &c.Calendars[i]
		}
	}
	return nil
}

func (c *Calendar) location() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// spans returns the opening hours of date: none on a holiday, the hours of
// the stand-in weekday on a workday, else the date's weekday's.
func (c *Calendar) spans(date Date) []Span {
	if slices.Contains(c.Holidays, date) {
		return nil
	}
	for _, w := range c.Workdays {
		if w.Date == date {
			return c.Weekly[w.As%7]
		}
	}
	return c.Weekly[date.Weekday()]
}

// openAt reports whether the calendar is open at a wall-clock time: date
// and minute of the day.
func (c *Calendar) openAt(date Date, minute int) bool {
	for _, s := range c.spans(date) {
		if s.From <= minute && minute < s.To {
			return true
		}
	}
	return false
}

// Holiday reports whether t falls on one of the calendar's holidays (in
// the calendar's time zone).
func (c *Calendar) Holiday(t time.Time) bool {
	return slices.Contains(c.Holidays, DateOf(t.In(c.location())))
}

// Open reports whether the calendar is open at t. Spans are whole minutes,
// so the minute t falls in decides.
func (c *Calendar) Open(t time.Time) bool {
	local := t.In(c.location())
	return c.openAt(DateOf(local), local.Hour()*60+local.Minute())
}

// nextChangeHorizon is how far NextChange looks: a little more than a year,
// so that a yearly holiday is always seen.
const nextChangeHorizon = 400 * 24 * time.Hour

// NextChange returns the first instant after t at which Open changes, or
// the zero time if it does not change within 400 days.
//
// It works in wall-clock time, one stretch of constant UTC offset at a time
// (time.Time.ZoneBounds): within a stretch, wall time and instants move
// together, so the first opening boundary where Open flips is the answer;
// at the end of a stretch (a daylight-saving change) the wall clock jumps
// and Open is looked at again. This is right for openings inside a skipped
// hour (they start when the clock jumps) and inside a repeated hour (they
// happen twice).
func (c *Calendar) NextChange(t time.Time) time.Time {
	loc := c.location()
	limit := t.Add(nextChangeHorizon)
	state := c.Open(t)
	for start := t; start.Before(limit); {
		local := start.In(loc)
		_, offset := local.Zone()
		_, end := local.ZoneBounds()
		if end.IsZero() || end.After(limit) {
			end = limit
		}
		shift := time.Duration(offset) * time.Second
		// Wall times as if in UTC: wall = instant + offset.
		from, to := start.Add(shift).UTC(), end.Add(shift).UTC()
		if wall, ok := c.nextFlip(from, to, state); ok {
			return wall.Add(-shift).In(loc)
		}
		if end.Equal(limit) {
			break
		}
		if c.Open(end) != state {
			return end.In(loc)
		}
		start = end
	}
	return time.Time{}
}

// nextFlip returns the first opening boundary in the wall-clock interval
// (from, to), both in UTC standing for wall time, at which the calendar's
// openness differs from state.
func (c *Calendar) nextFlip(from, to time.Time, state bool) (time.Time, bool) {
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		date := DateOf(day)
		// Midnight is a boundary too: a holiday or workday starts there.
		boundaries := []int{0}
		for _, s := range c.spans(date) {
			boundaries = append(boundaries, s.From, s.To)
		}
		for _, minute := range boundaries {
			if minute == minutesPerDay {
				continue // the next day's midnight
			}
			wall := day.Add(time.Duration(minute) * time.Minute)
			if !wall.After(from) || !wall.Before(to) {
				continue
			}
			if c.openAt(date, minute) != state {
				return wall, true
			}
		}
	}
	return time.Time{}, false
}

// weekdayNames are the day names in calendars, Monday first as in weekly
// ranges, with their time.Weekday.
var weekdayNames = []struct {
	name string
	day  time.Weekday
}{
	{"mon", time.Monday}, {"tue", time.Tuesday}, {"wed", time.Wednesday}, {"thu", time.Thursday},
	{"fri", time.Friday}, {"sat", time.Saturday}, {"sun", time.Sunday},
}

const knownDays = "mon, tue, wed, thu, fri, sat, sun"

// dayIndex returns the position of a day name in weekdayNames, or -1.
func dayIndex(name string) int {
	return slices.IndexFunc(weekdayNames, func(w struct {
		name string
		day  time.Weekday
	}) bool {
		return w.name == strings.ToLower(strings.TrimSpace(name))
	})
}

// parseDays reads a weekly key: "mon", "mon-fri", "sat,sun" or a mix such
// as "mon-wed,fri".
func parseDays(spec string) ([]time.Weekday, error) {
	var days []time.Weekday
	for part := range strings.SplitSeq(spec, ",") {
		first, last, isRange := strings.Cut(part, "-")
		if !isRange {
			last = first
		}
		i, j := dayIndex(first), dayIndex(last)
		switch {
		case i < 0:
			return nil, fmt.Errorf("unknown day %q (known: %s; ranges like mon-fri, lists like sat,sun)", strings.TrimSpace(first), knownDays)
		case j < 0:
			return nil, fmt.Errorf("unknown day %q (known: %s; ranges like mon-fri, lists like sat,sun)", strings.TrimSpace(last), knownDays)
		case i > j:
			return nil, fmt.Errorf("day range %q runs backwards; ranges go from mon to sun (write e.g. \"sat,sun,mon\")", strings.TrimSpace(part))
		}
		for k := i; k <= j; k++ {
			days = append(days, weekdayNames[k].day)
		}
	}
	return days, nil
}

var spanPattern = regexp.MustCompile(`^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$`)

// parseSpan reads "HH:MM-HH:MM"; the end may be "24:00".
func parseSpan(s string) (Span, error) {
	m := spanPattern.FindStringSubmatch(s)
	if m == nil {
		return Span{}, fmt.Errorf("invalid hours %q (want HH:MM-HH:MM, e.g. \"09:00-17:30\")", s)
	}
	minutes := func(h, mm string) int {
		hour, _ := strconv.Atoi(h)
		minute, _ := strconv.Atoi(mm)
		if hour > 24 || minute > 59 || hour == 24 && minute != 0 {
			return -1
		}
		return hour*60 + minute
	}
	from, to := minutes(m[1], m[2]), minutes(m[3], m[4])
	switch {
	case from < 0 || from == minutesPerDay:
		return Span{}, fmt.Errorf("invalid time %s:%s in %q (00:00 to 23:59)", m[1], m[2], s)
	case to < 0:
		return Span{}, fmt.Errorf("invalid time %s:%s in %q (00:00 to 24:00)", m[3], m[4], s)
	case from >= to:
		return Span{}, fmt.Errorf("hours %q end before they start; hours cannot cross midnight (write \"22:00-24:00\" on one day and \"00:00-06:00\" on the next)", s)
	}
	return Span{From: from, To: to}, nil
}

// parseDate reads YYYY-MM-DD.
func parseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("invalid date %q (want YYYY-MM-DD, e.g. 2026-12-25)", s)
	}
	return DateOf(t), nil
}

func (d *decoder) calendars(n *yaml.Node) []Calendar {
	var calendars []Calendar
	seen := map[string]Pos{}
	for i, item := range d.items(n, "calendars") {
		name, ctx := d.name(item, "calendar", i, "name", seen)
		cal := Calendar{Name: name, Location: time.UTC, Pos: d.pos(item)}
		var weeklyNode, workdaysNode *yaml.Node
		weeklyOK := true
		holidays := map[Date]int{}
		d.fields(item, ctx, map[string]field{
			"name": func(*yaml.Node) {},
			"timezone": func(v *yaml.Node) {
				s, ok := d.scalar(v, ctx+": timezone")
				if !ok {
					return
				}
				v = d.resolve(v)
				loc, err := time.LoadLocation(s)
				switch {
				case s == "" || s == "Local":
					d.errorf(v, "%s: timezone must be an IANA name such as Europe/Berlin or UTC; %q depends on the host", ctx, s)
				case err != nil:
					d.errorf(v, "%s: unknown timezone %q (use an IANA name such as Europe/Berlin, America/New_York or UTC)", ctx, s)
				default:
					cal.Location = loc
				}
			},
			"weekly": func(v *yaml.Node) {
				weeklyNode = d.resolve(v)
				weeklyOK = d.weekly(v, ctx, &cal)
			},
			"holidays": func(v *yaml.Node) {
				for _, item := range d.items(v, ctx+": holidays") {
					s, ok := d.scalar(item, ctx+": holidays")
					if !ok {
						continue
					}
					date, err := parseDate(s)
					if err != nil {
						d.errorf(item, "%s: holidays: %v", ctx, err)
						continue
					}
					if line, dup := holidays[date]; dup {
						d.errorf(item, "%s: holiday %s is listed twice (first at line %d)", ctx, date, line)
						continue
					}
					holidays[date] = item.Line
					cal.Holidays = append(cal.Holidays, date)
				}
			},
			// Decoded below, once every holiday and the weekly hours are
			// known.
			"workdays": func(v *yaml.Node) { workdaysNode = v },
		})
		if item.Kind != yaml.MappingNode {
			continue
		}
		if weeklyNode == nil {
			d.errorf(item, "%s: weekly is required (e.g. weekly: {mon-fri: \"09:00-17:00\"})", ctx)
		}
		if workdaysNode != nil {
			d.workdays(workdaysNode, ctx, &cal, holidays, weeklyOK)
		}
		slices.SortFunc(cal.Holidays, Date.compare)
		slices.SortFunc(cal.Workdays, func(a, b Workday) int { return a.Date.compare(b.Date) })
		calendars = append(calendars, cal)
	}
	return calendars
}

// weekly reads the mapping of day specs to opening hours; it reports
// whether every day was read without a problem.
func (d *decoder) weekly(n *yaml.Node, ctx string, cal *Calendar) bool {
	errs := len(d.errs)
	ctx += ": weekly"
	// given remembers where each weekday got its hours.
	type origin struct {
		spec string
		line int
	}
	var given [7]*origin
	for key, value := range d.pairs(n, ctx) {
		days, err := parseDays(key.Value)
		if err != nil {
			d.errorf(key, "%s: %v", ctx, err)
			continue
		}
		spans, ok := d.spans(value, ctx+": "+key.Value)
		for _, day := range days {
			if first := given[day]; first != nil {
				d.errorf(key, "%s: %s is given twice (first in %q at line %d)", ctx, weekdayNames[(day+6)%7].name, first.spec, first.line)
				ok = false
				continue
			}
			given[day] = &origin{spec: key.Value, line: key.Line}
		}
		if ok {
			for _, day := range days {
				cal.Weekly[day] = spans
			}
		}
	}
	return len(d.errs) == errs
}

// spans reads one "HH:MM-HH:MM", "closed", or a list of hours, and returns
// them sorted; overlaps are reported.
func (d *decoder) spans(n *yaml.Node, ctx string) ([]Span, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	var nodes []*yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode && !isNull(n):
		if strings.TrimSpace(n.Value) == "closed" {
			return nil, true
		}
		nodes = []*yaml.Node{n}
	case n.Kind == yaml.SequenceNode:
		nodes = d.items(n, ctx)
	default:
		d.errorf(n, "%s: expected hours like \"09:00-17:00\", a list of them or closed, got %s", ctx, describe(n))
		return nil, false
	}
	type written struct {
		span Span
		node *yaml.Node
	}
	var all []written
	ok := true
	for _, item := range nodes {
		s, isScalar := d.scalar(item, ctx)
		if !isScalar {
			ok = false
			continue
		}
		span, err := parseSpan(s)
		if err != nil {
			d.errorf(item, "%s: %v", ctx, err)
			ok = false
			continue
		}
		all = append(all, written{span, item})
	}
	slices.SortStableFunc(all, func(a, b written) int { return cmp.Compare(a.span.From, b.span.From) })
	spans := make([]Span, 0, len(all))
	for i, w := range all {
		if i > 0 && w.span.From < all[i-1].span.To {
			// Report at whichever of the two is written later.
			at, other := w, all[i-1]
			if at.node.Line < other.node.Line || at.node.Line == other.node.Line && at.node.Column < other.node.Column {
				at, other = other, at
			}
			d.errorf(at.node, "%s: hours %s and %s overlap", ctx, other.span, at.span)
			ok = false
			continue
		}
		spans = append(spans, w.span)
	}
	return spans, ok
}

// workdays reads make-up workdays: "2026-10-10" (as Monday) or
// {date: 2026-10-10, as: fri}.
func (d *decoder) workdays(n *yaml.Node, ctx string, cal *Calendar, holidays map[Date]int, weeklyOK bool) {
	seen := map[Date]int{}
	for _, item := range d.items(n, ctx+": workdays") {
		w := Workday{As: time.Monday}
		var dateNode *yaml.Node
		switch {
		case item.Kind == yaml.MappingNode:
			d.fields(item, ctx+": workdays", map[string]field{
				"date": func(v *yaml.Node) {
					if _, ok := d.scalar(v, ctx+": workdays: date"); ok {
						dateNode = d.resolve(v)
					}
				},
				"as": func(v *yaml.Node) {
					s, ok := d.scalar(v, ctx+": workdays: as")
					if !ok {
						return
					}
					i := dayIndex(s)
					if i < 0 {
						d.errorf(d.resolve(v), "%s: workdays: as: unknown day %q (known: %s)", ctx, s, knownDays)
						return
					}
					w.As = weekdayNames[i].day
				},
			})
			if dateNode == nil && d.lookup(item, "date") == nil {
				d.errorf(item, "%s: workdays: date is required", ctx)
			}
		default:
			if _, ok := d.scalar(item, ctx+": workdays"); ok {
				dateNode = item
			}
		}
		if dateNode == nil {
			continue
		}
		date, err := parseDate(dateNode.Value)
		switch {
		case err != nil:
			d.errorf(dateNode, "%s: workdays: %v", ctx, err)
			continue
		case seen[date] != 0:
			d.errorf(dateNode, "%s: workday %s is listed twice (first at line %d)", ctx, date, seen[date])
			continue
		case holidays[date] != 0:
			d.errorf(dateNode, "%s: %s is both a holiday (line %d) and a workday", ctx, date, holidays[date])
			continue
		}
		seen[date] = dateNode.Line
		if weeklyOK && len(cal.Weekly[w.As]) == 0 {
			d.errorf(dateNode, "%s: workday %s takes the hours of %s, which has none; it would stay closed", ctx, date, weekdayNames[(w.As+6)%7].name)
			continue
		}
		w.Date = date
		cal.Workdays = append(cal.Workdays, w)
	}
}

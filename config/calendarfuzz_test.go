package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// calendarSeeds are configurations with calendars: the examples shared with
// `hotline ivr check` and config's own test data.
var calendarSeeds = []string{
	filepath.Join("..", "testdata", "ivr", "schedule_holidays.yaml"),
	filepath.Join("..", "testdata", "ivr", "bad", "unknown_calendar.yaml"),
	filepath.Join("..", "testdata", "ivr", "bad", "missing_fields.yaml"),
	filepath.Join("testdata", "contact_center.yaml"),
}

// FuzzCalendar parses configurations seeded with calendars (opening hours,
// holidays, make-up workdays, time zones with daylight saving time) and
// asks every calendar it accepts whether it is open at a fuzzed instant
// and when that next changes. Every problem must carry a position; Open,
// Holiday and NextChange must not panic, and NextChange must be right: a
// later instant within its 400-day horizon at which Open differs, with
// Open unchanged before it; when it finds no change, Open is
// the same at later instants within the horizon.
func FuzzCalendar(f *testing.F) {
	for i, path := range calendarSeeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, int64(i)*9973)
	}
	f.Add([]byte("calendars:\n  - name: night\n    timezone: Europe/Berlin\n    weekly:\n      mon: \"20:00-24:00\"\n      tue: [\"00:00-06:00\"]\n      sun: [\"02:30-04:00\"]\n"), int64(86*24*60+60))
	f.Add([]byte("calendars:\n  - name: always\n    weekly:\n      mon-sun: \"00:00-24:00\"\n    holidays: [\"2026-12-25\"]\n    workdays: [\"2026-10-10\", {date: \"2026-12-27\", as: sat}]\n"), int64(0))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const horizon = 400 * 24 * time.Hour
	f.Fuzz(func(t *testing.T, data []byte, offset int64) {
		c, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse error %T is not a non-empty config.Errors: %v", err, err)
			}
			checkPositions(t, "Parse", errs)
			return
		}
		// Any instant within three years of 2026, to the second.
		const span = 3 * 365 * 24 * 3600
		at := base.Add(time.Duration((offset%span+span)%span) * time.Second)
		for i := range c.Calendars {
			cal := &c.Calendars[i]
			open := cal.Open(at)
			_ = cal.Holiday(at)
			next := cal.NextChange(at)
			if next.IsZero() {
				for _, later := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 399 * 24 * time.Hour} {
					if cal.Open(at.Add(later)) != open {
						t.Fatalf("calendar %q: no change after %v, yet Open is %v then, %v %v later", cal.Name, at, open, !open, later)
					}
				}
				continue
			}
			switch {
			case !next.After(at) || next.Sub(at) > horizon:
				t.Fatalf("calendar %q: next change after %v is %v", cal.Name, at, next)
			case cal.Open(next) == open:
				t.Fatalf("calendar %q: Open is %v at %v and at its next change %v", cal.Name, open, at, next)
			}
			// Open is unchanged in between: just before the change, and half way.
			for _, before := range []time.Time{next.Add(-time.Nanosecond), at.Add(next.Sub(at) / 2)} {
				if before.After(at) && cal.Open(before) != open {
					t.Fatalf("calendar %q: Open is %v at %v, %v at %v, before its next change %v", cal.Name, open, at, !open, before, next)
				}
			}
		}
	})
}

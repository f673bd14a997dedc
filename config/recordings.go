package config

import (
	"net/url"
	"regexp"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Recordings rules how long recordings are kept and what is done with
// them when a call ends.
type Recordings struct {
	// RetentionDays is how long a recording is kept, by business type
	// ("" is every call without one, or whose type has no entry). 0 keeps
	// recordings for ever. Recordings on legal hold are never deleted.
	RetentionDays map[string]int
	// DefaultRetentionDays applies to business types without an entry.
	DefaultRetentionDays int
	// SweepEvery is how often expired recordings are looked for.
	SweepEvery Duration
	// MinFreeBytes: below this much free space on the recordings' disk,
	// new calls are not recorded (they go on; a metric and a log say so).
	MinFreeBytes int64
	// AnalyticsHook, when set, is run for each recording once the call has
	// ended (speech analytics, compliance): off by default.
	AnalyticsHook AnalyticsHook
}

// AnalyticsHook sends a finished recording to speech analytics: Command is
// run with the WAV's path and the call ID as arguments (its standard
// output, JSON {"text": ..., "flags": [...]}, is stored with the call), or
// the WAV is POSTed to URL with the call ID in X-Call-ID and the same JSON
// is expected back. At most one of the two.
type AnalyticsHook struct {
	Command []string
	URL     string
	Timeout Duration
}

// Enabled reports whether a hook is configured.
func (h AnalyticsHook) Enabled() bool { return len(h.Command) > 0 || h.URL != "" }

// Defaults of the recordings section.
const (
	DefaultSweepEvery   = time.Hour
	DefaultHookTimeout  = 2 * time.Minute
	DefaultMinFreeBytes = 256 << 20
	maxRetentionDays    = 100 * 366
)

// RetentionFor is how many days a recording of businessType is kept (0:
// for ever).
func (r Recordings) RetentionFor(businessType string) int {
	if d, ok := r.RetentionDays[businessType]; ok {
		return d
	}
	return r.DefaultRetentionDays
}

// Reports configures the KPIs.
type Reports struct {
	// FCRWindow: a call is not first-call-resolved when the same caller
	// calls again on the same business type within this window.
	FCRWindow Duration
}

// DefaultFCRWindow is the usual 48 hours.
const DefaultFCRWindow = 48 * time.Hour

// Disposition is a wrap-up code: how the call ended for the business
// (resolved, escalated, sale...). Agents set it with its Code over DTMF
// (the wrap-up feature code) or the API.
type Disposition struct {
	Code string // digits, for the keypad
	Name string
}

// DispositionByCode returns the disposition with code, or false.
func (c *Config) DispositionByCode(code string) (Disposition, bool) {
	for _, d := range c.Dispositions {
		if d.Code == code {
			return d, true
		}
	}
	return Disposition{}, false
}

// DispositionByName returns the disposition named name, or false.
func (c *Config) DispositionByName(name string) (Disposition, bool) {
	for _, d := range c.Dispositions {
		if d.Name == name {
			return d, true
		}
	}
	return Disposition{}, false
}

var (
	dispositionCode = regexp.MustCompile(`^[0-9]{1,4}$`)
	dispositionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

func (d *decoder) recordings(n *yaml.Node, r *Recordings) {
	d.fields(n, "recordings", map[string]field{
		"retention_days": func(v *yaml.Node) {
			for key, value := range d.pairs(v, "recordings.retention_days") {
				var days int
				ctx := "recordings.retention_days." + key.Value
				d.integer(&days, ctx, 0, maxRetentionDays)(value)
				if key.Value == "default" {
					r.DefaultRetentionDays = days
					continue
				}
				r.RetentionDays[key.Value] = days
			}
		},
		"sweep_every":    d.durationIn(&r.SweepEvery, "recordings.sweep_every", Duration(time.Minute), 0, ""),
		"min_free_bytes": func(v *yaml.Node) { d.int64(&r.MinFreeBytes, "recordings.min_free_bytes", v) },
		"analytics_hook": func(v *yaml.Node) {
			h := &r.AnalyticsHook
			var at *yaml.Node
			d.fields(v, "recordings.analytics_hook", map[string]field{
				"command": func(c *yaml.Node) {
					at = d.resolve(c)
					for _, item := range d.items(c, "recordings.analytics_hook.command") {
						if s, ok := d.scalar(item, "recordings.analytics_hook.command"); ok {
							h.Command = append(h.Command, s)
						}
					}
				},
				"url":     d.str(&h.URL, "recordings.analytics_hook.url"),
				"timeout": d.durationIn(&h.Timeout, "recordings.analytics_hook.timeout", Duration(time.Second), Duration(time.Hour), ""),
			})
			if len(h.Command) > 0 && h.URL != "" {
				d.errorf(at, "recordings.analytics_hook: give command or url, not both")
			}
			if h.URL != "" && !validHTTPURL(h.URL) {
				d.errorf(d.resolve(v), "recordings.analytics_hook.url: %q is not an http(s) URL", h.URL)
			}
		},
	})
}

func (d *decoder) reports(n *yaml.Node, r *Reports) {
	d.fields(n, "reports", map[string]field{
		"fcr_window": d.durationIn(&r.FCRWindow, "reports.fcr_window", Duration(time.Minute), Duration(90*24*time.Hour), ""),
	})
}

func (d *decoder) dispositions(n *yaml.Node) []Disposition {
	var out []Disposition
	codes, names := map[string]bool{}, map[string]bool{}
	for _, item := range d.items(n, "dispositions") {
		var disp Disposition
		d.fields(item, "dispositions", map[string]field{
			"code": d.str(&disp.Code, "dispositions.code"),
			"name": d.str(&disp.Name, "dispositions.name"),
		})
		switch {
		case !dispositionCode.MatchString(disp.Code):
			d.errorf(item, "dispositions: code %q must be 1 to 4 digits (quote it), for the keypad", disp.Code)
		case !dispositionName.MatchString(disp.Name):
			d.errorf(item, "dispositions: name %q must be lower-case letters, digits, - or _", disp.Name)
		case codes[disp.Code] || names[disp.Name]:
			d.errorf(item, "dispositions: code %q or name %q given twice", disp.Code, disp.Name)
		default:
			codes[disp.Code], names[disp.Name] = true, true
			out = append(out, disp)
		}
	}
	return out
}

// validHTTPURL reports whether s is an absolute http or https URL with a host.
func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// int64 reads a non-negative whole number of bytes.
func (d *decoder) int64(dst *int64, ctx string, n *yaml.Node) {
	s, ok := d.scalar(n, ctx)
	if !ok {
		return
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		d.errorf(d.resolve(n), "%s: want a whole number of bytes, got %q", ctx, s)
		return
	}
	*dst = v
}

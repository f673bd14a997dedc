package config

import (
	"regexp"

	"gopkg.in/yaml.v3"
)

// Transfers rules where agents may send a connected call beyond the
// ACD's queues and agents, and what happens when a transfer fails.
type Transfers struct {
	// External lists the numbers (exact, or a prefix ending in *) that
	// agents may transfer, consult or conference a call to through an
	// outbound trunk. Empty: none; an open transfer is where toll fraud
	// starts.
	External []string
	// Trunk is the outbound trunk for them ("": the first trunk with an
	// outbound address).
	Trunk string
	// FailedReturn is where a blind transfer goes when its agent,
	// extension or number does not take the call: "agent" rings the
	// agent who transferred it again (as Asterisk's and FreeSWITCH's
	// transfer recall do; the default), "queue" puts the caller back in
	// the queue they were answered from. Either way the other is the
	// fallback.
	FailedReturn string
}

// Failed transfer rules.
const (
	FailedReturnAgent = "agent"
	FailedReturnQueue = "queue"
)

// ExternalAllowed reports whether agents may send calls to number.
func (t Transfers) ExternalAllowed(number string) bool {
	for _, p := range t.External {
		if numberMatches(p, number) {
			return true
		}
	}
	return false
}

// externalPattern is a number or a prefix of one: an optional +, digits,
// an optional trailing *.
var externalPattern = regexp.MustCompile(`^\+?[0-9]+\*?$|^\+?\*$`)

func (d *decoder) transfers(n *yaml.Node, c *Config) {
	t := &c.Transfers
	var trunk *yaml.Node
	d.fields(n, "transfers", map[string]field{
		"external": func(v *yaml.Node) {
			for _, item := range d.items(v, "transfers.external") {
				s, ok := d.scalar(item, "transfers.external")
				if !ok {
					continue
				}
				if !externalPattern.MatchString(s) {
					d.errorf(item, "transfers.external: %q is not a number or a prefix such as \"+4930*\" (quote it)", s)
					continue
				}
				t.External = append(t.External, s)
			}
		},
		"trunk": func(v *yaml.Node) {
			if s, ok := d.scalar(v, "transfers.trunk"); ok {
				t.Trunk, trunk = s, d.resolve(v)
			}
		},
		"failed_return": func(v *yaml.Node) {
			s, ok := d.scalar(v, "transfers.failed_return")
			if !ok {
				return
			}
			if s != FailedReturnAgent && s != FailedReturnQueue {
				d.errorf(d.resolve(v), "transfers.failed_return: want %q or %q, got %q", FailedReturnAgent, FailedReturnQueue, s)
				return
			}
			t.FailedReturn = s
		},
	})
	if trunk != nil {
		if tr := c.Trunk(t.Trunk); tr == nil || tr.Outbound == "" {
			d.errorf(trunk, "transfers.trunk: %q is not a trunk with an outbound address", t.Trunk)
		}
	}
}

// TransferTrunk is the trunk external transfers leave by, or nil.
func (c *Config) TransferTrunk() *Trunk {
	if c.Transfers.Trunk != "" {
		return c.Trunk(c.Transfers.Trunk)
	}
	return c.OutboundTrunk()
}

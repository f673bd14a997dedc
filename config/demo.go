package config

import (
	_ "embed"
	"fmt"
)

// DemoYAML is the demo configuration: one trunk, a two-choice menu, two
// queues and four agents, with an example of each contact-center setting
// (skills, priorities, dedicated agents, agent states, feature codes, a
// hot-desk phone, a calendar). It is also the file admins copy to start.
//
//go:embed demo.yaml
var DemoYAML []byte

// Demo returns the demo configuration, parsed. It panics only if the embedded
// file is broken, which TestDemoParses prevents.
func Demo() *Config {
	c, err := Parse("demo.yaml", DemoYAML)
	if err != nil {
		panic(fmt.Sprintf("config: embedded demo.yaml is invalid:\n%v", err))
	}
	return c
}

// Package deps holds the test that keeps hotline's package layering honest:
// the packages below the call conductor never import each other sideways.
package deps

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hotline-cc/hotline/"

// allowed lists, per package, the hotline packages it may import and why the
// rest are forbidden. Packages not listed may import anything.
var allowed = map[string]struct {
	imports []string
	why     string
}{
	"config":   {nil, "config is a leaf everyone reads"},
	"clock":    {nil, "clock is a leaf"},
	"pinguard": {nil, "pinguard is a leaf"},
	"prompts":  {nil, "prompts is embedded data"},
	"media":    {nil, "media knows nothing of SIP, queues or IVR"},
	"recorder": {nil, "recorder turns frames into files"},
	"store":    {nil, "store is storage only"},
	"sip":      {[]string{"guard"}, "sip speaks legs and registrations, not calls; guard screens its requests"},
	"guard":    {nil, "guard is a leaf: a policy in, decisions out"},
	"ivr":      {[]string{"config", "ivr/say"}, "ivr is a pure interpreter over config"},
	"ivr/say":  {nil, "say turns values into prompt names and knows nothing else"},
	"acd":      {[]string{"config", "clock"}, "acd is a pure router over config"},
}

func TestPackageLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		rule, ok := allowed[pkg]
		if !ok {
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			permitted := false
			for _, a := range rule.imports {
				if dep == a {
					permitted = true
				}
			}
			if !permitted {
				t.Errorf("%s imports %s: %s", pkg, dep, rule.why)
			}
		}
	}
}

package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/config"
)

// TestSecretsNeverLogged: the log, at debug level, holds no password, PIN,
// API token or digest response, after phones registered with right and
// wrong passwords, an agent logged in by feature code and over the API
// with a PIN, and API clients used right and wrong tokens.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	const (
		password  = "Pw-never-logged-1001"
		deskPass  = "Desk-never-logged-9"
		pin       = "73195428"
		token     = "tok-never-logged-42"
		wrongPass = "Wrong-never-logged-7"
	)
	h := startHotline(t, func(c *config.Config) {
		for i := range c.Agents {
			switch c.Agents[i].ID {
			case "1001":
				c.Agents[i].Password = password
			case "1004":
				c.Agents[i].PIN = pin
			}
		}
		c.Phones[0].Password = deskPass
		c.HTTP.Tokens = append(c.HTTP.Tokens, config.Token{Name: "ops", Token: token, Role: config.RoleAdmin})
	})

	office := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
	for i, pw := range []string{password, wrongPass} {
		ans, _ := registerWith(t, h, office, "1001", pw, fmt.Sprintf("secret-reg-%d", i), 1)
		if want := []int{200, 403}[i]; ans.status != want {
			t.Fatalf("REGISTER with password %d: %d, want %d", i, ans.status, want)
		}
	}

	phone := newFeaturePhone(t)
	phone.dial(t, h, "desk1", deskPass, "*201004*"+pin)

	for _, tok := range []string{token, "tok-wrong-never-logged"} {
		req, _ := http.NewRequest(http.MethodPost, h.url("/api/v1/agents/1004/login"), strings.NewReader(`{"device":"desk1","pin":"`+pin+`"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}

	log, err := os.ReadFile(h.cfg.DataDir + "/hotline.log")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"password": password, "desk phone password": deskPass, "wrong password": wrongPass,
		"PIN": pin, "API token": token, "wrong API token": "tok-wrong-never-logged"}
	leaked := 0
	for what, secret := range secrets {
		if i := bytes.Index(log, []byte(secret)); i >= 0 {
			leaked++
			start := bytes.LastIndexByte(log[:i], '\n') + 1
			end := i + bytes.IndexByte(log[i:], '\n')
			t.Errorf("the %s is in the log:\n%s", what, log[start:max(end, i+len(secret))])
		}
	}
	// Digest responses can be cracked offline: no Authorization header
	// either.
	if lower := bytes.ToLower(log); bytes.Contains(lower, []byte("authorization")) && bytes.Contains(lower, []byte("response=")) {
		t.Errorf("a SIP Authorization header is in the log")
	}
	reportRobust(t, "secrets in the debug log", fmt.Sprintf("%d of %d kinds of secret found in %d kB of log", leaked, len(secrets), len(log)/1024),
		"none", leaked == 0)
}

package api

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// TestQAPageServed: /qa and its script and style are served with a strict
// Content-Security-Policy, without a token (the page holds no data).
func TestQAPageServed(t *testing.T) {
	a := newTestAPI(t)
	for path, want := range map[string]string{"/qa": "<title>hotline QA", "/qa/qa.js": "/api/v1/recordings", "/qa/qa.css": "font"} {
		rec := a.fetch(path, "", "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d, body without %q", path, rec.Code, want)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	if rec := a.fetch("/qa/nope.js", "", ""); rec.Code != 404 {
		t.Errorf("unknown file: %d", rec.Code)
	}
}

// TestQAPageInChromium: headless Chromium opens /qa with a deep link: the
// page searches the card recordings, lists them, gets a signed link for
// one and loads it into its player, and shows that call's timeline. The
// link then plays without the token. Skipped when Chromium is not
// installed (Debian package chromium).
func TestQAPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): the QA page is not checked in a browser")
	}
	a := newTestAPI(t)
	path, _ := testRecording(t, 3)
	for _, c := range []store.CDR{
		{CallID: "card-1", BusinessType: "card", AgentID: "1001", Queue: "support", Caller: "+15550001", Disposition: ""},
		{CallID: "card-2", BusinessType: "card", AgentID: "1002", Queue: "support", Caller: "+15550002"},
		{CallID: "loan-1", BusinessType: "loan", AgentID: "1001", Queue: "sales", Caller: "+15550003"},
	} {
		c.Start, c.Answer, c.End, c.RecordingPath, c.Talk = t0, t0, t0.Add(3*time.Second), path, 2*time.Second
		a.call(c)
	}
	a.stages(store.Stage{CallID: "card-1", Seq: 1, Kind: store.StageTalk, Start: t0, End: t0.Add(3 * time.Second), AgentID: "1001"})
	srv := httptest.NewServer(a.h)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom",
		srv.URL+"/qa#token="+qaToken+"&business_type=card&play=card-1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{`data-call-id="card-1"`, `data-call-id="card-2"`, "2 recordings.", "talk (1001)"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, `data-call-id="loan-1"`) {
		t.Error("the page lists a loan call for a card search")
	}
	src := regexp.MustCompile(`<audio id="audio"[^>]* src="([^"]+)"`).FindStringSubmatch(dom)
	if src == nil {
		t.Fatalf("no audio src in the player:\n%s", dom)
	}
	res, err := http.Get(srv.URL + html.UnescapeString(src[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(string(body), "RIFF") || !strings.Contains(src[1], "sig=") {
		t.Errorf("the player's link %s: %d, %d bytes", src[1], res.StatusCode, len(body))
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hotline-cc/hotline/ivr"
)

// httpFixture is one canned answer for `ivr simulate -http-fixture`.
type httpFixture struct {
	// Request is "METHOD URL"; a URL ending in * matches any rest.
	Request string    `yaml:"request"`
	Status  int       `yaml:"status"`
	Body    yaml.Node `yaml:"body"`
	Timeout bool      `yaml:"timeout"`
	Error   string    `yaml:"error"`
}

// loadFixtures reads a fixture file: a list of requests and their answers.
func loadFixtures(path string) ([]httpFixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []httpFixture
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for i, f := range list {
		method, url, ok := strings.Cut(f.Request, " ")
		if !ok || method == "" || url == "" {
			return nil, fmt.Errorf("%s: fixture #%d: request must be \"METHOD URL\", got %q", path, i+1, f.Request)
		}
		if f.Status == 0 && !f.Timeout && f.Error == "" {
			list[i].Status = http.StatusOK
		}
	}
	return list, nil
}

// answer finds the fixture for a data dip.
func fixtureAnswer(list []httpFixture, f ivr.Fetch, file string) ivr.FetchResult {
	for _, fx := range list {
		method, pattern, _ := strings.Cut(fx.Request, " ")
		prefix, wild := strings.CutSuffix(pattern, "*")
		if !strings.EqualFold(method, f.Method) || (wild && !strings.HasPrefix(f.URL, prefix)) || (!wild && f.URL != pattern) {
			continue
		}
		res := ivr.FetchResult{Status: fx.Status, TimedOut: fx.Timeout, Source: "fixture " + file}
		if fx.Error != "" {
			res.Err = fmt.Errorf("%s", fx.Error)
		}
		res.Body = fixtureBody(&fx.Body)
		return res
	}
	return ivr.FetchResult{Err: fmt.Errorf("no fixture for %s %s", f.Method, f.URL), Source: "fixture " + file}
}

// fixtureBody sends a string body as written and anything else as JSON.
func fixtureBody(n *yaml.Node) []byte {
	if n.Kind == 0 {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return []byte(n.Value)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return []byte(n.Value)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(n.Value)
	}
	return b
}

// liveFetch sends a data dip for real, as a call would.
func liveFetch(f ivr.Fetch) ivr.FetchResult {
	ctx, cancel := context.WithTimeout(context.Background(), f.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, f.Method, f.URL, bytes.NewReader(f.Body))
	if err != nil {
		return ivr.FetchResult{Err: err, Source: "network"}
	}
	for _, h := range f.Headers {
		req.Header.Set(h[0], h[1])
	}
	if f.ContentType != "" {
		req.Header.Set("Content-Type", f.ContentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ivr.FetchResult{TimedOut: true, Source: "network"}
		}
		return ivr.FetchResult{Err: err, Source: "network"}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, ivr.MaxFetchBody))
	return ivr.FetchResult{Status: resp.StatusCode, Body: body, Err: err, Source: "network"}
}

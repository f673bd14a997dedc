package call

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/hotline-cc/hotline/ivr"
)

// newDipClient returns the HTTP client of IVR data dips. Each request has
// its node's timeout; the transport keeps connections to the CRM warm,
// since every call may ask it.
func newDipClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			return nil
		},
	}
}

// startFetch sends a data dip in the background; its answer comes back to
// the call's loop through c.fetched. The request ends with the node's
// timeout or the call, whichever comes first.
func (c *Call) startFetch(f ivr.Fetch) {
	ctx, cancel := context.WithTimeout(c.ctx, f.Timeout)
	// The answer is for this run only: a dip of an earlier run (before a
	// queue sent the caller to another flow) must not answer this one's.
	run := c.ivrRun
	deliver := func(ev ivr.EventFetched) {
		select {
		case c.fetched <- fetchAnswer{run: run, ev: ev}:
		case <-c.ctx.Done():
		}
	}
	req, err := http.NewRequestWithContext(ctx, f.Method, f.URL, bytes.NewReader(f.Body))
	if err != nil {
		cancel()
		go deliver(ivr.EventFetched{Seq: f.Seq, Err: errors.New("invalid request: " + hostOnly(err))})
		return
	}
	for _, h := range f.Headers {
		req.Header.Set(h[0], h[1])
	}
	if f.ContentType != "" {
		req.Header.Set("Content-Type", f.ContentType)
	}
	req.Header.Set("X-Call-ID", c.id)
	flow, start := c.ivrRun.Graph().Name(), c.now()
	// The URL's path and query may carry the caller's number: log the host.
	log := c.log.With("node", f.Node, "host", req.URL.Host)
	go func() {
		defer cancel()
		ev := ivr.EventFetched{Seq: f.Seq}
		resp, err := c.m.dipClient.Do(req)
		result := "ok"
		switch {
		// No answer within the node's timeout is a timeout even when the
		// call's end canceled the request first: the IVR's own timer of the
		// same length may have moved the caller on, and the call ended.
		case err != nil && (ctx.Err() == context.DeadlineExceeded || c.now().Sub(start) >= f.Timeout):
			ev.Err, result = fmt.Errorf("no answer within %s", f.Timeout), "timeout"
		case err != nil:
			ev.Err, result = errors.New(hostOnly(err)), "error"
		default:
			ev.Status = resp.StatusCode
			ev.Body, err = io.ReadAll(io.LimitReader(resp.Body, ivr.MaxFetchBody))
			resp.Body.Close()
			if err != nil {
				ev.Err, result = err, "error"
			} else if resp.StatusCode < 200 || resp.StatusCode > 299 {
				result = "status"
			}
		}
		took := c.now().Sub(start)
		c.m.deps.Metrics.dip(flow, f.Node, result, took)
		log.Info("ivr data dip", "method", f.Method, "status", ev.Status, "result", result, "took", took.Round(time.Millisecond).String(), "err", ev.Err)
		deliver(ev)
	}()
}

// fetchAnswer is a data dip's answer, for the run that asked.
type fetchAnswer struct {
	run *ivr.Run
	ev  ivr.EventFetched
}

// hostOnly describes a request error without its URL, whose path and
// query may hold a caller's number.
func hostOnly(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

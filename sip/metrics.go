package sip

import (
	"strconv"

	"github.com/emiago/sipgo/sip"
	"github.com/hotline-cc/hotline/internal/tlsserver"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts SIP traffic. Labels are bounded: methods outside the ones we
// know are folded into "OTHER", status codes are three digits.
type metrics struct {
	requests     *prometheus.CounterVec
	responses    *prometheus.CounterVec
	authFailures prometheus.Counter
	blockedReqs  *prometheus.CounterVec
	tlsFailures  *prometheus.CounterVec
}

// Reasons of hotline_sip_blocked_total.
const (
	BlockRate      = "rate"       // the request took its source over its rate: the source is banned
	BlockBanned    = "banned"     // the source is serving a ban
	BlockScanner   = "scanner"    // a known scanner's User-Agent
	BlockLockout   = "lockout"    // credentials from a locked-out source or for a locked-out account
	BlockMalformed = "malformed"  // a line break inside a header: dropped, never echoed
	BlockTCPLimit  = "tcp-limit"  // a TCP connection over security.tcp's limits, closed at once
	BlockCallLimit = "call-limit" // a carrier call over a concurrent-call limit (503)
)

var blockReasons = []string{BlockRate, BlockBanned, BlockScanner, BlockLockout, BlockMalformed, BlockTCPLimit, BlockCallLimit}

var knownMethods = map[sip.RequestMethod]bool{
	sip.INVITE: true, sip.ACK: true, sip.BYE: true, sip.CANCEL: true, sip.OPTIONS: true,
	sip.REGISTER: true, sip.REFER: true, sip.NOTIFY: true, sip.SUBSCRIBE: true, sip.INFO: true,
	sip.MESSAGE: true, sip.UPDATE: true, sip.PRACK: true, sip.PUBLISH: true,
}

func methodLabel(m sip.RequestMethod) string {
	if knownMethods[m] {
		return string(m)
	}
	return "OTHER"
}

func newMetrics(reg prometheus.Registerer, r *Registrar) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "sip", Name: "requests_total",
			Help: "SIP requests received (and BYE/INVITE sent) by method.",
		}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "sip", Name: "responses_total",
			Help: "SIP responses sent by request method and status code.",
		}, []string{"method", "code"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "sip", Name: "auth_failures_total",
			Help: "REGISTER requests refused after digest verification.",
		}),
		blockedReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "sip", Name: "blocked_total",
			Help: "SIP requests dropped or refused by the abuse guard, by reason (rate, banned, scanner, lockout, call-limit).",
		}, []string{"reason"}),
		tlsFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "sip", Name: "tls_handshake_failures_total",
			Help: "SIP over TLS connections closed before their handshake completed, by reason (not-tls, timeout, client-cert, server-cert, closed, negotiation).",
		}, []string{"reason"}),
	}
	for _, r := range blockReasons {
		m.blockedReqs.WithLabelValues(r)
	}
	for _, r := range tlsserver.FailureReasons {
		m.tlsFailures.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	bindings := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "hotline", Subsystem: "sip", Name: "registrations",
		Help: "Registered contacts of agents' phones.",
	}, func() float64 { return float64(r.Count()) })
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.authFailures, m.blockedReqs, m.tlsFailures, bindings} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Touch the usual series so they are exported from the start.
	for _, meth := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL, sip.OPTIONS, sip.REGISTER} {
		m.requests.WithLabelValues(string(meth))
	}
	return m, nil
}

func (m *metrics) request(method sip.RequestMethod) {
	m.requests.WithLabelValues(methodLabel(method)).Inc()
}

func (m *metrics) response(res *sip.Response) {
	method := sip.RequestMethod("")
	if cs := res.CSeq(); cs != nil {
		method = cs.MethodName
	}
	m.responseCode(method, res.StatusCode)
}

func (m *metrics) responseCode(method sip.RequestMethod, code int) {
	if code < 100 || code > 699 {
		code = 0
	}
	m.responses.WithLabelValues(methodLabel(method), strconv.Itoa(code)).Inc()
}

func (m *metrics) authFailure() { m.authFailures.Inc() }

func (m *metrics) blocked(reason string) { m.blockedReqs.WithLabelValues(reason).Inc() }

func (m *metrics) tlsHandshakeFailed(reason string) { m.tlsFailures.WithLabelValues(reason).Inc() }

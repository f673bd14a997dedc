package app_test

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestInviteFloodSparesTrunkCalls: one source floods INVITEs while the
// carrier's trunk places calls. The flood is banned by the per-source rate
// limit; every carrier call is answered, and quickly.
func TestInviteFloodSparesTrunkCalls(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		c.Trunks[0].ACL = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Trunks[0].Numbers = []string{"8005551000"}
		c.Security.Allow = nil // only the trunk's ACL is exempt
		c.Security.AllowTrunks = true
		// Room for the calls up at once and those still closing (recording,
		// CDR) as a production pool has: this row is about the flood.
		c.RTP.PortLow = sipptest.FreePortRange(t, 200)
		c.RTP.PortHigh = c.RTP.PortLow + 199
	})
	var (
		calls       = robustScale(40, 400)
		workers     = robustScale(4, 12)
		floodPerSec = robustScale(5000, 20000)
		callsOver   = robustScale(2*time.Second, 15*time.Second)
		floodMax    = robustScale(20*time.Second, 60*time.Second)
	)

	flooder := randomLoopback(t)
	stop := make(chan struct{})
	floodDone := make(chan int, 1)
	go func() { floodDone <- floodInvitesPaced(t, h, flooder, floodPerSec, floodMax, stop) }()
	// The carrier's calls start once the flood is under way and banned.
	waitFor(t, 10*time.Second, "the flooding source banned", func() (bool, string) {
		v := metricValue(h.metrics(), `hotline_sip_blocked_total{reason="banned"}`)
		return v > 0, fmt.Sprintf("blocked banned %v", v)
	})

	var (
		mu       sync.Mutex
		setups   []time.Duration
		failures []string
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
				call, setup := placeCarrierCall(t, h.sipAddr(), peer, fmt.Sprintf("trunk-%d", i), carrierOffer(t, peer), 5*time.Second)
				failure := ""
				switch {
				case call.answer.status != 200:
					m := h.metrics()
					failure = fmt.Sprintf("call %d: answer %d after %s (calls active %v, RTP endpoints %v, ports free %v)", i, call.answer.status, setup,
						metricValue(m, "hotline_calls_active"), metricValue(m, "hotline_media_endpoints"), metricValue(m, "hotline_media_ports_free"))
				default:
					if bye := call.ackAndBye(t); bye != 200 {
						failure = fmt.Sprintf("call %d: BYE answered %d", i, bye)
					}
				}
				mu.Lock()
				setups = append(setups, setup)
				if failure != "" {
					failures = append(failures, failure)
				}
				mu.Unlock()
			}
		}()
	}
	// The calls are spread over the flood, not over in its first second.
	pace := time.NewTicker(callsOver / time.Duration(calls))
	for i := range calls {
		next <- i
		<-pace.C
	}
	pace.Stop()
	close(next)
	wg.Wait()
	close(stop)
	flooded := <-floodDone

	blocked := metricValue(h.metrics(), `hotline_sip_blocked_total{reason="banned"}`) +
		metricValue(h.metrics(), `hotline_sip_blocked_total{reason="rate"}`)
	p99 := percentile(setups, 99)
	reportRobust(t, "INVITE flood from one source, trunk calls meanwhile",
		fmt.Sprintf("%d flood INVITEs (%.0f blocked); %d/%d trunk calls answered, setup p50 %s p99 %s",
			flooded, blocked, calls-len(failures), calls, percentile(setups, 50).Round(time.Microsecond*100), p99.Round(time.Microsecond*100)),
		"all trunk calls answered, setup p99 < 500 ms",
		len(failures) == 0 && p99 < 500*time.Millisecond)
	for _, f := range failures {
		t.Log(f)
	}
	if blocked < float64(flooded)/2 {
		t.Errorf("%d flood INVITEs, only %.0f blocked: the rate limit did not hold the flood", flooded, blocked)
	}
	waitFor(t, 10*time.Second, "no call active", func() (bool, string) {
		v := metricValue(h.metrics(), "hotline_calls_active")
		return v == 0, fmt.Sprintf("hotline_calls_active %v", v)
	})
}

// floodInvitesPaced sends perSec INVITEs a second from src, in bursts every
// 10 ms, until stop or for at most within; it returns how many it sent.
func floodInvitesPaced(t *testing.T, h *hotline, src netip.Addr, perSec int, within time.Duration, stop <-chan struct{}) int {
	perBurst := max(1, perSec/100)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(within)
	f := newFlooder(t, h, src)
	if f == nil {
		return 0
	}
	defer f.close()
	for {
		select {
		case <-stop:
			return f.sent
		case <-limit:
			return f.sent
		case <-tick.C:
			f.invites(perBurst)
		}
	}
}

// TestTCPConnectionFloodIsBounded: one source opening TCP connections and
// sending nothing gets security.tcp.per_source of them; the rest are closed
// as they are accepted, and the connections it holds still work.
func TestTCPConnectionFloodIsBounded(t *testing.T) {
	t.Parallel()
	const perSource = 3
	h := startHotline(t, func(c *config.Config) {
		c.Security.Allow = nil
		c.Security.AllowTrunks = false
		c.Security.TCP = config.TCPLimits{Max: 100, PerSource: perSource}
	})
	attempts := robustScale(10, 200)
	src := randomLoopback(t)
	raddr, err := net.ResolveTCPAddr("tcp4", h.sipAddr())
	if err != nil {
		t.Fatal(err)
	}
	var held []*net.TCPConn
	for range attempts {
		conn, err := net.DialTCP("tcp4", &net.TCPAddr{IP: src.AsSlice()}, raddr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		held = append(held, conn)
	}
	waitFor(t, 10*time.Second, "the connections over the limit refused", func() (bool, string) {
		v := metricValue(h.metrics(), `hotline_sip_blocked_total{reason="tcp-limit"}`)
		return v == float64(attempts-perSource), fmt.Sprintf("tcp-limit blocks %v, want %d", v, attempts-perSource)
	})
	// The first ones are open: OPTIONS over each is answered.
	answered := 0
	for i, conn := range held[:perSource] {
		peer := &tcpAnswers{t: t, conn: conn}
		req := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-tcp-%d\r\nMax-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=t%d\r\nTo: <sip:%s>\r\nCall-ID: tcp-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			h.sipAddr(), conn.LocalAddr(), i, src, i, h.sipAddr(), i)
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatalf("write: %v", err)
		}
		if got := peer.read(time.Now().Add(5*time.Second), true); hasFinal(got) && got[len(got)-1].status == 200 {
			answered++
		}
	}
	reportRobust(t, "TCP connection flood from one source",
		fmt.Sprintf("%d connections opened: %d kept (each answers OPTIONS: %d), %d closed at accept", attempts, perSource, answered, attempts-perSource),
		fmt.Sprintf("at most security.tcp.per_source (%d) kept, those working", perSource), answered == perSource)
}

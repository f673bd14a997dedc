// Package app assembles a running hotline from a configuration: storage, media,
// the ACD loop, the SIP user agent, the call conductor and the HTTP API. cmd/hotline
// and the end-to-end tests both start hotline through it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/call"
	"github.com/hotline-cc/hotline/clock"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/guard"
	"github.com/hotline-cc/hotline/internal/tlsserver"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/pinguard"
	"github.com/hotline-cc/hotline/prompts"
	"github.com/hotline-cc/hotline/recorder"
	"github.com/hotline-cc/hotline/retention"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// Options start an App.
type Options struct {
	Config  *config.Config
	Logger  *slog.Logger
	Version string
	// Load reads the configuration again (the file, with the command
	// line's overrides) for a reload by SIGHUP, API or file change; nil
	// means the configuration cannot be reloaded (the embedded demo).
	Load func() (*config.Config, error)
	// Watch, when set, is the file whose changes trigger a reload.
	Watch string
}

// App is a running hotline.
type App struct {
	SIPAddr netip.AddrPort
	// SIPTLSAddr is the SIP over TLS listener; zero without sip.tls.
	SIPTLSAddr netip.AddrPort
	HTTPAddr   netip.AddrPort
	// HTTPS says the API listener serves TLS (http.tls).
	HTTPS  bool
	DBPath string

	log      *slog.Logger
	cancel   context.CancelFunc
	runtime  atomic.Pointer[call.Runtime]
	store    *store.Store
	engine   *media.Engine
	recorder *recorder.Writer
	calls    *call.Manager
	journal  *call.Journal
	router   *acd.Router
	load     func() (*config.Config, error)
	reloads  *reloadMetrics
	reloadMu sync.Mutex // one reload at a time
	sip      *hsip.Server
	guard    *guard.Guard // the SIP abuse guard; reloads update its policy
	httpSrv  *http.Server
	wg       sync.WaitGroup
	errc     chan error
	closed   sync.Once
}

// LoadRuntime compiles a configuration's flows and loads its prompts (embedded
// ones, overridden by the configured folder). It is what `hotline check` runs too.
func LoadRuntime(cfg *config.Config) (*call.Runtime, error) {
	set, err := media.LoadPrompts(prompts.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("embedded prompts: %w", err)
	}
	if cfg.Prompts.Dir != "" {
		extra, err := media.LoadPrompts(os.DirFS(cfg.Prompts.Dir), ".")
		if err != nil {
			return nil, fmt.Errorf("prompts %s: %w", cfg.Prompts.Dir, err)
		}
		for name, p := range extra {
			set[name] = p
		}
	}
	hasPrompt := func(name string) bool { return set[name] != nil }
	var problems config.Errors
	problems = append(problems, cfg.CheckPrompts(hasPrompt)...)
	flows := make(map[string]*ivr.Graph, len(cfg.Flows))
	for i := range cfg.Flows {
		g, errs := ivr.Compile(&cfg.Flows[i], hasPrompt)
		problems = append(problems, errs...)
		if g != nil {
			flows[cfg.Flows[i].Name] = g
		}
	}
	if len(problems) > 0 {
		problems.Sort()
		return nil, problems
	}
	return &call.Runtime{Config: cfg, Flows: flows, Prompts: set}, nil
}

// Start brings hotline up. It returns once every listener is bound.
func Start(ctx context.Context, opts Options) (*App, error) {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	rt, err := LoadRuntime(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	a := &App{log: log, cancel: cancel, errc: make(chan error, 4), load: opts.Load}
	a.runtime.Store(rt)
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()

	recDir := filepath.Join(cfg.DataDir, "recordings")
	if err := os.MkdirAll(recDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	// Recordings cut short by a crash get their WAV headers fixed before anyone
	// can download them.
	repaired, err := recorder.Repair(recDir)
	if err != nil {
		log.Error("recording repair", "err", err)
	}
	for _, p := range repaired {
		log.Warn("recording repaired after unclean stop", "path", p)
	}
	a.DBPath = filepath.Join(cfg.DataDir, "hotline.db")
	if a.store, err = store.Open(a.DBPath, log); err != nil {
		return nil, err
	}
	if n, err := a.store.CloseDangling(ctx, "system-restart", time.Now()); err != nil {
		return nil, err
	} else if n > 0 {
		log.Warn("calls cut by an unclean stop closed", "count", n)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "hotline"}))

	bindIP, err := mediaBindIP(cfg)
	if err != nil {
		return nil, err
	}
	if a.engine, err = media.NewEngine(media.Config{BindIP: bindIP, PortLow: cfg.RTP.PortLow, PortHigh: cfg.RTP.PortHigh, Logger: log}); err != nil {
		return nil, err
	}
	reg.MustRegister(api.NewMediaCollector(a.engine))
	a.recorder = recorder.NewWriter(log)
	reg.MustRegister(retention.NewDiskCollector(recDir, a.recorder.Stats))

	var mgr *call.Manager
	router := acd.NewRouter(acd.TopologyFromConfig(cfg), clock.Real{}, log, func(c acd.Command) { mgr.Dispatch(c) })
	a.router = router
	a.reloads = newReloadMetrics(reg)
	reg.MustRegister(api.NewACDCollector(router, api.WithConfig(func() *config.Config { return a.runtime.Load().Config })))
	callMetrics := call.NewMetrics(reg)

	var advertise netip.Addr
	if cfg.SIP.Advertise != "" {
		if advertise, err = netip.ParseAddr(cfg.SIP.Advertise); err != nil {
			return nil, fmt.Errorf("sip advertise address: %w", err)
		}
	}
	var sipSrv *hsip.Server
	a.guard = guard.New(guardPolicy(cfg), nil)
	hooks := hsip.Hooks{
		Admit:          func(src netip.Addr, called string) hsip.Admission { return mgr.Admit(src, called) },
		Password:       func(user string) (string, bool) { return mgr.Password(user) },
		OnRegistration: func(ch hsip.RegistrationChange) { mgr.OnRegistration(ch) },
		HandleCall:     func(c *hsip.InboundCall) { mgr.HandleCall(c) },
		SessionTimers: func() hsip.SessionTimers {
			calls := a.runtime.Load().Config.Calls
			return hsip.SessionTimers{Expires: calls.SessionExpires, MinSE: calls.MinSE}
		},
	}
	sipCfg := hsip.Config{
		Listen: cfg.SIP.Listen, Advertise: advertise, Realm: cfg.SIP.Realm, UserAgent: cfg.SIP.UserAgent,
		NonceTTL: cfg.SIP.NonceTTL, RegisterMin: cfg.SIP.RegisterMinExpires, RegisterMax: cfg.SIP.RegisterMaxExpires,
		RegisterDefault: cfg.SIP.RegisterDefaultExpires, Logger: log, Registry: reg,
		Guard: a.guard,
	}
	if t := cfg.SIP.TLS; t != nil {
		sipCfg.TLSListen = t.Listen
		if sipCfg.TLS, err = sipTLSConfig(t, log); err != nil {
			return nil, err
		}
	}
	sipSrv, err = hsip.NewServer(sipCfg, hooks)
	if err != nil {
		return nil, err
	}
	a.SIPAddr, a.SIPTLSAddr = sipSrv.Addr(), sipSrv.TLSAddr()
	a.sip = sipSrv
	a.journal = call.NewJournal(a.store, log)
	pins := pinguard.New(nil) // one count of wrong PINs for the API and the phones
	mgr = call.NewManager(call.Deps{
		Runtime: a.runtime.Load, Media: a.engine, SIP: sipSrv, ACD: router, Store: a.store,
		Recorder: a.recorder, RecordingsDir: recDir, Log: log, Metrics: callMetrics, Journal: a.journal, PINs: pins,
	})
	a.calls = mgr
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "hotline", Subsystem: "calls", Name: "active", Help: "Calls in progress.",
	}, func() float64 { return float64(mgr.Active()) }))

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
	}
	a.HTTPAddr = ln.Addr().(*net.TCPAddr).AddrPort()
	if ln, err = httpsListener(ln, cfg.HTTP.TLS, log, reg); err != nil {
		return nil, err
	}
	a.HTTPS = cfg.HTTP.TLS != nil
	a.httpSrv = &http.Server{
		Handler: api.Handler(api.Deps{
			Config: func() *config.Config { return a.runtime.Load().Config }, ACD: router, Store: a.store,
			Registrar: sipSrv.Registrar(), Gatherer: reg, Log: log, Version: opts.Version, PINs: pins,
			Reload: a.ReloadFromSource, Calls: mgr,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	a.goRun("acd", func() error { return router.Run(ctx) })
	// Callbacks promised before a restart keep their place. The loop runs
	// already: more callbacks than its buffer holds must not block Start.
	pending, err := a.store.PendingCallbacks(ctx)
	if err != nil {
		return nil, err
	}
	for _, cb := range pending {
		router.Post(acd.CallbackScheduled{
			CallbackID: cb.ID, Queue: cb.Queue, Number: cb.Number, Priority: cb.Priority,
			QueuedAt: cb.QueuedAt, NotBefore: cb.NotBefore, Attempts: cb.Attempts, MaxAttempts: cb.MaxAttempts,
		})
	}
	if len(pending) > 0 {
		log.Info("pending callbacks restored", "count", len(pending))
	}
	a.goRun("sip", func() error { return sipSrv.Run(ctx) })
	a.goRun("acd-journal", func() error { return a.journal.Run(ctx) })
	if opts.Watch != "" && opts.Load != nil {
		a.goRun("config-watch", func() error { return a.watch(ctx, opts.Watch) })
	}
	a.goRun("acd-reconcile", func() error { return mgr.Reconcile(ctx, acd.CheckInterval) })
	sweeper := retention.New(retention.Deps{
		Store: a.store, Config: func() *config.Config { return a.runtime.Load().Config }, Dir: recDir,
		Log: log, Metrics: retention.NewMetrics(reg),
	})
	a.goRun("retention", func() error { return sweeper.Run(ctx) })
	a.goRun("http", func() error {
		if err := a.httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	ok = true
	return a, nil
}

// sipTLSConfig is the server configuration of SIP over TLS: the
// certificate (reloaded when its files change) and, with client_ca, the
// verification of phones' certificates.
func sipTLSConfig(t *config.SIPTLS, log *slog.Logger) (*tls.Config, error) {
	cert, err := tlsserver.LoadCertificate(t.Cert, t.Key, log.With("listener", "sip"))
	if err != nil {
		return nil, fmt.Errorf("sip.tls: %w", err)
	}
	opts := tlsserver.Options{Certificate: cert, RequireClientCert: t.VerifyClients}
	if t.ClientCA != "" {
		if opts.ClientCAs, err = tlsserver.LoadCertPool(t.ClientCA); err != nil {
			return nil, fmt.Errorf("sip.tls.client_ca: %w", err)
		}
	}
	return tlsserver.ServerConfig(opts), nil
}

// httpsListener wraps the API listener in TLS when http.tls is set; it
// returns ln itself otherwise. It owns ln from the call on: on error, ln
// is closed.
func httpsListener(ln net.Listener, files *config.CertFiles, log *slog.Logger, reg prometheus.Registerer) (net.Listener, error) {
	if files == nil {
		return ln, nil
	}
	cert, err := tlsserver.LoadCertificate(files.Cert, files.Key, log.With("listener", "http"))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hotline", Subsystem: "http", Name: "tls_handshake_failures_total",
		Help: "HTTPS connections to the API closed before their handshake completed, by reason (not-tls, timeout, client-cert, server-cert, closed, negotiation).",
	}, []string{"reason"})
	for _, r := range tlsserver.FailureReasons {
		failures.WithLabelValues(r)
	}
	if err := reg.Register(failures); err != nil {
		ln.Close()
		return nil, err
	}
	return tlsserver.NewListener(ln, tlsserver.ServerConfig(tlsserver.Options{Certificate: cert}), tlsserver.ListenerOptions{
		Name: "http", Log: log, Failed: func(reason string) { failures.WithLabelValues(reason).Inc() },
	}), nil
}

// mediaBindIP is where RTP sockets bind: rtp.bind_ip, else the SIP listen IP (a
// wildcard is fine: SDP carries the advertise address, see call.Manager).
func mediaBindIP(cfg *config.Config) (netip.Addr, error) {
	if cfg.RTP.BindIP != "" {
		ip, err := netip.ParseAddr(cfg.RTP.BindIP)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("rtp bind address: %w", err)
		}
		return ip, nil
	}
	ap, err := netip.ParseAddrPort(cfg.SIP.Listen)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("sip listen address: %w", err)
	}
	return ap.Addr(), nil
}

// Reload puts a new configuration in place while calls go on: flows,
// prompts, trunks, tokens, queues, agents and skills. A call keeps the
// flows and prompts it started with; the ACD applies the new topology
// between two events without disturbing calls in flight (docs/acd.md). A
// configuration with errors is refused whole and the running one stays.
// Listen addresses, the data directory and the RTP ports are bound at start:
// a change of them is logged and waits for a restart.
func (a *App) Reload(cfg *config.Config) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	err := a.reload(cfg)
	a.reloads.record(err)
	return err
}

// ReloadFromSource reads the configuration again (Options.Load) and
// applies it; it is what SIGHUP, a file change and POST /api/v1/reload do.
func (a *App) ReloadFromSource() error {
	if a.load == nil {
		return ErrNoReloadSource
	}
	cfg, err := a.load()
	if err != nil {
		a.reloadMu.Lock()
		a.reloads.record(err)
		a.reloadMu.Unlock()
		a.log.Error("reload refused: the running configuration stays", "err", err)
		return err
	}
	if err := a.Reload(cfg); err != nil {
		a.log.Error("reload refused: the running configuration stays", "err", err)
		return err
	}
	return nil
}

// ErrNoReloadSource: hotline runs on a configuration it cannot read again
// (the embedded demo, or a test's).
var ErrNoReloadSource = fmt.Errorf("hotline runs the embedded demo configuration: %w", api.ErrNoReloadSource)

func (a *App) reload(cfg *config.Config) error {
	old := a.runtime.Load().Config
	for _, kept := range []struct {
		what     string
		old, new *string
	}{
		{"sip.listen", &old.SIP.Listen, &cfg.SIP.Listen},
		{"sip.advertise", &old.SIP.Advertise, &cfg.SIP.Advertise},
		{"http.listen", &old.HTTP.Listen, &cfg.HTTP.Listen},
		{"data_dir", &old.DataDir, &cfg.DataDir},
	} {
		if *kept.new != *kept.old {
			a.log.Warn("reload: setting needs a restart, keeping the running value", "setting", kept.what, "running", *kept.old, "file", *kept.new)
			*kept.new = *kept.old
		}
	}
	if cfg.RTP != old.RTP {
		a.log.Warn("reload: rtp needs a restart, keeping the running ports")
		cfg.RTP = old.RTP
	}
	// The listeners' TLS settings are bound at start too; renewed
	// certificate files under the same names are served without a reload.
	if !equalPtr(cfg.SIP.TLS, old.SIP.TLS) {
		a.log.Warn("reload: setting needs a restart, keeping the running value", "setting", "sip.tls")
		cfg.SIP.TLS = old.SIP.TLS
	}
	if !equalPtr(cfg.HTTP.TLS, old.HTTP.TLS) {
		a.log.Warn("reload: setting needs a restart, keeping the running value", "setting", "http.tls")
		cfg.HTTP.TLS = old.HTTP.TLS
	}
	rt, err := LoadRuntime(cfg)
	if err != nil {
		return err
	}
	a.runtime.Store(rt)
	a.guard.SetPolicy(guardPolicy(cfg))
	a.router.Reload(acd.TopologyFromConfig(cfg))
	a.log.Info("configuration reloaded", "source", cfg.Source, "queues", len(cfg.Queues), "agents", len(cfg.Agents), "flows", len(cfg.Flows))
	return nil
}

// equalPtr reports whether a and b are both nil or point to equal values.
func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (a *App) goRun(name string, f func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := f(); err != nil {
			a.log.Error("component stopped", "component", name, "err", err)
			a.errc <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// Err reports the first component that failed while running.
func (a *App) Err() <-chan error { return a.errc }

// Close hangs up every live call (their CDRs and recordings are completed), then
// stops the listeners and closes storage.
func (a *App) Close() {
	a.closed.Do(func() {
		if a.calls != nil {
			// Calls in progress may finish for calls.drain (new ones get
			// 503), then the rest are hung up, with 10 s to write their
			// CDRs and close their recordings.
			drain := a.runtime.Load().Config.Calls.Drain
			ctx, cancel := context.WithTimeout(context.Background(), drain+10*time.Second)
			a.calls.Drain(ctx, drain)
			cancel()
		}
		if a.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = a.httpSrv.Shutdown(ctx)
			cancel()
		}
		a.cancel()
		a.wg.Wait()
		if a.sip != nil {
			a.sip.Close() // when Start failed before Run, nothing else frees its ports
		}
		if a.recorder != nil {
			_ = a.recorder.Close()
		}
		if a.engine != nil {
			_ = a.engine.Close()
		}
		if a.journal != nil {
			a.journal.Flush() // the ACD has stopped: what it said last is written
		}
		if a.store != nil {
			_ = a.store.Close()
		}
	})
}

// Command hotline runs the hotline ACD/IVR softswitch and its tools.
//
//	hotline run [-config FILE] [-sip ADDR] [-http ADDR] [-data DIR] [-rtp-ports LOW-HIGH] [-advertise IP]
//	hotline check -config FILE
//	hotline ivr check FILE...
//	hotline ivr graph [-flow NAME] [-format dot|mermaid] FILE
//	hotline ivr simulate FILE [-caller N] [-called N] [-digits 2,1234#] [-at TIME]
//	hotline version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/app"
	"github.com/hotline-cc/hotline/config"
)

// version is stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "ivr":
		return cmdIVR(args[1:], stdout, stderr)
	case "recordings":
		return cmdRecordings(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "hotline %s\n", version)
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "hotline: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  hotline run [-config FILE] [-sip ADDR] [-http ADDR] [-data DIR] [-rtp-ports LOW-HIGH] [-advertise IP]
        start hotline (without -config: the embedded demo configuration)
  hotline check -config FILE
        validate a configuration; prints file:line:col: message per problem
  hotline ivr check FILE...
        validate configurations (flows, prompts, queues); exit status 1 on any problem
  hotline ivr graph [-flow NAME] [-format dot|mermaid] FILE
        print a flow as a Graphviz or Mermaid diagram (default: every flow, dot)
  hotline ivr simulate FILE [-flow NAME] [-caller N] [-called N] [-digits 2,1234#] [-at TIME]
        run a flow for a pretend caller and print what happens
  hotline version
`)
}

// runFlags are the flags of `hotline run`; each overrides the configuration file.
type runFlags struct {
	config, sip, http, data, rtpPorts, advertise, logLevel string
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.config, "config", "", "configuration file (default: the embedded demo configuration)")
	fs.StringVar(&f.sip, "sip", "", "SIP listen address for UDP and TCP (default 127.0.0.1:5060)")
	fs.StringVar(&f.http, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	fs.StringVar(&f.data, "data", "", "data directory for the database and recordings (default ./data)")
	fs.StringVar(&f.rtpPorts, "rtp-ports", "", "RTP port range LOW-HIGH (default 20000-29999)")
	fs.StringVar(&f.advertise, "advertise", "", "IP address put in SIP Contact headers and SDP (default: the SIP listen IP)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "hotline:", err)
		return 2
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	if err := applyFlags(cfg, f); err != nil {
		fmt.Fprintln(stderr, "hotline:", err)
		return 2
	}
	// sipgo's logger is a process global: set it once, here (see shared notes).
	sip.SetDefaultLogger(log.With("component", "sipgo"))
	setMemoryLimit(log)
	if _, err := startProfiling(log); err != nil {
		fmt.Fprintln(stderr, "hotline:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := app.Options{Config: cfg, Logger: log, Version: version}
	if f.config != "" {
		// Reloads (SIGHUP, POST /api/v1/reload, the file changing) read the
		// file again with the same flags applied.
		opts.Load = func() (*config.Config, error) {
			cfg, err := config.Load(f.config)
			if err == nil {
				err = applyFlags(cfg, f)
			}
			return cfg, err
		}
		opts.Watch = f.config
	}
	a, err := app.Start(ctx, opts)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	printBanner(stdout, cfg, a)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: hanging up live calls")
			a.Close()
			return 0
		case err := <-a.Err():
			log.Error("hotline stopped", "err", err)
			a.Close()
			return 1
		case <-hup:
			reload(a, stderr)
		}
	}
}

// reload re-reads the configuration on SIGHUP. A file with problems is
// refused, every problem printed as file:line:col (and logged), and the
// running configuration stays.
func reload(a *app.App, stderr io.Writer) {
	if err := a.ReloadFromSource(); err != nil {
		printConfigError(stderr, err)
	}
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Demo(), nil
	}
	return config.Load(path)
}

func applyFlags(cfg *config.Config, f runFlags) error {
	if f.sip != "" {
		if _, err := netip.ParseAddrPort(f.sip); err != nil {
			return fmt.Errorf("-sip %q: want IP:PORT", f.sip)
		}
		cfg.SIP.Listen = f.sip
		if f.advertise == "" {
			ap, _ := netip.ParseAddrPort(f.sip)
			cfg.SIP.Advertise = ap.Addr().String()
		}
	}
	if f.advertise != "" {
		if _, err := netip.ParseAddr(f.advertise); err != nil {
			return fmt.Errorf("-advertise %q: want an IP address", f.advertise)
		}
		cfg.SIP.Advertise = f.advertise
	}
	if f.http != "" {
		cfg.HTTP.Listen = f.http
	}
	if f.data != "" {
		cfg.DataDir = f.data
	}
	if f.rtpPorts != "" {
		lo, hi, ok := strings.Cut(f.rtpPorts, "-")
		low, err1 := strconv.Atoi(lo)
		high, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || low < 1024 || high > 65535 || low >= high {
			return fmt.Errorf("-rtp-ports %q: want LOW-HIGH within 1024-65535", f.rtpPorts)
		}
		cfg.RTP.PortLow, cfg.RTP.PortHigh = low, high
	}
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func printConfigError(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, "hotline:", err)
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file to check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" && fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	if *path == "" {
		fmt.Fprintln(stderr, "usage: hotline check -config FILE")
		return 2
	}
	cfg, err := config.Load(*path)
	if err == nil {
		_, err = app.LoadRuntime(cfg)
	}
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d trunks, %d flows, %d queues, %d agents)\n", *path, len(cfg.Trunks), len(cfg.Flows), len(cfg.Queues), len(cfg.Agents))
	return 0
}

func printBanner(w io.Writer, cfg *config.Config, a *app.App) {
	fmt.Fprintf(w, "hotline %s is running\n", version)
	fmt.Fprintf(w, "  SIP   %s (UDP and TCP)  - point trunks and softphones here\n", a.SIPAddr)
	if a.SIPTLSAddr.IsValid() {
		fmt.Fprintf(w, "  SIP   %s (TLS)\n", a.SIPTLSAddr)
	}
	scheme := "http"
	if a.HTTPS {
		scheme = "https"
	}
	fmt.Fprintf(w, "  HTTP  %s://%s  (/healthz, /metrics, /api/v1/...)\n", scheme, a.HTTPAddr)
	fmt.Fprintf(w, "  data  %s\n", cfg.DataDir)
	if cfg.Source == "" || strings.HasPrefix(cfg.Source, "demo") {
		fmt.Fprintln(w, "  demo agents (register your softphone with user/password, realm "+cfg.SIP.Realm+"):")
		for _, ag := range cfg.Agents {
			queues := []string{}
			for _, q := range cfg.Queues {
				for _, id := range q.Agents {
					if id == ag.ID {
						queues = append(queues, q.Name)
					}
				}
			}
			pin := ""
			if ag.PIN != "" {
				pin = ", PIN " + ag.PIN
			}
			if ag.Supervisor {
				pin += ", supervisor"
			}
			fmt.Fprintf(w, "    %s / %s  (%s, queue %s%s)\n", ag.ID, ag.Password, ag.Name, strings.Join(queues, ", "), pin)
		}
		fc := cfg.FeatureCodes
		fmt.Fprintf(w, "  agents dial %s ready, %s1 break, %s log out; %sID*PIN logs in on any phone\n", fc.Ready, fc.NotReady, fc.Logout, fc.Login)
		fmt.Fprintf(w, "  supervisors dial %sID listen, %sID whisper, %sID barge in (e.g. %s1003)\n", fc.Listen, fc.Whisper, fc.Barge, fc.Listen)
		if len(cfg.Dispositions) > 0 && fc.Disposition != "" {
			d := cfg.Dispositions[0]
			fmt.Fprintf(w, "  after a call, agents dial %sCODE for its wrap-up code (e.g. %s%s %s)\n", fc.Disposition, fc.Disposition, d.Code, d.Name)
		}
		for _, t := range cfg.HTTP.Tokens {
			if t.Token != "" {
				fmt.Fprintf(w, "  demo API token: %s  (curl -H 'Authorization: Bearer %s' %s://%s/api/v1/calls)\n", t.Token, t.Token, scheme, a.HTTPAddr)
				fmt.Fprintf(w, "  QA page: %s://%s/qa#token=%s  (search and play recordings)\n", scheme, a.HTTPAddr, t.Token)
			}
		}
		fmt.Fprintf(w, "  call any number at sip:%s from a second softphone, press 1 (sales) or 2 (support)\n", a.SIPAddr)
	}
}

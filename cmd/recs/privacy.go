package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/recs-server/recs/apikey"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/dataimport"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/pseudonym"
)

// idKeyFlags give the pseudonymisation key: every command that writes or
// reads visitor ids must use the same one.
type idKeyFlags struct{ key, file *string }

func (f *flagSet) idKey() idKeyFlags {
	return idKeyFlags{
		key: f.String("id-key", "", "secret key (at least 16 bytes) that pseudonymises user, session and order ids before storage; "+
			"prefer the environment or --id-key-file to the command line; empty: ids are stored as sent"),
		file: f.String("id-key-file", "", "file holding the pseudonymisation key (instead of --id-key)"),
	}
}

// hasher returns the pseudonymiser, warning when pseudonymisation is off.
func (f idKeyFlags) hasher(log *slog.Logger) (*pseudonym.Hasher, error) {
	key := *f.key
	if *f.file != "" {
		if key != "" {
			return nil, usageError{"give --id-key or --id-key-file, not both"}
		}
		b, err := os.ReadFile(*f.file)
		if err != nil {
			return nil, fmt.Errorf("read --id-key-file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	h, err := pseudonym.New([]byte(key))
	if err != nil {
		return nil, usageError{err.Error()}
	}
	if !h.Enabled() {
		log.Warn("no --id-key: visitor ids are stored as sent, not pseudonymised; set RECS_ID_KEY " +
			"(e.g. `openssl rand -hex 32`) before the first import and keep it: changing it later cuts every visitor off their history")
	}
	return h, nil
}

// accessFlags are serve's API key and rate limit flags.
type accessFlags struct {
	keysFile                 *string
	keysReload               *time.Duration
	metricsOpen              *bool
	rateIP, burstIP          *int
	rateKey, burstKey        *int
	rateExempt, trustedProxy *string
}

func (f *flagSet) access() accessFlags {
	return accessFlags{
		keysFile:    f.String("keys-file", "", "API keys file (lines `role sha256 label [origin ...]`, see `recs keys`); empty: the API is open to anyone who can reach it"),
		keysReload:  f.Duration("keys-reload", 2*time.Second, "how often the keys file is checked for changes (SIGHUP reloads at once)"),
		metricsOpen: f.Bool("metrics-open", false, "serve /metrics without an API key (else it needs an admin key)"),
		rateIP:      f.Int("rate-ip", 100, "requests a second per client address on public endpoints; 0: no limit"),
		burstIP:     f.Int("rate-ip-burst", 200, "burst of requests per client address"),
		rateKey:     f.Int("rate-key", 20000, "requests a second per API key on keyed endpoints; 0: no limit"),
		burstKey:    f.Int("rate-key-burst", 40000, "burst of requests per API key"),
		rateExempt: f.String("rate-exempt", "127.0.0.0/8,::1/128",
			"comma-separated networks not limited per address (the shop's own servers, local load tests)"),
		trustedProxy: f.String("trusted-proxies", "", "comma-separated networks of proxies whose X-Forwarded-For names the client"),
	}
}

// apply puts the flags into the server config and starts watching the
// keys file (SIGHUP or a change reloads it) until ctx ends.
func (a accessFlags) apply(ctx context.Context, cfg *httpapi.Config, audit func(catalog.AuditEntry), log *slog.Logger) error {
	var err error
	if cfg.RateExempt, err = parsePrefixes("rate-exempt", *a.rateExempt); err != nil {
		return err
	}
	if cfg.TrustedProxies, err = parsePrefixes("trusted-proxies", *a.trustedProxy); err != nil {
		return err
	}
	cfg.RatePerIP, cfg.BurstPerIP = float64(*a.rateIP), *a.burstIP
	cfg.RatePerKey, cfg.BurstPerKey = float64(*a.rateKey), *a.burstKey
	cfg.MetricsOpen = *a.metricsOpen
	if *a.keysFile == "" {
		log.Warn("no --keys-file: the API is open, no key is asked for reads, events, catalogue changes or erasure; " +
			"give a keys file before exposing the server (see `recs keys new`)")
		return nil
	}
	keys, err := apikey.Open(*a.keysFile, log, func(kr *apikey.Keyring) {
		audit(catalog.AuditEntry{Actor: "keys file " + *a.keysFile, Action: catalog.AuditKeys,
			Counts: map[string]int64{"public": int64(kr.Count(apikey.RolePublic)), "admin": int64(kr.Count(apikey.RoleAdmin))}})
	})
	if err != nil {
		return err
	}
	if keys.Keyring().Len() == 0 {
		log.Warn("the keys file has no keys: every keyed endpoint answers 401 until keys are added")
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{})
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go keys.Watch(ctx, *a.keysReload, reload)
	cfg.Keys = keys
	return nil
}

func parsePrefixes(flagName, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range splitList(s) {
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, usageError{fmt.Sprintf("--%s: %q is not an address or network (e.g. 10.0.0.0/8)", flagName, p)}
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--%s: %q is not an address or network (e.g. 10.0.0.0/8)", flagName, p)}
		}
		out = append(out, pf.Masked())
	}
	return out, nil
}

// pseudonymisingSink pseudonymises events on their way into the store,
// as the HTTP API does, so imported history and live traffic match.
type pseudonymisingSink struct {
	dataimport.Sink
	ids *pseudonym.Hasher
}

func (s pseudonymisingSink) AppendEvents(ctx context.Context, events []catalog.Event) (int, error) {
	out := make([]catalog.Event, len(events))
	for i := range events {
		out[i] = events[i]
		s.ids.Event(&out[i])
	}
	return s.Sink.AppendEvents(ctx, out)
}

// batchActor names a batch job in the audit log: the command and the OS
// user that ran it.
func batchActor(cmd string) string {
	name := "unknown user"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("recs %s (%s@%s)", cmd, name, host)
}

// keysCmd helps operators make keys-file entries.
func keysCmd(args []string) error {
	if len(args) == 0 {
		return usageError{"recs keys needs a command: new or hash"}
	}
	switch args[0] {
	case "new":
		fs := newFlagSet("keys new")
		role := fs.String("role", "public", "public (reads and events, from browsers of --origins or from servers) or admin")
		label := fs.String("label", "", "name of the key in logs, the audit log and rate limits (e.g. shop-web-2026-11)")
		origins := fs.String("origins", "", "public keys: comma-separated storefront origins allowed to use it from browsers (e.g. https://shop.example), or *")
		if err := fs.parse(args[1:]); err != nil {
			return err
		}
		if *label == "" {
			return usageError{"recs keys new needs --label"}
		}
		key, err := apikey.New()
		if err != nil {
			return err
		}
		line := strings.Join(append([]string{*role, apikey.Hash(key), *label}, splitList(*origins)...), " ")
		if _, err := apikey.Parse([]byte(line)); err != nil {
			return usageError{err.Error()}
		}
		fmt.Printf("key (give it to the client; recs keeps only its hash):\n  %s\nline for the keys file:\n  %s\n", key, line)
		return nil
	case "hash":
		fmt.Fprintln(os.Stderr, "key (one line on standard input):")
		sc := bufio.NewScanner(os.Stdin)
		if !sc.Scan() {
			return usageError{"no key on standard input"}
		}
		fmt.Println(apikey.Hash(strings.TrimSpace(sc.Text())))
		return nil
	}
	return usageError{fmt.Sprintf("unknown keys command %q: want new or hash", args[0])}
}

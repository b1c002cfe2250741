// Command loadtest drives a recs server on this machine at a constant
// arrival rate and reports latency percentiles, throughput and errors; it
// exits 1 when a threshold is exceeded, so CI can gate on it.
//
//	go run ./loadtest/cmd/loadtest -rate 2000 -duration 60s -warmup 10s
//
// Every flag can also be set by an environment variable
// RECS_LOADTEST_<FLAG> (e.g. RECS_LOADTEST_RATE); a flag given on the
// command line wins.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/recs-server/recs/loadtest"
)

func main() {
	// Not sysmon.StayAwake, as recs serve does: in alternated pairs at
	// 3,000 items and 4,000 req/s, a generator with it gave p99 110 and
	// 224 ms against 33 and 57 ms without (same server, same CPU), and
	// the generator's figures stay comparable with earlier runs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		var ue usageError
		if !errors.As(err, &ue) || !ue.printed { // the flag package prints its own
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct {
	error
	printed bool
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var (
		cfg          loadtest.Config
		mix, exclude string
		items        int
		catalogFile  string
		endpoints    string
		jsonOut      string
		maxP99       time.Duration
		maxErrRate   float64
		maxStockLag  time.Duration
		quiet        bool
		cpuProfile   string
	)
	fs.StringVar(&cfg.Target, "target", "http://127.0.0.1:8080", "base URL of the server (loopback only)")
	fs.StringVar(&cfg.Scenario, "scenario", loadtest.ScenarioMixed, "traffic mix: "+strings.Join(loadtest.Scenarios, ", "))
	fs.Float64Var(&cfg.Rate, "rate", 100, "arrival rate, requests per second")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured phase")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured phase before -duration, at the same rate")
	fs.Int64Var(&cfg.MaxRequests, "max-requests", 0, "stop after this many requests (0: rate*(warmup+duration))")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight", 512, "most concurrent requests and connections")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Second, "per-request timeout")
	fs.StringVar(&mix, "mix", "", `endpoint weights, e.g. "pdp=50,home=20,cart=15,events=10,rank=5" (default: the scenario's)`)
	fs.StringVar(&exclude, "exclude", "", `endpoints to leave out, e.g. "cart,rank" while the server lacks them`)
	fs.StringVar(&endpoints, "endpoints", "", "JSON file with extra or replacement endpoints: [{name, method, path, body}]")
	fs.IntVar(&items, "items", 3000, `use the demo shop's item ids "D-000001".. up to this count`)
	fs.StringVar(&catalogFile, "catalog", "", "file of item ids, one per line, most popular first (overrides -items)")
	fs.Float64Var(&cfg.ZipfS, "zipf", 1, "popularity skew exponent")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the request sequence (0: random)")
	fs.IntVar(&cfg.Sessions, "sessions", 1000, "concurrently active virtual sessions")
	fs.IntVar(&cfg.Limit, "limit", 10, "limit of recommendation requests")
	fs.Float64Var(&cfg.StockRate, "stock-rate", 0, "stock-storm: POST /v1/stock requests per second (0: 10 % of -rate)")
	fs.IntVar(&cfg.StockBatch, "stock-batch", 100, "stock updates per POST /v1/stock")
	fs.DurationVar(&cfg.StockProbeEvery, "stock-probe-every", 2*time.Second, "stock-storm: how often to measure how soon recommendations reflect a stock update (negative: never)")
	fs.IntVar(&cfg.EventsBatch, "events-batch", 0, "events per POST /v1/events (0: the session's views not yet reported, 1-4; ingest-burst: 50)")
	fs.DurationVar(&cfg.Interval, "interval", 0, "report the measured phase as a time series of windows this long (cold: 10s)")
	fs.StringVar(&jsonOut, "json", "", `write the JSON result to this file ("-": stdout, the table goes to stderr)`)
	fs.DurationVar(&maxP99, "max-p99", 0, "fail when the overall p99 is above this (0: no limit)")
	fs.Float64Var(&maxErrRate, "max-error-rate", -1, "fail when the share of errors is above this, e.g. 0.001 (negative: no limit)")
	fs.DurationVar(&maxStockLag, "max-stock-lag", 0, "stock-storm: fail when recommendations reflect a stock update later than this, or a probe fails (0: no limit)")
	fs.BoolVar(&quiet, "quiet", false, "print no table")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the generator to this file (go tool pprof)")
	if err := envDefaults(fs); err != nil {
		return usageError{error: err}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err, true}
	}
	if fs.NArg() > 0 {
		return usageError{error: fmt.Errorf("unexpected arguments: %q", fs.Args())}
	}
	var err error
	if cfg.Mix, err = parseMix(mix); err != nil {
		return usageError{error: err}
	}
	for _, name := range strings.Split(exclude, ",") {
		if name = strings.TrimSpace(name); name != "" {
			cfg.Exclude = append(cfg.Exclude, name)
		}
	}
	if endpoints != "" {
		b, err := os.ReadFile(endpoints)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &cfg.Endpoints); err != nil {
			return fmt.Errorf("%s: %w", endpoints, err)
		}
	}
	if catalogFile != "" {
		if cfg.Catalog, err = readLines(catalogFile); err != nil {
			return err
		}
	} else {
		cfg.Catalog = loadtest.DemoItemIDs(items)
	}

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := loadtest.Run(ctx, cfg)
	if res == nil {
		return err
	}
	table := os.Stdout
	if jsonOut == "-" {
		table = os.Stderr
	}
	if !quiet {
		fmt.Fprint(table, res.Table())
	}
	if jsonOut != "" {
		b, jerr := json.MarshalIndent(res, "", "  ")
		if jerr != nil {
			return jerr
		}
		b = append(b, '\n')
		if jsonOut == "-" {
			_, jerr = os.Stdout.Write(b)
		} else {
			jerr = os.WriteFile(jsonOut, b, 0o644)
		}
		if jerr != nil {
			return jerr
		}
	}
	if err != nil {
		return err
	}
	return res.Check(loadtest.Thresholds{MaxP99: maxP99, MaxErrorRate: maxErrRate, MaxStockLag: maxStockLag})
}

// envDefaults sets every flag that has a RECS_LOADTEST_<FLAG> variable.
func envDefaults(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "RECS_LOADTEST_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}

func parseMix(s string) (map[string]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	mix := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("-mix: %q is not name=weight", part)
		}
		v, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return nil, fmt.Errorf("-mix: weight of %s: %w", name, err)
		}
		mix[name] = v
	}
	return mix, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" && !strings.HasPrefix(id, "#") {
			ids = append(ids, id)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ids, nil
}

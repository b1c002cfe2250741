// Command recs is the recommendation server and its batch tools, one
// binary with subcommands. It parses configuration, wires the packages and
// shuts down in order; it holds no business logic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/recs-server/recs/postgres"
	"github.com/recs-server/recs/sysmon"
)

const usage = `recs: onsite recommendations and ranking for online shops

Usage:
  recs serve   [flags]         serve the HTTP API (embedded demo shop when no --db)
  recs migrate --db URL        create or upgrade the PostgreSQL schema
  recs import  --db URL FILE   load a JSONL feed or the UCI Online Retail CSV
  recs build   --db URL        rebuild embeddings, neighbour tables and popularity from stored events
  recs eval    [--dataset D]   offline evaluation on a temporal split (Online Retail, RetailRocket)
  recs keys    new|hash        make an API key and its keys-file line, or hash a key
  recs help                    this text

Every flag can also be set by an environment variable (RECS_<FLAG>, e.g.
RECS_DB); a flag given on the command line wins. Run "recs CMD -h" for the
flags of one command.
`

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		// Restarts the process once, before anything else runs (see
		// package sysmon: a fifth of the CPU at 2,000 req/s).
		if err := sysmon.StayAwake(); err != nil {
			log.Warn("could not restart with "+sysmon.Setting+"; serving without", "err", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "recs:", err)
			os.Exit(2)
		}
		log.Error("recs failed", "err", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return usageError{"a command is required"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, log)
	case "migrate":
		return migrate(ctx, rest, log)
	case "import":
		return importCmd(ctx, rest, log)
	case "build":
		return buildCmd(ctx, rest, log)
	case "eval":
		return evalCmd(ctx, rest, log)
	case "keys":
		return keysCmd(rest)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// flagSet returns a FlagSet whose flags take their default from RECS_<NAME>
// in the environment when set; values given on the command line win.
type flagSet struct {
	*flag.FlagSet
	envErrs []error
}

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &flagSet{FlagSet: fs}
}

func envName(flagName string) string {
	b := []byte("RECS_")
	for _, c := range []byte(flagName) {
		switch {
		case c == '-':
			b = append(b, '_')
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func (f *flagSet) String(name, def, help string) *string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	return f.FlagSet.String(name, def, help+" (env "+envName(name)+")")
}

func (f *flagSet) Int(name string, def int, help string) *int {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Errorf("%s=%q: not an integer", envName(name), v))
		}
		def = n
	}
	return f.FlagSet.Int(name, def, help+" (env "+envName(name)+")")
}

func (f *flagSet) Bool(name string, def bool, help string) *bool {
	if v, ok := os.LookupEnv(envName(name)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Errorf("%s=%q: not a boolean", envName(name), v))
		}
		def = b
	}
	return f.FlagSet.Bool(name, def, help+" (env "+envName(name)+")")
}

func (f *flagSet) Duration(name string, def time.Duration, help string) *time.Duration {
	if v, ok := os.LookupEnv(envName(name)); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Errorf("%s=%q: not a duration (e.g. 50ms)", envName(name), v))
		}
		def = d
	}
	return f.FlagSet.Duration(name, def, help+" (env "+envName(name)+")")
}

// parse parses args and reports bad environment values as usage errors.
func (f *flagSet) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		return usageError{err.Error()}
	}
	if len(f.envErrs) > 0 {
		return usageError{errors.Join(f.envErrs...).Error()}
	}
	return nil
}

// databaseFlags are the flags of every command that uses PostgreSQL.
type databaseFlags struct{ url, schema *string }

func (f *flagSet) database(urlHelp string) databaseFlags {
	return databaseFlags{
		url:    f.String("db", "", urlHelp),
		schema: f.String("schema", "recs", "PostgreSQL schema holding recs' tables"),
	}
}

func (d databaseFlags) require(cmd string) error {
	if *d.url == "" {
		return usageError{cmd + " needs --db (or RECS_DB)"}
	}
	return nil
}

func (d databaseFlags) config() postgres.Config {
	return postgres.Config{URL: *d.url, Schema: *d.schema}
}

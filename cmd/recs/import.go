package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/recs-server/recs/dataimport"
	"github.com/recs-server/recs/postgres"
)

func importCmd(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlagSet("import")
	dbURL := fs.String("db", "", "PostgreSQL URL (required)")
	schema := fs.String("schema", "recs", "PostgreSQL schema holding recs' tables")
	format := fs.String("format", "auto", "jsonl, online-retail, or auto (by file name: .csv[.gz] is Online Retail, else JSONL)")
	doMigrate := fs.Bool("migrate", true, "apply database migrations first")
	batch := fs.Int("batch", 5000, "records per database write")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return usageError{"import needs --db (or RECS_DB)"}
	}
	if fs.NArg() == 0 {
		return usageError{"import needs at least one file (use - for standard input)"}
	}
	cfg := postgres.Config{URL: *dbURL, Schema: *schema}
	if *doMigrate {
		if _, err := postgres.Migrate(ctx, cfg, log); err != nil {
			return err
		}
	}
	st, err := postgres.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	for _, path := range fs.Args() {
		f := *format
		if f == "auto" {
			f = "jsonl"
			if strings.HasSuffix(path, ".csv") || strings.HasSuffix(path, ".csv.gz") {
				f = "online-retail"
			}
		}
		var r io.Reader = os.Stdin
		if path != "-" {
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			defer file.Close()
			r = file
		}
		last := time.Now()
		opt := dataimport.Options{BatchSize: *batch, Progress: func(rep *dataimport.Report) {
			if time.Since(last) >= 2*time.Second {
				last = time.Now()
				fmt.Fprintf(os.Stderr, "import %s: %d lines read, %d items, %d events\n", path, rep.LinesRead, rep.ItemsImported, rep.EventsImported)
			}
		}}
		var rep *dataimport.Report
		switch f {
		case "jsonl":
			rep, err = dataimport.ImportJSONL(ctx, r, st, opt)
		case "online-retail":
			rep, err = dataimport.ImportOnlineRetail(ctx, r, st, opt)
		default:
			return usageError{fmt.Sprintf("unknown --format %q: want jsonl, online-retail or auto", f)}
		}
		if rep != nil {
			rep.Source = path
			fmt.Println(rep.Summary())
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
	}
	return nil
}

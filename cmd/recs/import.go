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
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/postgres"
)

func importCmd(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlagSet("import")
	db := fs.database("PostgreSQL URL (required)")
	format := fs.String("format", "auto", "jsonl, online-retail, or auto (by file name: .csv[.gz] is Online Retail, else JSONL)")
	doMigrate := fs.Bool("migrate", true, "apply database migrations first")
	batch := fs.Int("batch", 5000, "records per database write")
	demoItems := fs.Int("demo-items", 0, "instead of files, load the generated demo shop with this many items (as `recs serve` without --db)")
	demoSeed := fs.Int("demo-seed", 1, "seed of the generated demo shop")
	idKey := fs.idKey()
	if err := fs.parse(args); err != nil {
		return err
	}
	ids, err := idKey.hasher(log)
	if err != nil {
		return err
	}
	if err := db.require("import"); err != nil {
		return err
	}
	if fs.NArg() == 0 && *demoItems == 0 {
		return usageError{"import needs at least one file (use - for standard input), or --demo-items N"}
	}
	cfg := db.config()
	if *doMigrate {
		if _, err := postgres.Migrate(ctx, cfg, log); err != nil {
			return err
		}
	}
	pg, err := postgres.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer pg.Close()
	if err := pg.CheckIDKey(ctx, ids.Fingerprint()); err != nil {
		return err
	}
	// Visitor ids are pseudonymised as the API does it, so imported
	// history and live traffic belong to the same visitors.
	st := pseudonymisingSink{Sink: pg, ids: ids}

	if *demoItems > 0 {
		start := time.Now()
		shop := demo.Generate(demo.Options{Seed: int64(*demoSeed), Items: *demoItems})
		if err := st.UpsertItems(ctx, shop.Items); err != nil {
			return err
		}
		for i := 0; i < len(shop.Events); i += *batch {
			if _, err := st.AppendEvents(ctx, shop.Events[i:min(i+*batch, len(shop.Events))]); err != nil {
				return err
			}
		}
		fmt.Printf("demo shop: %d items, %d events loaded in %s\n", len(shop.Items), len(shop.Events), time.Since(start).Round(time.Millisecond))
	}
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

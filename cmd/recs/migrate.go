package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/recs-server/recs/postgres"
)

func migrate(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlagSet("migrate")
	dbURL := fs.String("db", "", "PostgreSQL URL (required)")
	schema := fs.String("schema", "recs", "PostgreSQL schema holding recs' tables")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return usageError{"migrate needs --db (or RECS_DB)"}
	}
	applied, err := postgres.Migrate(ctx, postgres.Config{URL: *dbURL, Schema: *schema}, log)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Println("schema is up to date")
	} else {
		fmt.Printf("applied migrations %v\n", applied)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/recs-server/recs/postgres"
)

func migrate(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlagSet("migrate")
	db := fs.database("PostgreSQL URL (required)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := db.require("migrate"); err != nil {
		return err
	}
	applied, err := postgres.Migrate(ctx, db.config(), log)
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

package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/postgres"
)

func buildCmd(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlagSet("build")
	db := fs.database("PostgreSQL URL (required)")
	from := fs.String("from", "", "first event time to learn from (RFC 3339); default 180 days before --to")
	to := fs.String("to", "", "end of the event window, exclusive (RFC 3339); default just after the newest event")
	seed := fs.Int("seed", 1, "random seed (embeddings)")
	version := fs.String("version", "", "build version; default derived from the window and options")
	contentLists := fs.Int("content-lists", build.DefaultContentLists, "how many items (most viewed first) get their content neighbours computed at publication, so serving reads a list instead of a vector search; 0: none (every product page's similar items are a search)")
	contentListLen := fs.Int("content-list-len", build.DefaultContentListLen, fmt.Sprintf("length of each content-neighbour list (1 to %d; keep it at least the server's --list-len)", catalog.MaxContentListLen))
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := db.require("build"); err != nil {
		return err
	}
	if *contentLists < 0 {
		return usageError{fmt.Sprintf("--content-lists must not be negative (0 for none), got %d", *contentLists)}
	}
	if err := build.CheckContentListLen(*contentListLen); err != nil {
		return usageError{"--content-list-len: " + err.Error()}
	}
	opt := build.Options{Seed: uint64(*seed), Version: *version, ContentLists: *contentLists, ContentListLen: *contentListLen}
	if *contentLists == 0 {
		opt.ContentLists = -1 // none: the option's zero is its default
	}
	var err error
	if opt.DataFrom, err = parseTimeFlag("from", *from); err != nil {
		return err
	}
	if opt.DataTo, err = parseTimeFlag("to", *to); err != nil {
		return err
	}
	st, err := postgres.Open(ctx, db.config())
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	b, rep, err := build.Run(ctx, st, opt, log)
	if err != nil {
		return err
	}
	pubStart := time.Now()
	if err := st.PublishBuild(ctx, b); err != nil {
		return fmt.Errorf("publish build %s: %w", b.Version, err)
	}
	if err := st.AppendAudit(ctx, buildAudit(batchActor("build"), b, rep)); err != nil {
		return fmt.Errorf("build %s is published but its audit entry is not: %w", b.Version, err)
	}
	fmt.Println(rep.String())
	fmt.Printf("published build %s (events %s .. %s) in %s; total %s\n", b.Version,
		b.DataFrom.Format(time.RFC3339), b.DataTo.Format(time.RFC3339),
		time.Since(pubStart).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return nil
}

// buildAudit is the audit entry of a published build: who made it, which
// version, from which window of data.
func buildAudit(actor string, b *catalog.Build, rep *build.Report) catalog.AuditEntry {
	return catalog.AuditEntry{At: b.CreatedAt, Actor: actor, Action: catalog.AuditBuild, ModelVersion: b.Version,
		DataFrom: b.DataFrom, DataTo: b.DataTo, Counts: map[string]int64{
			"items": int64(rep.Items), "events": int64(rep.History.Events), "vectors": int64(rep.Vectors)}}
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageError{fmt.Sprintf("--%s %q: want an RFC 3339 time such as 2011-10-01T00:00:00Z", name, v)}
	}
	return t, nil
}

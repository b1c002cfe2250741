package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// Bad content-list flags are refused as usage errors naming the flag,
// before the database is opened (the URL here reaches nothing).
func TestBuildRefusesBadContentListFlags(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--content-lists", "-1"}, "--content-lists"},
		{[]string{"--content-list-len", "0"}, "--content-list-len"},
		{[]string{"--content-list-len", "1001"}, "--content-list-len"},
	} {
		args := append([]string{"--db", "postgres://nobody@127.0.0.1:1/none"}, c.args...)
		err := buildCmd(context.Background(), args, log)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("recs build %v: %v, want a usage error naming %s", c.args, err, c.flag)
		}
	}
}

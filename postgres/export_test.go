package postgres

import (
	"context"

	"github.com/pgvector/pgvector-go"
)

// WarmProbes exposes warmProbes to the tests.
func (s *Store) WarmProbes(ctx context.Context, n int) ([]pgvector.Vector, error) {
	return s.warmProbes(ctx, n)
}

// WritePlans reports, summed over the statements the write pool's
// connections prepared whose text contains like, how many times
// PostgreSQL planned them for their parameters (custom) and how many
// times it reused the generic plan. With a one-connection write pool it
// sees every write.
func (s *Store) WritePlans(ctx context.Context, like string) (custom, generic int64, err error) {
	err = s.writes.QueryRow(ctx, `SELECT coalesce(sum(custom_plans), 0), coalesce(sum(generic_plans), 0)
		FROM pg_prepared_statements WHERE strpos(statement, $1) > 0`, like).Scan(&custom, &generic)
	return custom, generic, err
}

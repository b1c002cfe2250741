package postgres

import (
	"context"

	"github.com/pgvector/pgvector-go"
)

// WarmProbes exposes warmProbes to the tests.
func (s *Store) WarmProbes(ctx context.Context, n int) ([]pgvector.Vector, error) {
	return s.warmProbes(ctx, n)
}

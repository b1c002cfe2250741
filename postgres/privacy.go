package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recs-server/recs/catalog"
)

// erasedFilter keeps the staged event rows s whose visitor has no
// tombstone covering their time: neither their user, nor, for events
// without a user, their session.
const erasedFilter = `NOT EXISTS (SELECT 1 FROM erased_visitors v WHERE s.ts <= v.erased_at AND (
	(v.kind = 'user' AND s.user_id <> '' AND v.id_sha256 = sha256(convert_to(s.user_id, 'UTF8')))
	OR (v.kind = 'session' AND s.user_id = '' AND s.session_id <> ''
		AND v.id_sha256 = sha256(convert_to(s.session_id, 'UTF8')))))`

// erasureLockID is the transaction-level advisory lock that orders event
// appends (shared) against erasures (exclusive). An advisory lock, not a
// table lock, so (auto)vacuum never makes an append wait. It is
// database-wide: schemas sharing a database share it, which costs an
// append at most the length of one erasure.
const erasureLockID int64 = 0x7265637365726173 // "recseras"

func idSHA256(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// EraseUser deletes a shopper in one transaction: the user's events, the
// anonymous events of every session linked to the user (through its
// events or its profile), and the profile; then it leaves tombstones so
// that events of these visitors stamped at or before the erasure are
// refused from now on. The tombstone time is at, or the newest deleted
// event's time if a client clock ran ahead. Erasing an unknown user
// leaves a tombstone too: its events may still be on their way.
func (s *Store) EraseUser(ctx context.Context, userID string, at time.Time) (catalog.Erasure, error) {
	if err := catalog.CheckID("user id", userID); err != nil {
		return catalog.Erasure{}, err
	}
	er := catalog.Erasure{UserID: userID, ErasedAt: at.UTC().Truncate(time.Microsecond)}
	err := pgx.BeginFunc(ctx, s.writes, func(tx pgx.Tx) error {
		// Waits for appends in flight; appends after this wait for us.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, erasureLockID); err != nil {
			return fmt.Errorf("lock against appends: %w", err)
		}
		// The "<> ''" terms repeat the partial indexes' predicates, so a
		// generic (cached) plan can use them too.
		rows, err := tx.Query(ctx, `SELECT DISTINCT session_id FROM events WHERE user_id = $1 AND user_id <> '' AND session_id <> ''
			UNION SELECT unnest(anonymous_ids) FROM users WHERE id = $1`, userID)
		if err != nil {
			return fmt.Errorf("find sessions: %w", err)
		}
		sessions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("find sessions: %w", err)
		}
		var deleted int
		var newest *time.Time
		err = tx.QueryRow(ctx, `WITH del AS (
				DELETE FROM events WHERE (user_id = $1 AND user_id <> '')
					OR (user_id = '' AND session_id = ANY($2) AND session_id <> '')
				RETURNING line, ts)
			SELECT count(*) FILTER (WHERE line = 0), max(ts) FROM del`, userID, sessions).Scan(&deleted, &newest)
		if err != nil {
			return fmt.Errorf("delete events: %w", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, userID)
		if err != nil {
			return fmt.Errorf("delete profile: %w", err)
		}
		if newest != nil && newest.After(er.ErasedAt) {
			er.ErasedAt = newest.UTC()
		}
		kinds := []string{"user"}
		keys := [][]byte{idSHA256(userID)}
		for _, sid := range sessions {
			kinds = append(kinds, "session")
			keys = append(keys, idSHA256(sid))
		}
		_, err = tx.Exec(ctx, `INSERT INTO erased_visitors (kind, id_sha256, erased_at)
			SELECT k, h, $3 FROM unnest($1::text[], $2::bytea[]) AS t(k, h)
			ON CONFLICT (kind, id_sha256) DO UPDATE SET erased_at = greatest(erased_visitors.erased_at, EXCLUDED.erased_at)`,
			kinds, keys, er.ErasedAt)
		if err != nil {
			return fmt.Errorf("record tombstones: %w", err)
		}
		if len(sessions) > 0 {
			slices.Sort(sessions)
			er.SessionIDs = sessions
		}
		er.Events, er.Profile = deleted, tag.RowsAffected() > 0
		return nil
	})
	if err != nil {
		return catalog.Erasure{}, fmt.Errorf("erase user: %w", err)
	}
	return er, nil
}

// EraseSession deletes an anonymous visitor: the events of the session
// that carry no user (a signed-in user's events are theirs, erased with
// the user), and leaves a tombstone so that such events stamped at or
// before the erasure are refused from now on.
func (s *Store) EraseSession(ctx context.Context, sessionID string, at time.Time) (catalog.Erasure, error) {
	if err := catalog.CheckID("session id", sessionID); err != nil {
		return catalog.Erasure{}, err
	}
	er := catalog.Erasure{SessionIDs: []string{sessionID}, ErasedAt: at.UTC().Truncate(time.Microsecond)}
	err := pgx.BeginFunc(ctx, s.writes, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, erasureLockID); err != nil {
			return fmt.Errorf("lock against appends: %w", err)
		}
		var newest *time.Time
		err := tx.QueryRow(ctx, `WITH del AS (
				DELETE FROM events WHERE user_id = '' AND session_id = $1 AND session_id <> '' RETURNING line, ts)
			SELECT count(*) FILTER (WHERE line = 0), max(ts) FROM del`, sessionID).Scan(&er.Events, &newest)
		if err != nil {
			return fmt.Errorf("delete events: %w", err)
		}
		if newest != nil && newest.After(er.ErasedAt) {
			er.ErasedAt = newest.UTC()
		}
		_, err = tx.Exec(ctx, `INSERT INTO erased_visitors (kind, id_sha256, erased_at) VALUES ('session', $1, $2)
			ON CONFLICT (kind, id_sha256) DO UPDATE SET erased_at = greatest(erased_visitors.erased_at, EXCLUDED.erased_at)`,
			idSHA256(sessionID), er.ErasedAt)
		if err != nil {
			return fmt.Errorf("record tombstone: %w", err)
		}
		return nil
	})
	if err != nil {
		return catalog.Erasure{}, fmt.Errorf("erase session: %w", err)
	}
	return er, nil
}

// AppendAudit adds an entry to the audit log; At defaults to now.
func (s *Store) AppendAudit(ctx context.Context, e catalog.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	var from, to *time.Time
	if !e.DataFrom.IsZero() {
		from = &e.DataFrom
	}
	if !e.DataTo.IsZero() {
		to = &e.DataTo
	}
	var counts any
	if e.Counts != nil {
		counts = e.Counts
	}
	_, err := s.writes.Exec(ctx, `INSERT INTO audit_log (at, actor, action, model_version, data_from, data_to, counts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.At.UTC(), e.Actor, e.Action, e.ModelVersion, from, to, counts)
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return nil
}

// AuditLog returns up to limit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]catalog.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, at, actor, action, model_version, data_from, data_to, counts
		FROM audit_log ORDER BY seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.AuditEntry, error) {
		var e catalog.AuditEntry
		var from, to *time.Time
		err := r.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ModelVersion, &from, &to, &e.Counts)
		e.At = e.At.UTC()
		if from != nil {
			e.DataFrom = from.UTC()
		}
		if to != nil {
			e.DataTo = to.UTC()
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// ErrIDKeyChanged is returned by CheckIDKey when stored ids were
// pseudonymised otherwise than the configuration says.
var ErrIDKeyChanged = errors.New("pseudonymisation key changed")

// CheckIDKey makes sure the ids in the database were pseudonymised with
// the configured key (by its fingerprint, "none" for no key): a server or
// import with another key would never find a visitor's history again, and
// erasure would miss their old events. The first caller records the
// fingerprint; a database that already holds events without a record is
// taken to hold raw ids.
func (s *Store) CheckIDKey(ctx context.Context, fingerprint string) error {
	return pgx.BeginFunc(ctx, s.writes, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE settings IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock settings: %w", err)
		}
		var stored string
		err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE name = 'id_key'`).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			var hasEvents bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events)`).Scan(&hasEvents); err != nil {
				return fmt.Errorf("check events: %w", err)
			}
			stored = fingerprint
			if hasEvents {
				stored = "none"
			}
			if _, err := tx.Exec(ctx, `INSERT INTO settings (name, value) VALUES ('id_key', $1)`, stored); err != nil {
				return fmt.Errorf("record the pseudonymisation key: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("read settings: %w", err)
		}
		switch {
		case stored == fingerprint:
			return nil
		case stored == "none":
			return fmt.Errorf("%w: the stored events hold visitor ids as sent (no --id-key), so this key would split every visitor in two; "+
				"start without --id-key, or start from an empty database with the key", ErrIDKeyChanged)
		case fingerprint == "none":
			return fmt.Errorf("%w: the stored visitor ids are pseudonymised: give the same --id-key (RECS_ID_KEY)", ErrIDKeyChanged)
		}
		return fmt.Errorf("%w: the stored visitor ids were pseudonymised with another key: give that one (RECS_ID_KEY)", ErrIDKeyChanged)
	})
}
